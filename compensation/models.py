"""Pay schemes with effective dates, monthly statements with their lines, adjustments and expenses."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.access import can, scope_owned
from accounts.roles import Capability

from . import rules

MONEY = {"max_digits": 14, "decimal_places": 2}


class LockedStatementError(Exception):
    """An attempt to change what the accountant has locked."""


RATE = {"max_digits": 7, "decimal_places": 4}


class PaySchemeVersion(models.Model):
    """SPEC §5 rates and amounts from a date on; a month is paid by the version in force on its 1st day."""

    class Accelerator(models.TextChoices):
        MARGINAL = rules.ACCELERATOR_MARGINAL, _("Только сверх плана (разбивка оплаты на границе)")
        RETROACTIVE = rules.ACCELERATOR_RETROACTIVE, _("На все оплаты месяца")

    class Split(models.TextChoices):
        EQUAL = rules.SPLIT_EQUAL, _("Поровну")
        REVENUE_SHARE = rules.SPLIT_REVENUE_SHARE, _("Пропорционально выручке")

    effective_from = models.DateField(_("действует с"), unique=True, help_text=_("Первое число месяца"))
    fixed_amount = models.DecimalField(_("фиксированная часть, ₽"), **MONEY)
    new_client_rate = models.DecimalField(_("процент с оплат нового клиента"), **RATE)
    existing_client_rate = models.DecimalField(_("процент с оплат действующего клиента"), **RATE)
    margin_bonus_rate = models.DecimalField(_("доп. процент с маржи при выполнении плана"), **RATE)
    accelerator = models.CharField(_("ускоритель"), max_length=20, choices=Accelerator.choices)
    accelerator_multiplier = models.DecimalField(_("множитель ускорителя"), **RATE)
    department_bonus_split = models.CharField(
        _("премия отдела делится"), max_length=20, choices=Split.choices
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("схема оплаты")
        verbose_name_plural = _("схемы оплаты")
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_from__day=1), name="compensation_scheme_starts_a_month"
            ),
            models.CheckConstraint(
                condition=Q(
                    fixed_amount__gte=0,
                    new_client_rate__gte=0,
                    existing_client_rate__gte=0,
                    margin_bonus_rate__gte=0,
                    accelerator_multiplier__gte=1,
                ),
                name="compensation_scheme_values_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('Схема оплаты с')} {self.effective_from:%d.%m.%Y}"

    def as_rules(self) -> rules.PayScheme:
        return rules.PayScheme(
            effective_from=self.effective_from,
            fixed_amount=self.fixed_amount,
            new_client_rate=self.new_client_rate,
            existing_client_rate=self.existing_client_rate,
            margin_bonus_rate=self.margin_bonus_rate,
            accelerator=self.accelerator,
            accelerator_multiplier=self.accelerator_multiplier,
            department_bonus_split=self.department_bonus_split,
        )


class StatementQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StatementQuerySet":
        """The head and the accountant see every statement; a hunter only their own."""
        if can(user, Capability.VIEW_ALL_HUNTERS) or can(user, Capability.LOCK_STATEMENTS):
            return self
        return scope_owned(self, user, owner_field="hunter")


class Statement(models.Model):
    """A hunter's monthly statement: draft → approved by the head → locked by the accountant → paid.

    A draft is worked out whenever it is read. Approval stores the figures approved (``approved_lines``):
    an approved statement is shown from them, and a change that would alter them sends it back to draft
    (``changed_after_approval``). Locking stores the lines as rows that never change again."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Черновик")
        APPROVED = "approved", _("Утверждён руководителем")
        LOCKED = "locked", _("Закрыт бухгалтерией")
        PAID = "paid", _("Выплачен")

    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="statements",
        verbose_name=_("хантер"),
    )
    month = models.DateField(_("месяц"))
    status = models.CharField(_("статус"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    total = models.DecimalField(_("итого, ₽"), null=True, blank=True, **MONEY)
    sales_plan_fulfilled = models.BooleanField(_("план продаж выполнен"), null=True, blank=True)
    kpi_met = models.BooleanField(_("план KPI выполнен"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("утвердил"),
    )
    approved_at = models.DateTimeField(_("утверждён"), null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("закрыл"),
    )
    locked_at = models.DateTimeField(_("закрыт"), null=True, blank=True)
    paid_at = models.DateTimeField(_("выплачен"), null=True, blank=True)
    # The figures the head approved, line by line (see compensation.approval); none for a draft.
    approved_total = models.DecimalField(_("утверждено, ₽"), null=True, blank=True, **MONEY)
    approved_lines = models.JSONField(null=True, blank=True, editable=False)
    # The statement as last worked out from the data (a draft is shown from it; an approved one is compared
    # with it), with the KPI figures it was worked out with.
    computed_lines = models.JSONField(null=True, blank=True, editable=False)
    computed_total = models.DecimalField(null=True, blank=True, editable=False, **MONEY)
    counters = models.JSONField(null=True, blank=True, editable=False)
    # Something the statement is computed from changed since it was worked out (or approved): it is worked
    # out again before anyone reads it. Every change counts up ``change_seq``, so figures worked out from
    # data that changed meanwhile are never stored as fresh.
    needs_check = models.BooleanField(default=False, editable=False)
    check_cause = models.CharField(max_length=300, blank=True, editable=False)
    change_seq = models.PositiveBigIntegerField(default=0, editable=False)
    changed_after_approval = models.BooleanField(_("изменён после утверждения"), default=False)

    objects = StatementQuerySet.as_manager()

    # The audit history keeps what people did (approvals, locks, returns to draft), not the working-out.
    history = HistoricalRecords(
        excluded_fields=[
            "computed_lines",
            "computed_total",
            "counters",
            "needs_check",
            "check_cause",
            "change_seq",
            "approved_lines",
        ]
    )

    class Meta:
        verbose_name = _("расчётный лист")
        verbose_name_plural = _("расчётные листы")
        ordering = ["-month", "hunter__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["hunter", "month"], name="compensation_statement_one_per_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="compensation_statement_month_first_day"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "approved"])
                | Q(total__isnull=False, locked_at__isnull=False),
                name="compensation_locked_statement_has_total",
            ),
            # Only what the head approved is locked, and only as approved.
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_at__isnull=False, approved_total__isnull=False),
                name="compensation_statement_approved_before_locked",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "approved"]) | Q(total=models.F("approved_total")),
                name="compensation_locked_statement_is_what_was_approved",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="compensation_paid_statement_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hunter} {self.month:%m.%Y}"

    def save(self, *args, **kwargs):
        # A locked statement never changes: only marking it paid is allowed (admin, shell and services alike).
        if self.pk is not None:
            stored = (
                Statement.objects.filter(pk=self.pk).values("status", "total", "hunter_id", "month").first()
            )
            if stored and stored["status"] in (self.Status.LOCKED, self.Status.PAID):
                changed = (stored["total"], stored["hunter_id"], stored["month"]) != (
                    self.total,
                    self.hunter_id,
                    self.month,
                )
                if changed or self.status not in (self.Status.LOCKED, self.Status.PAID):
                    raise LockedStatementError(_("Закрытый расчётный лист не изменяется."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_locked:
            raise LockedStatementError(_("Закрытый расчётный лист не удаляется."))
        return super().delete(*args, **kwargs)

    @property
    def is_locked(self) -> bool:
        return self.status in (self.Status.LOCKED, self.Status.PAID)


class StatementReopening(models.Model):
    """An approved statement sent back to draft because its figures changed: what changed and why."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="reopenings")
    at = models.DateTimeField(default=timezone.now)
    cause = models.CharField(_("причина"), max_length=300)
    approved_total = models.DecimalField(_("было утверждено, ₽"), **MONEY)
    new_total = models.DecimalField(_("стало, ₽"), **MONEY)
    # The lines that differ: [{"line": explanation, "before": "…", "after": "…"}]
    differences = models.JSONField(default=list)

    class Meta:
        verbose_name = _("изменение после утверждения")
        verbose_name_plural = _("изменения после утверждения")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.statement}: {self.approved_total} → {self.new_total}"


class StatementLine(models.Model):
    """A locked statement's line, as it was when the accountant locked the month."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY)
    base = models.DecimalField(null=True, blank=True, **MONEY)
    rate = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=8)
    deal = models.ForeignKey("deals.Deal", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payment = models.ForeignKey(
        "deals.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accelerated = models.BooleanField(default=False)
    late = models.BooleanField(default=False)
    explanation = models.TextField()

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "position"], name="compensation_line_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.statement} #{self.position}: {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise LockedStatementError(_("Строка закрытого расчётного листа не изменяется."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LockedStatementError(_("Строка закрытого расчётного листа не удаляется."))


class Adjustment(models.Model):
    """A correction with its reason in an open month (a locked month is never edited). The head enters
    it; the accountant may propose one, which counts only once the head approves it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Предложена бухгалтерией")
        APPROVED = "approved", _("Утверждена руководителем")
        DECLINED = "declined", _("Отклонена руководителем")

    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="pay_adjustments",
        verbose_name=_("хантер"),
    )
    month = models.DateField(_("месяц"))
    amount = models.DecimalField(_("сумма, ₽"), **MONEY)
    reason = models.TextField(_("причина"))
    status = models.CharField(_("статус"), max_length=10, choices=Status.choices, default=Status.APPROVED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("внёс")
    )
    created_at = models.DateTimeField(_("внесена"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("решение принял"),
    )
    decided_at = models.DateTimeField(_("решение принято"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("корректировка")
        verbose_name_plural = _("корректировки")
        ordering = ["month", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="compensation_adjustment_month_first_day"),
            models.CheckConstraint(condition=~Q(reason=""), name="compensation_adjustment_has_reason"),
            models.CheckConstraint(
                condition=Q(status="proposed") | Q(decided_by__isnull=False),
                name="compensation_adjustment_decided_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hunter} {self.month:%m.%Y}: {self.amount}"


def receipt_path(instance, filename: str) -> str:
    return f"expenses/{instance.hunter_id}/{timezone.now():%Y%m%d%H%M%S}_{filename}"


class Expense(models.Model):
    """A logistics claim for a client meeting; paid with the statement of the month it was approved in."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("На рассмотрении")
        APPROVED = "approved", _("Одобрено")
        REJECTED = "rejected", _("Отклонено")

    hunter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expenses")
    meeting = models.ForeignKey(
        "kpi.Activity", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.DecimalField(_("сумма, ₽"), **MONEY)
    note = models.TextField(_("комментарий"), blank=True)
    receipt = models.FileField(_("чек"), upload_to=receipt_path, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    approved_amount = models.DecimalField(_("одобрено, ₽"), null=True, blank=True, **MONEY)
    approved_on = models.DateField(_("дата решения"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("расход")
        verbose_name_plural = _("расходы")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="compensation_expense_positive"),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True)
                | Q(approved_amount__gte=0, approved_amount__lte=models.F("amount")),
                name="compensation_expense_approved_within_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hunter}: {self.amount}"


class Dispute(models.Model):
    """A hunter's question about a statement line; the head or the accountant answers, and a correction
    becomes an adjustment line in an open month."""

    class Status(models.TextChoices):
        OPEN = "open", _("Ждёт ответа")
        ANSWERED = "answered", _("Отвечено")

    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pay_disputes"
    )
    month = models.DateField(_("месяц"))
    line_text = models.TextField(
        _("строка"), help_text=_("Начисление, о котором вопрос, как оно было показано")
    )
    comment = models.TextField(_("вопрос"))
    answer = models.TextField(_("ответ"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    adjustment = models.ForeignKey(
        Adjustment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("вопрос по расчётному листу")
        verbose_name_plural = _("вопросы по расчётным листам")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hunter} {self.month:%m.%Y}: {self.comment[:40]}"


class StatementEmail(models.Model):
    """A statement sent to its hunter by email with its PDF: one row per click of «Отправить хантеру» (the
    form's key), so a form sent twice sends one email. It goes out through the same outbox states as the
    reminders: claimed (``sending``, committed) before the mail server is asked, ``sent`` after."""

    class State(models.TextChoices):
        PENDING = "pending", _("ждёт отправки")
        SENDING = "sending", _("отправляется")
        SENT = "sent", _("отправлено")

    statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, related_name="emails", verbose_name=_("расчётный лист")
    )
    to_email = models.EmailField(_("кому"))
    total = models.DecimalField(_("итого в листе, ₽"), **MONEY)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("отправил")
    )
    at = models.DateTimeField(_("когда"), default=timezone.now)
    click_key = models.CharField(max_length=64, unique=True, editable=False)
    state = models.CharField(_("состояние"), max_length=10, choices=State.choices, default=State.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("отправлено"), null=True, blank=True)

    class Meta:
        verbose_name = _("отправка расчётного листа")
        verbose_name_plural = _("отправки расчётных листов")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["state", "at"], name="statement_email_state")]

    def __str__(self) -> str:
        return f"{self.statement} → {self.to_email}"


class BankLine(models.Model):
    """An incoming line of an imported bank statement that recorded no payment: matched to no deal, more
    than its order lacked, its number already on the deal for another amount, or left unticked. It stays on
    the accountant's home until a payment with its document is on a deal (however it was recorded) or she
    sets it aside as no client's payment."""

    job = models.ForeignKey(
        "imports.ImportJob", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    document_number = models.CharField(_("номер документа"), max_length=50)
    document_date = models.DateField(_("дата документа"))
    credited_on = models.DateField(_("поступила"), null=True, blank=True)
    amount = models.DecimalField(_("сумма, ₽"), **MONEY)
    payer_name = models.CharField(_("плательщик"), max_length=300, blank=True)
    payer_inn = models.CharField(_("ИНН плательщика"), max_length=12, blank=True)
    purpose = models.TextField(_("назначение платежа"), blank=True)
    reason = models.CharField(_("почему не внесена"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(_("отложена"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dismiss_note = models.CharField(_("почему отложена"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("строка выписки без сделки")
        verbose_name_plural = _("строки выписки без сделки")
        ordering = ["document_date", "pk"]
        constraints = [
            # The same statement imported again keeps one row per document.
            models.UniqueConstraint(
                fields=["document_number", "document_date", "amount", "payer_inn"],
                name="compensation_bank_line_once",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="compensation_bank_line_positive"),
            models.CheckConstraint(
                condition=Q(dismissed_at__isnull=True) | ~Q(dismiss_note=""),
                name="compensation_bank_line_dismissed_with_note",
            ),
        ]

    def __str__(self) -> str:
        return f"№{self.document_number} от {self.document_date:%d.%m.%Y}: {self.amount}"
