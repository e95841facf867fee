"""The KPI counters and plan rules of SPEC §4, computed in one place for dashboards and pay alike.

Every counter is one aggregate query over all the hunters asked for, so a dashboard costs the same
few queries for one hunter or fifty.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q

from accounts.models import User
from atlanset_portal.money import MoneySum
from deals.models import Client, ClientPhone, Deal, Payment

from .models import Activity, ActivityKind, ActivitySource, CallDirection, MonthlyPlan
from .months import month_range, month_start, quarter_months

ZERO = Decimal("0")
KPI_COUNTERS = ("leads", "calls", "meetings", "messages")
# A monthly plan's targets: the sales plan's two, then the KPI plan's, in the plan grid's order.
PLAN_TARGETS = ("revenue_target", "deals_target", *(f"{name}_target" for name in KPI_COUNTERS))


@dataclass(frozen=True)
class Counters:
    leads: int = 0
    calls: int = 0
    meetings: int = 0
    messages: int = 0
    revenue: Decimal = ZERO
    deals: int = 0


def counted_calls(activities):
    """Calls that count for KPI: from the PBX, outgoing, at least the configured minimum long."""
    return activities.filter(
        kind=ActivityKind.CALL,
        source=ActivitySource.TELEPHONY,
        direction=CallDirection.OUTGOING,
        duration_s__gte=settings.KPI_MIN_CALL_SECONDS,
    )


def lead_cards(clients):
    """Client cards that count as leads (SPEC §4): with a name, an address and at least one phone."""
    return (
        clients.exclude(name="")
        .exclude(address="")
        .filter(Exists(ClientPhone.objects.filter(client=OuterRef("pk"))))
    )


def month_counters(*, month: date, hunter_ids: Iterable[int]) -> dict[int, Counters]:
    """Each hunter's counters for the month, in five aggregate queries."""
    ids = list(hunter_ids)
    start, end = month_range(month)
    first = month_start(month)
    leads = dict(
        lead_cards(Client.objects.filter(created_by__in=ids, created_at__gte=start, created_at__lt=end))
        .values_list("created_by")
        .annotate(count=Count("pk"))
    )
    in_month = Activity.objects.filter(owner__in=ids, at__gte=start, at__lt=end)
    activity_counts = {
        row["owner"]: row
        for row in in_month.values("owner").annotate(
            meetings=Count("pk", filter=Q(kind=ActivityKind.MEETING)),
            messages=Count("pk", filter=Q(kind=ActivityKind.MESSAGE)),
        )
    }
    calls = dict(counted_calls(in_month).values_list("owner").annotate(count=Count("pk")))
    # Revenue is what accrues in the month: receipts of the month, refunds recorded in it, and payments
    # that arrived after an earlier month was locked (SPEC §5); the same figure the statement uses.
    # Money counts for the hunter it was credited to when recorded, not the deal's hunter of today.
    revenue = dict(
        Payment.objects.filter(credited_to__in=ids, accrual_month=first)
        .values_list("credited_to")
        .annotate(total=MoneySum("amount"))
    )
    completed = dict(
        Deal.objects.filter(completed_for__in=ids, completed_in=first)
        .values_list("completed_for")
        .annotate(count=Count("pk"))
    )
    return {
        hunter_id: Counters(
            leads=leads.get(hunter_id, 0),
            calls=calls.get(hunter_id, 0),
            meetings=activity_counts.get(hunter_id, {}).get("meetings", 0),
            messages=activity_counts.get(hunter_id, {}).get("messages", 0),
            revenue=revenue.get(hunter_id) or ZERO,
            deals=completed.get(hunter_id, 0),
        )
        for hunter_id in ids
    }


def percent(value: Decimal | int, target: Decimal | int) -> Decimal | None:
    """Progress in percent to one decimal; None when there is no target."""
    if not target:
        return None
    return (Decimal(value) * 100 / Decimal(target)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def sales_plan_fulfilled(counters: Counters, plan: MonthlyPlan | None) -> bool:
    """SPEC §4: revenue ≥ its target and completed deals ≥ theirs; a month without a plan is not."""
    return (
        plan is not None and counters.revenue >= plan.revenue_target and counters.deals >= plan.deals_target
    )


def kpi_plan_set(plan: MonthlyPlan | None) -> bool:
    """SPEC §5: a KPI plan whose targets are all zero is no KPI plan (it earns no fixed part)."""
    return plan is not None and any(getattr(plan, f"{name}_target") > 0 for name in KPI_COUNTERS)


def kpi_plan_met(counters: Counters, plan: MonthlyPlan | None) -> bool:
    """SPEC §4: every KPI counter reaches its target, of a KPI plan that is set."""
    if not kpi_plan_set(plan):
        return False
    return all(getattr(counters, name) >= getattr(plan, f"{name}_target") for name in KPI_COUNTERS)


def hunters_active_in_quarter(day: date) -> set[int]:
    """SPEC §5.5: the hunters active in the quarter of ``day``, for its department bonus: those with a
    plan in one of its months that asks for something (a plan of zeros does not make a hunter active)."""
    asks_for_something = Q()
    for name in PLAN_TARGETS:
        asks_for_something |= Q(**{f"{name}__gt": 0})
    return set(
        MonthlyPlan.objects.filter(asks_for_something, month__in=quarter_months(day)).values_list(
            "hunter_id", flat=True
        )
    )


@dataclass
class PlanProgress:
    hunter: User
    month: date
    plan: MonthlyPlan | None
    counters: Counters
    percents: dict[str, Decimal | None] = field(default_factory=dict)

    @property
    def sales_fulfilled(self) -> bool:
        return sales_plan_fulfilled(self.counters, self.plan)

    @property
    def kpi_met(self) -> bool:
        return kpi_plan_met(self.counters, self.plan)

    @property
    def kpi_set(self) -> bool:
        return kpi_plan_set(self.plan)


def month_progress(
    *, month: date, hunters: Iterable[User], counters: dict[int, Counters] | None = None
) -> list[PlanProgress]:
    """Progress against the month's plans; counted now unless the stored ``counters`` are given."""
    hunters = list(hunters)
    if counters is None:
        counters = month_counters(month=month, hunter_ids=[hunter.pk for hunter in hunters])
    plans = {
        plan.hunter_id: plan
        for plan in MonthlyPlan.objects.filter(month=month_start(month), hunter__in=hunters)
    }
    result = []
    for hunter in hunters:
        plan, values = plans.get(hunter.pk), counters[hunter.pk]
        percents = {}
        for name in (*KPI_COUNTERS, "revenue", "deals"):
            target_field = f"{name}_target"
            percents[name] = percent(getattr(values, name), getattr(plan, target_field)) if plan else None
        result.append(
            PlanProgress(
                hunter=hunter, month=month_start(month), plan=plan, counters=values, percents=percents
            )
        )
    return result
