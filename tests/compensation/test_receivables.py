"""Receivables by age (SPEC §8): when a deal falls due by its client's payment terms, and which age bucket
its outstanding amount is in on a given day."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from compensation.receivables import aging_table, bucket_of, by_client, by_hunter, due_on, receivables
from deals.models import Client, Deal
from deals.services import client_set_payment_terms, payment_record, shipment_record
from deals.stages import Stage
from tests.deals.factories import DEFAULT_ADDRESS, Pipeline, make_client, make_deal, unique_phone
from tests.factories import UserFactory

# --- the rule, without a database -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (None, "not_due"),
        (-1, "not_due"),
        (0, "0_30"),
        (30, "0_30"),
        (31, "31_60"),
        (60, "31_60"),
        (61, "61_90"),
        (90, "61_90"),
        (91, "over_90"),
        (400, "over_90"),
    ],
)
def test_a_debt_falls_in_its_bucket_with_the_boundaries_on_the_earlier_side(days, bucket):
    assert bucket_of(days) == bucket


INVOICE = date(2027, 1, 15)
RECEIVED = date(2027, 1, 20)


def test_prepayment_is_due_on_the_invoice_date_whether_or_not_goods_went_out():
    client = Client(payment_terms="prepayment")
    assert due_on(client, invoice_on=INVOICE, goods_received_on=None) == INVOICE
    assert due_on(client, invoice_on=INVOICE, goods_received_on=RECEIVED) == INVOICE


def test_deferred_payment_runs_from_the_receipt_of_the_goods_and_is_not_due_before_it():
    client = Client(payment_terms="deferred", deferred_days=14)
    assert due_on(client, invoice_on=INVOICE, goods_received_on=None) is None
    assert due_on(client, invoice_on=INVOICE, goods_received_on=RECEIVED) == date(2027, 2, 3)


def test_deferred_payment_in_working_days_skips_weekends_and_holidays():
    # 5 working days from Friday 30 April 2027: 1–3 May are holidays, 8–10 May too (Victory Day moved).
    client = Client(payment_terms="deferred", deferred_days=5, deferred_in_working_days=True)
    due = due_on(client, invoice_on=INVOICE, goods_received_on=date(2027, 4, 30))
    calendar = due_on(
        Client(payment_terms="deferred", deferred_days=5),
        invoice_on=INVOICE,
        goods_received_on=date(2027, 4, 30),
    )
    assert calendar == date(2027, 5, 5)
    assert due > calendar and due.weekday() < 5


def test_consignment_is_due_at_the_first_settlement_after_the_goods_arrived():
    weekly = Client(payment_terms="consignment", consignment_cadence="weekly")
    monthly = Client(payment_terms="consignment", consignment_cadence="monthly")
    assert due_on(weekly, invoice_on=INVOICE, goods_received_on=RECEIVED) == date(2027, 1, 27)
    assert due_on(monthly, invoice_on=INVOICE, goods_received_on=RECEIVED) == date(2027, 2, 20)
    # The 31st settles on the last day of a shorter month.
    assert due_on(monthly, invoice_on=INVOICE, goods_received_on=date(2027, 1, 31)) == date(2027, 2, 28)
    assert due_on(weekly, invoice_on=INVOICE, goods_received_on=None) is None


# --- hand-made deals --------------------------------------------------------------------------------------


@pytest.fixture
def desk(hunter, other_hunter, production, accountant):
    """Deals invoiced today, each as its terms make it: the days are counted forward from today."""
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    other = Pipeline(hunter=other_hunter, production=production, accountant=accountant)
    today = timezone.localdate()

    prepaid_client = make_client(acting_user=hunter, name="Салон «Предоплата»")
    prepaid = pipeline.advance_to(make_deal(acting_user=hunter, client=prepaid_client), Stage.SHIPMENT)
    payment_record(acting_user=accountant, deal=prepaid, amount=Decimal("1000.00"), received_on=today)

    # Deferred terms come from a client's second deal: the first one is paid in full.
    deferred_client = make_client(acting_user=hunter, name="Кафе «Отсрочка»")
    first = pipeline.advance_to(make_deal(acting_user=hunter, client=deferred_client), Stage.PAYMENT)
    payment_record(acting_user=accountant, deal=first, amount=first.order.total, received_on=today)
    client_set_payment_terms(
        acting_user=accountant,
        client=Client.objects.get(pk=deferred_client.pk),
        payment_terms="deferred",
        deferred_days=14,
        deferred_limit=Decimal("20000"),
    )
    deferred = pipeline.advance_to(make_deal(acting_user=hunter, client=deferred_client), Stage.SHIPMENT)
    shipment_record(
        acting_user=hunter,
        deal=deferred,
        receiver_name="Мария Соколова",
        receiver_phone=unique_phone(),
        delivery_address=DEFAULT_ADDRESS,
        courier_date=today,
        received_on=today,
    )

    consignment_client = make_client(acting_user=other_hunter, name="Магазин «Реализация»")
    client_set_payment_terms(
        acting_user=accountant,
        client=consignment_client,
        payment_terms="consignment",
        consignment_cadence="weekly",
    )
    consignment = other.advance_to(
        make_deal(acting_user=other_hunter, client=consignment_client), Stage.SHIPMENT
    )

    not_invoiced = make_deal(acting_user=hunter, client=prepaid_client)  # no order, no invoice: owes nothing
    return {
        "today": today,
        "prepaid": Deal.objects.get(pk=prepaid.pk),
        "deferred": Deal.objects.get(pk=deferred.pk),
        "consignment": Deal.objects.get(pk=consignment.pk),
        "paid": first,
        "not_invoiced": not_invoiced,
    }


def aged(accountant, today) -> dict[int, object]:
    return {item.deal.pk: item for item in receivables(viewer=accountant, today=today)}


def test_only_invoiced_deals_with_money_still_owed_are_receivables(desk, accountant):
    items = aged(accountant, desk["today"])
    assert set(items) == {desk["prepaid"].pk, desk["deferred"].pk, desk["consignment"].pk}
    prepaid = items[desk["prepaid"].pk]
    assert prepaid.order_total == Decimal("5000.00") and prepaid.paid == Decimal("1000.00")
    assert prepaid.outstanding == Decimal("4000.00")


PREPAID_AGES = [
    (0, "0_30"),
    (30, "0_30"),
    (31, "31_60"),
    (60, "31_60"),
    (61, "61_90"),
    (90, "61_90"),
    (91, "over_90"),
]
# The term is 14 days from the goods' receipt (today): day 14 is the due date itself.
DEFERRED_AGES = [(13, "not_due"), (14, "0_30"), (44, "0_30"), (45, "31_60"), (104, "61_90"), (105, "over_90")]


def test_a_prepaid_deal_ages_from_its_invoice(desk, accountant):
    for days_after_invoice, bucket in PREPAID_AGES:
        item = aged(accountant, desk["today"] + timedelta(days=days_after_invoice))[desk["prepaid"].pk]
        assert (item.days_past_due, item.bucket) == (days_after_invoice, bucket), days_after_invoice


def test_a_deferred_deal_ages_from_the_end_of_its_term(desk, accountant):
    for days_after_invoice, bucket in DEFERRED_AGES:
        item = aged(accountant, desk["today"] + timedelta(days=days_after_invoice))[desk["deferred"].pk]
        assert item.due_on == desk["today"] + timedelta(days=14)
        assert item.bucket == bucket, days_after_invoice


def test_consignment_before_the_goods_arrive_is_not_due(desk, accountant):
    item = aged(accountant, desk["today"] + timedelta(days=200))[desk["consignment"].pk]
    assert (item.due_on, item.bucket) == (None, "not_due")


def test_totals_per_hunter_and_per_client_add_up_by_bucket(desk, accountant, hunter, other_hunter):
    day = desk["today"] + timedelta(days=45)  # prepaid 45 days past due, deferred 31, consignment not due
    items = list(aged(accountant, day).values())
    per_hunter = aging_table(items, key=by_hunter)
    rows = {row.key: row for row in per_hunter.rows}
    assert rows[hunter.pk].amounts["31_60"] == Decimal("9000.00")  # 4 000 prepaid + 5 000 deferred
    assert rows[hunter.pk].deals == 2
    assert rows[other_hunter.pk].amounts["not_due"] == Decimal("5000.00")
    assert per_hunter.total.total == Decimal("14000.00")
    assert per_hunter.total.overdue == Decimal("9000.00")

    per_client = aging_table(items, key=by_client)
    assert {row.label: row.total for row in per_client.rows} == {
        "Салон «Предоплата»": Decimal("4000.00"),
        "Кафе «Отсрочка»": Decimal("5000.00"),
        "Магазин «Реализация»": Decimal("5000.00"),
    }
    assert per_client.total.cells == per_hunter.total.cells


def test_a_hunter_sees_no_receivables_of_another_hunter(desk, hunter):
    assert {item.deal.owner_id for item in receivables(viewer=hunter, today=desk["today"])} == {hunter.pk}
    assert receivables(viewer=UserFactory(role="production"), today=desk["today"]) == []
