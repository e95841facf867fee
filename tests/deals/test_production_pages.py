"""Production's pages: the queue with where each thing goes, declining only with a reason, the history of
what was handled, and a read-only summary of the deal behind a request or an order."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from deals.models import OrderVersion, SampleRequest
from deals.services import (
    OrderLineInput,
    order_decide,
    order_set_lines,
    sample_request_create,
    sample_request_set_status,
    shipment_record,
)
from deals.stages import Stage
from deals.units import Unit
from tests.deals.factories import make_client, make_deal, make_product
from tests.deals.test_views import count_queries, page_text


@pytest.fixture
def soap(db):
    return make_product(name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("250.00"))


def request_samples(deal, product, *, address: str = "") -> SampleRequest:
    return sample_request_create(
        acting_user=deal.owner,
        deal=deal,
        lines=[(product, 2)],
        receiver_name="Мария Соколова",
        receiver_phone="+79120001122",
        delivery_address=address,
        potential_volume="40 л в месяц",
    )


@pytest.fixture
def sampled(pipeline, soap):
    deal = pipeline.advance_to(
        make_deal(
            acting_user=pipeline.hunter, client=make_client(acting_user=pipeline.hunter, name="Салон «Лотос»")
        ),
        Stage.SAMPLES,
    )
    request_samples(deal, soap, address="Сургут, ул. Мира, 7, ресепшн")
    return deal


# --- declining needs a reason ------------------------------------------------------------------------------


def test_production_cannot_decline_a_request_without_a_reason(production, sampled):
    request = SampleRequest.objects.get(deal=sampled)
    for comment in ("", "   "):
        with pytest.raises(ValidationError) as refusal:
            sample_request_set_status(
                acting_user=production, request=request, status="declined", comment=comment
            )
        assert "причину отказа" in refusal.value.message_dict["comment"][0]
    assert SampleRequest.objects.get(pk=request.pk).status == SampleRequest.Status.REQUESTED


def test_the_queue_says_why_a_decline_without_a_reason_was_not_taken(client, production, sampled):
    request = SampleRequest.objects.get(deal=sampled)
    client.force_login(production)
    response = client.post(
        reverse("deals:sample_status", args=[request.pk]), {"status": "declined", "comment": ""}, follow=True
    )
    assert "Статус заявки не изменён: Напишите причину отказа" in page_text(response)
    assert SampleRequest.objects.get(pk=request.pk).status == SampleRequest.Status.REQUESTED


def test_a_declined_request_carries_its_reason_to_the_hunters_deal_page(client, production, sampled):
    request = SampleRequest.objects.get(deal=sampled)
    client.force_login(production)
    client.post(
        reverse("deals:sample_status", args=[request.pk]),
        {"status": "declined", "comment": "Нет в наличии до понедельника"},
    )
    assert SampleRequest.objects.get(pk=request.pk).status == SampleRequest.Status.DECLINED
    client.force_login(sampled.owner)
    text = page_text(client.get(reverse("deals:detail", args=[sampled.pk])))
    assert "Производство отклонило: Нет в наличии до понедельника" in text


def test_only_production_changes_a_request(client, sampled, sales_head):
    request = SampleRequest.objects.get(deal=sampled)
    for user in (sampled.owner, sales_head):
        client.force_login(user)
        data = {"status": "declined", "comment": "x"}
        assert client.post(reverse("deals:sample_status", args=[request.pk]), data).status_code == 403
    assert SampleRequest.objects.get(pk=request.pk).status == SampleRequest.Status.REQUESTED


# --- the queue shows where things go --------------------------------------------------------------------


def test_the_queue_shows_where_samples_and_orders_go(client, pipeline, production, sampled, soap):
    shipped = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SHIPMENT)
    shipment_record(
        acting_user=shipped.owner,
        deal=shipped,
        receiver_name="Олег Петров",
        receiver_phone="+79120005566",
        delivery_address="Нефтеюганск, 2-й мкр., 15",
        courier_date=timezone.localdate(),
    )
    order_set_lines(acting_user=shipped.owner, deal=shipped, lines=[OrderLineInput(soap, Decimal("3"))])
    fresh = pipeline.advance_to(
        make_deal(
            acting_user=pipeline.hunter,
            client=make_client(acting_user=pipeline.hunter, address="Сургут, ул. Ленина, 40"),
        ),
        Stage.DEAL,
    )
    order_set_lines(acting_user=fresh.owner, deal=fresh, lines=[OrderLineInput(soap, Decimal("5"))])

    client.force_login(production)
    text = page_text(client.get(reverse("deals:production_queue")))
    assert "Мыло жидкое 5 л × 2 канистры Доставка: Сургут, ул. Мира, 7, ресепшн" in text
    assert "Получатель: Мария Соколова, +7 912 000-11-22" in text
    assert "Доставка: Нефтеюганск, 2-й мкр., 15 · получатель Олег Петров, +7 912 000-55-66" in text
    assert "Адрес клиента: Сургут, ул. Ленина, 40 (отгрузку хантер ещё не записал)" in text


def test_the_queue_runs_the_same_queries_however_many_orders_wait(client, pipeline, production, soap):
    def place_order():
        deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)
        order_set_lines(acting_user=deal.owner, deal=deal, lines=[OrderLineInput(soap, Decimal("1"))])

    place_order()
    client.force_login(production)
    before = count_queries(client, reverse("deals:production_queue"))
    for _ in range(4):
        place_order()
    assert count_queries(client, reverse("deals:production_queue")) == before


# --- what production has handled ------------------------------------------------------------------------


@pytest.fixture
def handled(pipeline, production, soap):
    """Production's work: a request handed over, one declined, an order approved (its deal's samples were
    handed over on the way, by the pipeline) and a change of it declined."""
    handed = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    request = request_samples(handed, soap)
    for status in ("prepared", "handed_over"):
        sample_request_set_status(acting_user=production, request=request, status=status)
    refused = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    sample_request_set_status(
        acting_user=production, request=request_samples(refused, soap), status="declined", comment="Нет тары"
    )
    ordered = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)
    order = order_set_lines(
        acting_user=ordered.owner, deal=ordered, lines=[OrderLineInput(soap, Decimal("8"))]
    )
    order_decide(acting_user=production, order=order, approve=True, comment="Отгрузим в четверг")
    order_set_lines(acting_user=ordered.owner, deal=ordered, lines=[OrderLineInput(soap, Decimal("9"))])
    order_decide(acting_user=production, order=order, approve=False, comment="Столько нет")
    return {"handed": handed, "refused": refused, "ordered": ordered}


def history(client, **params):
    response = client.get(reverse("deals:production_history"), params)
    assert response.status_code == 200
    return response


def test_the_history_lists_every_decision_newest_first(client, production, handled):
    client.force_login(production)
    response = history(client)
    entries = response.context["entries"]
    assert [(entry.kind, entry.item.get_status_display()) for entry in entries] == [
        ("order", "Отклонена"),
        ("order", "Согласована"),
        ("sample", "Переданы клиенту"),
        ("sample", "Отклонено"),
        ("sample", "Переданы клиенту"),
    ]
    text = page_text(response)
    assert "Причина отказа: Нет тары" in text
    assert "Комментарий: Отгрузим в четверг" in text
    assert "Мыло жидкое 5 л × 8 канистр по 250,00 ₽" in text
    assert "Решение: Сергей Кузнецов" in text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "samples"}, [("sample", "handed_over"), ("sample", "declined"), ("sample", "handed_over")]),
        ({"kind": "orders"}, [("order", "declined"), ("order", "approved")]),
        ({"outcome": "declined"}, [("order", "declined"), ("sample", "declined")]),
        ({"outcome": "approved"}, [("order", "approved")]),
        ({"kind": "orders", "outcome": "handed_over"}, []),
        ({"until": "2000-01-01"}, []),
        ({"outcome": "nonsense", "since": "not a date"}, "all"),  # what cannot be read is not applied
    ],
)
def test_the_history_is_filtered_by_kind_decision_and_period(client, production, handled, params, expected):
    client.force_login(production)
    entries = history(client, **params).context["entries"]
    found = [(entry.kind, entry.item.status) for entry in entries]
    assert found == expected or (expected == "all" and len(found) == 5)


def test_the_history_period_is_by_the_day_of_the_decision(client, production, handled):
    OrderVersion.objects.filter(order__deal=handled["ordered"], status="approved").update(
        decided_at=timezone.now() - timedelta(days=40)
    )
    client.force_login(production)
    today = timezone.localdate()
    recent = history(client, since=(today - timedelta(days=7)).isoformat(), until=today.isoformat())
    assert ("order", "approved") not in [(e.kind, e.item.status) for e in recent.context["entries"]]
    old = history(client, until=(today - timedelta(days=30)).isoformat())
    assert [(e.kind, e.item.status) for e in old.context["entries"]] == [("order", "approved")]


def test_the_history_is_paginated_with_the_same_queries_on_every_page(
    client, pipeline, production, soap, django_assert_max_num_queries
):
    deals = [pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES) for _ in range(3)]
    for deal in deals:
        sample_request_set_status(
            acting_user=production, request=request_samples(deal, soap), status="prepared"
        )
    client.force_login(production)
    few = count_queries(client, reverse("deals:production_history"))
    for index in range(24):
        deal = deals[index % 3]
        sample_request_set_status(
            acting_user=production, request=request_samples(deal, soap), status="prepared"
        )
    first = history(client)
    assert len(first.context["entries"]) == 25 and first.context["page_obj"].paginator.num_pages == 2
    assert "1 из 2" in page_text(first)
    assert len(history(client, page=2).context["entries"]) == 2
    assert history(client, page="999").context["page_obj"].number == 2
    with django_assert_max_num_queries(few):
        client.get(reverse("deals:production_history"))


def test_only_production_reads_the_history_and_only_production_and_the_head_the_summaries(
    client, handled, sampled, sales_head, accountant, hunter, other_hunter, production
):
    for user in (hunter, other_hunter, sales_head, accountant):
        client.force_login(user)
        assert client.get(reverse("deals:production_history")).status_code == 403
    for user in (hunter, other_hunter, accountant):
        client.force_login(user)
        assert client.get(reverse("deals:production_deal", args=[sampled.pk])).status_code == 403
    for user in (sales_head, production):
        client.force_login(user)
        assert client.get(reverse("deals:production_deal", args=[sampled.pk])).status_code == 200


def test_a_deal_whose_work_is_done_has_no_summary_any_more(client, production, sales_head, handled, soap):
    """The ordered deal's versions are all decided and the other two deals' requests handled: nothing of
    theirs waits in the queue, so production reads none of them; a new version puts the deal back."""
    for user in (production, sales_head):
        client.force_login(user)
        for deal in handled.values():
            assert client.get(reverse("deals:production_deal", args=[deal.pk])).status_code == 404
    deal = handled["ordered"]
    order_set_lines(acting_user=deal.owner, deal=deal, lines=[OrderLineInput(soap, Decimal("10"))])
    client.force_login(production)
    assert client.get(reverse("deals:production_deal", args=[deal.pk])).status_code == 200


# --- the deal behind it ---------------------------------------------------------------------------------


def test_production_reads_a_summary_of_the_deal_behind_an_order(client, production, handled, soap):
    deal = handled["ordered"]
    order_set_lines(acting_user=deal.owner, deal=deal, lines=[OrderLineInput(soap, Decimal("10"))])
    client.force_login(production)
    response = client.get(reverse("deals:production_deal", args=[deal.pk]))
    assert response.status_code == 200
    text = page_text(response)
    assert deal.client.name in text and "Хантер Иван Иванов (доб. 101)" in text
    assert "Этап 6. Сделка" in text
    assert "Мыло жидкое 5 л 8 канистр 250,00 ₽ Итого 2 000,00 ₽" in text
    assert "Ждёт согласования: версия №3 Мыло жидкое 5 л × 10 канистр по 250,00 ₽" in text
    assert "Сводка для производства: только чтение." in text
    assert "<form" not in response.content.decode().split("<main", 1)[1].split("</main>")[0]
    # The deal page itself stays the hunter's.
    assert client.get(reverse("deals:detail", args=[deal.pk])).status_code == 404


def test_a_summary_of_a_deal_with_samples_shows_where_they_went(client, production, sampled):
    client.force_login(production)
    text = page_text(client.get(reverse("deals:production_deal", args=[sampled.pk])))
    assert "Мыло жидкое 5 л × 2 канистры" in text and "Доставка: Сургут, ул. Мира, 7, ресепшн" in text


def test_production_sees_no_deal_it_never_had_anything_from(client, pipeline, production):
    untouched = make_deal(acting_user=pipeline.hunter)
    client.force_login(production)
    assert client.get(reverse("deals:production_deal", args=[untouched.pk])).status_code == 404
    assert client.get(reverse("deals:production_deal", args=[999999])).status_code == 404


def test_the_queue_links_each_request_and_order_to_its_summary(client, production, sampled):
    client.force_login(production)
    html = client.get(reverse("deals:production_queue")).content.decode()
    assert reverse("deals:production_deal", args=[sampled.pk]) in html
    assert reverse("deals:production_history") in html
