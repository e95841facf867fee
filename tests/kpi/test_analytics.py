"""The sales head's dashboard selectors over a small, known history built through the deal services.

Expected numbers are worked out by hand next to each history, so a failure shows which rule broke.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals.models import Deal, Order, Product, SampleRequest
from deals.services import (
    OrderLineInput,
    deal_mark_lost,
    deal_move,
    order_set_lines,
    payment_record,
    sample_request_create,
    sample_request_set_status,
)
from deals.stages import ORDER, Stage
from kpi.analytics import FunnelStage, RateSource, forecast, funnel, samples_conversion
from tests.deals.factories import Pipeline, make_client, make_deal, make_product, unique_phone

YEKT = ZoneInfo("Asia/Yekaterinburg")
MARCH = {"since": date(2025, 3, 1), "until": date(2025, 3, 31)}


def moment(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=YEKT)


def move(pipeline: Pipeline, deal: Deal, to_stage: str, when: datetime, comment: str = "") -> Deal:
    """Forward: records what the current stage asks for, then moves at ``when``; back: needs a comment."""
    deal = Deal.objects.get(pk=deal.pk)
    if not comment:
        pipeline.record(deal)
    return deal_move(acting_user=pipeline.hunter, deal=deal, to_stage=to_stage, at=when, comment=comment)


def by_stage(rows) -> dict[str, object]:
    return {row.stage.stage.value: row for row in rows}


def request_samples(user, deal: Deal, products: list[Product], when: datetime) -> SampleRequest:
    request = sample_request_create(
        acting_user=user,
        deal=deal,
        lines=[(product, 1) for product in products],
        receiver_name="Мария Соколова",
        receiver_phone=unique_phone(),
        potential_volume="20 литров в месяц",
    )
    # The service stamps the request "now"; the history needs it on a chosen day.
    SampleRequest.objects.filter(pk=request.pk).update(requested_at=when)
    return request


def place_order(user, deal: Deal, products: list[Product], when: datetime) -> Order:
    order = order_set_lines(
        acting_user=user,
        deal=deal,
        lines=[OrderLineInput(product=product, quantity=Decimal("1")) for product in products],
    )
    Order.objects.filter(pk=order.pk).update(created_at=when)
    return order


class ProductPipeline(Pipeline):
    """A pipeline whose samples and orders are of a product the test chose (and so of its price)."""

    def __init__(self, *, product: Product, **users):
        super().__init__(**users)
        self._chosen = product

    @property
    def product(self) -> Product:
        return self._chosen


# --- funnel -------------------------------------------------------------------------------------


@pytest.fixture
def march_history(pipeline, other_pipeline, hunter, other_hunter):
    """Stage changes around March 2025 (Yekaterinburg time, UTC+5).

    A  hunter: lead 20.02 → call 02.03 → proposal 05.03 (still there)
    B  hunter: lead 01.03 00:30 → call 03.03 → back to lead 04.03 → call 06.03 (still there)
    D  hunter: lead 31.03 23:30 (last minutes of the period)
    E  hunter: lead 01.04 00:10 (just after the period, though still 31.03 in UTC)
    F  hunter: lead 28.02 23:50 (just before the period) → call 01.04 00:05 (after it)
    G  other hunter: lead 15.03 → call 20.03 → proposal 10.04 (after the period)
    """
    a = make_deal(acting_user=hunter, created_at=moment(2, 20))
    move(pipeline, a, Stage.CALL, moment(3, 2))
    move(pipeline, a, Stage.PROPOSAL, moment(3, 5))

    b = make_deal(acting_user=hunter, created_at=moment(3, 1, 0, 30))
    move(pipeline, b, Stage.CALL, moment(3, 3))
    move(pipeline, b, Stage.LEAD, moment(3, 4), comment="Ошиблись номером, ищем другой телефон")
    move(pipeline, b, Stage.CALL, moment(3, 6))

    make_deal(acting_user=hunter, created_at=moment(3, 31, 23, 30))
    make_deal(acting_user=hunter, created_at=moment(4, 1, 0, 10))
    f = make_deal(acting_user=hunter, created_at=moment(2, 28, 23, 50))
    move(pipeline, f, Stage.CALL, moment(4, 1, 0, 5))

    g = make_deal(acting_user=other_hunter, created_at=moment(3, 15))
    move(other_pipeline, g, Stage.CALL, moment(3, 20))
    move(other_pipeline, g, Stage.PROPOSAL, moment(4, 10))


def test_funnel_lists_every_stage_in_pipeline_order(db):
    rows = funnel(**MARCH)

    assert [row.stage.stage.value for row in rows] == list(ORDER)
    assert rows[0] == FunnelStage(
        stage=rows[0].stage, entered=0, moved_on=0, conversion=None, median_days=None
    )


def test_funnel_counts_deals_entering_each_stage_within_the_period_in_local_time(march_history):
    rows = by_stage(funnel(**MARCH))

    # Lead: B, D and G were created in March; A, F (February) and E (April, local time) were not.
    assert rows[Stage.LEAD].entered == 3
    # Call: A, B (twice, one deal) and G; F reached it on 1 April local time.
    assert rows[Stage.CALL].entered == 3
    assert rows[Stage.PROPOSAL].entered == 1
    assert rows[Stage.SAMPLES].entered == 0


def test_funnel_conversion_counts_moves_to_the_next_stage_made_after_the_period_too(march_history):
    rows = by_stage(funnel(**MARCH))

    # Lead → call: B and G of B, D, G.
    assert (rows[Stage.LEAD].moved_on, rows[Stage.LEAD].conversion) == (2, Decimal("66.7"))
    # Call → proposal: A in March and G in April; B went back instead.
    assert (rows[Stage.CALL].moved_on, rows[Stage.CALL].conversion) == (2, Decimal("66.7"))
    assert (rows[Stage.PROPOSAL].moved_on, rows[Stage.PROPOSAL].conversion) == (0, Decimal("0.0"))
    assert rows[Stage.SAMPLES].conversion is None


def test_funnel_median_covers_stays_that_ended_within_the_period(march_history):
    rows = by_stage(funnel(**MARCH))

    # Lead stays ended in March: A 10 days, B 2 days 9.5 hours (2.396), B again after the move back
    # 2 days, G 5 days; F's ended on 1 April local time. Median of 2, 2.396, 5, 10 = 3.698.
    assert rows[Stage.LEAD].median_days == Decimal("3.7")
    # Call stays ended in March: A 3 days, B 1 day (moved back); G's ended in April.
    assert rows[Stage.CALL].median_days == Decimal("2.0")
    # A is still at the proposal stage.
    assert rows[Stage.PROPOSAL].median_days is None


def test_funnel_for_chosen_hunters_leaves_out_the_others_deals(march_history, hunter):
    rows = by_stage(funnel(**MARCH, owners=[hunter.pk]))

    assert (rows[Stage.LEAD].entered, rows[Stage.LEAD].moved_on, rows[Stage.LEAD].conversion) == (
        2,
        1,
        Decimal("50.0"),
    )
    assert (rows[Stage.CALL].entered, rows[Stage.CALL].moved_on) == (2, 1)
    # Lead stays of A (10), B (2.396) and B (2): median 2.396.
    assert rows[Stage.LEAD].median_days == Decimal("2.4")
    assert rows[Stage.CALL].median_days == Decimal("2.0")


def test_funnel_counts_a_stay_ended_by_refusal(hunter, competitor):
    four_days_ago = timezone.now() - timedelta(days=4)
    deal = make_deal(acting_user=hunter, created_at=four_days_ago)
    deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)

    lead = funnel(since=timezone.localdate(four_days_ago), until=timezone.localdate())[0]

    assert (lead.entered, lead.moved_on, lead.conversion) == (1, 0, Decimal("0.0"))
    assert lead.median_days == Decimal("4.0")


# --- forecast -----------------------------------------------------------------------------------


@pytest.fixture
def forecast_history(pipeline, other_pipeline, hunter, production, accountant, competitor):
    """Finished within the last 12 months: W won (order 5000), P paid in full at the payment stage (order
    3500), L1 lost at lead, L2 at call, L3 at follow-up; L0 lost 13 months ago (outside the window).
    Open: O1 at lead and O2 (the other hunter's) at call without orders, O4 at deal with an order of
    1500, O3 at payment with an order of 5000 of which 2000 is paid, and P (paid in full, still open).
    """
    pipeline.win(make_deal(acting_user=hunter))
    cheaper = ProductPipeline(
        hunter=hunter,
        production=production,
        accountant=accountant,
        product=make_product(list_price=Decimal("350.00")),
    )
    paid = cheaper.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    cheaper.record(paid)

    long_ago = make_deal(acting_user=hunter)
    deal_mark_lost(acting_user=hunter, deal=long_ago, reason=competitor)
    Deal.objects.filter(pk=long_ago.pk).update(closed_at=timezone.now() - timedelta(days=400))
    for stage in (Stage.LEAD, Stage.CALL, Stage.FOLLOW_UP):
        lost = pipeline.advance_to(make_deal(acting_user=hunter), stage)
        deal_mark_lost(acting_user=hunter, deal=lost, reason=competitor)

    make_deal(acting_user=hunter)
    other_pipeline.advance_to(make_deal(acting_user=other_pipeline.hunter), Stage.CALL)
    ordered = pipeline.advance_to(make_deal(acting_user=hunter), Stage.DEAL)
    order_set_lines(
        acting_user=hunter,
        deal=ordered,
        lines=[OrderLineInput(product=pipeline.product, quantity=Decimal("3"))],
    )
    part_paid = pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    payment_record(
        acting_user=accountant,
        deal=part_paid,
        amount=Decimal("2000.00"),
        received_on=timezone.localdate(),
        bank_document="п/п 2000",
    )


def test_forecast_rate_is_the_share_of_deals_finished_within_the_window_at_the_stage_that_got_paid(
    forecast_history,
):
    result = forecast(minimum_sample=1)
    rows = by_stage(result.rows)

    # Lead: W, P paid of W, P, L1, L2, L3; L0 finished before the window.
    assert (rows[Stage.LEAD].finished, rows[Stage.LEAD].paid, rows[Stage.LEAD].rate) == (
        5,
        2,
        Decimal("40.0"),
    )
    assert (rows[Stage.CALL].finished, rows[Stage.CALL].rate) == (4, Decimal("50.0"))
    for stage in (Stage.PROPOSAL, Stage.SAMPLES, Stage.FOLLOW_UP):
        assert (rows[stage].finished, rows[stage].rate) == (3, Decimal("66.7"))
    for stage in (Stage.DEAL, Stage.SHIPMENT, Stage.PAYMENT):
        assert (rows[stage].finished, rows[stage].rate) == (2, Decimal("100.0"))
    assert (rows[Stage.CLOSED].finished, rows[Stage.CLOSED].rate) == (1, Decimal("100.0"))
    assert {row.rate_source for row in result.rows} == {RateSource.STAGE}
    assert (result.department_finished, result.department_paid, result.department_rate) == (
        5,
        2,
        Decimal("40.0"),
    )
    today = timezone.localdate()
    assert result.until == today
    assert today - timedelta(days=366) <= result.since <= today - timedelta(days=364)  # the last 12 months


def test_forecast_counts_only_what_open_deals_still_owe(forecast_history):
    result = forecast(minimum_sample=1)
    rows = by_stage(result.rows)

    # O3's order is 5000, 2000 of it paid: 3000 is still to come, at the payment stage's 100 %.
    payment = rows[Stage.PAYMENT]
    assert (payment.open_deals, payment.ordered, payment.received, payment.amount) == (
        1,
        Decimal("5000.00"),
        Decimal("2000.00"),
        Decimal("3000.00"),
    )
    assert payment.expected == Decimal("3000.00")
    # Deals without an order count at the paid deals' average order: (5000 + 3500) / 2.
    assert result.average_order == Decimal("4250.00")
    assert (rows[Stage.LEAD].open_deals, rows[Stage.LEAD].without_order) == (1, 1)
    assert (rows[Stage.LEAD].amount, rows[Stage.LEAD].expected) == (Decimal("4250.00"), Decimal("1700.00"))
    assert rows[Stage.CALL].expected == Decimal("2125.00")  # 4250 × 2/4
    assert (rows[Stage.DEAL].amount, rows[Stage.DEAL].expected) == (Decimal("1500.00"), Decimal("1500.00"))
    # P is paid in full though still open at the payment stage: it brings no more money.
    assert result.outstanding == Decimal("13000.00")
    assert result.total == Decimal("8325.00")


def test_a_stage_below_the_minimum_sample_takes_the_departments_rate(forecast_history):
    result = forecast(minimum_sample=3)
    rows = by_stage(result.rows)

    assert (rows[Stage.FOLLOW_UP].finished, rows[Stage.FOLLOW_UP].rate_source) == (3, RateSource.STAGE)
    for stage in (Stage.DEAL, Stage.SHIPMENT, Stage.PAYMENT, Stage.CLOSED):
        assert rows[stage].rate_source == RateSource.DEPARTMENT
        assert rows[stage].rate == Decimal("40.0")  # 2 of the 5 deals finished in the window
    assert rows[Stage.PAYMENT].finished == 2  # the stage's own sample is still shown
    assert rows[Stage.PAYMENT].expected == Decimal("1200.00")  # 3000 × 2/5
    assert rows[Stage.DEAL].expected == Decimal("600.00")  # 1500 × 2/5
    assert result.minimum_sample == 3


def test_the_minimum_sample_is_a_setting(forecast_history, settings):
    settings.FORECAST_MIN_SAMPLE = 5

    rows = by_stage(forecast().rows)

    assert rows[Stage.LEAD].rate_source == RateSource.STAGE
    assert rows[Stage.CALL].rate_source == RateSource.DEPARTMENT


def test_the_window_is_a_setting(forecast_history, settings):
    settings.FORECAST_WINDOW_MONTHS = 14

    result = forecast(minimum_sample=1)

    # L0, lost 400 days ago, is in a 14-month window.
    assert by_stage(result.rows)[Stage.LEAD].finished == 6
    assert result.department_finished == 6


def test_forecast_for_chosen_hunters_counts_only_their_open_deals_at_department_rates(
    forecast_history, other_hunter
):
    result = forecast(owners=[other_hunter.pk], minimum_sample=1)
    rows = by_stage(result.rows)

    assert [row.stage.stage.value for row in result.rows if row.open_deals] == [Stage.CALL]
    assert (rows[Stage.CALL].finished, rows[Stage.CALL].rate) == (4, Decimal("50.0"))
    assert result.total == Decimal("2125.00")


def test_forecast_without_history_expects_nothing_and_says_so(hunter):
    make_deal(acting_user=hunter)

    result = forecast()
    lead = result.rows[0]

    assert result.average_order == Decimal("0")
    assert (lead.open_deals, lead.amount, lead.rate, lead.rate_source, lead.expected) == (
        1,
        Decimal("0.00"),
        None,
        RateSource.NONE,
        Decimal("0.00"),
    )
    assert (result.total, result.department_rate) == (Decimal("0.00"), None)


# --- samples ------------------------------------------------------------------------------------


@pytest.fixture
def gel(db):
    return make_product(name="Гель для рук", list_price=Decimal("300.00"))


@pytest.fixture
def shampoo(db):
    return make_product(name="Шампунь", list_price=Decimal("450.00"))


@pytest.fixture
def samples_history(hunter, other_hunter, production, gel, shampoo):
    """March 2025 sample requests and the orders that followed (or did not):

    R1 hunter: gel + shampoo on 10.03; the same deal ordered gel on 15.03.
    R2 hunter: gel on 12.03; another deal of the same client ordered gel on 21.05 (70 days on).
    R3 hunter: gel on 13.03, declined by production; the client ordered gel on 14.03.
    R4 other hunter: shampoo on 20.03; the client ordered shampoo on 30.03.
    R5 hunter: gel on 02.04 (after the period); the client ordered gel on 03.04.
    R6 hunter: gel on 15.03; the client had ordered gel on 01.03, before the request.
    R7 hunter: gel on 16.03; another client ordered gel on 17.03.
    """
    r1 = make_deal(acting_user=hunter)
    request_samples(hunter, r1, [gel, shampoo], moment(3, 10, 12))
    place_order(hunter, r1, [gel], moment(3, 15))

    r2_client = make_client(acting_user=hunter)
    request_samples(hunter, make_deal(acting_user=hunter, client=r2_client), [gel], moment(3, 12))
    place_order(hunter, make_deal(acting_user=hunter, client=r2_client), [gel], moment(5, 21))

    r3 = make_deal(acting_user=hunter)
    declined = request_samples(hunter, r3, [gel], moment(3, 13))
    sample_request_set_status(
        acting_user=production,
        request=declined,
        status=SampleRequest.Status.DECLINED,
        comment="Нет в наличии",
    )
    place_order(hunter, r3, [gel], moment(3, 14))

    r4 = make_deal(acting_user=other_hunter)
    request_samples(other_hunter, r4, [shampoo], moment(3, 20))
    place_order(other_hunter, r4, [shampoo], moment(3, 30))

    r5 = make_deal(acting_user=hunter)
    request_samples(hunter, r5, [gel], moment(4, 2))
    place_order(hunter, r5, [gel], moment(4, 3))

    r6 = make_deal(acting_user=hunter)
    place_order(hunter, r6, [gel], moment(3, 1))
    request_samples(hunter, r6, [gel], moment(3, 15))

    request_samples(hunter, make_deal(acting_user=hunter), [gel], moment(3, 16))
    place_order(hunter, make_deal(acting_user=hunter), [gel], moment(3, 17))


def summary(rows) -> list[tuple[str, str, int, int, Decimal]]:
    return [(row.hunter_name, row.product_name, row.requests, row.converted, row.rate) for row in rows]


def test_samples_conversion_counts_requests_followed_by_an_order_of_the_product(samples_history):
    rows = samples_conversion(**MARCH)

    assert summary(rows) == [
        # R4.
        ("Анна Смирнова", "Шампунь", 1, 1, Decimal("100.0")),
        # R1, R2, R6, R7; only R1 converted (R2's order came 70 days later, R6's before, R7's elsewhere).
        ("Иван Иванов", "Гель для рук", 4, 1, Decimal("25.0")),
        # R1 had shampoo too, but the order was of gel only.
        ("Иван Иванов", "Шампунь", 1, 0, Decimal("0.0")),
    ]


def test_samples_conversion_window_is_configurable(samples_history, hunter, gel):
    rows = samples_conversion(**MARCH, days=90)

    gel_row = next(row for row in rows if row.hunter_id == hunter.pk and row.product_id == gel.pk)
    # R2's order 70 days on now counts.
    assert (gel_row.requests, gel_row.converted, gel_row.rate) == (4, 2, Decimal("50.0"))


def test_samples_conversion_is_empty_without_requests(db):
    assert samples_conversion(**MARCH) == []


# --- query counts -------------------------------------------------------------------------------


def grow_history(pipeline: Pipeline, competitor, count: int) -> None:
    """``count`` more deals in March: moves, a sample request, an order, every other one lost."""
    hunter = pipeline.hunter
    for index in range(count):
        day = 2 + 4 * index
        deal = make_deal(acting_user=hunter, created_at=moment(3, day))
        move(pipeline, deal, Stage.CALL, moment(3, day + 1))
        move(pipeline, deal, Stage.PROPOSAL, moment(3, day + 2))
        request_samples(hunter, deal, [pipeline.product], moment(3, day + 2, 12))
        place_order(hunter, deal, [pipeline.product], moment(3, day + 3))
        if index % 2:
            deal_mark_lost(acting_user=hunter, deal=Deal.objects.get(pk=deal.pk), reason=competitor)


def queries_of(selector) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as context:
        result = selector()
    return len(context.captured_queries), result


SELECTORS = {
    "funnel": lambda: funnel(**MARCH),
    "forecast": lambda: forecast(minimum_sample=1),
    "samples_conversion": lambda: samples_conversion(**MARCH),
}


@pytest.mark.parametrize(
    ("name", "expected_queries"), [("funnel", 2), ("forecast", 4), ("samples_conversion", 2)]
)
def test_query_count_does_not_grow_with_the_history(pipeline, competitor, name, expected_queries):
    selector = SELECTORS[name]
    grow_history(pipeline, competitor, 1)
    small, small_result = queries_of(selector)
    grow_history(pipeline, competitor, 5)
    large, large_result = queries_of(selector)

    assert small_result != large_result  # the larger history is actually read
    assert small == large == expected_queries
