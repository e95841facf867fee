"""What a write must say about pay: which month money enters, and which statements it may change.

Every service that changes something a statement is computed from (a payment, a refund, an activity, a
plan, an expense, an adjustment, an order's figures, the scheme) calls :func:`pay_changed` in its own
transaction. A month whose statement is locked is never changed: :func:`ensure_month_open` refuses
first, and money finds its month through :func:`accrual_month_for_update`, which serialises with the
lock of that month. An approved statement whose figures the change alters goes back to draft, marked as
changed since approval, and the head is told (``compensation.approval``).
"""

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from atlanset_portal.wording import ACCUSATIVE, month_year
from kpi.months import month_start, next_month

from .models import Statement
from .selectors import LOCKED_STATUSES


class StatementLocked(ValidationError):
    """The month's statement is locked: nothing may enter it any more."""


def month_status(*, hunter_id: int, month: date) -> str:
    """The status of the hunter's statement for the month (draft when there is none yet)."""
    status = (
        Statement.objects.filter(hunter_id=hunter_id, month=month_start(month))
        .values_list("status", flat=True)
        .first()
    )
    return status or Statement.Status.DRAFT


def ensure_month_open(*, hunter_id: int, month: date) -> None:
    """Refuses, in Russian, a change to a month whose statement the accountant has locked."""
    if month_status(hunter_id=hunter_id, month=month) in LOCKED_STATUSES:
        raise StatementLocked(
            _("Расчётный лист за %(month)s закрыт: исправления — корректировкой в открытом месяце.")
            % {"month": month_year(month_start(month), ACCUSATIVE)}
        )


def statements_for_update() -> QuerySet[Statement]:
    """Statements to lock for a write: their own rows, nothing else. The model's ordering joins the
    hunter, and without ``of`` the lock took the hunter's user row too; every payment, transfer or line
    that names the hunter key-shares that row at commit, so it waited for the statement's holder while
    holding what the holder needed next (a deadlock). NO KEY UPDATE: writers change a statement, never
    its key, and rows that name the statement are not held up by it."""
    return Statement.objects.select_for_update(no_key=True, of=("self",)).order_by()


def statement_row_for_update(*, hunter_id: int, month: date) -> Statement:
    """The hunter's statement row for the month, created as a draft if there is none, locked until the
    transaction ends. Everything that decides what a month holds takes this row first."""
    month = month_start(month)
    record = statements_for_update().filter(hunter_id=hunter_id, month=month).first()
    if record is None:
        try:
            with transaction.atomic():
                Statement.objects.create(hunter_id=hunter_id, month=month)
        except IntegrityError:
            pass  # a concurrent write created it first; its row is the one to wait for
        record = statements_for_update().get(hunter_id=hunter_id, month=month)
    return record


def accrual_month_for_update(*, hunter_id: int, month: date) -> date:
    """The month money received in ``month`` counts in: that month, or the first later one whose
    statement is not locked (SPEC §5: a late payment accrues in the first open month). The row of the
    month returned stays locked until the transaction ends, and locking a month takes the same row, so
    a payment recorded while its month is being locked lands either in that statement or, marked late,
    in the next open one: never in none, never in two."""
    month = month_start(month)
    while statement_row_for_update(hunter_id=hunter_id, month=month).status in LOCKED_STATUSES:
        month = next_month(month)
    return month


def pay_changed(*, hunter_ids: Iterable[int] | None, month: date, cause: str) -> int:
    """Marks the hunters' statements from ``month`` on as needing to be worked out again (a refund's
    clawback reads earlier months): drafts are recomputed, approved ones checked against what was
    approved. ``hunter_ids=None`` means every hunter. Returns how many statements were marked; each is
    worked out before anyone reads it and by a background task soon after the change commits. (The
    department bonus, which reads the whole department, is compared when a quarter's last month is read.)"""
    from .approval import mark_for_check

    return mark_for_check(
        hunter_ids=None if hunter_ids is None else set(hunter_ids), month=month_start(month), cause=cause
    )
