"""Statements are stored and worked out once per change, not per view: what a change marks is worked out
again before anyone reads it, and reading fresh statements costs the same few queries however much
history there is."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compensation.models import Statement
from compensation.statements import compute_statement, month_statements, statement_for
from deals.services import payment_record, payment_refund
from deals.stages import Stage
from kpi.services import PlanRow, plans_save, quarter_plan_save
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.kpi.factories import local, make_hunter, pbx_call
from tests.workflow import close_month

pytestmark = pytest.mark.django_db

JANUARY, FEBRUARY, MARCH = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


@pytest.fixture
def people(sales_head, accountant, production):
    return {"head": sales_head, "buh": accountant, "prod": production}


def paid_deal(people, hunter, amount: str, on: date, document: str):
    pipeline = Pipeline(hunter=hunter, production=people["prod"], accountant=people["buh"])
    deal = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter)), Stage.PAYMENT
    )
    payment_record(
        acting_user=people["buh"], deal=deal, amount=Decimal(amount), received_on=on, bank_document=document
    )
    return deal


def test_a_read_stores_the_statement_and_the_next_read_uses_what_was_stored(people, hunter):
    paid_deal(people, hunter, "2000", MARCH.replace(day=5), "1")
    first = statement_for(hunter=hunter, month=MARCH)
    record = Statement.objects.get(hunter=hunter, month=MARCH)
    assert record.computed_total == first.total == Decimal("100.00") and not record.needs_check

    with CaptureQueriesContext(connection) as queries:
        again = statement_for(hunter=hunter, month=MARCH)
    assert again.total == first.total
    assert len(queries) <= 3  # the row, its plan, the month's department bonus


def test_a_change_marks_the_hunters_later_months_and_reading_works_them_out_again(people, hunter):
    deal = paid_deal(people, hunter, "2000", JANUARY.replace(day=5), "1")
    for month in (JANUARY, FEBRUARY, MARCH):
        statement_for(hunter=hunter, month=month)
    payment_refund(
        acting_user=people["buh"], deal=deal, amount=Decimal("1000"), recorded_on=MARCH.replace(day=2)
    )

    marked = set(Statement.objects.filter(hunter=hunter, needs_check=True).values_list("month", flat=True))
    assert marked == {MARCH}  # the refund's month (and any later one)
    march = statement_for(hunter=hunter, month=MARCH)
    assert march.total == compute_statement(hunter=hunter, month=MARCH).total == Decimal("-50.00")
    assert not Statement.objects.get(hunter=hunter, month=MARCH).needs_check


def test_an_activity_changing_the_kpi_plan_is_seen_at_once(people, hunter):
    plans_save(acting_user=people["head"], month=MARCH, rows=[PlanRow(hunter=hunter, calls_target=1)])
    before = statement_for(hunter=hunter, month=MARCH)
    assert not before.kpi_met
    pbx_call(hunter, at=local(2026, 3, 10))
    after = statement_for(hunter=hunter, month=MARCH)
    assert after.kpi_met and after.total == Decimal("10000.00")


def test_another_hunters_payment_that_reaches_the_department_target_reaches_this_hunters_bonus(
    people, hunter
):
    other = make_hunter()
    quarter_plan_save(
        acting_user=people["head"],
        quarter=JANUARY,
        revenue_target=Decimal("4000"),
        bonus_pool=Decimal("9000"),
    )
    for person in (hunter, other):
        plans_save(acting_user=people["head"], month=MARCH, rows=[PlanRow(hunter=person, calls_target=1)])
    paid_deal(people, hunter, "2000", JANUARY.replace(day=5), "1")
    assert statement_for(hunter=hunter, month=MARCH).totals["department_bonus"] == 0  # stored now

    paid_deal(people, other, "2500", FEBRUARY.replace(day=5), "2")  # the department passes 4 000

    assert statement_for(hunter=hunter, month=MARCH).totals["department_bonus"] == Decimal("4500.00")


def test_the_statement_list_costs_the_same_queries_however_much_history(
    people, django_assert_max_num_queries
):
    hunters = [make_hunter() for _ in range(3)]
    for index, person in enumerate(hunters):
        paid_deal(people, person, "1000", MARCH.replace(day=3), f"a{index}")
    month_statements(MARCH, hunters)  # worked out and stored once
    with CaptureQueriesContext(connection) as few:
        month_statements(MARCH, hunters)

    for index, person in enumerate(hunters):  # more payments, refunds and months of history
        for month in (JANUARY, FEBRUARY):
            deal = paid_deal(people, person, "3000", month.replace(day=9), f"b{index}{month:%m}")
            payment_refund(
                acting_user=people["buh"], deal=deal, amount=Decimal("500"), recorded_on=MARCH.replace(day=20)
            )
    month_statements(MARCH, hunters)
    with django_assert_max_num_queries(len(few)):
        statements = month_statements(MARCH, hunters)
    assert all(s.total == compute_statement(hunter=s.hunter, month=MARCH).total for s in statements)


def test_a_locked_months_list_costs_the_same_queries_for_more_hunters(people, django_assert_max_num_queries):
    first = make_hunter()
    paid_deal(people, first, "1000", FEBRUARY.replace(day=3), "a")
    close_month(first, FEBRUARY, head=people["head"], accountant=people["buh"])
    with CaptureQueriesContext(connection) as few:
        month_statements(FEBRUARY, [first])

    others = [make_hunter() for _ in range(3)]
    for index, person in enumerate(others):
        paid_deal(people, person, "2000", FEBRUARY.replace(day=4), f"b{index}")
        paid_deal(people, person, "1500", FEBRUARY.replace(day=6), f"c{index}")
        close_month(person, FEBRUARY, head=people["head"], accountant=people["buh"])
    with django_assert_max_num_queries(len(few)):
        statements = month_statements(FEBRUARY, [first, *others])
    assert [s.status for s in statements] == [Statement.Status.LOCKED] * 4
    assert [s.total for s in statements] == [
        Decimal("50.00"),
        Decimal("175.00"),
        Decimal("175.00"),
        Decimal("175.00"),
    ]


def test_reading_a_month_nobody_worked_in_stores_nothing(hunter):
    statement_for(hunter=hunter, month=date(2019, 1, 1))
    assert not Statement.objects.filter(hunter=hunter).exists()


def test_the_background_check_works_out_what_a_change_marked(
    people, hunter, django_capture_on_commit_callbacks
):
    deal = paid_deal(people, hunter, "2000", MARCH.replace(day=5), "1")
    statement_for(hunter=hunter, month=MARCH)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            acting_user=people["buh"],
            deal=deal,
            amount=Decimal("1000"),
            received_on=MARCH.replace(day=6),
            bank_document="2",
        )
    record = Statement.objects.get(hunter=hunter, month=MARCH)
    assert not record.needs_check and record.computed_total == Decimal("150.00")
