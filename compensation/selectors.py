"""Reads about statements: which months are locked and where a new payment accrues."""

from datetime import date

from kpi.months import month_start, next_month

from .models import Statement

LOCKED_STATUSES = (Statement.Status.LOCKED, Statement.Status.PAID)


def locked_months(hunter_id: int) -> set[date]:
    return set(
        Statement.objects.filter(hunter_id=hunter_id, status__in=LOCKED_STATUSES).values_list(
            "month", flat=True
        )
    )


def first_open_month(*, hunter_id: int, month: date) -> date:
    """The month itself if its statement is open, else the first later month that is (SPEC §5: late
    payments accrue in the first open month)."""
    locked = locked_months(hunter_id)
    month = month_start(month)
    while month in locked:
        month = next_month(month)
    return month
