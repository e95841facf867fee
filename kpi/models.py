"""Activities, telephony call records and monthly plans (SPEC §4)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.access import can, scope_owned
from accounts.roles import Capability

MONEY = {"max_digits": 14, "decimal_places": 2}


class ActivityKind(models.TextChoices):
    CALL = "call", _("Звонок")
    MEETING = "meeting", _("Встреча")
    MESSAGE = "message", _("Сообщение")
    PROPOSAL = "proposal", _("Отправка КП")
    SAMPLES = "samples", _("Передача пробников")
    FOLLOW_UP = "follow_up", _("Дожим")


class ActivitySource(models.TextChoices):
    MANUAL = "manual", _("Вручную")
    TELEPHONY = "telephony", _("Телефония")


class CallDirection(models.TextChoices):
    OUTGOING = "outgoing", _("Исходящий")
    INCOMING = "incoming", _("Входящий")
    INTERNAL = "internal", _("Внутренний")


class ActivityQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ActivityQuerySet":
        return scope_owned(self, user) if can(user, Capability.WORK_PIPELINE) else self.none()


class Activity(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("хантер"),
    )
    kind = models.CharField(_("вид"), max_length=20, choices=ActivityKind.choices)
    at = models.DateTimeField(_("когда"), default=timezone.now)
    # A telephony call to a number that is not in the base yet still counts: the client is optional there.
    client = models.ForeignKey(
        "deals.Client",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("клиент"),
    )
    deal = models.ForeignKey(
        "deals.Deal",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("сделка"),
    )
    outcome = models.CharField(_("итог"), max_length=300, blank=True)
    note = models.TextField(_("заметка"), blank=True)
    next_contact_on = models.DateField(_("следующий контакт"), null=True, blank=True)
    source = models.CharField(
        _("источник"), max_length=20, choices=ActivitySource.choices, default=ActivitySource.MANUAL
    )
    direction = models.CharField(_("направление"), max_length=10, choices=CallDirection.choices, blank=True)
    duration_s = models.PositiveIntegerField(_("длительность, с"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name = _("активность")
        verbose_name_plural = _("активности")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "kind", "at"]),
            # «Мой день»'s latest activities: the first rows of this index, however long the history.
            models.Index(fields=["owner", "-at", "-id"], name="kpi_activity_owner_latest"),
            models.Index(fields=["client", "at"]),
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["owner", "next_contact_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="follow_up") | Q(next_contact_on__isnull=False),
                name="kpi_activity_follow_up_has_next_date",
                violation_error_message=_("Для дожима укажите дату следующего контакта."),
            ),
            models.CheckConstraint(
                condition=Q(source="manual") | Q(kind="call"), name="kpi_activity_telephony_is_a_call"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {timezone.localtime(self.at):%d.%m.%Y %H:%M}"


class TaskQuerySet(models.QuerySet):
    def visible_to(self, user) -> "TaskQuerySet":
        """Fails closed: the head sees every task, a hunter the tasks of the deals and clients they work
        now (a transfer takes the tasks along), anyone else none."""
        if can(user, Capability.VIEW_ALL_HUNTERS):
            return self
        if can(user, Capability.WORK_PIPELINE):
            return self.of_hunter(user)
        return self.none()

    def of_hunter(self, hunter, *, open_deals_only: bool = False) -> "TaskQuerySet":
        """Whose a task is: the hunter of its deal, or of its client for a contact outside a deal;
        ``open_deals_only`` leaves out the tasks of closed deals (a restored deal brings them back).

        The hunter's deals and clients are subqueries, not joins: PostgreSQL then checks each open task
        against the hunter's few hundred deals instead of joining the tasks with every deal."""
        deals = self.model._meta.get_field("deal").related_model.objects.filter(owner=hunter)
        if open_deals_only:
            deals = deals.open()
        clients = self.model._meta.get_field("client").related_model.objects.filter(owner=hunter)
        return self.filter(
            Q(deal__in=deals.values("pk")) | Q(deal__isnull=True, client__in=clients.values("pk"))
        )

    def open(self) -> "TaskQuerySet":
        return self.filter(status=Task.Status.OPEN)


class Task(models.Model):
    """A next contact agreed with a client (on a call, a meeting, a message, a follow-up or a proposal):
    open until it is done or moved to another day.

    A task is kept apart from the activity that agreed it because it lives on after it: moving it must
    not rewrite what was recorded on the day, a follow-up or a proposal (not activities) agree contacts
    too, and a move is a new task with the old one closed as moved, so the history keeps every date
    promised. A deal (or a client outside a deal) has at most one open task: its next contact, which
    ``Deal.next_contact_on`` mirrors for the board and the idle rule (kpi.services)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Открыта")
        DONE = "done", _("Выполнена")
        MOVED = "moved", _("Перенесена")

    client = models.ForeignKey(
        "deals.Client", on_delete=models.CASCADE, related_name="tasks", verbose_name=_("клиент")
    )
    deal = models.ForeignKey(
        "deals.Deal",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("сделка"),
    )
    activity = models.ForeignKey(
        Activity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("активность, на которой договорились"),
    )
    due_on = models.DateField(_("когда связаться"))
    due_time = models.TimeField(_("во сколько"), null=True, blank=True)
    what = models.CharField(_("о чём договорились"), max_length=300, blank=True)
    status = models.CharField(_("статус"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Пусто — перенесена из прежнего учёта"),
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    moved_to = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="moved_from"
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("задача")
        verbose_name_plural = _("задачи")
        ordering = ["due_on", "due_time", "pk"]
        indexes = [
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["deal", "status"]),
            models.Index(fields=["client", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["deal"],
                condition=Q(status="open", deal__isnull=False),
                name="kpi_task_one_open_per_deal",
            ),
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status="open", deal__isnull=True),
                name="kpi_task_one_open_per_client_outside_deals",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="kpi_task_closed_has_a_time",
            ),
            models.CheckConstraint(
                condition=Q(status="moved") | Q(moved_to__isnull=True),
                name="kpi_task_only_moved_has_a_successor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.due_on:%d.%m.%Y}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class CallRecord(models.Model):
    """A call-detail record from the PBX (webhook or CSV), kept whether or not it matched anyone."""

    external_id = models.CharField(_("ID звонка в АТС"), max_length=100, unique=True)
    started_at = models.DateTimeField(_("начало"))
    direction = models.CharField(_("направление"), max_length=10, choices=CallDirection.choices)
    extension = models.CharField(_("внутренний номер"), max_length=20, blank=True)
    other_number = models.CharField(_("номер собеседника"), max_length=32, blank=True)
    duration_s = models.PositiveIntegerField(_("длительность разговора, с"), default=0)
    recording_url = models.URLField(_("запись разговора"), max_length=500, blank=True)
    end_reason = models.CharField(_("причина завершения"), max_length=100, blank=True)
    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_records",
    )
    client = models.ForeignKey(
        "deals.Client", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    activity = models.OneToOneField(
        Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_record"
    )
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("запись звонка АТС")
        verbose_name_plural = _("журнал звонков АТС")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["hunter", "started_at"])]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.started_at:%d.%m.%Y %H:%M})"


class MonthlyPlan(models.Model):
    """A hunter's sales plan and KPI plan for one month (SPEC §4)."""

    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="monthly_plans",
        verbose_name=_("хантер"),
    )
    month = models.DateField(_("месяц"), help_text=_("Первое число месяца"))
    revenue_target = models.DecimalField(_("план по выручке, ₽"), default=0, **MONEY)
    deals_target = models.PositiveIntegerField(_("план по завершённым сделкам"), default=0)
    leads_target = models.PositiveIntegerField(_("лиды"), default=0)
    calls_target = models.PositiveIntegerField(_("звонки"), default=0)
    meetings_target = models.PositiveIntegerField(_("встречи"), default=0)
    messages_target = models.PositiveIntegerField(_("сообщения"), default=0)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("план месяца")
        verbose_name_plural = _("планы месяцев")
        ordering = ["-month", "hunter__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["hunter", "month"], name="kpi_plan_one_per_hunter_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="kpi_plan_month_starts_on_first"),
            models.CheckConstraint(condition=Q(revenue_target__gte=0), name="kpi_plan_revenue_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.hunter} {self.month:%m.%Y}"


class DepartmentQuarterPlan(models.Model):
    """The department's quarterly revenue target and the bonus pool it unlocks (SPEC §5.5)."""

    class Split(models.TextChoices):
        EQUAL = "equal", _("Поровну")
        REVENUE_SHARE = "revenue_share", _("Пропорционально выручке")

    quarter_start = models.DateField(_("квартал"), unique=True, help_text=_("Первый день квартала"))
    revenue_target = models.DecimalField(_("план отдела по выручке, ₽"), **MONEY)
    bonus_pool = models.DecimalField(_("премиальный фонд, ₽"), **MONEY)
    split = models.CharField(
        _("распределение"),
        max_length=20,
        choices=Split.choices,
        blank=True,
        help_text=_("Пусто — как в схеме оплаты"),
    )
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("план отдела на квартал")
        verbose_name_plural = _("планы отдела на квартал")
        ordering = ["-quarter_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quarter_start__day=1, quarter_start__month__in=[1, 4, 7, 10]),
                name="kpi_quarter_plan_starts_a_quarter",
            ),
            models.CheckConstraint(
                condition=Q(revenue_target__gte=0) & Q(bonus_pool__gte=0),
                name="kpi_quarter_plan_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{(self.quarter_start.month - 1) // 3 + 1} кв. {self.quarter_start.year}"


# The figures of the department's records (the dashboard), each served by an index of the stored progress.
RECORD_FIGURES = ("revenue", "deals", "calls", "meetings")


class MonthlyProgress(models.Model):
    """A hunter's counters for a month as last recalculated (kpi/progress.py): dashboards and records
    read these rows instead of counting the month's history on every page view."""

    hunter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    leads = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    meetings = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(default=0, **MONEY)
    deals = models.PositiveIntegerField(default=0)
    sales_plan_fulfilled = models.BooleanField(default=False)
    kpi_plan_met = models.BooleanField(default=False)
    calculated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("выполнение плана")
        verbose_name_plural = _("выполнение планов")
        constraints = [
            models.UniqueConstraint(fields=["hunter", "month"], name="kpi_progress_one_per_hunter_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="kpi_progress_month_starts_on_first"),
        ]
        indexes = [
            models.Index(fields=["month"]),
            # The department's records: the first row of each in the order the records are picked.
            *(
                models.Index(fields=[f"-{name}", "month", "hunter"], name=f"kpi_progress_record_{name}")
                for name in RECORD_FIGURES
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hunter_id} {self.month:%m.%Y}"


class DirtyMonth(models.Model):
    """A hunter's month whose stored progress is behind its data. Marked in the same transaction as the
    change (``kpi.progress.progress_schedule``), so a change that commits is never lost to a web worker
    killed before its on-commit hook, a broker that is down or a task that never ran; cleared by the
    recalculation that read the month after the mark, and only then: every change writes a new ``mark``,
    so one made while the recalculation ran keeps the month dirty."""

    hunter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    mark = models.UUIDField(default=uuid.uuid4)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("месяц к пересчёту")
        verbose_name_plural = _("месяцы к пересчёту")
        constraints = [
            models.UniqueConstraint(fields=["hunter", "month"], name="kpi_dirty_month_once"),
            models.CheckConstraint(condition=Q(month__day=1), name="kpi_dirty_month_starts_on_first"),
        ]

    def __str__(self) -> str:
        return f"{self.hunter_id} {self.month:%m.%Y}"


class DashboardFigure(models.Model):
    """A dashboard figure computed from long history (the forecast's rates, samples → orders over a
    year, the funnel of a month, the quarter's best employee), kept between background refreshes so a
    page view reads it instead of scanning years of deals (kpi/figures.py)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.BinaryField()
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key
