from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import Capability, Role


class User(AbstractUser):
    """A person who signs in. ``role`` decides the group, and so the permissions (see services)."""

    full_name = models.CharField(_("ФИО"), max_length=150)
    role = models.CharField(_("роль"), max_length=20, choices=Role.choices, blank=True)
    extension = models.CharField(
        _("внутренний номер"),
        max_length=10,
        blank=True,
        help_text=_("Добавочный номер в АТС: по нему звонки из журнала привязываются к хантеру."),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("пользователь")
        verbose_name_plural = _("пользователи")
        ordering = ["full_name", "username"]
        permissions = Capability.choices
        constraints = [
            models.UniqueConstraint(
                fields=["extension"],
                condition=~models.Q(extension=""),
                name="accounts_user_unique_extension",
                violation_error_message=_("Этот внутренний номер уже закреплён за другим пользователем."),
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=[*Role.values, ""]),
                name="accounts_user_role_known",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.username
