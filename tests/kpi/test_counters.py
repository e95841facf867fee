"""The KPI counters and plan rules of SPEC §4 (kpi.counters) over data made through the real services.

March and April 2026 are past months; every moment is a Yekaterinburg wall-clock time, so month
boundaries are checked where the sales head sees them, not in UTC.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.services import payment_record
from kpi.counters import (
    Counters,
    hunters_active_in_quarter,
    kpi_plan_met,
    kpi_plan_set,
    month_counters,
    month_progress,
    percent,
    sales_plan_fulfilled,
)
from kpi.models import ActivityKind, CallDirection, MonthlyPlan
from tests.deals.factories import Pipeline, make_client
from tests.workflow import close_month

from .factories import (
    ORDER_TOTAL,
    local,
    log_activity,
    make_hunter,
    paid_deal,
    pbx_call,
    refund,
    set_plan,
)

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)
FEBRUARY = date(2026, 2, 1)


def counters(hunter, month=MARCH) -> Counters:
    return month_counters(month=month, hunter_ids=[hunter.pk])[hunter.pk]


# --- leads -------------------------------------------------------------------------------------------


def test_a_card_with_name_address_and_phone_created_in_the_month_is_a_lead(hunter):
    make_client(acting_user=hunter, created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 1


def test_a_card_without_an_address_is_not_a_lead(hunter):
    make_client(acting_user=hunter, address="", created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 0


def test_a_card_without_a_phone_is_not_a_lead(hunter):
    make_client(acting_user=hunter, phones=[], created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 0


def test_a_card_with_several_phones_is_still_one_lead(hunter):
    make_client(acting_user=hunter, phones=["+79501110001", "+79501110002"], created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 1


def test_a_card_created_last_month_is_a_lead_of_last_month_only(hunter):
    make_client(acting_user=hunter, created_at=local(2026, 2, 28, 23, 59))

    assert counters(hunter, MARCH).leads == 0
    assert counters(hunter, FEBRUARY).leads == 1


def test_another_hunters_card_is_not_this_hunters_lead(hunter, other_hunter):
    make_client(acting_user=other_hunter, created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 0
    assert counters(other_hunter).leads == 1


def test_a_lead_counts_for_whoever_created_the_card_not_whoever_owns_it(hunter, sales_head):
    make_client(acting_user=sales_head, owner=hunter, created_at=local(2026, 3, 10))

    assert counters(hunter).leads == 0


def test_a_card_created_just_after_local_midnight_on_the_first_is_a_lead_of_the_new_month(hunter):
    # 00:30 in Yekaterinburg on 1 April is still 31 March in UTC.
    make_client(acting_user=hunter, created_at=local(2026, 4, 1, 0, 30))

    assert counters(hunter, MARCH).leads == 0
    assert counters(hunter, APRIL).leads == 1


# --- calls -------------------------------------------------------------------------------------------


def test_an_outgoing_pbx_call_counts(hunter):
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=60)

    assert counters(hunter).calls == 1


def test_a_manually_logged_call_does_not_count(hunter):
    log_activity(hunter, ActivityKind.CALL, at=local(2026, 3, 5), outcome="Дозвонился")

    assert counters(hunter).calls == 0


@pytest.mark.parametrize("direction", [CallDirection.INCOMING, CallDirection.INTERNAL])
def test_a_pbx_call_that_is_not_outgoing_does_not_count(hunter, direction):
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=300, direction=direction)

    assert counters(hunter).calls == 0


def test_an_unanswered_outgoing_call_of_zero_seconds_does_not_count(hunter):
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=0)

    assert counters(hunter).calls == 0


def test_a_call_of_exactly_the_minimum_length_counts(hunter, settings):
    settings.KPI_MIN_CALL_SECONDS = 30
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=30)

    assert counters(hunter).calls == 1


def test_a_call_one_second_shorter_than_the_minimum_does_not_count(hunter, settings):
    settings.KPI_MIN_CALL_SECONDS = 30
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=29)

    assert counters(hunter).calls == 0


def test_a_one_second_call_counts_with_the_default_minimum(hunter):
    pbx_call(hunter, at=local(2026, 3, 5), duration_s=1)

    assert counters(hunter).calls == 1


def test_another_hunters_calls_do_not_count_for_this_hunter(hunter, other_hunter):
    pbx_call(other_hunter, at=local(2026, 3, 5))
    pbx_call(None, extension="999", at=local(2026, 3, 5))  # nobody's extension

    assert counters(hunter).calls == 0
    assert counters(other_hunter).calls == 1


def test_a_call_at_half_past_eleven_at_night_on_the_31st_belongs_to_that_month(hunter):
    pbx_call(hunter, at=local(2026, 3, 31, 23, 30))

    assert counters(hunter, MARCH).calls == 1
    assert counters(hunter, APRIL).calls == 0


def test_a_call_at_half_past_midnight_on_the_first_belongs_to_the_new_month_though_utc_says_the_31st(hunter):
    at = local(2026, 4, 1, 0, 30)
    assert at.astimezone(UTC) == datetime(2026, 3, 31, 19, 30, tzinfo=UTC)
    pbx_call(hunter, at=at)

    assert counters(hunter, MARCH).calls == 0
    assert counters(hunter, APRIL).calls == 1


# --- meetings and messages ---------------------------------------------------------------------------


def test_meetings_and_messages_count_their_own_kind_only(hunter):
    client = make_client(acting_user=hunter, created_at=local(2025, 1, 10))
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 2), client=client)
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 3), client=client)
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 4), client=client)
    log_activity(hunter, ActivityKind.PROPOSAL, at=local(2026, 3, 5), client=client)
    log_activity(hunter, ActivityKind.SAMPLES, at=local(2026, 3, 6), client=client)
    log_activity(
        hunter, ActivityKind.FOLLOW_UP, at=local(2026, 3, 7), client=client, next_contact_on=date(2026, 3, 9)
    )
    log_activity(hunter, ActivityKind.CALL, at=local(2026, 3, 8), client=client)

    result = counters(hunter)

    assert (result.meetings, result.messages) == (2, 1)
    assert (result.leads, result.calls, result.revenue, result.deals) == (0, 0, Decimal("0"), 0)


def test_a_meeting_late_on_the_last_evening_is_in_that_month_and_one_after_midnight_in_the_next(hunter):
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 31, 23, 30))
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 4, 1, 0, 30))

    march, april = counters(hunter, MARCH), counters(hunter, APRIL)

    assert (march.meetings, march.messages) == (1, 0)
    assert (april.meetings, april.messages) == (0, 1)


def test_another_hunters_meetings_do_not_count_for_this_hunter(hunter, other_hunter):
    log_activity(other_hunter, ActivityKind.MEETING, at=local(2026, 3, 2))

    assert counters(hunter).meetings == 0
    assert counters(other_hunter).meetings == 1


def test_a_meeting_the_sales_head_logs_on_a_hunters_client_counts_for_that_hunter(hunter, sales_head):
    client = make_client(acting_user=hunter, created_at=local(2025, 1, 10))
    log_activity(sales_head, ActivityKind.MEETING, at=local(2026, 3, 2), client=client)

    assert counters(hunter).meetings == 1


# --- revenue -----------------------------------------------------------------------------------------


def test_revenue_is_the_sum_of_payments_received_in_the_month_on_the_hunters_deals(pipeline, other_pipeline):
    paid_deal(pipeline, ("1000.00", date(2026, 3, 2)), ("500.50", date(2026, 3, 31)))
    paid_deal(pipeline, ("2000.00", date(2026, 3, 15)))
    paid_deal(pipeline, ("700.00", date(2026, 2, 28)), ("300.00", date(2026, 4, 1)))
    paid_deal(other_pipeline, ("4999.00", date(2026, 3, 10)))

    assert counters(pipeline.hunter).revenue == Decimal("3500.50")
    assert counters(pipeline.hunter, FEBRUARY).revenue == Decimal("700.00")
    assert counters(pipeline.hunter, APRIL).revenue == Decimal("300.00")
    assert counters(other_pipeline.hunter).revenue == Decimal("4999.00")


def test_a_payment_counts_in_the_month_it_was_received_not_when_it_was_entered(pipeline, accountant):
    deal = paid_deal(pipeline)
    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("1200.00"),
        received_on=date(2026, 3, 31),
        bank_document="п/п 31",
        recorded_at=local(2026, 4, 2, 9, 0),
    )

    assert counters(pipeline.hunter, MARCH).revenue == Decimal("1200.00")
    assert counters(pipeline.hunter, APRIL).revenue == Decimal("0")


def test_a_refund_recorded_in_the_month_is_subtracted_from_that_months_revenue(pipeline, accountant):
    deal = paid_deal(pipeline, ("3000.00", date(2026, 3, 5)))
    refund(deal, "1000.00", date(2026, 3, 20), by=accountant)

    assert counters(pipeline.hunter).revenue == Decimal("2000.00")


def test_a_refund_in_a_later_month_leaves_the_month_of_the_payment_untouched(pipeline, accountant):
    deal = paid_deal(pipeline, ("3000.00", date(2026, 3, 5)))
    refund(deal, "1000.00", date(2026, 4, 3), by=accountant)

    assert counters(pipeline.hunter, MARCH).revenue == Decimal("3000.00")
    assert counters(pipeline.hunter, APRIL).revenue == Decimal("-1000.00")


def test_without_a_refund_revenue_is_the_plain_sum_of_payments(pipeline):
    paid_deal(pipeline, ("3000.00", date(2026, 3, 5)), ("2000.00", date(2026, 3, 6)))

    assert counters(pipeline.hunter).revenue == Decimal("5000.00")


def test_a_payment_received_in_a_month_whose_statement_is_locked_counts_in_the_first_open_month(
    pipeline, accountant
):
    deal = paid_deal(pipeline, ("1000.00", date(2026, 3, 5)))
    close_month(pipeline.hunter, MARCH, accountant=accountant)
    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("500.00"),
        received_on=date(2026, 3, 30),
        bank_document="п/п поздняя",
    )

    assert counters(pipeline.hunter, MARCH).revenue == Decimal("1000.00")
    assert counters(pipeline.hunter, APRIL).revenue == Decimal("500.00")


def test_revenue_is_zero_without_payments(hunter):
    assert counters(hunter).revenue == Decimal("0")


# --- completed deals ---------------------------------------------------------------------------------


def test_a_deal_paid_in_full_in_the_month_is_a_completed_deal(pipeline):
    paid_deal(pipeline, (ORDER_TOTAL, date(2026, 3, 12)))

    assert counters(pipeline.hunter).deals == 1


def test_a_deal_paid_in_two_parts_counts_in_the_month_of_the_last_part(pipeline):
    deal = paid_deal(pipeline, ("2000.00", date(2026, 3, 20)), ("3000.00", date(2026, 4, 5)))

    assert deal.paid_in_full_on == date(2026, 4, 5)
    assert counters(pipeline.hunter, MARCH).deals == 0
    assert counters(pipeline.hunter, APRIL).deals == 1
    assert (counters(pipeline.hunter, MARCH).revenue, counters(pipeline.hunter, APRIL).revenue) == (
        Decimal("2000.00"),
        Decimal("3000.00"),
    )


def test_a_partly_paid_deal_is_not_completed(pipeline):
    paid_deal(pipeline, ("4999.99", date(2026, 3, 20)))

    assert counters(pipeline.hunter).deals == 0


def test_a_later_refund_keeps_the_deal_completed_in_its_month_and_reduces_the_refunds_month(
    pipeline, accountant
):
    deal = paid_deal(pipeline, (ORDER_TOTAL, date(2026, 3, 12)))
    refund(deal, "100.00", date(2026, 4, 2), by=accountant)

    march, april = counters(pipeline.hunter, MARCH), counters(pipeline.hunter, APRIL)
    assert (march.deals, march.revenue) == (1, ORDER_TOTAL)
    assert (april.deals, april.revenue) == (0, Decimal("-100.00"))


def test_another_hunters_completed_deal_does_not_count_for_this_hunter(pipeline, other_pipeline):
    paid_deal(other_pipeline, (ORDER_TOTAL, date(2026, 3, 12)))

    assert counters(pipeline.hunter).deals == 0
    assert counters(other_pipeline.hunter).deals == 1


# --- month_counters as a whole -----------------------------------------------------------------------


def test_every_hunter_asked_for_gets_counters_even_with_nothing_done(hunter, other_hunter):
    result = month_counters(month=MARCH, hunter_ids=[hunter.pk, other_hunter.pk])

    assert result == {hunter.pk: Counters(), other_hunter.pk: Counters()}


def test_any_day_of_the_month_selects_the_whole_month(hunter):
    pbx_call(hunter, at=local(2026, 3, 1, 0, 5))
    pbx_call(hunter, at=local(2026, 3, 31, 23, 55))

    assert month_counters(month=date(2026, 3, 17), hunter_ids=[hunter.pk])[hunter.pk].calls == 2


def _activity_for(hunter, pipeline_factory, day: int) -> None:
    make_client(acting_user=hunter, created_at=local(2026, 3, day))
    pbx_call(hunter, at=local(2026, 3, day, 11))
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, day, 12))
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, day, 13))
    paid_deal(pipeline_factory(hunter), (ORDER_TOTAL, date(2026, 3, day)))


def test_month_counters_costs_the_same_queries_for_one_hunter_and_for_five(production, accountant):
    def pipeline_for(hunter):
        return Pipeline(hunter=hunter, production=production, accountant=accountant)

    hunters = [make_hunter() for _ in range(5)]
    for day, hunter in enumerate(hunters, start=2):
        _activity_for(hunter, pipeline_for, day)

    with CaptureQueriesContext(connection) as one:
        single = month_counters(month=MARCH, hunter_ids=[hunters[0].pk])
    with CaptureQueriesContext(connection) as five:
        everyone = month_counters(month=MARCH, hunter_ids=[hunter.pk for hunter in hunters])

    assert len(one) == len(five)
    expected = Counters(leads=1, calls=1, meetings=1, messages=1, revenue=ORDER_TOTAL, deals=1)
    assert single == {hunters[0].pk: expected}
    assert everyone == {hunter.pk: expected for hunter in hunters}


# --- plan rules --------------------------------------------------------------------------------------


def plan(**targets) -> MonthlyPlan:
    values = {
        "revenue_target": Decimal("100000.00"),
        "deals_target": 4,
        "leads_target": 20,
        "calls_target": 300,
        "meetings_target": 8,
        "messages_target": 50,
    }
    return MonthlyPlan(month=MARCH, **{**values, **targets})


EXACTLY_ON_PLAN = Counters(
    leads=20, calls=300, meetings=8, messages=50, revenue=Decimal("100000.00"), deals=4
)


def with_counters(**changes) -> Counters:
    return Counters(**{**EXACTLY_ON_PLAN.__dict__, **changes})


def test_exactly_one_hundred_percent_fulfils_the_sales_plan_and_meets_the_kpi_plan():
    assert sales_plan_fulfilled(EXACTLY_ON_PLAN, plan()) is True
    assert kpi_plan_met(EXACTLY_ON_PLAN, plan()) is True


def test_one_completed_deal_short_does_not_fulfil_the_sales_plan_even_with_revenue_over_target():
    short = with_counters(deals=3, revenue=Decimal("250000.00"))

    assert sales_plan_fulfilled(short, plan()) is False


def test_one_kopeck_of_revenue_short_does_not_fulfil_the_sales_plan_even_with_extra_deals():
    short = with_counters(revenue=Decimal("99999.99"), deals=10)

    assert sales_plan_fulfilled(short, plan()) is False


def test_the_sales_plan_does_not_depend_on_the_kpi_counters():
    assert sales_plan_fulfilled(with_counters(leads=0, calls=0, meetings=0, messages=0), plan()) is True


@pytest.mark.parametrize("counter", ["leads", "calls", "meetings", "messages"])
def test_one_kpi_counter_short_of_its_target_means_the_kpi_plan_is_not_met(counter):
    short = with_counters(**{counter: getattr(EXACTLY_ON_PLAN, counter) - 1})

    assert kpi_plan_met(short, plan()) is False
    assert sales_plan_fulfilled(short, plan()) is True


def test_the_kpi_plan_does_not_depend_on_revenue_or_deals():
    assert kpi_plan_met(with_counters(revenue=Decimal("0"), deals=0), plan()) is True


def test_without_a_plan_neither_the_sales_plan_nor_the_kpi_plan_is_reached():
    overachiever = Counters(
        leads=500, calls=5000, meetings=100, messages=900, revenue=Decimal("9999999"), deals=99
    )

    assert sales_plan_fulfilled(overachiever, None) is False
    assert kpi_plan_met(overachiever, None) is False


def test_a_kpi_plan_whose_targets_are_all_zero_is_no_kpi_plan_and_is_never_met():
    zeros = plan(leads_target=0, calls_target=0, meetings_target=0, messages_target=0)

    assert kpi_plan_set(zeros) is False
    assert kpi_plan_met(with_counters(leads=0, calls=0, meetings=0, messages=0), zeros) is False
    assert kpi_plan_met(EXACTLY_ON_PLAN, zeros) is False
    assert sales_plan_fulfilled(EXACTLY_ON_PLAN, zeros) is True  # the sales plan is its own


@pytest.mark.parametrize("counter", ["leads", "calls", "meetings", "messages"])
def test_one_kpi_target_above_zero_makes_a_kpi_plan_the_others_are_met_at_zero(counter):
    no_kpi = {"leads_target": 0, "calls_target": 0, "meetings_target": 0, "messages_target": 0}
    only_one = plan(**{**no_kpi, f"{counter}_target": 1})

    assert kpi_plan_set(only_one) is True
    assert kpi_plan_met(Counters(**{counter: 1}), only_one) is True
    assert kpi_plan_met(Counters(), only_one) is False


def test_no_plan_is_no_kpi_plan():
    assert kpi_plan_set(None) is False


def test_a_hunter_is_active_in_a_quarter_with_a_plan_asking_for_something_in_one_of_its_months(sales_head):
    zeros = dict.fromkeys(
        [
            "revenue_target",
            "deals_target",
            "leads_target",
            "calls_target",
            "meetings_target",
            "messages_target",
        ],
        0,
    )
    seller, caller, trainee, idle, later = (make_hunter() for _ in range(5))
    set_plan(sales_head, seller, FEBRUARY, **{**zeros, "revenue_target": Decimal("50000")})
    set_plan(sales_head, caller, MARCH, **{**zeros, "calls_target": 10})
    set_plan(sales_head, trainee, date(2026, 1, 1), **zeros)
    set_plan(sales_head, trainee, MARCH, **zeros)
    set_plan(sales_head, later, APRIL, **{**zeros, "calls_target": 10})

    assert hunters_active_in_quarter(date(2026, 3, 31)) == {seller.pk, caller.pk}
    assert hunters_active_in_quarter(date(2026, 1, 1)) == {seller.pk, caller.pk}
    assert idle.pk not in hunters_active_in_quarter(APRIL)


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (1, 3, Decimal("33.3")),
        (2, 3, Decimal("66.7")),
        (1, 16, Decimal("6.3")),  # 6.25 rounds half up
        (1, 8, Decimal("12.5")),
        (0, 10, Decimal("0.0")),
        (15, 10, Decimal("150.0")),
        (Decimal("50000.00"), Decimal("100000.00"), Decimal("50.0")),
        (Decimal("100000.00"), Decimal("100000.00"), Decimal("100.0")),
    ],
)
def test_percent_is_rounded_half_up_to_one_decimal(value, target, expected):
    result = percent(value, target)

    assert result == expected
    assert result.as_tuple().exponent == -1


@pytest.mark.parametrize("target", [0, Decimal("0"), Decimal("0.00"), None])
def test_percent_is_none_without_a_target(target):
    assert percent(7, target) is None


def test_month_progress_at_exactly_the_plan_shows_one_hundred_percent_and_both_plans_reached(
    pipeline, sales_head
):
    hunter = pipeline.hunter
    set_plan(
        sales_head,
        hunter,
        MARCH,
        revenue_target=ORDER_TOTAL,
        deals_target=1,
        leads_target=1,
        calls_target=1,
        meetings_target=1,
        messages_target=1,
    )
    make_client(acting_user=hunter, created_at=local(2026, 3, 3))
    pbx_call(hunter, at=local(2026, 3, 3, 11))
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 3, 12))
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 3, 13))
    paid_deal(pipeline, (ORDER_TOTAL, date(2026, 3, 3)))

    [row] = month_progress(month=MARCH, hunters=[hunter])

    assert row.percents == dict.fromkeys(
        ["leads", "calls", "meetings", "messages", "revenue", "deals"], Decimal("100.0")
    )
    assert row.sales_fulfilled is True
    assert row.kpi_met is True


def test_month_progress_without_a_plan_has_no_percents_and_reaches_no_plan(hunter):
    pbx_call(hunter, at=local(2026, 3, 3, 11))

    [row] = month_progress(month=MARCH, hunters=[hunter])

    assert row.plan is None
    assert row.counters.calls == 1
    assert set(row.percents.values()) == {None}
    assert (row.sales_fulfilled, row.kpi_met) == (False, False)


def test_month_progress_uses_only_the_plan_of_that_month(hunter, sales_head):
    set_plan(sales_head, hunter, FEBRUARY, calls_target=10)
    set_plan(sales_head, hunter, MARCH, calls_target=4)
    pbx_call(hunter, at=local(2026, 3, 3, 11))

    [row] = month_progress(month=MARCH, hunters=[hunter])

    assert row.plan.calls_target == 4
    assert row.percents["calls"] == Decimal("25.0")
    assert row.percents["meetings"] is None  # a zero target is no target
