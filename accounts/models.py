from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import Capability, Role


def person_name(full_name: str, username: str) -> str:
    """How the portal names a person: the full name, or the login when none is given. Lists that read
    people as plain values name them with it too."""
    return full_name or username


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
    personnel_number = models.CharField(
        _("табельный номер"),
        max_length=20,
        blank=True,
        help_text=_(
            "Табельный номер сотрудника в 1С:ЗУП: по нему 1С находит сотрудника при загрузке начислений."
        ),
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
        return person_name(self.full_name, self.username)

    def get_full_name(self) -> str:
        return person_name(self.full_name, self.username)

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.username


class SecondFactorReset(models.Model):
    """A superuser reset someone's authenticator app: it is gone, and they set one up again at the next
    sign-in. Written once and never changed; the head's audit history lists it."""

    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="second_factor_resets", verbose_name=_("чьё приложение")
    )
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("кто сбросил"))
    at = models.DateTimeField(_("когда"), default=timezone.now)
    devices = models.PositiveSmallIntegerField(_("удалено приложений"), default=0)

    class Meta:
        verbose_name = _("сброс приложения-аутентификатора")
        verbose_name_plural = _("сбросы приложений-аутентификаторов")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user} ({self.at:%d.%m.%Y %H:%M})"
