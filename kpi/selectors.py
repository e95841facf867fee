"""Reads for the KPI pages: today's tasks, the plan grid and the department's figures."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from compensation.selectors import best_employee_of_quarter
from deals.models import Deal
from deals.stages import DealStatus

from .models import MonthlyPlan, MonthlyProgress, Task
from .months import month_start, quarter_start


def active_hunters() -> QuerySet[User]:
    return User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name", "pk")


def _tasks_due(hunter: User, today: date) -> QuerySet[Task]:
    """The hunter's open tasks due today or earlier; a task of a closed deal waits (a restored deal
    brings it back)."""
    return (
        Task.objects.of_hunter(hunter)
        .open()
        .filter(due_on__lte=today)
        .filter(Q(deal__isnull=True) | Q(deal__status=DealStatus.OPEN))
    )


def tasks_due(*, hunter: User, today: date | None = None, limit: int = 100) -> list[Task]:
    """«Мой день»: the hunter's tasks due today and overdue, the most overdue first, each with its client
    (and the client's phones, for one-tap calls) and deal. Two queries."""
    today = today or timezone.localdate()
    return list(
        _tasks_due(hunter, today)
        .select_related("client", "deal")
        .prefetch_related("client__phones")
        .order_by("due_on", F("due_time").asc(nulls_last=True), "pk")[:limit]
    )


def tasks_due_count(*, hunter: User, today: date | None = None) -> int:
    return _tasks_due(hunter, today or timezone.localdate()).count()


def overdue_follow_ups_by_hunter(*, today: date | None = None) -> dict[int, int]:
    today = today or timezone.localdate()
    return dict(
        Deal.objects.filter(status=DealStatus.OPEN, next_contact_on__lt=today)
        .values_list("owner")
        .annotate(count=Count("pk"))
    )


@dataclass
class RecordMonth:
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
            records.append(RecordMonth(label=label, value=0, hunter=None, month=None))
        else:
            records.append(
                RecordMonth(label=label, value=getattr(row, name), hunter=row.hunter, month=row.month)
            )
    return records


RECORD_COLUMNS = (
    ("revenue", "Выручка за месяц"),
    ("deals", "Завершённые сделки за месяц"),
    ("calls", "Звонки за месяц"),
    ("meetings", "Встречи за месяц"),
)


def department_revenue_by_month(*, months: int = 12, until: date | None = None) -> list[tuple[date, Decimal]]:
    """Revenue received per month for the last ``months`` months (a chart on the head's dashboard)."""
    until = month_start(until or timezone.localdate())
    first = until
    for _ in range(months - 1):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    # From the stored monthly progress: the same sums the statements use, without reading payments.
    totals = dict(
        MonthlyProgress.objects.filter(month__gte=first, month__lte=until)
        .values_list("month")
        .annotate(total=Sum("revenue"))
        .order_by()
    )
    result, month = [], first
    while month <= until:
        result.append((month, totals.get(month) or Decimal("0")))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
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
