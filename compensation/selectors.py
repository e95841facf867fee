"""Reads about statements: which months are locked and where a new payment accrues."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Max

from kpi.months import month_start, next_month, quarter_months

from . import rules
from .models import PaySchemeVersion, Statement

ZERO = Decimal("0")
LOCKED_STATUSES = (Statement.Status.LOCKED, Statement.Status.PAID)


def first_open_month(since: date) -> date:
    """The first month from ``since`` on with no locked statement at or after it: the earliest a new
    version of the pay scheme may take effect, so that it never changes what a locked month paid."""
    since = month_start(since)
    latest_locked = Statement.objects.filter(month__gte=since, status__in=LOCKED_STATUSES).aggregate(
        latest=Max("month")
    )["latest"]
    return since if latest_locked is None else next_month(latest_locked)


def scheme_start_default(today: date) -> date:
    """The effective date the scheme form offers: the first open month from next month on."""
    return first_open_month(next_month(month_start(today)))


def scheme_change_ahead(today: date) -> PaySchemeVersion | None:
    """The next version of the pay scheme already saved for a later month, if any: the pay pages announce
    it before it takes effect."""
    later = PaySchemeVersion.objects.filter(effective_from__gt=month_start(today))
    return later.order_by("effective_from").first()


@dataclass
class BestEmployee:
    hunter_id: int
    margin: Decimal
    revenue: Decimal


def best_employee_of_quarter(quarter: date) -> BestEmployee | None:
    """SPEC §5.7: the most margin recognised in the quarter; ties go to more revenue, then to who got
    there earlier (the earlier last payment).

    Each payment's margin is worked out in Decimal by the statement's rule (``rules.payment_margin``)
    over the quarter's payments read as values: a database that keeps money as floating point (SQLite)
    never does the division. One query.
    """
    from deals.models import Payment

    rows = Payment.objects.filter(accrual_month__in=quarter_months(quarter)).values_list(
        "credited_to", "amount", "deal__order__total", "deal__order__cost_total", "received_on"
    )
    totals: dict[int, list] = {}
    for hunter_id, amount, order_total, order_cost, received_on in rows:
        margin = rules.payment_margin(amount, order_total=order_total, order_cost=order_cost)
        figures = totals.setdefault(hunter_id, [ZERO, ZERO, received_on])
        figures[0] += margin
        figures[1] += amount
        figures[2] = max(figures[2], received_on)
    best = None
    for hunter_id, (margin, revenue, last) in totals.items():
        key = (margin, revenue, -last.toordinal())
        if margin > 0 and (best is None or key > best[0]):
            best = (key, hunter_id, margin, revenue)
    if best is None:
        return None
    _key, hunter_id, margin, revenue = best
    return BestEmployee(
        hunter_id=hunter_id, margin=rules.round_kopecks(margin), revenue=rules.round_kopecks(revenue)
    )
