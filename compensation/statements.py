"""A hunter's monthly statement from the database: gathers SPEC §5's inputs and runs the one engine.

Every statement is stored. A draft is worked out when something it is computed from changes
(``compensation.changes.pay_changed`` marks it in the changing transaction) and read back from its stored
lines otherwise; a marked one is worked out again before anyone reads it, and in the background soon after
the change. An approved statement is read back from the figures the head approved (checked against a fresh
computation when marked); a locked month from its posted lines, never recalculated. The department bonus
reads the whole department, so a quarter's last month compares its stored share with the current one when
read, instead of every payment marking every hunter.

Money counts for the hunter it was credited to when it was recorded (``Payment.credited_to``), never for
the deal's current hunter; a refund's clawback is charged to each hunter who earned commission on the
deal (``Clawback``), at the deal's effective rate for that hunter.
"""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch

from accounts.models import User
from atlanset_portal.money import MoneySum, round_kopecks
from deals.models import Clawback, Payment
from kpi.counters import Counters, hunters_active_in_quarter, kpi_plan_met, kpi_plan_set, month_counters
from kpi.models import DepartmentQuarterPlan, MonthlyPlan
from kpi.months import month_start, next_month, quarter_months, quarter_start

from . import rules
from .engine import (
    AdjustmentInput,
    ExpenseInput,
    Line,
    LineKind,
    MonthInput,
    PaymentInput,
    RefundInput,
    build_statement,
)
from .models import Adjustment, Expense, PaySchemeVersion, Statement, StatementLine

ZERO = Decimal("0")


def scheme_for(month: date) -> rules.PayScheme:
    """The scheme in force on the month's first day; the regulations' defaults before any was set."""
    version = (
        PaySchemeVersion.objects.filter(effective_from__lte=month_start(month))
        .order_by("-effective_from")
        .first()
    )
    return version.as_rules() if version else rules.DEFAULT_SCHEME


def _payment_input(payment: Payment) -> PaymentInput:
    order = getattr(payment.deal, "order", None)
    return PaymentInput(
        payment_id=payment.pk,
        deal_key=payment.deal_id,
        client_key=payment.deal.client_id,
        amount=payment.amount,
        received_on=payment.received_on,
        entry_order=payment.pk,
        is_new_client=payment.deal.is_new_client,
        order_total=order.total if order else payment.amount,
        order_cost=order.cost_total if order else ZERO,
        late=payment.late,
    )


def department_bonus_shares(month: date) -> dict[int, Decimal]:
    """SPEC §5.5: in a quarter's last month, each active hunter's share of the pool when the department
    reached its quarterly target; shared by the hunters active in the quarter (``hunters_active_in_quarter``).
    Worked out once per month within one reading of statements."""
    month = month_start(month)
    memo = _worked_out.get()
    key = ("department", month)
    if memo is not None and key in memo:
        return memo[key]
    shares = _department_bonus_shares(month)
    if memo is not None:
        memo[key] = shares
    return shares


def _department_bonus_shares(month: date) -> dict[int, Decimal]:
    months = quarter_months(month)
    if month != months[-1]:
        return {}
    plan = DepartmentQuarterPlan.objects.filter(quarter_start=quarter_start(month)).first()
    if plan is None or plan.bonus_pool <= 0:
        return {}
    in_quarter = Payment.objects.filter(
        accrual_month__gte=months[0], accrual_month__lt=next_month(months[-1])
    )
    revenue = in_quarter.aggregate(total=MoneySum("amount"))["total"] or ZERO
    if revenue < plan.revenue_target:
        return {}
    active = hunters_active_in_quarter(month)
    if not active:
        return {}
    split = plan.split or scheme_for(month).department_bonus_split
    if split == rules.SPLIT_REVENUE_SHARE:
        revenue_of = dict(
            in_quarter.filter(credited_to__in=active)
            .values_list("credited_to")
            .annotate(total=MoneySum("amount"))
            .order_by()
        )
        active_revenue = sum(revenue_of.values(), ZERO)
        if active_revenue <= 0:
            return {}
        return {
            hunter_id: plan.bonus_pool * revenue_of.get(hunter_id, ZERO) / active_revenue
            for hunter_id in active
        }
    return {hunter_id: plan.bonus_pool / len(active) for hunter_id in active}


def department_bonus_share(*, hunter: User, month: date) -> Decimal:
    return department_bonus_shares(month).get(hunter.pk, ZERO)


def _deal_figures_before(deal_ids: set[int], hunter: User, month: date) -> dict[int, tuple[Decimal, Decimal]]:
    """For refunds' clawbacks in ``month``, by deal: the commission this hunter earned on the deal in
    earlier months (net of earlier clawbacks, as their statements show it), and the amount paid on the deal
    by then, whoever it was credited to (earlier months, net of refunds, and other hunters' payments of
    this month; the engine adds this hunter's own payments of the month). A fixed number of queries
    however many refunds: locked months are summed from their posted lines in one query, and only the
    earlier months still open are read as statements (stored, one query each)."""
    if not deal_ids:
        return {}
    locked = (Statement.Status.LOCKED, Statement.Status.PAID)
    earned: dict[int, Decimal] = dict(
        StatementLine.objects.filter(
            statement__hunter=hunter,
            statement__month__lt=month,
            statement__status__in=locked,
            deal_id__in=deal_ids,
            kind=LineKind.COMMISSION,
        )
        .values_list("deal_id")
        .annotate(total=MoneySum("amount"))
        .order_by()
    )
    # Earlier months that hold commission on these deals (a payment or a clawback) and are not locked.
    open_months = set(
        Payment.objects.filter(deal_id__in=deal_ids, credited_to=hunter, accrual_month__lt=month).values_list(
            "accrual_month", flat=True
        )
    ) | set(
        Clawback.objects.filter(
            refund__deal_id__in=deal_ids, hunter=hunter, accrual_month__lt=month
        ).values_list("accrual_month", flat=True)
    )
    open_months -= set(
        Statement.objects.filter(hunter=hunter, month__in=open_months, status__in=locked).values_list(
            "month", flat=True
        )
    )
    for earlier in sorted(open_months):
        for line in statement_for(hunter=hunter, month=earlier).lines:
            if line.kind == LineKind.COMMISSION and line.deal_key in deal_ids:
                earned[line.deal_key] = earned.get(line.deal_key, ZERO) + line.amount
    paid = dict(
        Payment.objects.filter(deal_id__in=deal_ids, accrual_month__lt=month)
        .values_list("deal_id")
        .annotate(total=MoneySum("amount"))
        .order_by()
    )
    others = dict(
        Payment.objects.filter(deal_id__in=deal_ids, kind=Payment.Kind.PAYMENT, accrual_month=month)
        .exclude(credited_to=hunter)
        .values_list("deal_id")
        .annotate(total=MoneySum("amount"))
        .order_by()
    )
    return {
        deal_id: (earned.get(deal_id, ZERO), (paid.get(deal_id) or ZERO) + (others.get(deal_id) or ZERO))
        for deal_id in deal_ids
    }


def month_input(*, hunter: User, month: date, counters: Counters | None = None) -> MonthInput:
    month = month_start(month)
    counters = counters or month_counters(month=month, hunter_ids=[hunter.pk])[hunter.pk]
    plan = MonthlyPlan.objects.filter(hunter=hunter, month=month).first()
    accrued = (
        Payment.objects.filter(credited_to=hunter, accrual_month=month)
        .select_related("deal__order")
        .order_by("received_on", "pk")
    )
    payments = [_payment_input(p) for p in accrued if p.kind == Payment.Kind.PAYMENT]
    # A refund reduces the revenue and margin of the hunter it is credited to, and takes back commission
    # from each hunter who earned some on the deal: usually one and the same hunter.
    own_refunds = {p.pk: p for p in accrued if p.kind == Payment.Kind.REFUND}
    charged = {
        clawback.refund_id: clawback.refund
        for clawback in Clawback.objects.filter(hunter=hunter, accrual_month=month).select_related(
            "refund__deal__order"
        )
    }
    refunds = []
    before = _deal_figures_before({refund.deal_id for refund in charged.values()}, hunter, month)
    for refund in sorted({**charged, **own_refunds}.values(), key=lambda r: (r.received_on, r.pk)):
        takes_back = refund.pk in charged
        earned, paid = before[refund.deal_id] if takes_back else (ZERO, ZERO)
        order = getattr(refund.deal, "order", None)
        refunds.append(
            RefundInput(
                refund_id=refund.pk,
                deal_key=refund.deal_id,
                client_key=refund.deal.client_id,
                amount=-refund.amount,
                recorded_on=refund.received_on,
                deal_commission_so_far=earned,
                deal_paid_so_far=paid,
                order_total=order.total if order else -refund.amount,
                order_cost=order.cost_total if order else ZERO,
                entry_order=refund.pk,
                reduces_margin=refund.pk in own_refunds,
                takes_back_commission=takes_back,
            )
        )
    expenses = Expense.objects.filter(
        hunter=hunter,
        status=Expense.Status.APPROVED,
        approved_on__gte=month,
        approved_on__lt=next_month(month),
    )
    return MonthInput(
        month=month,
        scheme=scheme_for(month),
        sales_plan_target_revenue=plan.revenue_target if plan else None,
        sales_plan_target_deals=plan.deals_target if plan else None,
        revenue=counters.revenue,
        completed_deals=counters.deals,
        kpi_met=kpi_plan_met(counters, plan),
        kpi_plan_set=kpi_plan_set(plan),
        kpi_counters={name: getattr(counters, name) for name in ("leads", "calls", "meetings", "messages")},
        payments=payments,
        refunds=refunds,
        department_bonus=department_bonus_share(hunter=hunter, month=month),
        expenses=[
            ExpenseInput(expense_id=e.pk, amount=e.approved_amount or ZERO, note=e.note) for e in expenses
        ],
        adjustments=[
            AdjustmentInput(adjustment_id=a.pk, amount=a.amount, reason=a.reason)
            for a in Adjustment.objects.filter(hunter=hunter, month=month, status=Adjustment.Status.APPROVED)
        ],
    )


@dataclass
class MonthStatement:
    hunter: User
    month: date
    status: str
    lines: list[Line]
    total: Decimal
    sales_plan_fulfilled: bool
    kpi_met: bool
    counters: Counters | None
    plan: MonthlyPlan | None
    record: Statement | None = None
    totals: dict = field(default_factory=dict)
    month_data: MonthInput | None = None  # what it was worked out from, when it was worked out just now

    @property
    def kpi_plan_set(self) -> bool:
        """Whether the month has a KPI plan at all: "не задан" is not "не выполнен"."""
        return kpi_plan_set(self.plan)


# Statements already worked out during one top-level reading (a page, a command): a refund's clawback needs
# the commission of earlier months, and several refunds often reach back into the same months.
_worked_out: ContextVar[dict | None] = ContextVar("statements_worked_out", default=None)


class _Reading:
    """One top-level reading of statements shares what it worked out."""

    def __enter__(self):
        self.token = _worked_out.set({}) if _worked_out.get() is None else None
        return _worked_out.get()

    def __exit__(self, *exc):
        if self.token is not None:
            _worked_out.reset(self.token)


def statement_for(*, hunter: User, month: date, counters: Counters | None = None) -> MonthStatement:
    """The month's statement as it stands: posted lines if locked, approved figures if approved, the stored
    draft otherwise — worked out again first when something it is computed from has changed. ``counters``:
    the month's figures when the caller has them current, for a statement worked out now."""
    month = month_start(month)
    with _Reading() as memo:
        key = (hunter.pk, month)
        if key not in memo:
            record = Statement.objects.filter(hunter=hunter, month=month).select_related("hunter").first()
            memo[key] = _fresh(hunter, month, record, counters=counters)
        return memo[key]


def month_statements(month: date, hunters: list[User], *, with_lines: bool = True) -> list[MonthStatement]:
    """The statements of the month for these hunters, in a few queries when they are fresh.
    ``with_lines=False`` reads the figures a list shows (totals, status, plan flags) and leaves each
    statement's ``lines`` and ``totals`` empty: a month of posted lines is thousands of rows."""
    month = month_start(month)
    with _Reading() as memo:
        records = Statement.objects.filter(month=month, hunter__in=hunters).select_related("hunter")
        if with_lines:
            # A locked month is shown from its posted lines: all of them in one query.
            records = records.prefetch_related(
                Prefetch("lines", queryset=StatementLine.objects.order_by("statement_id", "position"))
            )
        by_hunter = {record.hunter_id: record for record in records}
        plans = {plan.hunter_id: plan for plan in MonthlyPlan.objects.filter(month=month, hunter__in=hunters)}
        result = []
        for hunter in hunters:
            key = (hunter.pk, month) if with_lines else (hunter.pk, month, "figures")
            if key not in memo:
                record = by_hunter.get(hunter.pk)
                memo[key] = _fresh(hunter, month, record, plans=plans, with_lines=with_lines)
            result.append(memo[key])
        return result


def _fresh(
    hunter: User,
    month: date,
    record: Statement | None,
    *,
    plans: dict | None = None,
    with_lines: bool = True,
    counters: Counters | None = None,
) -> "MonthStatement":
    from .approval import lines_from_json

    plan = plans.get(hunter.pk) if plans is not None else _plan(hunter, month)
    if record is not None and record.is_locked:
        return _stored(record, lambda: [_line_from_row(row) for row in record.lines.all()], plan, with_lines)
    if record is not None and record.status == Statement.Status.APPROVED:
        if record.needs_check or _department_share_moved(record, record.approved_lines):
            from .approval import statement_check

            record = statement_check(record)
        if record.status == Statement.Status.APPROVED:
            return _stored(record, lambda: lines_from_json(record.approved_lines), plan, with_lines)
    if record is None:
        # Nothing was ever recorded for this hunter-month: worked out, shown, not stored (reading a month
        # must not put a hunter on its list of statements).
        return compute_statement(hunter=hunter, month=month, counters=counters)
    if (
        record.needs_check
        or record.computed_lines is None
        or _department_share_moved(record, record.computed_lines)
    ):
        return store_computed(hunter=hunter, month=month, record=record)
    return _stored(record, lambda: lines_from_json(record.computed_lines), plan, with_lines)


def _department_share_moved(record: Statement, lines: list[dict] | None) -> bool:
    """In a quarter's last month: whether the stored department bonus is no longer the hunter's share."""
    if record.month != quarter_months(record.month)[-1]:
        return False
    stored = sum(
        (Decimal(line["amount"]) for line in lines or [] if line["kind"] == LineKind.DEPARTMENT_BONUS), ZERO
    )
    share = department_bonus_shares(record.month).get(record.hunter_id, ZERO)
    return stored != round_kopecks(share) if share > 0 or stored else False


def _plan(hunter: User, month: date) -> MonthlyPlan | None:
    return MonthlyPlan.objects.filter(hunter=hunter, month=month).first()


def store_computed(*, hunter: User, month: date, record: Statement) -> "MonthStatement":
    """Works the statement out from the data and stores it as its draft figures. Figures worked out while
    something changed (``change_seq`` moved) are shown but not stored as fresh; a row another transaction
    is writing is left to it."""
    from .approval import lines_to_json

    seq = record.change_seq
    statement = compute_statement(hunter=hunter, month=month, record=record)
    values = {
        "computed_lines": lines_to_json(statement.lines),
        "computed_total": statement.total,
        "counters": counters_json(statement.counters),
    }
    # A draft shows these; an approved statement keeps what was approved until its check.
    fresh = {
        "needs_check": False,
        "check_cause": "",
        "sales_plan_fulfilled": statement.sales_plan_fulfilled,
        "kpi_met": statement.kpi_met,
    }
    with transaction.atomic():
        stored = (
            Statement.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(pk=record.pk, change_seq=seq)
            .exclude(status__in=(Statement.Status.LOCKED, Statement.Status.PAID))
            .update(**values, **(fresh if record.status == Statement.Status.DRAFT else {}))
        )
    if stored:
        for name, value in {**values, **(fresh if record.status == Statement.Status.DRAFT else {})}.items():
            setattr(record, name, value)
    return statement


def counters_json(counters: Counters | None) -> dict | None:
    if counters is None:
        return None
    return {
        name: str(value) if isinstance(value, Decimal) else value for name, value in asdict(counters).items()
    }


def _counters(data: dict | None) -> Counters | None:
    if not data:
        return None
    return Counters(**{**data, "revenue": Decimal(data["revenue"])})


def compute_statement(
    *, hunter: User, month: date, record: Statement | None = None, counters: Counters | None = None
) -> MonthStatement:
    """The statement worked out now from the month's data, whatever its status (approval and locking
    store this); ``counters`` when the caller counted the month for many hunters at once."""
    month = month_start(month)
    if counters is None:
        counters = month_counters(month=month, hunter_ids=[hunter.pk])[hunter.pk]
    month_data = month_input(hunter=hunter, month=month, counters=counters)
    built = build_statement(month_data)
    return MonthStatement(
        hunter=hunter,
        month=month,
        status=record.status if record else Statement.Status.DRAFT,
        lines=built.lines,
        total=built.total,
        sales_plan_fulfilled=built.sales_plan_fulfilled,
        kpi_met=month_data.kpi_met,
        counters=counters,
        plan=_plan(hunter, month),
        record=record,
        totals=built.totals,
        month_data=month_data,
    )


def _stored(
    record: Statement, read_lines: Callable[[], list[Line]], plan: MonthlyPlan | None, with_lines: bool = True
) -> MonthStatement:
    """A statement read back from its stored lines: posted, approved or the stored draft."""
    lines = read_lines() if with_lines else []
    totals = {kind: ZERO for kind in LineKind} if with_lines else {}
    for line in lines:
        totals[line.kind] += line.amount
    if record.is_locked:
        total = record.total
    elif record.status == Statement.Status.APPROVED:
        total = record.approved_total
    else:
        total = record.computed_total
    counters = _counters(record.counters)
    return MonthStatement(
        hunter=record.hunter,
        month=record.month,
        status=record.status,
        lines=lines,
        total=total,
        sales_plan_fulfilled=bool(record.sales_plan_fulfilled),
        kpi_met=bool(record.kpi_met),
        counters=counters,
        plan=plan,
        record=record,
        totals=totals,
    )


def _line_from_row(row: StatementLine) -> Line:
    return Line(
        kind=LineKind(row.kind),
        amount=row.amount,
        base=row.base,
        rate=row.rate,
        deal_key=row.deal_id,
        client_key=None,
        accelerated=row.accelerated,
        late=row.late,
        source_id=row.payment_id,
        explanation=row.explanation,
    )
