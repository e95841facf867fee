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
    # Told once when something happens (notifications.events), not by the morning run.
    SAMPLES_REQUESTED = "samples_requested", _("Новая заявка на пробники")
    SAMPLES_UPDATED = "samples_updated", _("Пробники подготовлены, переданы или отклонены")
    ORDER_TO_APPROVE = "order_to_approve", _("Заказ ждёт согласования производства")
    ORDER_DECIDED = "order_decided", _("Заказ согласован или отклонён")
    INVOICE_UPLOADED = "invoice_uploaded", _("Загружен счёт по сделке")
    PAYMENT_RECORDED = "payment_recorded", _("Оплата или возврат по сделке")
    DEAL_LOST_COMPLAINT = "deal_lost_complaint", _("Отказ из-за претензий к продукции")
    TERMS_REQUESTED = "terms_requested", _("Запрос условий оплаты ждёт решения")
    ORDER_OVER_LIMIT = "order_over_limit", _("Заказ сверх лимита отсрочки ждёт решения")


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)

    def email_pending(self):
        return self.filter(email_state=Notification.EmailState.PENDING)

    def email_sending(self):
        return self.filter(email_state=Notification.EmailState.SENDING)


class Notification(models.Model):
    """One reminder for one person. ``subject_key`` names what it is about (``deal:17``), so the same
    reminder is created once per recipient, kind, subject and day however often the run repeats. A
    notification of an event (``notifications.events``) also has ``event_key``, which names the event
    itself (kind, object, transition): it is given once per recipient whatever the day."""

    class EmailState(models.TextChoices):
        PENDING = "pending", _("ждёт отправки")
        # Claimed by a sender (``email_claim``) and being handed to the mail server: a sender that dies
        # now leaves it so, and it is not sent again until ``EMAIL_SENDING_TIMEOUT_MINUTES`` have passed.
        SENDING = "sending", _("отправляется")
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
    event_key = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(_("создано"), default=timezone.now)
    read_at = models.DateTimeField(_("прочитано"), null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # The email outbox: the sender that claimed the row (one claim per digest) and when.
    email_claim = models.UUIDField(null=True, blank=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("уведомление")
        verbose_name_plural = _("уведомления")
        ordering = ["-for_day", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "subject_key", "for_day"], name="notifications_once_per_day"
            ),
            models.UniqueConstraint(
                fields=["recipient", "event_key"],
                condition=~Q(event_key=""),
                name="notifications_once_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(
                fields=["email_state"], condition=Q(email_state="pending"), name="notif_email_pending"
            ),
            models.Index(
                fields=["email_claim"], condition=Q(email_state="sending"), name="notif_email_sending"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ReminderDay(models.Model):
    """A working day whose morning reminder run finished: the run is not repeated that day, and a later
    run makes the reminders of the working days since the last finished one first."""

    day = models.DateField(_("день"), unique=True)
    finished_at = models.DateTimeField(_("закончен"), default=timezone.now)
    created = models.PositiveIntegerField(_("новых напоминаний"), default=0)

    class Meta:
        verbose_name = _("утренняя рассылка напоминаний")
        verbose_name_plural = _("утренние рассылки напоминаний")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day:%d.%m.%Y}"


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
