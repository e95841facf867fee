"""Stored plan progress: recalculated by a background task, debounced, read by the dashboards.

Anything that changes a month's counters (an activity, a payment, a lead, an import, a plan) calls
``progress_schedule``. The first call for a month starts a short window and queues one recalculation
at its end, after the transaction commits; later calls inside the window ride on it, so a burst of a
thousand activities costs a handful of recalculations, not a thousand.
"""

from collections.abc import Iterable
from datetime import date, datetime
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from deals.models import Client, Deal, Payment

from .counters import Counters, kpi_plan_met, month_counters, sales_plan_fulfilled
from .models import Activity, MonthlyPlan, MonthlyProgress
from .months import month_start

COUNTER_FIELDS = ("leads", "calls", "meetings", "messages", "revenue", "deals")


def progress_recalculate(*, month: date, hunter_ids: Iterable[int] | None = None) -> int:
    """Recounts the month for the given hunters (all hunters by default) and stores the figures;
    returns how many rows were written. Running it twice writes the same figures."""
    month = month_start(month)
    if hunter_ids is None:
        hunter_ids = User.objects.filter(role=Role.HUNTER).values_list("pk", flat=True)
    ids = list(hunter_ids)
    if not ids:
        return 0
    counters = month_counters(month=month, hunter_ids=ids)
    plans = {plan.hunter_id: plan for plan in MonthlyPlan.objects.filter(month=month, hunter__in=ids)}
    now = timezone.now()
    rows = [
        MonthlyProgress(
            hunter_id=hunter_id,
            month=month,
            sales_plan_fulfilled=sales_plan_fulfilled(values, plans.get(hunter_id)),
            kpi_plan_met=kpi_plan_met(values, plans.get(hunter_id)),
            calculated_at=now,
            **{name: getattr(values, name) for name in COUNTER_FIELDS},
        )
        for hunter_id, values in counters.items()
    ]
    MonthlyProgress.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["hunter", "month"],
        update_fields=[*COUNTER_FIELDS, "sales_plan_fulfilled", "kpi_plan_met", "calculated_at"],
    )
    return len(rows)


def months_with_data() -> list[date]:
    """Every month in which anything counted for a plan happened, oldest first."""
    months = set(MonthlyPlan.objects.values_list("month", flat=True))
    months |= set(Payment.objects.values_list("accrual_month", flat=True).distinct())
    for queryset, field in (
        (Activity.objects.all(), "at"),
        (Client.objects.all(), "created_at"),
        (Deal.objects.filter(paid_in_full_on__isnull=False), "paid_in_full_on"),
    ):
        months |= set(queryset.annotate(month=TruncMonth(field)).values_list("month", flat=True).distinct())
    return sorted({_as_month(value) for value in months})


def _as_month(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return month_start(value)


def progress_recalculate_history() -> int:
    """Recounts every month with data (after an upgrade or a bulk load); returns rows written."""
    return sum(progress_recalculate(month=month) for month in months_with_data())


def stored_counters(*, month: date, hunter_ids: Iterable[int]) -> dict[int, Counters]:
    """The stored figures of the month; a hunter never recalculated yet is counted once now and stored."""
    month = month_start(month)
    ids = list(hunter_ids)
    stored = _read_stored(month, ids)
    missing = [hunter_id for hunter_id in ids if hunter_id not in stored]
    if missing:
        progress_recalculate(month=month, hunter_ids=missing)
        stored |= _read_stored(month, missing)
    return stored


def _read_stored(month: date, hunter_ids: list[int]) -> dict[int, Counters]:
    return {
        row.hunter_id: Counters(**{name: getattr(row, name) for name in COUNTER_FIELDS})
        for row in MonthlyProgress.objects.filter(month=month, hunter__in=hunter_ids)
    }


def progress_schedule(*, months: Iterable[date]) -> None:
    """Asks for the months to be recalculated once the current transaction commits (debounced)."""
    for month in {month_start(month) for month in months}:
        transaction.on_commit(partial(_queue_once_per_window, month))


def debounce_key(month: date) -> str:
    return f"kpi:progress-queued:{month:%Y-%m}"


def _queue_once_per_window(month: date) -> None:
    from .tasks import recalculate_plan_progress

    window = settings.PLAN_PROGRESS_DEBOUNCE_SECONDS
    # cache.add is atomic: only the first change of the window queues; the task runs when the window
    # closes (countdown = window), so it sees every change made while the key was held.
    if cache.add(debounce_key(month), 1, timeout=window):
        recalculate_plan_progress.apply_async(args=[month.isoformat()], countdown=window)
