"""Notifications: what the bell shows and what goes out by email, one row per recipient."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    FOLLOW_UP_DUE = "follow_up_due", _("Пора связаться с клиентом")
    PAYMENT_OVERDUE = "payment_overdue", _("Просрочена оплата по отсрочке")
    CONSIGNMENT_DUE = "consignment_due", _("Расчёт по реализации")
    DEAL_IDLE = "deal_idle", _("Сделка без движения")
    CELEBRATION = "celebration", _("День рождения или праздник клиента")
    STATEMENTS_PENDING = "statements_pending", _("Расчётные листы ждут утверждения или закрытия")
    TRANSFER_RETURN = "transfer_return", _("Пора вернуть переданного клиента")
    STATEMENT_CHANGED = "statement_changed", _("Расчётный лист изменён после утверждения")


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)

    def email_pending(self):
        return self.filter(email_state=Notification.EmailState.PENDING)


class Notification(models.Model):
    """One reminder for one person. ``subject_key`` names what it is about (``deal:17``), so the same
    reminder is created once per recipient, kind, subject and day however often the run repeats."""

    class EmailState(models.TextChoices):
        PENDING = "pending", _("ждёт отправки")
        SENT = "sent", _("отправлено")
        SKIPPED = "skipped", _("не отправляется")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("вид"), max_length=30, choices=NotificationKind.choices)
    subject_key = models.CharField(max_length=100)
    for_day = models.DateField(_("на дату"))
    title = models.CharField(_("заголовок"), max_length=200)
    body = models.TextField(_("текст"), blank=True)
    url = models.CharField(_("ссылка"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    read_at = models.DateTimeField(_("прочитано"), null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("уведомление")
        verbose_name_plural = _("уведомления")
        ordering = ["-for_day", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "subject_key", "for_day"], name="notifications_once_per_day"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(
                fields=["email_state"], condition=Q(email_state="pending"), name="notif_email_pending"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class EmailOptOut(models.Model):
    """A kind of notification the user does not want by email (the bell still shows it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notifications_opt_out_once")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind}"
