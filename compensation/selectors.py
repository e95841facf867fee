"""Reads about statements: which months are locked and where a new payment accrues."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, Max, Sum

from kpi.months import quarter_months

from . import rules
from .models import Statement

LOCKED_STATUSES = (Statement.Status.LOCKED, Statement.Status.PAID)


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
