"""Writes about pay: schemes, statement approval and locking, adjustments and expenses."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability, Role
from deals.models import Clawback, Payment
from kpi.models import Activity, ActivityKind, MonthlyPlan
from kpi.months import month_start, next_month

from . import rules
from .approval import approve, figures, lines_from_json, reopen
from .changes import StatementLocked, ensure_month_open, pay_changed, statement_row_for_update
from .engine import Line, LineKind
from .models import Adjustment, Dispute, Expense, PaySchemeVersion, Statement, StatementLine
from .selectors import first_open_month
from .statements import compute_statement

__all__ = ["StatementLocked"]


def _month_ended(month: date, at) -> bool:
    return timezone.localdate(at) >= next_month(month_start(month))


@transaction.atomic
def scheme_save(*, acting_user: User, effective_from: date, **values) -> PaySchemeVersion:
    """A new version of the pay scheme from the first day of a month that no statement is locked for."""
    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    effective_from = month_start(effective_from)
    earliest = first_open_month(effective_from)
    if earliest != effective_from:
        raise ValidationError(
            _(
                "С этой даты уже есть закрытые расчётные листы: прошлые месяцы не пересчитываются. "
                "Новая редакция может действовать с %(day)s или позже."
            )
            % {"day": f"{earliest:%d.%m.%Y}"}
        )
    errors = scheme_values_errors(values)
    if errors:
        raise ValidationError(errors)
    rules.PayScheme(effective_from=effective_from, **values)  # the rules' own checks of the values
    version, _created = PaySchemeVersion.objects.update_or_create(
        effective_from=effective_from,
        defaults={**values, "created_by": acting_user, "created_at": timezone.now()},
    )
    pay_changed(hunter_ids=None, month=effective_from, cause=_("изменена схема оплаты"))
    return version


SCHEME_RATES = ("new_client_rate", "existing_client_rate", "margin_bonus_rate")


def scheme_values_errors(values: dict) -> dict[str, str]:
    """Why the rules could not pay by these values, field by field in Russian (only the given fields)."""
    errors = {}
    if "accelerator" in values and values["accelerator"] not in PaySchemeVersion.Accelerator.values:
        errors["accelerator"] = _("Выберите ускоритель из списка.")
    if (
        "department_bonus_split" in values
        and values["department_bonus_split"] not in PaySchemeVersion.Split.values
    ):
        errors["department_bonus_split"] = _("Выберите способ деления премии отдела из списка.")
    if "fixed_amount" in values and not values["fixed_amount"] >= 0:
        errors["fixed_amount"] = _("Фиксированная часть не может быть отрицательной.")
    for name in SCHEME_RATES:
        if name in values and not 0 <= values[name] <= 1:
            errors[name] = _("Процент записывается долей от 0 до 1: 5 % — это 0,05.")
    if "accelerator_multiplier" in values and not values["accelerator_multiplier"] >= 1:
        errors["accelerator_multiplier"] = _("Множитель ускорителя не может быть меньше 1.")
    return errors


@transaction.atomic
def statement_approve(*, acting_user: User, hunter: User, month: date, at=None) -> Statement:
    """The head approves the figures of an ended month's draft; they are stored and shown from now on."""
    if not can(acting_user, Capability.APPROVE_STATEMENTS):
        raise PermissionDenied
    at = at or timezone.now()
    month = month_start(month)
    if not _month_ended(month, at):
        raise ValidationError(_("Утвердить расчётный лист можно после окончания месяца."))
    record = statement_row_for_update(hunter_id=hunter.pk, month=month)
    if record.status != Statement.Status.DRAFT:
        raise ValidationError(
            _("Расчётный лист: %(hunter)s — уже утверждён или закрыт.") % {"hunter": str(hunter)}
        )
    return approve(record, by=acting_user, at=at)


def statements_approve_month(*, acting_user: User, month: date) -> int:
    """The head approves every draft of an ended month at once; returns how many were approved."""
    if not can(acting_user, Capability.APPROVE_STATEMENTS):
        raise PermissionDenied
    approved = 0
    for hunter in hunters_of_month(month):
        with transaction.atomic():
            if statement_row_for_update(hunter_id=hunter.pk, month=month).status == Statement.Status.DRAFT:
                statement_approve(acting_user=acting_user, hunter=hunter, month=month)
                approved += 1
    return approved


def hunters_of_month(month: date) -> list[User]:
    """Hunters with a plan, money credited, a clawback or a statement in the month."""
    month = month_start(month)
    ids = set(MonthlyPlan.objects.filter(month=month).values_list("hunter_id", flat=True))
    ids |= set(Payment.objects.filter(accrual_month=month).values_list("credited_to_id", flat=True))
    ids |= set(Clawback.objects.filter(accrual_month=month).values_list("hunter_id", flat=True))
    ids |= set(Statement.objects.filter(month=month).values_list("hunter_id", flat=True))
    return list(User.objects.filter(pk__in=ids, role=Role.HUNTER).order_by("full_name", "pk"))


@transaction.atomic
def statement_lock(*, acting_user: User, hunter: User, month: date, at=None) -> Statement:
    """Locks an approved statement of an ended month: its lines are stored and never change again. If its
    figures changed since approval it goes back to draft instead (the caller sees the status)."""
    if not can(acting_user, Capability.LOCK_STATEMENTS):
        raise PermissionDenied
    at = at or timezone.now()
    month = month_start(month)
    if not _month_ended(month, at):
        raise ValidationError(_("Закрыть месяц можно только после его окончания."))
    record = statement_row_for_update(hunter_id=hunter.pk, month=month)
    if record.is_locked:
        return record
    if record.status != Statement.Status.APPROVED:
        raise ValidationError(
            _("Расчётный лист: %(hunter)s — не утверждён руководителем: закрыть можно только утверждённый.")
            % {"hunter": str(hunter)}
        )
    statement = compute_statement(hunter=hunter, month=month, record=record)
    if figures(statement.lines) != figures(lines_from_json(record.approved_lines)):
        record.check_cause = record.check_cause or _("данные изменились после утверждения")
        return reopen(record, lines=statement.lines, total=statement.total)
    StatementLine.objects.bulk_create(
        [StatementLine(statement=record, **values) for values in posted_line_values(statement.lines)]
    )
    record.status = Statement.Status.LOCKED
    record.total = statement.total
    record.needs_check, record.check_cause = False, ""
    record.locked_by, record.locked_at = acting_user, at
    record.save()
    return record


def posted_line_values(lines: list[Line]) -> list[dict]:
    """A locked statement's rows (``StatementLine`` fields) for the statement's lines, in order."""
    return [
        {
            "position": position,
            "kind": line.kind,
            "amount": line.amount,
            "base": line.base,
            "rate": line.rate,
            "deal_id": line.deal_key,
            "accelerated": line.accelerated,
            "late": line.late,
            "payment_id": line.source_id if line.kind == LineKind.COMMISSION else None,
            "explanation": line.explanation,
        }
        for position, line in enumerate(lines, start=1)
    ]


@dataclass
class MonthLock:
    locked: list[Statement] = field(default_factory=list)
    reopened: list[Statement] = field(default_factory=list)
    not_approved: list[User] = field(default_factory=list)


def statements_to_lock(month: date) -> MonthLock:
    """What locking the month would do now: the approved statements it locks, the drafts it leaves."""
    month = month_start(month)
    plan = MonthLock()
    records = {r.hunter_id: r for r in Statement.objects.filter(month=month).select_related("hunter")}
    for hunter in hunters_of_month(month):
        record = records.get(hunter.pk)
        if record is not None and record.status == Statement.Status.APPROVED:
            plan.locked.append(record)
        elif record is None or record.status == Statement.Status.DRAFT:
            plan.not_approved.append(hunter)
    return plan


def statements_lock_month(
    *, acting_user: User, month: date, at=None, hunter_ids: set[int] | None = None
) -> MonthLock:
    """Locks the month's approved statements (only those of ``hunter_ids`` when given: the ones the
    accountant confirmed); drafts stay open. Each statement is locked in its own transaction, so one
    that changed since approval goes back to draft without holding up the others."""
    if not can(acting_user, Capability.LOCK_STATEMENTS):
        raise PermissionDenied
    result = MonthLock()
    for record in statements_to_lock(month).locked:
        if hunter_ids is not None and record.hunter_id not in hunter_ids:
            continue
        done = statement_lock(acting_user=acting_user, hunter=record.hunter, month=month, at=at)
        (result.locked if done.is_locked else result.reopened).append(done)
    result.not_approved = statements_to_lock(month).not_approved
    return result


@transaction.atomic
def statements_mark_paid(*, acting_user: User, month: date) -> int:
    if not can(acting_user, Capability.LOCK_STATEMENTS):
        raise PermissionDenied
    return Statement.objects.filter(month=month_start(month), status=Statement.Status.LOCKED).update(
        status=Statement.Status.PAID, paid_at=timezone.now()
    )


def _may_adjust(user: User) -> bool:
    return can(user, Capability.APPROVE_STATEMENTS) or can(user, Capability.LOCK_STATEMENTS)


@transaction.atomic
def adjustment_add(
    *, acting_user: User, hunter: User, month: date, amount: Decimal, reason: str
) -> Adjustment:
    """A correction with its reason in an open month. The head's counts at once; the accountant's is a
    proposal that counts once the head approves it."""
    if not _may_adjust(acting_user):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Укажите причину корректировки.")})
    month = month_start(month)
    statement_row_for_update(hunter_id=hunter.pk, month=month)
    ensure_month_open(hunter_id=hunter.pk, month=month)
    by_head = can(acting_user, Capability.APPROVE_STATEMENTS)
    adjustment = Adjustment.objects.create(
        hunter=hunter,
        month=month,
        amount=amount,
        reason=reason.strip(),
        created_by=acting_user,
        status=Adjustment.Status.APPROVED if by_head else Adjustment.Status.PROPOSED,
        decided_by=acting_user if by_head else None,
        decided_at=timezone.now() if by_head else None,
    )
    if by_head:
        pay_changed(hunter_ids=[hunter.pk], month=month, cause=_("добавлена корректировка"))
    return adjustment


@transaction.atomic
def adjustment_decide(*, acting_user: User, adjustment: Adjustment, approve: bool) -> Adjustment:
    """The head approves or declines an adjustment the accountant proposed."""
    if not can(acting_user, Capability.APPROVE_STATEMENTS):
        raise PermissionDenied
    statement_row_for_update(hunter_id=adjustment.hunter_id, month=adjustment.month)
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != Adjustment.Status.PROPOSED:
        raise ValidationError(_("По этой корректировке уже есть решение."))
    if approve:
        ensure_month_open(hunter_id=adjustment.hunter_id, month=adjustment.month)
    adjustment.status = Adjustment.Status.APPROVED if approve else Adjustment.Status.DECLINED
    adjustment.decided_by, adjustment.decided_at = acting_user, timezone.now()
    adjustment.save()
    if approve:
        pay_changed(
            hunter_ids=[adjustment.hunter_id], month=adjustment.month, cause=_("утверждена корректировка")
        )
    return adjustment


@transaction.atomic
def expense_claim(
    *,
    acting_user: User,
    amount: Decimal,
    meeting: Activity | None = None,
    note: str = "",
    receipt: UploadedFile | None = None,
) -> Expense:
    # A hunter claims; the head decides, and never on a claim of her own.
    if acting_user.role != Role.HUNTER or not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    if meeting is not None and (meeting.owner_id != acting_user.pk or meeting.kind != ActivityKind.MEETING):
        raise ValidationError({"meeting": _("Расход оформляется на свою встречу с клиентом.")})
    if amount is None or amount <= 0:
        raise ValidationError({"amount": _("Сумма должна быть больше нуля.")})
    if receipt is not None:
        from deals.services import check_upload

        check_upload(receipt)
    return Expense.objects.create(
        hunter=acting_user, meeting=meeting, amount=amount, note=note.strip(), receipt=receipt or ""
    )


@transaction.atomic
def expense_decide(
    *, acting_user: User, expense: Expense, approved_amount: Decimal, decided_on: date | None = None
) -> Expense:
    """The head approves a claim in full or in part (0 rejects it); it is paid in the decision's month."""
    if not can(acting_user, Capability.APPROVE_STATEMENTS):
        raise PermissionDenied
    expense = Expense.objects.select_for_update().get(pk=expense.pk)
    if expense.hunter_id == acting_user.pk:
        raise PermissionDenied
    if expense.status != Expense.Status.CLAIMED:
        raise ValidationError(_("По этому расходу уже есть решение."))
    if approved_amount < 0 or approved_amount > expense.amount:
        raise ValidationError({"approved_amount": _("Одобрить можно от 0 до заявленной суммы.")})
    decided_on = decided_on or timezone.localdate()
    statement_row_for_update(hunter_id=expense.hunter_id, month=decided_on)
    ensure_month_open(hunter_id=expense.hunter_id, month=decided_on)
    expense.status = Expense.Status.APPROVED if approved_amount > 0 else Expense.Status.REJECTED
    expense.approved_amount, expense.approved_on, expense.decided_by = (
        approved_amount,
        decided_on,
        acting_user,
    )
    expense.save()
    if approved_amount > 0:
        pay_changed(hunter_ids=[expense.hunter_id], month=decided_on, cause=_("одобрен расход"))
    return expense


@transaction.atomic
def dispute_open(*, acting_user: User, month: date, line_text: str, comment: str) -> Dispute:
    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    if not comment.strip():
        raise ValidationError({"comment": _("Напишите, что не так с начислением.")})
    return Dispute.objects.create(
        hunter=acting_user,
        month=month_start(month),
        line_text=line_text.strip()[:1000],
        comment=comment.strip(),
    )


@transaction.atomic
def dispute_answer(
    *,
    acting_user: User,
    dispute: Dispute,
    answer: str,
    correction: Decimal | None = None,
    correction_month: date | None = None,
) -> Dispute:
    """Answers a question; a correction becomes an adjustment line in an open month (by default this one)."""
    if not _may_adjust(acting_user):
        raise PermissionDenied
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if not answer.strip():
        raise ValidationError({"answer": _("Напишите ответ.")})
    if correction:
        reason = _("По вопросу к расчётному листу за %(month)s: %(answer)s") % {
            "month": f"{dispute.month:%m.%Y}",
            "answer": answer.strip(),
        }
        dispute.adjustment = adjustment_add(
            acting_user=acting_user,
            hunter=dispute.hunter,
            month=correction_month or timezone.localdate(),
            amount=correction,
            reason=reason,
        )
    dispute.answer, dispute.status = answer.strip(), Dispute.Status.ANSWERED
    dispute.answered_by, dispute.answered_at = acting_user, timezone.now()
    dispute.save()
    return dispute
