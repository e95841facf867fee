"""The statement engine of SPEC §5, as pure functions: no database.

Every case is built from the worked example's March (plan 300 000 ₽ / 2 deals) unless it says
otherwise.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atlanset_portal.money import round_kopecks
from compensation.engine import (
    AdjustmentInput,
    ExpenseInput,
    LineKind,
    MonthInput,
    PaymentInput,
    RefundInput,
    build_statement,
    sales_plan_fulfilled,
)
from compensation.rules import (
    DEFAULT_SCHEME,
    PayScheme,
    commission_rate,
    recognised_margin,
    tidy_rate,
)

D = Decimal
MARCH = date(2026, 3, 1)
KPI = {"leads": 2, "calls": 3, "meetings": 1, "messages": 1}


def payment(pid, deal, amount, day, *, new=True, total=None, cost=None, order=0, late=False, client=None):
    amount = D(amount)
    received_on = day if isinstance(day, date) else date(2026, 3, day)
    return PaymentInput(
        payment_id=pid,
        deal_key=deal,
        client_key=client or f"c-{deal}",
        amount=amount,
        received_on=received_on,
        entry_order=order,
        is_new_client=new,
        order_total=D(total) if total is not None else amount,
        order_cost=D(cost) if cost is not None else D("0"),
        late=late,
    )


def refund(rid, deal, amount, day, *, earned="0", paid="0", total, cost, includes=False):
    return RefundInput(
        refund_id=rid,
        deal_key=deal,
        client_key=f"c-{deal}",
        amount=D(amount),
        recorded_on=date(2026, 3, day),
        deal_commission_so_far=D(earned),
        deal_paid_so_far=D(paid),
        order_total=D(total),
        order_cost=D(cost),
        so_far_includes_this_month=includes,
    )


def d1():
    return payment("p1", "d1", "200000.00", 5, new=True, total="200000", cost="120000")


def d2():
    return payment("p2", "d2", "150000.00", 20, new=False, total="150000", cost="100000")


def month(payments=None, **overrides):
    payments = [d1(), d2()] if payments is None else payments
    values = {
        "month": MARCH,
        "scheme": DEFAULT_SCHEME,
        "sales_plan_target_revenue": D("300000.00"),
        "sales_plan_target_deals": 2,
        "revenue": sum((p.amount for p in payments), D("0")),
        "completed_deals": 2,
        "kpi_met": True,
        "kpi_counters": dict(KPI),
        "payments": payments,
    }
    values.update(overrides)
    return MonthInput(**values)


def commission_summary(statement):
    """(deal, base, rate, amount, accelerated) of every commission line, in statement order."""
    return [
        (line.deal_key, line.base, line.rate, line.amount, line.accelerated)
        for line in statement.lines_of(LineKind.COMMISSION)
    ]


# --- the worked example -------------------------------------------------------------------------


def test_worked_example_reproduces_to_the_kopeck():
    statement = build_statement(month())

    assert statement.sales_plan_fulfilled is True
    assert [(line.kind, line.amount) for line in statement.lines] == [
        (LineKind.COMMISSION, D("10000.00")),
        (LineKind.COMMISSION, D("2500.00")),
        (LineKind.COMMISSION, D("2500.00")),
        (LineKind.PLAN_BONUS, D("13000.00")),
        (LineKind.FIXED, D("10000.00")),
    ]
    assert commission_summary(statement) == [
        ("d1", D("200000.00"), D("0.05"), D("10000.00"), False),
        ("d2", D("100000.00"), D("0.025"), D("2500.00"), False),
        ("d2", D("50000.00"), D("0.050"), D("2500.00"), True),
    ]
    bonus = statement.lines_of(LineKind.PLAN_BONUS)[0]
    assert (bonus.base, bonus.rate, bonus.amount) == (D("130000.00"), D("0.10"), D("13000.00"))
    assert statement.totals == {
        "fixed": D("10000.00"),
        "commission": D("15000.00"),
        "plan_bonus": D("13000.00"),
        "department_bonus": D("0.00"),
        "expense": D("0.00"),
        "adjustment": D("0.00"),
    }
    assert statement.total == D("38000.00")
    assert str(statement.total) == "38000.00"
    assert all(str(amount).endswith(".00") for amount in statement.totals.values())
    assert [str(line.rate) for line in statement.lines if line.rate is not None] == [
        "0.05",
        "0.025",
        "0.05",
        "0.10",
    ]


def test_worked_example_lines_carry_deal_client_and_a_russian_explanation():
    first, below, above, bonus, fixed = build_statement(month()).lines

    assert (first.deal_key, first.client_key, first.is_new_client, first.source_id) == (
        "d1",
        "c-d1",
        True,
        "p1",
    )
    assert first.explanation == "5 % от оплаты 200 000,00 ₽ по сделке нового клиента"
    assert "2,5 %" in below.explanation and "до цели плана продаж 300 000,00 ₽" in below.explanation
    assert "5 %" in above.explanation and "сверх цели" in above.explanation
    assert above.is_new_client is False and above.source_id == "p2"
    assert "130 000,00 ₽" in bonus.explanation
    assert (
        fixed.explanation
        == "Фиксированная часть: план KPI выполнен (лиды 2, звонки 3, встречи 1, сообщения 1)"
    )


# --- accelerator --------------------------------------------------------------------------------


def test_marginal_accelerator_splits_the_crossing_payment_at_the_target():
    statement = build_statement(month([payment("p1", "d1", "400000.00", 10, new=True)], completed_deals=2))

    assert commission_summary(statement) == [
        ("d1", D("300000.00"), D("0.05"), D("15000.00"), False),
        ("d1", D("100000.00"), D("0.10"), D("10000.00"), True),
    ]
    assert {line.source_id for line in statement.lines_of(LineKind.COMMISSION)} == {"p1"}


def test_payment_landing_exactly_on_the_target_has_no_accelerated_part_and_the_next_is_all_accelerated():
    payments = [
        payment("p1", "d1", "100000.00", 3, new=True),
        payment("p2", "d2", "200000.00", 4, new=True),
        payment("p3", "d3", "50000.00", 5, new=False),
    ]
    statement = build_statement(month(payments))

    assert commission_summary(statement) == [
        ("d1", D("100000.00"), D("0.05"), D("5000.00"), False),
        ("d2", D("200000.00"), D("0.05"), D("10000.00"), False),
        ("d3", D("50000.00"), D("0.050"), D("2500.00"), True),
    ]


def test_revenue_exactly_at_the_target_fulfils_the_plan_without_any_accelerated_line():
    payments = [payment("p1", "d1", "100000.00", 3), payment("p2", "d2", "200000.00", 4)]
    statement = build_statement(month(payments))

    assert statement.sales_plan_fulfilled is True
    assert not any(line.accelerated for line in statement.lines)
    assert len(statement.lines_of(LineKind.PLAN_BONUS)) == 1


def test_payments_are_taken_in_order_of_receipt_date_then_entry_order():
    later = payment("p-late", "d2", "150000.00", 20, new=False)
    same_day_second = payment("p-b", "d3", "100000.00", 5, new=False, order=2)
    same_day_first = payment("p-a", "d1", "250000.00", 5, new=True, order=1)
    statement = build_statement(month([later, same_day_second, same_day_first]))

    assert commission_summary(statement) == [
        ("d1", D("250000.00"), D("0.05"), D("12500.00"), False),
        ("d3", D("50000.00"), D("0.025"), D("1250.00"), False),
        ("d3", D("50000.00"), D("0.050"), D("2500.00"), True),
        ("d2", D("150000.00"), D("0.050"), D("7500.00"), True),
    ]


def test_retroactive_accelerator_doubles_every_payment_of_the_month():
    scheme = replace(DEFAULT_SCHEME, accelerator="retroactive")
    statement = build_statement(month(scheme=scheme))

    assert commission_summary(statement) == [
        ("d1", D("200000.00"), D("0.10"), D("20000.00"), True),
        ("d2", D("150000.00"), D("0.050"), D("7500.00"), True),
    ]
    assert statement.total == D("20000.00") + D("7500.00") + D("13000.00") + D("10000.00")


def test_retroactive_accelerator_needs_a_fulfilled_plan():
    scheme = replace(DEFAULT_SCHEME, accelerator="retroactive")
    statement = build_statement(month(scheme=scheme, completed_deals=1))

    assert not any(line.accelerated for line in statement.lines)


def test_multiplier_is_a_scheme_setting():
    scheme = replace(DEFAULT_SCHEME, accelerator_multiplier=D("3"))
    statement = build_statement(month(scheme=scheme))

    accelerated = [line for line in statement.lines if line.accelerated]
    assert [(line.base, line.rate, line.amount) for line in accelerated] == [
        (D("50000.00"), D("0.075"), D("3750.00"))
    ]


def test_too_few_completed_deals_means_no_accelerator_and_no_plan_bonus():
    statement = build_statement(month(completed_deals=1))

    assert statement.sales_plan_fulfilled is False
    assert commission_summary(statement) == [
        ("d1", D("200000.00"), D("0.05"), D("10000.00"), False),
        ("d2", D("150000.00"), D("0.025"), D("3750.00"), False),
    ]
    assert statement.lines_of(LineKind.PLAN_BONUS) == []
    assert statement.totals[LineKind.PLAN_BONUS] == D("0.00")
    assert statement.total == D("23750.00")


def test_revenue_below_target_means_no_accelerator_and_no_plan_bonus():
    statement = build_statement(month(revenue=D("299999.99")))

    assert statement.sales_plan_fulfilled is False
    assert not any(line.accelerated for line in statement.lines)
    assert statement.lines_of(LineKind.PLAN_BONUS) == []


def test_month_without_a_sales_plan_has_no_accelerator_and_no_plan_bonus():
    statement = build_statement(month(sales_plan_target_revenue=None, sales_plan_target_deals=None))

    assert statement.sales_plan_fulfilled is False
    assert not any(line.accelerated for line in statement.lines)
    assert statement.lines_of(LineKind.PLAN_BONUS) == []
    assert statement.total == D("10000.00") + D("3750.00") + D("10000.00")


@pytest.mark.parametrize(
    ("revenue", "deals", "target_revenue", "target_deals", "fulfilled"),
    [
        ("350000", 2, "300000", 2, True),
        ("300000", 2, "300000", 2, True),
        ("299999.99", 5, "300000", 2, False),
        ("350000", 1, "300000", 2, False),
        ("350000", 2, None, None, False),
        ("350000", 0, "300000", None, True),
    ],
)
def test_sales_plan_is_fulfilled_when_both_revenue_and_deal_count_reach_their_targets(
    revenue, deals, target_revenue, target_deals, fulfilled
):
    assert (
        sales_plan_fulfilled(
            revenue=D(revenue),
            completed_deals=deals,
            target_revenue=D(target_revenue) if target_revenue else None,
            target_deals=target_deals,
        )
        is fulfilled
    )


# --- rates, margin, rounding --------------------------------------------------------------------


def test_new_client_deals_earn_five_percent_and_existing_client_deals_two_and_a_half():
    assert commission_rate(DEFAULT_SCHEME, is_new_client=True, accelerated=False) == D("0.05")
    assert commission_rate(DEFAULT_SCHEME, is_new_client=False, accelerated=False) == D("0.025")
    assert commission_rate(DEFAULT_SCHEME, is_new_client=True, accelerated=True) == D("0.10")
    assert commission_rate(DEFAULT_SCHEME, is_new_client=False, accelerated=True) == D("0.05")

    payments = [payment("p1", "d1", "1000.00", 3, new=True), payment("p2", "d2", "1000.00", 4, new=False)]
    statement = build_statement(month(payments, sales_plan_target_revenue=None))
    assert [line.amount for line in statement.lines_of(LineKind.COMMISSION)] == [D("50.00"), D("25.00")]
    assert "нового клиента" in statement.lines[0].explanation
    assert "существующего клиента" in statement.lines[1].explanation


def test_round_kopecks_rounds_half_up_away_from_zero():
    assert round_kopecks(D("0.505")) == D("0.51")
    assert round_kopecks(D("-0.505")) == D("-0.51")
    assert round_kopecks(D("0.504999")) == D("0.50")
    assert round_kopecks(D("2.675")) == D("2.68")
    assert str(round_kopecks(D("10"))) == "10.00"


def test_half_a_kopeck_of_commission_rounds_up_and_the_total_is_the_sum_of_rounded_lines():
    payments = [payment(f"p{i}", f"d{i}", "10.10", 3, order=i) for i in range(3)]
    statement = build_statement(month(payments, sales_plan_target_revenue=None, kpi_met=False))

    amounts = [line.amount for line in statement.lines_of(LineKind.COMMISSION)]
    assert amounts == [D("0.51")] * 3  # 10.10 × 0.05 = 0.505
    assert statement.totals[LineKind.COMMISSION] == D("1.53")  # not round(1.515) = 1.52
    assert statement.total == D("1.53")


def test_recognised_margin_is_the_payments_share_of_the_order_margin():
    assert recognised_margin(D("50000"), order_total=D("200000"), order_cost=D("120000")) == D("20000")
    assert recognised_margin(D("100"), order_total=D("0"), order_cost=D("0")) == D("0")
    assert recognised_margin(D("100"), order_total=D("300"), order_cost=D("200")) == D("100") / D("3")


def test_plan_bonus_rounds_the_months_exact_margin_once():
    # Three payments of 10.00 on an order 30 / cost 10 recognise 6.666… each: 20.00 in all, where
    # rounding each payment's margin first would give 3 × 6.67 = 20.01.
    payments = [payment("p0", "d0", "300000.00", 2, total="300000", cost="300000")]
    payments += [payment(f"p{i}", "d1", "10.00", 3, total="30", cost="10", order=i) for i in range(1, 4)]
    statement = build_statement(month(payments))

    bonus = statement.lines_of(LineKind.PLAN_BONUS)[0]
    assert bonus.base == D("20.00")
    assert bonus.amount == D("2.00")


def test_scheme_rejects_unknown_policies_and_float_rates():
    with pytest.raises(ValueError, match="accelerator"):
        PayScheme(effective_from=MARCH, accelerator="double")
    with pytest.raises(ValueError, match="department_bonus_split"):
        PayScheme(effective_from=MARCH, department_bonus_split="lottery")
    with pytest.raises(TypeError, match="new_client_rate"):
        PayScheme(effective_from=MARCH, new_client_rate=0.05)


def test_payments_and_refunds_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        payment("p1", "d1", "-10.00", 3)
    with pytest.raises(ValueError, match="positive"):
        refund("r1", "d1", "0", 3, total="1", cost="0")


# --- KPI and the fixed part ---------------------------------------------------------------------


def test_fixed_part_is_paid_when_the_kpi_plan_is_met():
    fixed = build_statement(month()).lines_of(LineKind.FIXED)
    assert [line.amount for line in fixed] == [D("10000.00")]


def test_fixed_part_is_a_zero_line_explaining_the_kpi_figures_when_the_kpi_plan_is_not_met():
    counters = {"leads": 1, "calls": 3, "meetings": 0, "messages": 1}
    statement = build_statement(month(kpi_met=False, kpi_counters=counters))

    (fixed,) = statement.lines_of(LineKind.FIXED)
    assert str(fixed.amount) == "0.00"
    assert "не выполнен" in fixed.explanation
    assert "лиды 1, звонки 3, встречи 0, сообщения 1" in fixed.explanation
    assert statement.totals[LineKind.FIXED] == D("0.00")
    assert statement.total == D("28000.00")


def test_fixed_amount_is_a_scheme_setting():
    scheme = replace(DEFAULT_SCHEME, fixed_amount=D("15000.00"))
    assert build_statement(month(scheme=scheme)).totals[LineKind.FIXED] == D("15000.00")


# --- refunds ------------------------------------------------------------------------------------


def test_refund_on_an_earlier_months_deal_takes_back_commission_at_the_deals_rate():
    # d0 was paid 40 000 in February at 2.5 % (1 000); 10 000 is returned in March.
    refunds = [
        refund("r1", "d0", "10000.00", 25, earned="1000.00", paid="40000.00", total="40000", cost="30000")
    ]
    statement = build_statement(month(refunds=refunds, revenue=D("340000.00")))

    clawback = statement.lines[3]
    assert (clawback.kind, clawback.deal_key, clawback.source_id) == (LineKind.COMMISSION, "d0", "r1")
    assert (clawback.base, clawback.amount) == (D("10000.00"), D("-250.00"))
    assert clawback.rate == D("0.025")
    assert "2,5 %" in clawback.explanation
    assert statement.totals[LineKind.COMMISSION] == D("14750.00")


def test_refund_on_a_deal_paid_this_month_uses_its_accelerated_commission_by_default():
    # d2 earned 2 500 + 2 500 on 150 000 this month: 1/30. Figures supplied: none before March.
    refunds = [refund("r1", "d2", "30000.00", 25, total="150000", cost="100000")]
    statement = build_statement(month(refunds=refunds, revenue=D("320000.00")))

    (clawback,) = [line for line in statement.lines_of(LineKind.COMMISSION) if line.amount < 0]
    assert clawback.amount == D("-1000.00")
    assert clawback.rate == D("5000.00") / D("150000.00")
    assert "5 000,00 ₽ ÷ оплачено 150 000,00 ₽" in clawback.explanation


def test_engine_adds_this_months_commission_to_the_supplied_figures_of_earlier_months():
    # February: 100 000 at 5 % = 5 000. March: 400 000 on the same new-client deal, 300 000 normal
    # (15 000) + 100 000 doubled (10 000). Deal rate: 30 000 / 500 000 = 6 %.
    payments = [payment("p1", "d1", "400000.00", 10, new=True)]
    refunds = [
        refund("r1", "d1", "50000.00", 28, earned="5000.00", paid="100000.00", total="500000", cost="0")
    ]
    statement = build_statement(month(payments, refunds=refunds, revenue=D("350000.00")))

    assert statement.lines[2].amount == D("-3000.00")
    assert statement.lines[2].rate == D("0.06")


def test_refund_figures_already_including_this_month_are_taken_as_given():
    figures = {"earned": "5000.00", "paid": "150000.00", "includes": True}
    refunds = [refund("r1", "d2", "30000.00", 25, total="150000", cost="100000", **figures)]
    statement = build_statement(month(refunds=refunds, revenue=D("320000.00")))

    assert [line.amount for line in statement.lines_of(LineKind.COMMISSION)][-1] == D("-1000.00")


def test_refund_on_a_deal_with_nothing_paid_takes_nothing_back():
    refunds = [refund("r1", "d7", "500.00", 25, total="500", cost="0")]
    statement = build_statement(month(refunds=refunds))

    clawback = statement.lines[3]
    assert (clawback.kind, clawback.amount, clawback.source_id) == (LineKind.COMMISSION, D("0.00"), "r1")


def test_refunds_never_move_the_accelerator_split():
    # Recorded before the crossing payment: still the split stays at 100 000 / 50 000.
    refunds = [refund("r1", "d1", "20000.00", 10, total="200000", cost="120000")]
    with_refund = build_statement(month(refunds=refunds, revenue=D("330000.00")))
    without = build_statement(month())

    ordinary = [line for line in with_refund.lines_of(LineKind.COMMISSION) if line.source_id != "r1"]
    assert [(line.base, line.amount, line.accelerated) for line in ordinary] == [
        (line.base, line.amount, line.accelerated) for line in without.lines_of(LineKind.COMMISSION)
    ]


def test_refunds_come_after_the_ordinary_payments_and_reduce_the_plan_bonus_margin():
    refunds = [refund("r1", "d2", "30000.00", 10, total="150000", cost="100000")]
    statement = build_statement(month(refunds=refunds, revenue=D("320000.00")))

    assert [(line.kind, line.source_id) for line in statement.lines] == [
        (LineKind.COMMISSION, "p1"),
        (LineKind.COMMISSION, "p2"),
        (LineKind.COMMISSION, "p2"),
        (LineKind.COMMISSION, "r1"),
        (LineKind.PLAN_BONUS, None),
        (LineKind.FIXED, None),
    ]
    bonus = statement.lines_of(LineKind.PLAN_BONUS)[0]
    assert bonus.base == D("120000.00")  # 130 000 − 30 000 × 50 000 / 150 000
    assert bonus.amount == D("12000.00")
    assert statement.total == D("10000.00") + D("5000.00") - D("1000.00") + D("12000.00") + D("10000.00")


def test_plan_bonus_is_never_negative_when_refunds_outweigh_the_months_margin():
    payments = [payment("p1", "d1", "400000.00", 3, total="400000", cost="399000")]
    refunds = [refund("r1", "d0", "100000.00", 20, earned="5000", paid="100000", total="100000", cost="0")]
    statement = build_statement(month(payments, refunds=refunds, revenue=D("300000"), completed_deals=2))

    bonus = statement.lines_of(LineKind.PLAN_BONUS)[0]
    assert bonus.base == D("-99000.00")
    assert bonus.amount == D("0.00")


# --- late payments ------------------------------------------------------------------------------


def test_late_payments_are_marked_late_and_count_in_the_cumulative_in_receipt_order():
    late = payment("p0", "d0", "100000.00", date(2026, 2, 27), new=False, late=True)
    statement = build_statement(month([d1(), d2(), late], revenue=D("450000.00")))

    lines = statement.lines_of(LineKind.COMMISSION)
    assert [(line.source_id, line.late) for line in lines] == [
        ("p0", True),
        ("p1", False),
        ("p2", False),
    ]
    # 100 000 (late) + 200 000 reach the target: d2 is entirely above it.
    assert [(line.base, line.accelerated) for line in lines] == [
        (D("100000.00"), False),
        (D("200000.00"), False),
        (D("150000.00"), True),
    ]
    assert "27.02.2026" in lines[0].explanation


# --- department bonus, expenses, adjustments ----------------------------------------------------


def test_department_bonus_expenses_and_adjustments_appear_with_their_amounts_after_the_fixed_part():
    statement = build_statement(
        month(
            department_bonus=D("20000.00"),
            expenses=[
                ExpenseInput("e1", D("1500.00"), "Такси на встречу с ООО «Ромашка»"),
                ExpenseInput("e2", D("320.50"), ""),
            ],
            adjustments=[
                AdjustmentInput("a1", D("-700.00"), "Исправление за февраль"),
                AdjustmentInput("a2", D("100.005"), "Доплата"),
            ],
        )
    )

    tail = statement.lines[5:]
    assert [(line.kind, line.amount, line.source_id) for line in tail] == [
        (LineKind.DEPARTMENT_BONUS, D("20000.00"), None),
        (LineKind.EXPENSE, D("1500.00"), "e1"),
        (LineKind.EXPENSE, D("320.50"), "e2"),
        (LineKind.ADJUSTMENT, D("-700.00"), "a1"),
        (LineKind.ADJUSTMENT, D("100.01"), "a2"),
    ]
    assert "Такси" in tail[1].explanation
    assert "Исправление за февраль" in tail[3].explanation
    assert statement.totals[LineKind.DEPARTMENT_BONUS] == D("20000.00")
    assert statement.totals[LineKind.EXPENSE] == D("1820.50")
    assert statement.totals[LineKind.ADJUSTMENT] == D("-599.99")
    assert statement.total == D("38000.00") + D("20000.00") + D("1820.50") - D("599.99")


def test_no_department_bonus_line_without_a_department_bonus():
    statement = build_statement(month(department_bonus=D("0")))
    assert statement.lines_of(LineKind.DEPARTMENT_BONUS) == []


def test_empty_month_is_only_the_fixed_line():
    statement = build_statement(
        month(
            [], sales_plan_target_revenue=None, sales_plan_target_deals=None, kpi_met=False, kpi_counters={}
        )
    )

    assert [(line.kind, line.amount) for line in statement.lines] == [(LineKind.FIXED, D("0.00"))]
    assert str(statement.total) == "0.00"


# --- properties ---------------------------------------------------------------------------------


amounts = st.decimals(
    min_value=D("0.01"), max_value=D("500000"), places=2, allow_nan=False, allow_infinity=False
)


@given(
    values=st.lists(st.tuples(amounts, st.booleans(), st.integers(1, 28)), min_size=1, max_size=8),
    target=st.decimals(min_value=D("0"), max_value=D("1000000"), places=2),
)
def test_marginal_split_accelerates_exactly_the_revenue_above_the_target(values, target):
    payments = [
        payment(f"p{i}", f"d{i}", amount, day, new=new, order=i)
        for i, (amount, new, day) in enumerate(values)
    ]
    paid = sum((p.amount for p in payments), D("0"))
    statement = build_statement(
        month(payments, sales_plan_target_revenue=target, sales_plan_target_deals=0, revenue=paid)
    )

    commission = statement.lines_of(LineKind.COMMISSION)
    assert sum((line.base for line in commission), D("0")) == paid
    if paid >= target:
        assert sum((line.base for line in commission if line.accelerated), D("0")) == paid - target
    assert all(line.amount == round_kopecks(line.base * line.rate) for line in commission)
    assert statement.total == sum((line.amount for line in statement.lines), D("0"))
    assert statement.total == sum(statement.totals.values(), D("0"))


def test_tidy_rate_keeps_the_value_and_writes_it_with_at_least_two_places():
    assert str(tidy_rate(D("0.050"))) == "0.05"
    assert str(tidy_rate(D("0.1"))) == "0.10"
    assert str(tidy_rate(D("0.0250"))) == "0.025"
    assert tidy_rate(D("1") / D("30")) == D("1") / D("30")


def test_no_kpi_plan_earns_no_fixed_part_and_the_line_says_the_plan_is_not_set_not_missed():
    counters = {"leads": 4, "calls": 9, "meetings": 2, "messages": 5}
    statement = build_statement(month(kpi_met=True, kpi_plan_set=False, kpi_counters=counters))

    (fixed,) = statement.lines_of(LineKind.FIXED)
    assert str(fixed.amount) == "0.00"
    assert fixed.explanation == (
        "Фиксированная часть не начислена: план KPI не задан (лиды 4, звонки 9, встречи 2, сообщения 5)"
    )
    assert "не выполнен" not in fixed.explanation
    assert statement.total == D("28000.00")  # commission and plan bonus as in the worked example


def test_a_month_input_has_a_kpi_plan_unless_told_otherwise():
    assert month().kpi_plan_set is True
    assert "план KPI выполнен" in build_statement(month()).lines_of(LineKind.FIXED)[0].explanation
