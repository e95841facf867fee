"""The client and deal pages as their users meet them: scoping, refusals explained, constant queries."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import Client, Deal
from deals.stages import Stage
from deals.units import Unit
from tests.deals.factories import make_client, make_deal


def page_text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


# --- access: a hunter sees own objects only, others' answer 404 ----------------------------------


def test_hunter_gets_404_for_another_hunters_client_and_deal(client, hunter, other_hunter):
    others_deal = make_deal(acting_user=other_hunter)
    client.force_login(hunter)
    assert client.get(reverse("clients:detail", args=[others_deal.client_id])).status_code == 404
    assert client.get(reverse("deals:detail", args=[others_deal.pk])).status_code == 404
    assert client.post(reverse("deals:advance", args=[others_deal.pk])).status_code == 404
    assert Deal.objects.get(pk=others_deal.pk).stage == Stage.LEAD


def test_client_list_shows_only_own_clients_to_a_hunter_and_all_to_the_head(
    client, hunter, other_hunter, sales_head
):
    make_client(acting_user=hunter, name="Кафе «Северное»")
    make_client(acting_user=other_hunter, name="Гостиница «Обь»")
    client.force_login(hunter)
    text = page_text(client.get(reverse("clients:list")))
    assert "Кафе «Северное»" in text and "Гостиница «Обь»" not in text
    client.force_login(sales_head)
    text = page_text(client.get(reverse("clients:list")))
    assert "Кафе «Северное»" in text and "Гостиница «Обь»" in text


def test_accountant_sees_deals_from_the_deal_stage_only(client, pipeline, accountant):
    early = make_deal(acting_user=pipeline.hunter)
    late = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)
    client.force_login(accountant)
    assert client.get(reverse("deals:detail", args=[early.pk])).status_code == 404
    response = client.get(reverse("deals:detail", args=[late.pk]))
    assert response.status_code == 200
    assert "Внести оплату" in page_text(response)


def test_production_cannot_open_the_board_or_client_list(client, production):
    client.force_login(production)
    assert client.get(reverse("deals:board")).status_code == 403
    assert client.get(reverse("clients:list")).status_code == 403


def test_client_search_finds_by_phone_written_differently(client, hunter):
    make_client(acting_user=hunter, name="Автомойка «Блеск»", phones=["+7 904 880-45-67"])
    make_client(acting_user=hunter, name="Кафе «Северное»")
    client.force_login(hunter)
    text = page_text(client.get(reverse("clients:list"), {"q": "8 (904) 880 45 67"}))
    assert "Автомойка «Блеск»" in text and "Кафе «Северное»" not in text


# --- forms: bad input is explained in Russian and nothing is saved ------------------------------


def test_duplicate_phone_is_refused_naming_the_existing_card(client, hunter):
    make_client(acting_user=hunter, name="Салон «Лотос»", phones=["+7 912 410-22-03"])
    client.force_login(hunter)
    response = client.post(
        reverse("clients:create"),
        {
            "name": "Лотос-2",
            "address": "Сургут, ул. Мира, 1",
            "phones_text": "8 912 410 22 03",
            "source": "2gis",
        },
    )
    assert response.status_code == 400
    assert "уже есть в базе у клиента «Салон «Лотос»»" in page_text(response)
    assert Client.objects.count() == 1


def test_invalid_inn_is_explained_and_requisites_stay_empty(client, hunter):
    card = make_client(acting_user=hunter)
    client.force_login(hunter)
    response = client.post(
        reverse("clients:requisites", args=[card.pk]), {"inn": "7707083894", "kpp": "773601001"}
    )
    assert response.status_code == 400
    assert "контрольн" in page_text(response).lower()
    assert Client.objects.get(pk=card.pk).inn == ""


def test_follow_up_without_next_date_is_refused_on_the_page(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.FOLLOW_UP)
    client.force_login(pipeline.hunter)
    response = client.post(
        reverse("deals:follow_up", args=[deal.pk]), {"outcome": "Думают", "objection": "Дорого"}
    )
    assert response.status_code == 400
    assert "договоритесь о дате следующего контакта" in page_text(response)
    assert not deal.follow_ups.exists()


# --- moving deals -------------------------------------------------------------------------------


def test_refused_move_lists_what_is_missing(client, hunter):
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, address=""))
    client.force_login(hunter)
    response = client.post(reverse("deals:advance", args=[deal.pk]), follow=True)
    text = page_text(response)
    assert "не может перейти дальше" in text
    assert "в карточке клиента указан адрес" in text
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD


def test_board_drag_and_drop_refusal_comes_back_as_a_notice(client, hunter):
    deal = make_deal(acting_user=hunter)
    client.force_login(hunter)
    Client.objects.filter(pk=deal.client_id).update(address="")
    response = client.post(
        reverse("deals:advance", args=[deal.pk]), {"to_stage": "call"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "в карточке клиента указан адрес" in page_text(response)


def test_board_drag_and_drop_moves_a_ready_deal_in_place(client, hunter):
    deal = make_deal(acting_user=hunter)
    client.force_login(hunter)
    response = client.post(
        reverse("deals:advance", args=[deal.pk]), {"to_stage": "call"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'hx-swap-oob="afterbegin:#cards-call"' in response.content.decode()  # tests/deals/test_board.py
    assert Deal.objects.get(pk=deal.pk).stage == Stage.CALL


def test_dropping_a_card_two_columns_ahead_is_refused(client, hunter):
    deal = make_deal(acting_user=hunter)
    client.force_login(hunter)
    response = client.post(
        reverse("deals:advance", args=[deal.pk]), {"to_stage": "proposal"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "только на следующий этап" in page_text(response)


def test_moving_back_without_a_comment_is_refused(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)
    client.force_login(pipeline.hunter)
    response = client.post(reverse("deals:move_back", args=[deal.pk]), {"to_stage": "call", "comment": ""})
    assert response.status_code == 400
    assert "напишите комментарий" in page_text(response)
    response = client.post(
        reverse("deals:move_back", args=[deal.pk]), {"to_stage": "call", "comment": "Сменился ЛПР"}
    )
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage == Stage.CALL


def test_documents_are_served_only_to_who_may_see_the_deal(client, pipeline, other_hunter):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SHIPMENT)
    document = deal.documents.get()
    client.force_login(pipeline.hunter)
    response = client.get(reverse("deals:document_download", args=[document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    client.force_login(other_hunter)
    assert client.get(reverse("deals:document_download", args=[document.pk])).status_code == 404


# --- constant query counts ----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["deals:board", "deals:list", "clients:list"])
def test_list_pages_run_the_same_queries_for_3_and_30_deals(client, hunter, page):
    for _ in range(3):
        make_deal(acting_user=hunter)
    client.force_login(hunter)
    few = count_queries(client, reverse(page))
    for _ in range(27):
        make_deal(acting_user=hunter)
    assert count_queries(client, reverse(page)) == few


def test_deal_page_queries_do_not_grow_with_the_deals_history(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.CALL)
    client.force_login(pipeline.hunter)
    url = reverse("deals:detail", args=[deal.pk])
    before = count_queries(client, url)
    for _ in range(10):
        pipeline.record_call(deal)
    assert count_queries(client, url) == before
    assert before <= 31  # one per kind of record in the timeline, and the client's contacts at the top


def test_client_page_queries_do_not_grow_with_its_deals(client, hunter):
    card = make_client(acting_user=hunter)
    make_deal(acting_user=hunter, client=card)
    client.force_login(hunter)
    url = reverse("clients:detail", args=[card.pk])
    before = count_queries(client, url)
    for _ in range(10):
        make_deal(acting_user=hunter, client=card)
    assert count_queries(client, url) == before


def test_production_queue_queries_do_not_grow_with_requests(client, pipeline, production):
    for _ in range(2):
        pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    client.force_login(production)
    before = count_queries(client, reverse("deals:production_queue"))
    for _ in range(5):
        pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    assert count_queries(client, reverse("deals:production_queue")) == before


def test_quality_claims_reach_the_sales_heads_dashboard(client, pipeline, sales_head):
    from deals.services import feedback_record

    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.CLOSED)
    feedback_record(
        acting_user=pipeline.hunter,
        deal=deal,
        has_quality_claims=True,
        claims_text="Канистры протекают",
        repeat_order_expected=False,
    )
    client.force_login(sales_head)
    text = page_text(client.get(reverse("kpi:dashboard")))
    assert "Канистры протекают" in text
    assert f"{deal.client.name} · {timezone.localdate():%d.%m.%Y} · {pipeline.hunter}" in text

    # The list is kept drawn between visits; a new claim is a new list.
    later = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.CLOSED)
    feedback_record(
        acting_user=pipeline.hunter,
        deal=later,
        has_quality_claims=True,
        claims_text="Крышки трескаются",
        repeat_order_expected=True,
    )
    text = page_text(client.get(reverse("kpi:dashboard")))
    assert text.index("Крышки трескаются") < text.index("Канистры протекают")  # newest first


def test_sales_head_keeps_the_catalogue_and_hunters_only_read_it(client, hunter, sales_head):
    client.force_login(sales_head)
    response = client.post(
        reverse("deals:product_create"),
        {
            "name": "Гель для стирки 5 л",
            "unit": Unit.CANISTER,
            "list_price": "1200",
            "cost": "780",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    client.force_login(hunter)
    text = page_text(client.get(reverse("deals:products")))
    assert "Гель для стирки 5 л" in text and "420,00 ₽" in text.replace("\u00a0", " ")
    assert client.get(reverse("deals:product_create")).status_code == 403


def test_sales_head_adds_a_refusal_reason_that_hunters_can_pick(client, hunter, sales_head):
    client.force_login(sales_head)
    client.post(
        reverse("deals:lost_reason_create"), {"name": "Закрылись", "position": "9", "is_active": "on"}
    )
    deal = make_deal(acting_user=hunter)
    client.force_login(hunter)
    opened = client.get(reverse("deals:form", args=[deal.pk, "lost"]), headers={"HX-Request": "true"})
    assert "Закрылись" in page_text(opened)


def test_overdue_deferred_payment_reaches_the_heads_dashboard(client, pipeline, sales_head, accountant):
    from datetime import timedelta

    from django.utils import timezone

    from deals.models import Shipment
    from deals.services import client_set_payment_terms, payment_record

    repeat_client = make_client(acting_user=pipeline.hunter, name="Столовая «Вахта»")
    first = pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=repeat_client), Stage.PAYMENT)
    payment_record(
        acting_user=accountant, deal=first, amount=first.order.total, received_on=timezone.localdate()
    )
    client_set_payment_terms(
        acting_user=sales_head,
        client=repeat_client,
        payment_terms="deferred",
        deferred_days=14,
        deferred_limit=20000,
    )
    second = pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=repeat_client), Stage.PAYMENT)
    Shipment.objects.filter(deal=second).update(received_on=timezone.localdate() - timedelta(days=20))

    client.force_login(sales_head)
    text = page_text(client.get(reverse("kpi:dashboard")))
    assert "Просроченные оплаты по отсрочке" in text
    section = text[text.index("Просроченные оплаты по отсрочке") :]
    assert "Столовая «Вахта»" in section.split("Претензии")[0]


def test_client_card_timeline_shows_activities(client, hunter):
    from kpi.services import activity_log

    card = make_client(acting_user=hunter, name="Кафе «Северное»")
    activity_log(acting_user=hunter, kind="meeting", client=card, outcome="Показал линейку для кухни")
    client.force_login(hunter)
    assert "Показал линейку для кухни" in page_text(client.get(reverse("clients:detail", args=[card.pk])))


def test_accountant_records_a_refund_and_the_deal_shows_what_is_due(client, pipeline, accountant):
    from datetime import date
    from decimal import Decimal

    from deals.services import payment_record

    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    payment_record(acting_user=accountant, deal=deal, amount=deal.order.total, received_on=date.today())
    client.force_login(accountant)
    assert "оплачено" in page_text(client.get(reverse("deals:detail", args=[deal.pk])))
    response = client.post(
        reverse("deals:refund", args=[deal.pk]),
        {"amount": "1000.00", "recorded_on": date.today().isoformat()},
    )
    assert response.status_code == 302
    text = page_text(client.get(reverse("deals:detail", args=[deal.pk])))
    assert "(возврат)" in text and "ожидается" in text
    assert deal.payments.filter(kind="refund").get().amount == Decimal("-1000.00")


def test_refund_larger_than_paid_is_refused_on_the_page(client, pipeline, accountant):
    from datetime import date
    from decimal import Decimal

    from deals.services import payment_record

    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    payment_record(acting_user=accountant, deal=deal, amount=Decimal("100"), received_on=date.today())
    client.force_login(accountant)
    response = client.post(
        reverse("deals:refund", args=[deal.pk]), {"amount": "500.00", "recorded_on": date.today().isoformat()}
    )
    assert response.status_code == 400
    assert "не больше, чем оплачено" in page_text(response)
    assert not deal.payments.filter(kind="refund").exists()


def test_accountant_sets_consignment_terms_on_a_finance_client(client, pipeline, accountant):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)
    client.force_login(accountant)
    response = client.post(
        reverse("clients:terms", args=[deal.client_id]),
        {"payment_terms": "consignment", "consignment_cadence": "weekly"},
    )
    assert response.status_code == 302
    assert Client.objects.get(pk=deal.client_id).consignment_cadence == "weekly"
