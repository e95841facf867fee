"""Reads about statements: which months are locked and where a new payment accrues."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, Max, Sum

from atlanset_portal.keyset import KeysetPage, keyset_page
from deals.models import Payment
from kpi.months import month_start, next_month, quarter_months

from . import rules
from .models import Statement

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


@dataclass
class BestEmployee:
    hunter_id: int
    margin: Decimal
    revenue: Decimal


def best_employee_of_quarter(quarter: date) -> BestEmployee | None:
    """SPEC §5.7: the most margin recognised in the quarter; ties go to more revenue, then to who got
    there earlier (the earlier last payment)."""
    from deals.models import Payment

    months = quarter_months(quarter)
    rows = (
        Payment.objects.filter(accrual_month__in=months, deal__order__total__gt=0)
        .values("credited_to")
        .annotate(
            margin=Sum(
                F("amount")
                * (F("deal__order__total") - F("deal__order__cost_total"))
                / F("deal__order__total"),
                output_field=DecimalField(max_digits=20, decimal_places=6),
            ),
            revenue=Sum("amount"),
            last=Max("received_on"),
        )
    )
    best = None
    for row in rows:
        key = (row["margin"] or 0, row["revenue"] or 0, -row["last"].toordinal())
        if row["margin"] and row["margin"] > 0 and (best is None or key > best[0]):
            best = (key, row)
    if best is None:
        return None
    row = best[1]
    return BestEmployee(
        hunter_id=row["credited_to"],
        margin=rules.round_kopecks(row["margin"]),
        revenue=rules.round_kopecks(row["revenue"]),
    )


PAYMENTS_PAGE = 50


def recorded_payments(*, query: dict, size: int | None = None) -> KeysetPage:
    """The accountant's recorded payments and refunds, newest first, a page at a time from the
    (recorded_at, id) index: the thousandth page costs what the first does."""
    return keyset_page(
        Payment.objects.select_related("deal__client"),
        field="recorded_at",
        query=query,
        size=size or PAYMENTS_PAGE,
    )
