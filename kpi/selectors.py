"""Reads for the KPI pages: today's tasks, the plan grid and the department's figures."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DateTimeField, F, Q, QuerySet, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.money import ZERO, MoneySum
from atlanset_portal.templatetags.formatting import rub, signed, signed_rub
from atlanset_portal.wording import month_heading
from compensation.selectors import best_employee_of_quarter
from deals.models import Deal

from . import drilldown
from .counters import Counters, PlanProgress, month_progress
from .models import RECORD_FIGURES, Activity, CallRecord, MonthlyPlan, MonthlyProgress, Task
from .months import month_start, next_month, previous_month, quarter_start
from .progress import stored_counters


def active_hunters() -> QuerySet[User]:
    return User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name", "pk")


def _tasks_due(hunter: User, today: date) -> QuerySet[Task]:
    """The hunter's open tasks due today or earlier; a task of a closed deal waits (a restored deal
    brings it back)."""
    return Task.objects.of_hunter(hunter, open_deals_only=True).open().filter(due_on__lte=today)


TASK_PAGE = 20  # tasks «Мой день» shows at first and adds with each «Показать ещё»


def tasks_due(*, hunter: User, today: date | None = None, after: Task | None = None) -> list[Task]:
    """«Мой день»: the hunter's next ``TASK_PAGE`` tasks due today and overdue, the most overdue first,
    each with its client (and the client's phones, for one-tap calls) and deal; ``after`` the last task
    shown, for the page after it (a task done or moved meanwhile shifts nothing). Two queries."""
    tasks = _tasks_due(hunter, today or timezone.localdate())
    if after is not None:
        tasks = tasks.filter(_after_in_due_order(after))
    return list(
        tasks.select_related("client", "deal")
        .prefetch_related("client__phones")
        .order_by("due_on", F("due_time").asc(nulls_last=True), "pk")[:TASK_PAGE]
    )


def tasks_due_after(*, hunter: User, after: Task, today: date | None = None) -> int:
    """How many tasks due today and overdue come after ``after`` in «Мой день»'s order."""
    return _tasks_due(hunter, today or timezone.localdate()).filter(_after_in_due_order(after)).count()


def _after_in_due_order(task: Task) -> Q:
    """The tasks after ``task`` in the order (day, time with no time last, id)."""
    later_day = Q(due_on__gt=task.due_on)
    same_day = Q(due_on=task.due_on)
    if task.due_time is None:
        return later_day | (same_day & Q(due_time__isnull=True, pk__gt=task.pk))
    return later_day | (
        same_day
        & (
            Q(due_time__gt=task.due_time)
            | Q(due_time__isnull=True)
            | Q(due_time=task.due_time, pk__gt=task.pk)
        )
    )


def tasks_due_count(*, hunter: User, today: date | None = None) -> int:
    return _tasks_due(hunter, today or timezone.localdate()).count()


def activity_list(*, viewer: User) -> QuerySet[Activity]:
    """The activities the viewer may see, newest first, with their hunter, client, deal and PBX record."""
    return Activity.objects.visible_to(viewer).select_related("owner", "client", "deal", "call_record")


def call_log() -> QuerySet[CallRecord]:
    """Every PBX call record, newest first, with its hunter and client (the head's call log)."""
    return CallRecord.objects.select_related("hunter", "client").order_by("-started_at", "-pk")


def recent_activities(*, owner: User, limit: int = 10) -> list[Activity]:
    """The hunter's latest activities, newest first: the first ``limit`` rows of the (owner, -at, -id)
    index, however long the history."""
    return list(Activity.objects.filter(owner=owner).select_related("client").order_by("-at", "-pk")[:limit])


def overdue_follow_ups_by_hunter(*, today: date | None = None) -> dict[int, int]:
    today = today or timezone.localdate()
    # COUNT(*), not of the key: the open deals' (next contact, owner) index answers it alone.
    return dict(Deal.objects.contact_overdue(today).values_list("owner").annotate(count=Count("*")))


@dataclass
class RecordMonth:
    name: str  # the monthly progress figure (a column of the results board)
    label: str
    value: Decimal | int
    hunter: User | None
    month: date | None


def team_records() -> list[RecordMonth]:
    """The department's record months (the results board's "records"), read from the stored monthly
    progress: one small indexed query per record, however long the history."""
    records = []
    for name, label in RECORD_COLUMNS:
        row = (
            MonthlyProgress.objects.filter(hunter__role=Role.HUNTER, **{f"{name}__gt": 0})
            .select_related("hunter")
            .order_by(f"-{name}", "month", "hunter_id")
            .first()
        )
        if row is None:
            records.append(RecordMonth(name=name, label=label, value=0, hunter=None, month=None))
        else:
            records.append(
                RecordMonth(
                    name=name, label=label, value=getattr(row, name), hunter=row.hunter, month=row.month
                )
            )
    return records


RECORD_LABELS = {
    "revenue": _("Выручка за месяц"),
    "deals": _("Завершённые сделки за месяц"),
    "calls": _("Звонки за месяц"),
    "meetings": _("Встречи за месяц"),
}
RECORD_COLUMNS = tuple((name, RECORD_LABELS[name]) for name in RECORD_FIGURES)


def department_revenue_by_month(*, months: int = 12, until: date | None = None) -> list[tuple[date, Decimal]]:
    """The department's revenue per month for the last ``months`` months up to ``until``: the sum of its
    hunters' stored revenue for the month (the results board's column). Every payment and refund is
    credited to a hunter and counts in its accrual month there, so this is the month's payments net of
    refunds, read from a few hundred stored rows instead of summing every payment."""
    until = month_start(until or timezone.localdate())
    first = until
    for _step in range(months - 1):
        first = previous_month(first)
    totals = dict(
        MonthlyProgress.objects.filter(month__gte=first, month__lte=until)
        .values_list("month")
        .annotate(total=MoneySum("revenue"))
        .order_by()
    )
    result, month = [], first
    while month <= until:
        result.append((month, totals.get(month, ZERO)))
        month = next_month(month)
    return result


def plans_for_month(month: date) -> dict[int, MonthlyPlan]:
    return {plan.hunter_id: plan for plan in MonthlyPlan.objects.filter(month=month_start(month))}


def best_and_worst(values: dict[int, Decimal | int]) -> tuple[set[int], set[int]]:
    """Which hunters hold the best and the worst value of a column (nobody when all are equal)."""
    if len(values) < 2 or len(set(values.values())) < 2:
        return set(), set()
    top, bottom = max(values.values()), min(values.values())
    return {k for k, v in values.items() if v == top}, {k for k, v in values.items() if v == bottom}


def best_employee(month: date) -> dict | None:
    """The quarter's best employee (most recognised margin) for the dashboard and «Мой день»."""
    best = best_employee_of_quarter(quarter_start(month))
    if best is None:
        return None
    return {
        "hunter": User.objects.get(pk=best.hunter_id),
        "margin": best.margin,
        "quarter": quarter_start(month),
    }


# --- the results board ------------------------------------------------------------------------------

BOARD_COLUMNS = ("leads", "calls", "meetings", "messages", "revenue", "deals")


@dataclass(frozen=True)
class Change:
    """A figure against the same figure of an earlier month."""

    month: date
    previous: Decimal | int
    difference: Decimal | int
    percent: Decimal | None  # the difference in percent of ``previous``, one decimal; None when it was 0
    money: bool = False  # rubles (revenue), not a count

    # The results board shows 600 of these: its texts are written here once, not by filters in a partial.
    @property
    def direction(self) -> str:
        return "up" if self.difference > 0 else "down" if self.difference < 0 else ""

    @property
    def title(self) -> str:
        """«Ноябрь 2026: 12 345,00 ₽» — the earlier month and its figure."""
        return f"{month_heading(self.month)}: {rub(self.previous) if self.money else self.previous}"

    @property
    def text(self) -> str:
        """«+1 234,50 ₽ (+5,2 %)», «−2», «±0»."""
        if not self.difference:
            return "±0"
        written = signed_rub(self.difference) if self.money else signed(self.difference)
        return written if self.percent is None else f"{written} ({signed(self.percent)} %)"


def change(current: Decimal | int, previous: Decimal | int, *, month: date, money: bool = False) -> Change:
    difference = current - previous
    percent = None
    if previous:
        percent = (Decimal(difference) * 100 / Decimal(previous)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
    return Change(month=month, previous=previous, difference=difference, percent=percent, money=money)


@dataclass(frozen=True)
class BoardCell:
    name: str
    value: Decimal | int
    target: Decimal | int | None
    percent: Decimal | None
    url: str  # the list of the records the value is made of
    against_last_month: Change
    against_last_year: Change
    best: bool = False
    worst: bool = False


@dataclass(frozen=True)
class BoardRow:
    progress: PlanProgress
    cells: list[BoardCell]


def year_before(month: date) -> date:
    return date(month.year - 1, month.month, 1)


@dataclass(frozen=True)
class BoardSource:
    """What the results board is drawn from: the month's progress, last month's and a year before's
    counters (all stored)."""

    month: date
    progress: list[PlanProgress]
    before: dict[int, Counters]
    a_year_before: dict[int, Counters]


# Stored rows are versioned by the sum of the times they were written: every write of a progress row or a
# plan stamps it with the time it ran, so any write moves the sum, in whatever order the writes commit
# (a latest-time version would miss a write that commits after a later one).
_EPOCH = Value(datetime(2000, 1, 1, tzinfo=UTC), output_field=DateTimeField())


@dataclass(frozen=True)
class StoredVersions:
    """The versions of the stored rows the dashboard's month figures are drawn from, read in three small
    queries: equal versions, equal results board, records and revenue chart."""

    progress: tuple  # every stored progress row: how many, and the sum of their calculation times
    plans: tuple  # the month's plans: how many, and the sum of their update times
    hunters: tuple  # every hunter: id, name, whether active (the board's rows, the records' names)


def stored_versions(month: date) -> StoredVersions:
    return StoredVersions(
        progress=tuple(
            MonthlyProgress.objects.aggregate(
                rows=Count("pk"), times=Sum(F("calculated_at") - _EPOCH)
            ).values()
        ),
        plans=tuple(
            MonthlyPlan.objects.filter(month=month_start(month))
            .aggregate(rows=Count("pk"), times=Sum(F("updated_at") - _EPOCH))
            .values()
        ),
        hunters=tuple(
            User.objects.filter(role=Role.HUNTER)
            .order_by("pk")
            .values_list("pk", "full_name", "username", "is_active")
        ),
    )


def board_source(*, month: date, hunters: list[User]) -> BoardSource:
    """Reads the stored monthly progress: a fixed number of queries for any number of hunters."""
    ids = [hunter.pk for hunter in hunters]
    return BoardSource(
        month=month,
        progress=month_progress(
            month=month, hunters=hunters, counters=stored_counters(month=month, hunter_ids=ids)
        ),
        before=stored_counters(month=previous_month(month), hunter_ids=ids),
        a_year_before=stored_counters(month=year_before(month), hunter_ids=ids),
    )


def results_board(source: BoardSource) -> list[BoardRow]:
    """Each hunter's figures of the month against the plan, last month and the same month last year, with
    the best and the worst of each column among the hunters who have a plan (a hunter without one is
    not ranked)."""
    month, progress = source.month, source.progress
    last_month, last_year = previous_month(month), year_before(month)
    ranked = [row for row in progress if row.plan is not None]
    marks = {
        name: best_and_worst({row.hunter.pk: getattr(row.counters, name) for row in ranked})
        for name in BOARD_COLUMNS
    }
    rows = []
    for row in progress:
        hunter_id = row.hunter.pk
        cells = []
        for name in BOARD_COLUMNS:
            value = getattr(row.counters, name)
            money = name == "revenue"
            best, worst = marks[name]
            cells.append(
                BoardCell(
                    name=name,
                    value=value,
                    target=getattr(row.plan, f"{name}_target") if row.plan else None,
                    percent=row.percents[name],
                    url=drilldown.board_cell(name, hunter_id=hunter_id, month=month),
                    against_last_month=change(
                        value, getattr(source.before[hunter_id], name), month=last_month, money=money
                    ),
                    against_last_year=change(
                        value, getattr(source.a_year_before[hunter_id], name), month=last_year, money=money
                    ),
                    best=hunter_id in best,
                    worst=hunter_id in worst,
                )
            )
        rows.append(BoardRow(progress=row, cells=cells))
    return rows
