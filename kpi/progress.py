"""Stored plan progress: recalculated by a background task, debounced, read by the dashboards.

Anything that changes a month's counters (an activity, a payment, a lead, an import, a plan) calls
``progress_schedule`` with the hunters it changes. That marks each hunter's month as behind its data
(``DirtyMonth``) in the changing transaction itself, and once the transaction commits queues one
recalculation of the month at the end of a short window; later changes inside the window ride on it, so a
burst of a thousand activities costs a handful of recalculations, not a thousand. A recalculation clears
the marks it read before counting. Whatever is lost on the way (a web worker killed between COMMIT and
the hook, Redis or the broker down, a task that never ran) the marks stay, and the periodic safety net
recalculates exactly the marked hunter-months, whatever month they are in.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.outage import cache_add
from deals.models import Client, Deal, Payment

from .counters import Counters, kpi_plan_met, month_counters, sales_plan_fulfilled
from .models import Activity, DirtyMonth, MonthlyPlan, MonthlyProgress
from .months import month_start

logger = logging.getLogger(__name__)

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
    # The marks as they are before anything is counted: a change committed after this line wrote a new
    # mark, which stays for the next recalculation.
    marks = _marks(month=month, hunter_ids=ids)
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
    _clear(marks)
    return len(rows)


def progress_recalculate_marked() -> int:
    """The safety net: recalculates every hunter-month marked as behind its data, whatever the month, and
    clears those marks (a mark written meanwhile stays); returns how many rows were written."""
    marked: dict[date, list[int]] = defaultdict(list)
    for hunter_id, month in DirtyMonth.objects.order_by("month", "hunter_id").values_list(
        "hunter_id", "month"
    ):
        marked[month].append(hunter_id)
    hunters = set(
        User.objects.filter(
            role=Role.HUNTER, pk__in={hunter for ids in marked.values() for hunter in ids}
        ).values_list("pk", flat=True)
    )
    written = 0
    for month, ids in marked.items():
        written += progress_recalculate(month=month, hunter_ids=[pk for pk in ids if pk in hunters])
        # Someone who is no hunter (any more) has no stored progress: nothing to recount for them.
        _clear(_marks(month=month, hunter_ids=[pk for pk in ids if pk not in hunters]))
    if marked:
        logger.info("Plan progress of %s marked hunter-month(s) recalculated", sum(map(len, marked.values())))
    return written


def progress_mark(*, months: Iterable[date], hunter_ids: Iterable[int | None] | None = None) -> None:
    """Marks the hunters' months (every hunter's with ``hunter_ids=None``) as behind their data, in the
    current transaction. Each mark is new, so a recalculation already reading the month keeps it."""
    months = sorted({month_start(month) for month in months})
    if hunter_ids is None:
        hunter_ids = User.objects.filter(role=Role.HUNTER).values_list("pk", flat=True)
    ids = sorted({pk for pk in hunter_ids if pk is not None})
    if not months or not ids:
        return
    # In one order everywhere, so two transactions marking the same rows wait for each other, never
    # deadlock.
    DirtyMonth.objects.bulk_create(
        [DirtyMonth(hunter_id=hunter_id, month=month) for hunter_id in ids for month in months],
        update_conflicts=True,
        unique_fields=["hunter", "month"],
        update_fields=["mark", "marked_at"],
    )


def _marks(*, month: date, hunter_ids: list[int]) -> dict[int, UUID]:
    if not hunter_ids:
        return {}
    return dict(DirtyMonth.objects.filter(month=month, hunter__in=hunter_ids).values_list("pk", "mark"))


def _clear(marks: dict[int, UUID]) -> None:
    """Deletes the marks that are still as they were read. A mark being rewritten right now (its row
    locked by a change not yet committed) is skipped, not waited for: it stays dirty either way."""
    if not marks:
        return
    with transaction.atomic():
        current = (
            DirtyMonth.objects.filter(pk__in=list(marks))
            .select_for_update(skip_locked=True)
            .values_list("pk", "mark")
        )
        unchanged = [pk for pk, mark in current if marks[pk] == mark]
        DirtyMonth.objects.filter(pk__in=unchanged).delete()


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


def current_counters(*, month: date, hunter_ids: Iterable[int]) -> dict[int, Counters]:
    """The month's figures as they stand now: stored where nothing changed since they were stored (no mark:
    a change marks its hunter-month in its own transaction, and a recalculation keeps a mark written while
    it counted), counted now for the rest."""
    month = month_start(month)
    ids = list(hunter_ids)
    marked = set(DirtyMonth.objects.filter(month=month, hunter__in=ids).values_list("hunter_id", flat=True))
    # Unmarked and never stored (a new month, a new hunter): counted once now and stored, as the dashboard's
    # reads do, so the next visit reads it.
    current = stored_counters(
        month=month, hunter_ids=[hunter_id for hunter_id in ids if hunter_id not in marked]
    )
    if marked:
        current |= month_counters(month=month, hunter_ids=sorted(marked))
    return current


def _read_stored(month: date, hunter_ids: list[int]) -> dict[int, Counters]:
    if not hunter_ids:
        return {}
    return {
        row.hunter_id: Counters(**{name: getattr(row, name) for name in COUNTER_FIELDS})
        for row in MonthlyProgress.objects.filter(month=month, hunter__in=hunter_ids)
    }


def progress_schedule(*, months: Iterable[date], hunter_ids: Iterable[int | None] | None = None) -> None:
    """Marks the hunters' months as behind their data (every hunter's with ``hunter_ids=None``) in the
    current transaction, and asks for the months to be recalculated once it commits (debounced)."""
    months = sorted({month_start(month) for month in months})
    if hunter_ids is not None:
        hunter_ids = [pk for pk in hunter_ids if pk is not None]
        if not hunter_ids:
            return  # nobody's figures changed
    progress_mark(months=months, hunter_ids=hunter_ids)
    for month in months:
        # robust: whatever fails here, the change is committed and marked; the page still answers.
        transaction.on_commit(partial(_queue_once_per_window, month), robust=True)


def debounce_key(month: date) -> str:
    return f"kpi:progress-queued:{month:%Y-%m}"


def _queue_once_per_window(month: date) -> None:
    from .tasks import recalculate_plan_progress

    window = settings.PLAN_PROGRESS_DEBOUNCE_SECONDS
    # cache.add is atomic: only the first change of the window queues; the task runs when the window
    # closes (countdown = window), so it sees every change made while the key was held. Without a cache
    # that answers, every change queues its own (or, without a broker, recalculates inline).
    if cache_add(debounce_key(month), 1, timeout=window) is not False:
        recalculate_plan_progress.apply_async(args=[month.isoformat()], countdown=window)
