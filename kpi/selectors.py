"""Reads for the KPI pages: today's tasks, the plan grid and the department's figures."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from compensation.selectors import best_employee_of_quarter
from deals.models import Deal
from deals.stages import DealStatus

from .models import Activity, ActivityKind, MonthlyPlan, MonthlyProgress
from .months import month_start, quarter_start


def active_hunters() -> QuerySet[User]:
    return User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name", "pk")


@dataclass
class Tasks:
    due_deals: list[Deal]
    due_follow_ups: list[Activity]

    def __len__(self) -> int:
        return len(self.due_deals) + len(self.due_follow_ups)


def tasks_due(*, hunter: User, today: date | None = None, limit: int = 100) -> Tasks:
    """Open deals whose next contact is due or overdue, and client follow-ups agreed for today or earlier."""
    today = today or timezone.localdate()
    deals = list(
        Deal.objects.filter(owner=hunter, status=DealStatus.OPEN, next_contact_on__lte=today)
        .select_related("client")
        .prefetch_related("client__phones")  # each task calls its client in one tap
        .order_by("next_contact_on", "pk")[:limit]
    )
    follow_ups = list(
        Activity.objects.filter(
            owner=hunter,
            kind=ActivityKind.FOLLOW_UP,
            deal__isnull=True,
            next_contact_on__lte=today,
            next_contact_on__gte=today - timedelta(days=30),
        )
        .select_related("client")
        .prefetch_related("client__phones")
        .order_by("next_contact_on", "pk")[:limit]
    )
    return Tasks(due_deals=deals, due_follow_ups=follow_ups)


def recent_activities(*, owner: User, limit: int = 10) -> list[Activity]:
    """The hunter's latest activities, newest first: the first ``limit`` rows of the (owner, -at, -id)
    index, however long the history."""
    return list(Activity.objects.filter(owner=owner).select_related("client").order_by("-at", "-pk")[:limit])


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
