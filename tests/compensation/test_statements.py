"""A hunter's statement from the database (compensation.statements): what a month without a KPI plan
earns, and who shares the quarter's department bonus. Data is made through the real services."""

from datetime import date
from decimal import Decimal

import pytest

from compensation.engine import LineKind
from compensation.statements import department_bonus_share, statement_for
from kpi.models import ActivityKind
from kpi.services import quarter_plan_save
from tests.deals.factories import Pipeline
from tests.kpi.factories import local, log_activity, make_hunter, paid_deal, set_plan

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)
NO_TARGETS = {
    "revenue_target": Decimal("0"),
    "deals_target": 0,
    "leads_target": 0,
    "calls_target": 0,
    "meetings_target": 0,
    "messages_target": 0,
}
NO_KPI_PLAN = "Фиксированная часть не начислена: план KPI не задан"
KPI_MISSED = "Фиксированная часть не начислена: план KPI не выполнен"


def lines_of(statement, kind: LineKind) -> list:
    return [line for line in statement.lines if line.kind == kind]


def fixed_line(hunter, month=MARCH):
    (line,) = lines_of(statement_for(hunter=hunter, month=month), LineKind.FIXED)
    return line


def test_a_kpi_plan_of_zeros_earns_no_fixed_part_and_says_the_plan_is_not_set(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, **{**NO_TARGETS, "revenue_target": Decimal("50000")})
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 10))

    statement = statement_for(hunter=hunter, month=MARCH)

    (line,) = lines_of(statement, LineKind.FIXED)
    assert (line.amount, line.explanation) == (
        Decimal("0.00"),
        f"{NO_KPI_PLAN} (лиды 0, звонки 0, встречи 0, сообщения 1)",
    )
    assert (statement.kpi_met, statement.kpi_plan_set, statement.total) == (False, False, Decimal("0.00"))


def test_a_month_without_a_plan_says_the_kpi_plan_is_not_set(hunter):
    assert fixed_line(hunter).explanation.startswith(NO_KPI_PLAN)


def test_a_kpi_plan_with_one_target_is_missed_below_it_and_pays_the_fixed_part_on_it(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, **{**NO_TARGETS, "messages_target": 2})
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 10))

    missed = fixed_line(hunter)
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 11))
    met = fixed_line(hunter)

    assert (missed.amount, missed.explanation.startswith(KPI_MISSED)) == (Decimal("0.00"), True)
    assert (met.amount, met.explanation) == (
        Decimal("10000.00"),
        "Фиксированная часть: план KPI выполнен (лиды 0, звонки 0, встречи 0, сообщения 2)",
    )


# --- the department bonus ------------------------------------------------------------------------------


@pytest.fixture
def quarter_reached(sales_head, hunter, production, accountant):
    """Q1 2026: a 60 000 ₽ pool for a 1 000 ₽ department target, reached by the hunter's February
    payment against a February sales plan."""
    quarter_plan_save(
        acting_user=sales_head, quarter=MARCH, revenue_target=Decimal("1000"), bonus_pool=Decimal("60000")
    )
    set_plan(sales_head, hunter, date(2026, 2, 1), **{**NO_TARGETS, "revenue_target": Decimal("5000")})
    paid_deal(
        Pipeline(hunter=hunter, production=production, accountant=accountant), ("5000.00", date(2026, 2, 10))
    )


def department_bonus(hunter) -> Decimal:
    return statement_for(hunter=hunter, month=MARCH).totals[LineKind.DEPARTMENT_BONUS]


def test_a_trainee_with_only_a_plan_of_zeros_does_not_share_the_department_bonus(
    quarter_reached, sales_head, hunter
):
    trainee = make_hunter(full_name="Стажёр Нулёв")
    set_plan(sales_head, trainee, MARCH, **NO_TARGETS)

    assert department_bonus_share(hunter=trainee, month=MARCH) == 0
    assert department_bonus(trainee) == Decimal("0.00")
    assert not lines_of(statement_for(hunter=trainee, month=MARCH), LineKind.DEPARTMENT_BONUS)
    assert department_bonus(hunter) == Decimal("60000.00")  # the whole pool, not half of it


def test_a_trainee_given_a_real_target_in_the_quarter_shares_the_department_bonus(
    quarter_reached, sales_head, hunter
):
    trainee = make_hunter(full_name="Стажёр Звонков")
    set_plan(sales_head, trainee, MARCH, **{**NO_TARGETS, "calls_target": 50})

    assert department_bonus(trainee) == Decimal("30000.00")
    assert department_bonus(hunter) == Decimal("30000.00")
