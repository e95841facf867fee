"""The monthly statement (расчётный лист) of one hunter, computed from plain inputs.

:func:`build_statement` is a pure function: the caller gathers a :class:`MonthInput` from the
database (plans, KPI counters, recorded payments and refunds, approved expenses, adjustments, the
department bonus share) and gets back a :class:`Statement` whose lines are already rounded to
kopecks. Nothing here touches the ORM. The rules themselves live in :mod:`compensation.rules`.

Line order: commission lines in order of receipt, then refund clawbacks, then the plan bonus, the
fixed part, the department bonus, expenses and adjustments.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from atlanset_portal.money import round_kopecks
from compensation.rules import (
    ACCELERATOR_RETROACTIVE,
    ZERO,
    PayScheme,
    commission_rate,
    recognised_margin,
    tidy_rate,
)


class LineKind(StrEnum):
    FIXED = "fixed"
    COMMISSION = "commission"
    PLAN_BONUS = "plan_bonus"
    DEPARTMENT_BONUS = "department_bonus"
    EXPENSE = "expense"
    ADJUSTMENT = "adjustment"


# The order of the statement's ``totals``, as in the scenario format's statement JSON.
TOTALS_ORDER = (
    LineKind.FIXED,
    LineKind.COMMISSION,
    LineKind.PLAN_BONUS,
    LineKind.DEPARTMENT_BONUS,
    LineKind.EXPENSE,
    LineKind.ADJUSTMENT,
)

KPI_COUNTER_LABELS = {
    "leads": "лиды",
    "calls": "звонки",
    "meetings": "встречи",
    "messages": "сообщения",
}


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentInput:
    """A payment on one of the hunter's deals that accrues in this month.

    ``late`` payments were received in an earlier month whose statement was already locked when
    the accountant recorded them; they accrue here like any other payment, in receipt order.
    ``order_total``/``order_cost`` are the deal's order figures, for the recognised margin.
    """

    payment_id: object
    deal_key: object
    client_key: object
    amount: Decimal
    received_on: date
    entry_order: int
    is_new_client: bool
    order_total: Decimal
    order_cost: Decimal
    late: bool = False

    def __post_init__(self):
        if self.amount <= 0:
            raise ValueError(f"payment {self.payment_id}: amount must be positive, not {self.amount}")


@dataclass(frozen=True)
class RefundInput:
    """A refund recorded this month on one of the hunter's deals; ``amount`` is the (positive) sum
    returned to the client.

    The clawback is ``amount × deal_commission_so_far ÷ deal_paid_so_far`` — the deal's effective
    commission rate, accelerated parts included.

    Contract for the two "so far" figures (default, ``so_far_includes_this_month=False``): the
    caller supplies them over the deal's payments that are NOT in this month's
    :class:`MonthInput` — the commission lines of the deal on other months' statements and the sum
    of those payments. The engine then adds this month's commission lines on the deal (after
    the accelerator split and rounding) and this month's payments on the deal, since only the
    engine knows how this month's payments are split at the target. With
    ``so_far_includes_this_month=True`` the figures are taken as given (the caller has already
    included this month's commission lines and payments on the deal).

    Either both figures are gross, or both are net of earlier refunds and their clawbacks: a
    clawback at the effective rate leaves the rate unchanged, so both give the same result.
    A deal with nothing paid so far has no commission to take back: the clawback is 0.
    """

    refund_id: object
    deal_key: object
    client_key: object
    amount: Decimal
    recorded_on: date
    deal_commission_so_far: Decimal
    deal_paid_so_far: Decimal
    order_total: Decimal
    order_cost: Decimal
    so_far_includes_this_month: bool = False
    entry_order: int = 0
    # The refund is credited to this hunter: it reduces the month's recognised margin.
    reduces_margin: bool = True
    # This hunter earned commission on the deal: part of it is taken back (SPEC §5.8). The two "so far"
    # figures are then this hunter's commission on the deal and everything paid on the deal.
    takes_back_commission: bool = True

    def __post_init__(self):
        if self.amount <= 0:
            raise ValueError(f"refund {self.refund_id}: amount must be positive, not {self.amount}")


@dataclass(frozen=True)
class ExpenseInput:
    """An expense claim approved in this month; ``amount`` is the approved amount."""

    expense_id: object
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class AdjustmentInput:
    """A correction entered by the sales head or the accountant; ``amount`` is signed."""

    adjustment_id: object
    amount: Decimal
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MonthInput:
    """Everything one hunter's statement for one month is computed from.

    ``month`` is any date in the month (conventionally its first day). ``revenue`` and
    ``completed_deals`` are the sales-plan figures as the caller counts them (revenue net of the
    month's refunds); they decide whether the plan is fulfilled. The accelerator split itself
    runs over ``payments`` only. No sales plan: ``sales_plan_target_revenue=None``.
    ``department_bonus`` is this hunter's share of the quarter's pool (non-zero only in a
    quarter's last month). ``kpi_plan_set=False``: the month has no KPI plan (none, or all its
    targets zero), so no fixed part whatever ``kpi_met`` says.
    """

    month: date
    scheme: PayScheme
    sales_plan_target_revenue: Decimal | None
    sales_plan_target_deals: int | None
    revenue: Decimal
    completed_deals: int
    kpi_met: bool
    kpi_plan_set: bool = True
    kpi_counters: dict[str, int] = field(default_factory=dict)
    payments: list[PaymentInput] = field(default_factory=list)
    refunds: list[RefundInput] = field(default_factory=list)
    department_bonus: Decimal = ZERO
    expenses: list[ExpenseInput] = field(default_factory=list)
    adjustments: list[AdjustmentInput] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Line:
    """One statement line; ``amount`` is already rounded to kopecks.

    ``base`` is what the rate applies to (the payment or its part, the refund, the margin);
    ``source_id`` is the id of the payment, refund, expense or adjustment behind the line.
    For a clawback ``rate`` is the deal's effective rate, unrounded.
    """

    kind: LineKind
    amount: Decimal
    base: Decimal | None = None
    rate: Decimal | None = None
    deal_key: object = None
    client_key: object = None
    is_new_client: bool | None = None
    accelerated: bool = False
    late: bool = False
    source_id: object = None
    explanation: str


@dataclass(frozen=True)
class Statement:
    lines: list[Line]
    totals: dict[LineKind, Decimal]
    total: Decimal
    sales_plan_fulfilled: bool

    def lines_of(self, kind: LineKind | str) -> list[Line]:
        return [line for line in self.lines if line.kind == kind]


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def sales_plan_fulfilled(
    *,
    revenue: Decimal,
    completed_deals: int,
    target_revenue: Decimal | None,
    target_deals: int | None,
) -> bool:
    """Revenue ≥ target revenue and completed deals ≥ target deals.

    No sales plan (no revenue target) → not fulfilled. A plan without a deal-count target asks
    for no deals.
    """
    if target_revenue is None:
        return False
    return revenue >= target_revenue and completed_deals >= (target_deals or 0)


def receipt_order(payments: Iterable[PaymentInput]) -> list[PaymentInput]:
    """Payments in order of receipt: date received, then entry order (late ones included)."""
    return sorted(payments, key=lambda p: (p.received_on, p.entry_order))


def build_statement(month: MonthInput, *, explain: bool = True) -> Statement:
    """The statement of ``month`` per SPEC §5: every line rounded to kopecks half up, the totals
    and the total being sums of the rounded lines. ``explain=False`` leaves the commission lines without
    their sentence, for a caller that reads only the figures (the pay projection's what-ifs)."""
    scheme = month.scheme
    fulfilled = sales_plan_fulfilled(
        revenue=month.revenue,
        completed_deals=month.completed_deals,
        target_revenue=month.sales_plan_target_revenue,
        target_deals=month.sales_plan_target_deals,
    )
    payments = receipt_order(month.payments)

    lines = _commission_lines(payments, scheme, fulfilled, month.sales_plan_target_revenue, explain=explain)
    lines += _clawback_lines(month.refunds, payments, lines)
    if fulfilled:
        lines.append(_plan_bonus_line(payments, month.refunds, scheme))
    lines.append(_fixed_line(month, scheme))
    if month.department_bonus > 0:
        lines.append(
            Line(
                kind=LineKind.DEPARTMENT_BONUS,
                amount=round_kopecks(month.department_bonus),
                explanation="Квартальная премия отдела: выручка отдела за квартал достигла цели",
            )
        )
    for expense in month.expenses:
        note = f": {expense.note}" if expense.note else ""
        lines.append(
            Line(
                kind=LineKind.EXPENSE,
                amount=round_kopecks(expense.amount),
                source_id=expense.expense_id,
                explanation=f"Возмещение расходов, одобренное руководителем{note}",
            )
        )
    for adjustment in month.adjustments:
        reason = f": {adjustment.reason}" if adjustment.reason else ""
        lines.append(
            Line(
                kind=LineKind.ADJUSTMENT,
                amount=round_kopecks(adjustment.amount),
                source_id=adjustment.adjustment_id,
                explanation=f"Корректировка{reason}",
            )
        )

    totals = {kind: ZERO for kind in TOTALS_ORDER}
    for line in lines:
        totals[line.kind] += line.amount
    totals = {
        kind: round_kopecks(value) for kind, value in totals.items()
    }  # already kopecks: writes 0 as 0.00
    total = round_kopecks(sum((line.amount for line in lines), ZERO))
    return Statement(lines=lines, totals=totals, total=total, sales_plan_fulfilled=fulfilled)


def _commission_lines(
    payments: list[PaymentInput],
    scheme: PayScheme,
    fulfilled: bool,
    target: Decimal | None,
    *,
    explain: bool = True,
) -> list[Line]:
    """One line per payment; under the marginal accelerator the payment crossing the revenue
    target is split in two lines at the target. Refunds are not counted in the cumulative sum."""
    lines = []
    cumulative = ZERO
    for payment in payments:
        if not fulfilled:
            parts = [(payment.amount, False)]
        elif scheme.accelerator == ACCELERATOR_RETROACTIVE:
            parts = [(payment.amount, True)]
        else:
            below = min(payment.amount, max(ZERO, target - cumulative))
            above = payment.amount - below
            parts = [(part, accelerated) for part, accelerated in ((below, False), (above, True)) if part > 0]
        split = len(parts) > 1
        for part, accelerated in parts:
            rate = commission_rate(scheme, is_new_client=payment.is_new_client, accelerated=accelerated)
            lines.append(
                Line(
                    kind=LineKind.COMMISSION,
                    amount=round_kopecks(part * rate),
                    base=part,
                    rate=rate,
                    deal_key=payment.deal_key,
                    client_key=payment.client_key,
                    is_new_client=payment.is_new_client,
                    accelerated=accelerated,
                    late=payment.late,
                    source_id=payment.payment_id,
                    explanation=_commission_explanation(
                        payment, part, rate, accelerated, split, scheme, fulfilled, target
                    )
                    if explain
                    else "",
                )
            )
        cumulative += payment.amount
    return lines


def _commission_explanation(payment, part, rate, accelerated, split, scheme, fulfilled, target) -> str:
    client = "нового клиента" if payment.is_new_client else "существующего клиента"
    if split and accelerated:
        text = (
            f"{_percent(rate)} от части оплаты {_rub(part)} из {_rub(payment.amount)} сверх цели "
            f"плана продаж {_rub(target)} (двойная ставка: план продаж выполнен) по сделке {client}"
        )
    elif split:
        text = (
            f"{_percent(rate)} от части оплаты {_rub(part)} из {_rub(payment.amount)} "
            f"до цели плана продаж {_rub(target)} по сделке {client}"
        )
    elif accelerated and scheme.accelerator == ACCELERATOR_RETROACTIVE:
        text = (
            f"{_percent(rate)} от оплаты {_rub(part)} по сделке {client} "
            f"(повышенная ставка на все оплаты месяца: план продаж выполнен)"
        )
    elif accelerated:
        text = (
            f"{_percent(rate)} от оплаты {_rub(part)} по сделке {client} "
            f"(сверх цели плана продаж {_rub(target)}, повышенная ставка: план продаж выполнен)"
        )
    else:
        text = f"{_percent(rate)} от оплаты {_rub(part)} по сделке {client}"
    if payment.late:
        text += (
            f"; оплата получена {payment.received_on:%d.%m.%Y}, начислена в этом месяце, "
            f"так как месяц получения уже закрыт"
        )
    return text


def _clawback_lines(
    refunds: list[RefundInput], payments: list[PaymentInput], commission: list[Line]
) -> list[Line]:
    """A negative commission line per refund, at the deal's effective rate so far."""
    lines = []
    for refund in sorted(refunds, key=lambda r: (r.recorded_on, r.entry_order)):
        if not refund.takes_back_commission:
            lines.append(
                Line(
                    kind=LineKind.COMMISSION,
                    amount=round_kopecks(ZERO),
                    base=refund.amount,
                    rate=ZERO,
                    deal_key=refund.deal_key,
                    client_key=refund.client_key,
                    source_id=refund.refund_id,
                    explanation=(
                        f"Возврат {_rub(refund.amount)} по сделке уменьшает выручку и маржу месяца; "
                        f"комиссия по этой сделке начислялась другому хантеру, удержание — у него"
                    ),
                )
            )
            continue
        earned = refund.deal_commission_so_far
        paid = refund.deal_paid_so_far
        if not refund.so_far_includes_this_month:
            earned += sum((line.amount for line in commission if line.deal_key == refund.deal_key), ZERO)
            paid += sum((p.amount for p in payments if p.deal_key == refund.deal_key), ZERO)
        if paid > 0:
            rate = tidy_rate(earned / paid)
            amount = round_kopecks(-(refund.amount * earned / paid))
            explanation = (
                f"Возврат {_rub(refund.amount)} по сделке: удержание комиссии по ставке сделки"
                f"{_exact_percent(rate)} (комиссия по сделке {_rub(earned)} ÷ оплачено {_rub(paid)})"
            )
        else:
            rate = ZERO
            amount = round_kopecks(ZERO)
            explanation = f"Возврат {_rub(refund.amount)} по сделке без оплат: комиссии к удержанию нет"
        lines.append(
            Line(
                kind=LineKind.COMMISSION,
                amount=amount,
                base=refund.amount,
                rate=rate,
                deal_key=refund.deal_key,
                client_key=refund.client_key,
                source_id=refund.refund_id,
                explanation=explanation,
            )
        )
    return lines


def _plan_bonus_line(payments: list[PaymentInput], refunds: list[RefundInput], scheme: PayScheme) -> Line:
    """margin_bonus_rate × the margin recognised in the month (payments minus refunds).

    The amount is computed from the exact margin and rounded once; ``base`` shows the margin
    rounded to kopecks. A month whose refunds outweigh its margin gets no negative bonus.
    """
    paid_margin = sum(
        (recognised_margin(p.amount, order_total=p.order_total, order_cost=p.order_cost) for p in payments),
        ZERO,
    )
    refunds = [refund for refund in refunds if refund.reduces_margin]
    refunded_margin = sum(
        (recognised_margin(r.amount, order_total=r.order_total, order_cost=r.order_cost) for r in refunds),
        ZERO,
    )
    margin = paid_margin - refunded_margin
    rate = scheme.margin_bonus_rate
    explanation = f"{_percent(rate)} от маржи, признанной в месяце, {_rub(margin)} (план продаж выполнен)"
    if refunds:
        explanation += f": маржа оплат {_rub(paid_margin)} минус маржа возвратов {_rub(refunded_margin)}"
    return Line(
        kind=LineKind.PLAN_BONUS,
        amount=round_kopecks(max(margin, ZERO) * rate),
        base=round_kopecks(margin),
        rate=rate,
        explanation=explanation,
    )


def _fixed_line(month: MonthInput, scheme: PayScheme) -> Line:
    counters = ", ".join(
        f"{KPI_COUNTER_LABELS.get(name, name)} {value}" for name, value in month.kpi_counters.items()
    )
    figures = f" ({counters})" if counters else ""
    if not month.kpi_plan_set:
        amount = ZERO
        explanation = f"Фиксированная часть не начислена: план KPI не задан{figures}"
    elif month.kpi_met:
        amount = scheme.fixed_amount
        explanation = f"Фиксированная часть: план KPI выполнен{figures}"
    else:
        amount = ZERO
        explanation = f"Фиксированная часть не начислена: план KPI не выполнен{figures}"
    return Line(kind=LineKind.FIXED, amount=round_kopecks(amount), explanation=explanation)


# ---------------------------------------------------------------------------------------------
# Simple number formatting for explanations (the page does its own formatting of amounts)
# ---------------------------------------------------------------------------------------------


def _rub(value: Decimal) -> str:
    """12345.6 → "12 345,60 ₽" (display only)."""
    value = round_kopecks(value)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,f}".replace(",", " ").replace(".", ",")
    return f"{sign}{text} ₽"


def _percent(rate: Decimal) -> str:
    """0.025 → "2,5 %"."""
    return f"{(rate * 100).normalize():f}".replace(".", ",") + " %"


def _exact_percent(rate: Decimal) -> str:
    """ " 5 %" when the rate is a short exact percentage, "" for a long fraction like 1/28."""
    percent = (rate * 100).normalize()
    if percent.as_tuple().exponent < -4:
        return ""
    return " " + _percent(rate)
