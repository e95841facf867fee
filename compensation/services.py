"""Writes about pay: schemes, statement approval and locking, adjustments and expenses."""

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
from deals.models import Payment
from kpi.models import Activity, ActivityKind, MonthlyPlan
from kpi.months import month_start

from . import rules
from .engine import LineKind
from .models import Adjustment, Dispute, Expense, PaySchemeVersion, Statement, StatementLine
from .selectors import LOCKED_STATUSES
from .statements import statement_for


class StatementLocked(ValidationError):
    pass


def _ensure_open(hunter: User, month: date) -> None:
    if Statement.objects.filter(hunter=hunter, month=month_start(month), status__in=LOCKED_STATUSES).exists():
        raise StatementLocked(
            _("Расчётный лист за %(month)s закрыт: исправления — корректировкой в открытом месяце.")
            % {"month": f"{month:%m.%Y}"}
        )


@transaction.atomic
def scheme_save(*, acting_user: User, effective_from: date, **values) -> PaySchemeVersion:
    """A new version of the pay scheme from the first day of a month that no statement is locked for."""
    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    effective_from = month_start(effective_from)
    if Statement.objects.filter(month__gte=effective_from, status__in=LOCKED_STATUSES).exists():
        raise ValidationError(
            _("С этой даты уже есть закрытые расчётные листы: прошлые месяцы не пересчитываются.")
        )
    errors = scheme_values_errors(values)
    if errors:
        raise ValidationError(errors)
    rules.PayScheme(effective_from=effective_from, **values)  # the rules' own checks of the values
    version, _created = PaySchemeVersion.objects.update_or_create(
        effective_from=effective_from,
        defaults={**values, "created_by": acting_user, "created_at": timezone.now()},
    )
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


def _statement_record(hunter: User, month: date) -> Statement:
    record, _created = Statement.objects.select_for_update().get_or_create(
        hunter=hunter, month=month_start(month)
    )
    return record


@transaction.atomic
def statement_approve(*, acting_user: User, hunter: User, month: date) -> Statement:
    if not can(acting_user, Capability.APPROVE_STATEMENTS):
        raise PermissionDenied
    record = _statement_record(hunter, month)
    if record.status != Statement.Status.DRAFT:
        raise ValidationError(_("Утвердить можно только черновик."))
    record.status = Statement.Status.APPROVED
    record.approved_by, record.approved_at = acting_user, timezone.now()
    record.save()
    return record


def hunters_of_month(month: date) -> list[User]:
    """Hunters with a plan, a payment or a statement in the month."""
    month = month_start(month)
    ids = set(MonthlyPlan.objects.filter(month=month).values_list("hunter_id", flat=True))
    ids |= set(Payment.objects.filter(accrual_month=month).values_list("deal__owner_id", flat=True))
    ids |= set(Statement.objects.filter(month=month).values_list("hunter_id", flat=True))
    return list(User.objects.filter(pk__in=ids, role=Role.HUNTER).order_by("full_name", "pk"))


@transaction.atomic
def statement_lock(*, acting_user: User, hunter: User, month: date, at=None) -> Statement:
    """Stores the month's statement line by line; from now on it never changes."""
    if not can(acting_user, Capability.LOCK_STATEMENTS):
        raise PermissionDenied
    record = _statement_record(hunter, month)
    if record.is_locked:
        return record
    statement = statement_for(hunter=hunter, month=month)
    StatementLine.objects.bulk_create(
        [
            StatementLine(
                statement=record,
                position=position,
                kind=line.kind,
                amount=line.amount,
                base=line.base,
                rate=line.rate,
                deal_id=line.deal_key,
                accelerated=line.accelerated,
                late=line.late,
                payment_id=line.source_id if line.kind == LineKind.COMMISSION else None,
                explanation=line.explanation,
            )
            for position, line in enumerate(statement.lines, start=1)
        ]
    )
    record.status = Statement.Status.LOCKED
    record.total = statement.total
    record.sales_plan_fulfilled = statement.sales_plan_fulfilled
    record.kpi_met = statement.kpi_met
    record.locked_by, record.locked_at = acting_user, at or timezone.now()
    record.save()
    return record


@transaction.atomic
def statements_lock_month(*, acting_user: User, month: date, at=None) -> list[Statement]:
    return [
        statement_lock(acting_user=acting_user, hunter=hunter, month=month, at=at)
        for hunter in hunters_of_month(month)
    ]


@transaction.atomic
def statements_mark_paid(*, acting_user: User, month: date) -> int:
    if not can(acting_user, Capability.LOCK_STATEMENTS):
        raise PermissionDenied
    return Statement.objects.filter(month=month_start(month), status=Statement.Status.LOCKED).update(
        status=Statement.Status.PAID, paid_at=timezone.now()
    )


@transaction.atomic
def adjustment_add(
    *, acting_user: User, hunter: User, month: date, amount: Decimal, reason: str
) -> Adjustment:
    """A correction with its reason in an open month."""
    if not (can(acting_user, Capability.APPROVE_STATEMENTS) or can(acting_user, Capability.LOCK_STATEMENTS)):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Укажите причину корректировки.")})
    _ensure_open(hunter, month)
    return Adjustment.objects.create(
        hunter=hunter, month=month_start(month), amount=amount, reason=reason.strip(), created_by=acting_user
    )


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
    _ensure_open(expense.hunter, decided_on)
    expense.status = Expense.Status.APPROVED if approved_amount > 0 else Expense.Status.REJECTED
    expense.approved_amount, expense.approved_on, expense.decided_by = (
        approved_amount,
        decided_on,
        acting_user,
    )
    expense.save()
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
    if not (can(acting_user, Capability.APPROVE_STATEMENTS) or can(acting_user, Capability.LOCK_STATEMENTS)):
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
