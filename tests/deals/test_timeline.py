"""«Ход сделки»: the deal's whole story on its page, newest first, in a fixed number of queries."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal
from deals.selectors import deal_detail, deal_timeline
from deals.services import (
    OrderLineInput,
    deal_move,
    deal_transfer,
    order_set_lines,
    order_version_decide,
    payment_refund,
)
from deals.stages import Stage
from kpi.models import ActivityKind
from kpi.services import activity_log
from tests.deals.factories import make_client, make_deal

from .test_views import page_text


def story(pipeline, sales_head, other_hunter) -> Deal:
    """A deal with something of every kind: walked to «Получение оплаты», an activity on it, a change of
    the approved order, paid, part refunded, moved back once and handed to another hunter."""
    hunter = pipeline.hunter
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Салон «Лотос»"))
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.MEETING,
        client=deal.client,
        deal=deal,
        outcome="Показал линейку для салонов",
        next_contact_on=timezone.localdate() + timedelta(days=1),
    )
    deal = pipeline.advance_to(deal, Stage.SHIPMENT)
    version = order_set_lines(
        acting_user=hunter,
        deal=deal,
        lines=[OrderLineInput(product=pipeline.product, quantity=Decimal("12"))],
        comment="Клиент добавил две канистры",
    ).versions.get(number=2)
    order_version_decide(acting_user=pipeline.production, version=version, approve=True)
    deal = pipeline.advance_to(deal, Stage.PAYMENT)
    pipeline.record_payment(deal)
    payment_refund(
        acting_user=pipeline.accountant,
        deal=deal,
        amount=Decimal("500.00"),
        recorded_on=timezone.localdate(),
        bank_document="возврат 7",
    )
    deal_move(acting_user=sales_head, deal=deal, to_stage=Stage.SHIPMENT, comment="Недовоз: одна канистра")
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter, reason="Отпуск")
    return Deal.objects.get(pk=deal.pk)


def test_the_timeline_tells_the_deals_whole_story_newest_first(pipeline, sales_head, other_hunter):
    deal = story(pipeline, sales_head, other_hunter)

    events = deal_timeline(deal)

    assert [event.at for event in events] == sorted((event.at for event in events), reverse=True)
    kinds = {event.kind for event in events}
    assert {
        "stage",
        "activity",
        "call",
        "proposal",
        "samples",
        "document",
        "order",
        "payment",
        "refund",
        "transfer",
        "shipment",
    } <= kinds
    titles = [event.title.replace("\xa0", " ") for event in events]
    assert titles[0] == "Сделка передана: Иван Иванов → Анна Смирнова"
    assert titles[1] == "Возврат на прежний этап: «Получение оплаты» → «Контроль отгрузки»"
    assert events[1].detail == "Недовоз: одна канистра" and events[1].by == "Ольга Петрова"
    assert "Встреча: Показал линейку для салонов" in titles
    assert "Заказ, версия №2 на 6 000,00 ₽" in titles
    assert "Производство согласовало версию №2" in titles
    assert "Возврат клиенту 500,00 ₽" in titles
    assert "Оплата 6 000,00 ₽" in titles
    # Known to the day only (the courier's date, the receipt), a shipment sorts at the start of its day.
    assert [event.title for event in events if not event.date_only][-1] == (
        "Сделка создана на этапе «Выборка потенциальных клиентов»"
    )
    [invoice] = [event for event in events if event.kind == "document"]
    assert invoice.url == reverse("deals:document_download", args=[deal.documents.get().pk])


def test_the_timeline_costs_the_same_queries_however_long_the_story(pipeline, sales_head, other_hunter):
    short = pipeline.advance_to(
        make_deal(acting_user=pipeline.hunter), Stage.SHIPMENT
    )  # an order, little else
    long = story(pipeline, sales_head, other_hunter)

    with CaptureQueriesContext(connection) as few:
        deal_timeline(Deal.objects.get(pk=short.pk))
    with CaptureQueriesContext(connection) as many:
        deal_timeline(Deal.objects.get(pk=long.pk))

    assert len(few) == len(many) <= 14, [query["sql"] for query in many.captured_queries]
    # On the deal page the deal comes with its documents, payments, samples and shipment loaded: fewer.
    loaded = deal_detail(viewer=sales_head, pk=long.pk)
    with CaptureQueriesContext(connection) as shared:
        deal_timeline(loaded)
    assert len(shared) <= len(many) - 4


def test_the_deal_page_shows_the_activities_logged_on_the_deal(client, pipeline, sales_head, other_hunter):
    deal = story(pipeline, sales_head, other_hunter)
    client.force_login(sales_head)

    text = page_text(client.get(reverse("deals:detail", args=[deal.pk])))

    story_text = text[text.rindex("Ход сделки") :].replace("\xa0", " ")
    assert "Встреча: Показал линейку для салонов" in story_text
    assert "Возврат клиенту 500,00 ₽" in story_text
    assert "Сделка передана: Иван Иванов → Анна Смирнова" in story_text


def test_the_deal_page_runs_the_same_queries_with_a_long_story(client, pipeline, sales_head, other_hunter):
    short = pipeline.advance_to(
        make_deal(acting_user=pipeline.hunter), Stage.SHIPMENT
    )  # where the long one is
    long = story(pipeline, sales_head, other_hunter)
    client.force_login(sales_head)

    counts = []
    for deal in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("deals:detail", args=[deal.pk])).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1], counts
