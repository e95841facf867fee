"""An approval is of figures, not of a row (STYLE: money moves by entries).

Approving stores the statement's lines as approved. From then on the statement is read from them, and
any change to what it is computed from marks it for a check (:func:`mark_for_check`, called through
``compensation.changes.pay_changed`` in the changing transaction). The check works the statement out
again: the same figures clear the mark; different ones send it back to draft, record what changed
(:class:`StatementReopening`) and tell the head. Reading a marked statement checks it first, and a
background task checks every marked statement soon after the change commits, so nobody reads a stale
approved figure and the head hears of it the same minute.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.outage import cache_add
from atlanset_portal.templatetags.formatting import rub
from atlanset_portal.wording import ACCUSATIVE, month_year

from .engine import Line, LineKind
from .models import Statement, StatementReopening

# What makes two lines the same figure: the explanation may read differently (a KPI count in a
# sentence) without changing what is paid.
FIGURE_FIELDS = ("kind", "amount", "base", "rate", "deal_key", "source_id", "accelerated", "late")


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


def lines_to_json(lines: Iterable[Line]) -> list[dict]:
    return [
        {
            "kind": str(line.kind),
            "amount": str(line.amount),
            "base": _plain(line.base),
            "rate": _plain(line.rate),
            "deal_key": line.deal_key,
            "client_key": line.client_key,
            "is_new_client": line.is_new_client,
            "accelerated": line.accelerated,
            "late": line.late,
            "source_id": line.source_id,
            "explanation": line.explanation,
        }
        for line in lines
    ]


def lines_from_json(data: list[dict] | None) -> list[Line]:
    def decimal(value):
        return None if value is None else Decimal(value)

    return [
        Line(
            kind=LineKind(item["kind"]),
            amount=Decimal(item["amount"]),
            base=decimal(item["base"]),
            rate=decimal(item["rate"]),
            deal_key=item["deal_key"],
            client_key=item["client_key"],
            is_new_client=item["is_new_client"],
            accelerated=item["accelerated"],
            late=item["late"],
            source_id=item["source_id"],
            explanation=item["explanation"],
        )
        for item in data or []
    ]


def figures(lines: Iterable[Line]) -> list[tuple]:
    """The lines as the figures they pay, comparable across a JSON round trip."""
    return [
        tuple(_plain(getattr(line, name)) if name != "kind" else str(line.kind) for name in FIGURE_FIELDS)
        for line in lines
    ]


def differences(before: list[Line], after: list[Line]) -> list[dict]:
    """The lines that are not in both, each with what it paid before and after, for the head to read."""
    old, new = figures(before), figures(after)
    removed = [line for line, key in zip(before, old, strict=True) if key not in new]
    added = [line for line, key in zip(after, new, strict=True) if key not in old]
    return [
        *({"line": line.explanation, "before": str(line.amount), "after": ""} for line in removed),
        *({"line": line.explanation, "before": "", "after": str(line.amount)} for line in added),
    ]


def approve(record: Statement, *, by: User, at) -> Statement:
    """Stores the statement's figures as approved; ``record`` is locked by the caller."""
    from .statements import compute_statement, counters_json

    statement = compute_statement(hunter=record.hunter, month=record.month, record=record)
    record.status = Statement.Status.APPROVED
    record.approved_by, record.approved_at = by, at
    record.approved_total = record.total = statement.total
    record.approved_lines = lines_to_json(statement.lines)
    record.sales_plan_fulfilled = statement.sales_plan_fulfilled
    record.kpi_met = statement.kpi_met
    record.needs_check, record.check_cause = False, ""
    record.changed_after_approval = False
    record.computed_lines = record.approved_lines
    record.computed_total = statement.total
    record.counters = counters_json(statement.counters)
    record.save()
    return record


def mark_for_check(*, hunter_ids: set[int] | None, month: date, cause: str) -> int:
    if hunter_ids:
        # The changed month gets its statement row: the hunter is on that month's list from now on.
        Statement.objects.bulk_create(
            [Statement(hunter_id=hunter_id, month=month) for hunter_id in sorted(hunter_ids)],
            ignore_conflicts=True,
        )
    open_rows = Statement.objects.filter(
        status__in=(Statement.Status.DRAFT, Statement.Status.APPROVED), month__gte=month
    )
    if hunter_ids is not None:
        open_rows = open_rows.filter(hunter_id__in=hunter_ids)
    # Rows are taken in one order (hunter, month), as every writer takes them: two changes never wait for
    # each other in a circle.
    ids = list(
        open_rows.select_for_update(no_key=True, of=("self",))
        .order_by("hunter_id", "month")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    marked = Statement.objects.filter(pk__in=ids).update(
        needs_check=True, check_cause=cause[:300], change_seq=F("change_seq") + 1
    )
    # robust: the marks are committed whatever happens here; a statement read before its run is worked
    # out on the spot.
    transaction.on_commit(_queue_check_once_per_window, robust=True)
    return marked


CHECK_QUEUED_KEY = "compensation:statement-check-queued"


def _queue_check_once_per_window() -> None:
    """The first change of a window queues one working-out of every marked statement at its end; the
    rest ride on it (a burst of a thousand PBX calls is one run, not a thousand). Without the cache the
    run is queued anyway: a statement read before it is worked out on the spot."""
    from .tasks import check_marked_statements

    window = settings.PLAN_PROGRESS_DEBOUNCE_SECONDS
    # None: the cache could not be asked, so queue without the window.
    if not window or cache_add(CHECK_QUEUED_KEY, 1, timeout=window) is not False:
        check_marked_statements.apply_async(countdown=window)


@transaction.atomic
def statement_check(record: Statement) -> Statement:
    """Works an approved statement out again and compares it with what the head approved: the same
    figures clear the mark; different ones send it back to draft (see :func:`reopen`). Returns the row as
    it now is. Figures worked out from data that changed meanwhile decide nothing: the row stays marked."""
    from .statements import compute_statement

    record = Statement.objects.select_related("hunter").get(pk=record.pk)
    if record.status != Statement.Status.APPROVED:
        return record
    seq = record.change_seq
    statement = compute_statement(hunter=record.hunter, month=record.month, record=record)
    current = (
        Statement.objects.select_for_update(no_key=True, of=("self",))
        .select_related("hunter")
        .filter(pk=record.pk, change_seq=seq, status=Statement.Status.APPROVED)
        .first()
    )
    if current is None:
        return Statement.objects.select_related("hunter").get(pk=record.pk)
    current.computed_lines = lines_to_json(statement.lines)
    current.computed_total = statement.total
    approved = lines_from_json(current.approved_lines)
    if figures(statement.lines) == figures(approved) and statement.total == current.approved_total:
        Statement.objects.filter(pk=current.pk).update(
            needs_check=False,
            check_cause="",
            computed_lines=current.computed_lines,
            computed_total=statement.total,
        )
        current.needs_check, current.check_cause = False, ""
        return current
    if not current.check_cause:
        current.check_cause = _("изменилась премия отдела за квартал")
    return reopen(current, lines=statement.lines, total=statement.total, statement=statement)


def reopen(record: Statement, *, lines: list[Line], total: Decimal, statement=None) -> Statement:
    """Sends an approved statement whose figures changed back to draft, keeps what was approved for the
    record, and tells the head."""
    StatementReopening.objects.create(
        statement=record,
        cause=record.check_cause or _("изменились данные, из которых он рассчитан"),
        approved_total=record.approved_total,
        new_total=total,
        differences=differences(lines_from_json(record.approved_lines), lines),
    )
    record.status = Statement.Status.DRAFT
    record.total = None
    record.approved_by, record.approved_at = None, None
    record.needs_check, record.check_cause = False, ""
    record.changed_after_approval = True
    record.computed_lines = lines_to_json(lines)
    record.computed_total = total
    if statement is not None:
        record.sales_plan_fulfilled, record.kpi_met = statement.sales_plan_fulfilled, statement.kpi_met
    record.save()
    transaction.on_commit(lambda: _tell_the_head(record.pk))
    return record


def _tell_the_head(statement_id: int) -> None:
    from notifications.models import NotificationKind
    from notifications.reminders import Reminder
    from notifications.services import notifications_create

    record = Statement.objects.select_related("hunter").get(pk=statement_id)
    reopening = record.reopenings.first()
    title = _("Расчётный лист за %(month)s изменён после утверждения: %(hunter)s") % {
        "hunter": record.hunter.full_name or record.hunter.username,
        "month": month_year(record.month, ACCUSATIVE),
    }
    body = _("Было утверждено %(before)s, стало %(after)s. Причина: %(cause)s. Утвердите его заново.") % {
        "before": rub(reopening.approved_total),
        "after": rub(reopening.new_total),
        "cause": reopening.cause,
    }
    url = reverse("compensation:statement", args=[record.hunter.username, f"{record.month:%Y-%m}"])
    heads = User.objects.filter(role=Role.SALES_HEAD, is_active=True).values_list("pk", flat=True)
    notifications_create(
        reminders=[
            Reminder(
                recipient_id=head,
                kind=NotificationKind.STATEMENT_CHANGED,
                subject_key=f"statement:{record.pk}:{reopening.pk}",
                title=title,
                body=body,
                url=url,
            )
            for head in heads
        ],
        for_day=timezone.localdate(),
    )


def check_marked() -> int:
    """Works out every marked statement again (drafts are stored afresh, approved ones checked); returns
    how many approved ones went back to draft."""
    from .statements import statement_for

    reopened = 0
    marked = Statement.objects.filter(
        status__in=(Statement.Status.DRAFT, Statement.Status.APPROVED), needs_check=True
    ).select_related("hunter")
    for record in marked.order_by("month", "hunter_id"):
        was_approved = record.status == Statement.Status.APPROVED
        statement = statement_for(hunter=record.hunter, month=record.month)
        if was_approved and statement.status == Statement.Status.DRAFT:
            reopened += 1
    return reopened
