"""The deal page draws the stage's own work at once and the rare actions (move back, refusal, transfer,
refund, a change of an approved order) when they are opened: in place with htmx, on a page of their
own without it. A refused POST comes back with the form open and the reason in Russian; the page's
queries stay the same however long the deal's story grows."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal, Order
from deals.services import (
    OrderLineInput,
    deal_move,
    deal_transfer,
    order_decide,
    order_set_lines,
    payment_record,
)
from deals.stages import Stage
from kpi.models import ActivityKind
from kpi.services import activity_log
from tests.deals.factories import make_deal, order_post
from tests.deals.test_views import page_text

HTMX = {"HX-Request": "true"}


def form_url(deal: Deal, key: str) -> str:
    return reverse("deals:form", args=[deal.pk, key])


def has_form(html: str, action: str) -> bool:
    return re.search(rf'<form [^>]*action="{re.escape(action)}"', html) is not None


@pytest.fixture
def proposal_deal(pipeline) -> Deal:
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)


@pytest.fixture
def approved(pipeline) -> Deal:
    """At «Получение оплаты», the order approved by production and paid in part."""
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    payment_record(
        acting_user=pipeline.accountant, deal=deal, amount=Decimal("1000"), received_on=timezone.localdate()
    )
    return deal


def test_the_rare_forms_are_links_until_opened_and_the_stage_form_is_drawn_at_once(client, proposal_deal):
    client.force_login(proposal_deal.owner)
    html = client.get(reverse("deals:detail", args=[proposal_deal.pk])).content.decode()
    assert has_form(html, reverse("deals:proposal", args=[proposal_deal.pk]))
    for key, action in (("move_back", "deals:move_back"), ("lost", "deals:lost")):
        assert f'href="{form_url(proposal_deal, key)}"' in html
        assert f'hx-get="{form_url(proposal_deal, key)}"' in html
        assert not has_form(html, reverse(action, args=[proposal_deal.pk]))
    assert "Вернуть на прежний этап…" in page_text_of(html) and "Отказ клиента…" in page_text_of(html)


def page_text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_htmx_opens_the_refusal_form_in_place(client, proposal_deal):
    client.force_login(proposal_deal.owner)
    response = client.get(form_url(proposal_deal, "lost"), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="lost"' in html
    assert has_form(html, reverse("deals:lost", args=[proposal_deal.pk]))
    assert "Причина отказа" in html and "Закрыть с отказом" in html


def test_without_javascript_the_link_leads_to_a_page_with_the_form(client, proposal_deal):
    client.force_login(proposal_deal.owner)
    response = client.get(form_url(proposal_deal, "move_back"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "К сделке" in html
    assert has_form(html, reverse("deals:move_back", args=[proposal_deal.pk]))
    assert 'value="call" selected' in html  # the stage before, chosen already


def test_a_refused_refusal_comes_back_open_with_the_reason(client, proposal_deal):
    client.force_login(proposal_deal.owner)
    response = client.post(reverse("deals:lost", args=[proposal_deal.pk]), {"reason": "", "note": "Дорого"})
    html = response.content.decode()
    assert response.status_code == 400
    assert has_form(html, reverse("deals:lost", args=[proposal_deal.pk]))
    assert "Обязательное поле." in page_text(response)
    assert "Не сохранено: исправьте ошибки в форме." in page_text(response)
    # The other rare forms stay closed.
    assert f'href="{form_url(proposal_deal, "move_back")}"' in html
    assert Deal.objects.get(pk=proposal_deal.pk).status == "open"


def test_a_form_the_user_is_not_offered_does_not_open(client, pipeline, other_hunter, proposal_deal):
    client.force_login(pipeline.hunter)
    assert client.get(form_url(proposal_deal, "transfer"), headers=HTMX).status_code == 404  # the head's
    assert client.get(form_url(proposal_deal, "proposal"), headers=HTMX).status_code == 404  # drawn at once
    assert client.get(form_url(proposal_deal, "nonsense")).status_code == 404
    lead = make_deal(acting_user=pipeline.hunter)
    assert client.get(form_url(lead, "move_back")).status_code == 404  # nothing before the first stage
    client.force_login(other_hunter)
    assert client.get(form_url(proposal_deal, "lost"), headers=HTMX).status_code == 404


def test_the_head_opens_the_transfer_form(client, sales_head, other_hunter, proposal_deal):
    client.force_login(sales_head)
    html = client.get(reverse("deals:detail", args=[proposal_deal.pk])).content.decode()
    assert f'href="{form_url(proposal_deal, "transfer")}"' in html
    opened = client.get(form_url(proposal_deal, "transfer"), headers=HTMX).content.decode()
    assert has_form(opened, reverse("deals:transfer", args=[proposal_deal.pk]))
    assert "Анна Смирнова" in opened


def test_the_change_of_an_approved_order_opens_on_request_and_a_refused_change_stays_open(
    client, pipeline, approved
):
    client.force_login(pipeline.hunter)
    html = client.get(reverse("deals:detail", args=[approved.pk])).content.decode()
    order_action = reverse("deals:order", args=[approved.pk])
    assert not has_form(html, order_action) and "Изменить заказ…" in page_text_of(html)
    assert "js/lines" in html  # ready for the lines of the form when it arrives

    opened = client.get(form_url(approved, "order"), headers=HTMX).content.decode()
    assert has_form(opened, order_action) and "data-lines" in opened
    assert "Отправить изменение на согласование" in opened
    assert 'value="10"' in opened  # starts from the order in force

    refused = client.post(order_action, order_post((pipeline.product, "-3")))
    assert refused.status_code == 400
    assert has_form(refused.content.decode(), order_action)
    assert "Не сохранено: исправьте ошибки в форме." in page_text(refused)
    assert Order.objects.get(deal=approved).versions.count() == 1


def test_the_order_at_the_deal_stage_is_drawn_at_once(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)
    client.force_login(pipeline.hunter)
    html = client.get(reverse("deals:detail", args=[deal.pk])).content.decode()
    assert has_form(html, reverse("deals:order", args=[deal.pk]))
    assert client.get(form_url(deal, "order"), headers=HTMX).status_code == 404


def test_the_accountant_records_payments_at_once_and_opens_the_refund(client, accountant, approved):
    client.force_login(accountant)
    html = client.get(reverse("deals:detail", args=[approved.pk])).content.decode()
    assert has_form(html, reverse("deals:payment", args=[approved.pk]))
    assert not has_form(html, reverse("deals:refund", args=[approved.pk]))
    opened = client.get(form_url(approved, "refund"), headers=HTMX).content.decode()
    assert has_form(opened, reverse("deals:refund", args=[approved.pk])) and "Сумма возврата" in opened


# --- constant queries ----------------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def grow_history(pipeline, deal: Deal, sales_head, other_hunter, round_: int) -> None:
    """One more of every kind of record the timeline shows: activities, a payment, a new order version
    approved, a move back and forward, a transfer there and back."""
    hunter = Deal.objects.get(pk=deal.pk).owner
    for _ in range(3):
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.MEETING,
            client=deal.client,
            deal=deal,
            note="Обсудили поставку",
        )
    payment_record(
        acting_user=pipeline.accountant,
        deal=deal,
        amount=Decimal("10"),
        received_on=timezone.localdate(),
        bank_document=f"п/п {round_}",
    )
    order = order_set_lines(
        acting_user=hunter,
        deal=Deal.objects.get(pk=deal.pk),
        lines=[OrderLineInput(product=pipeline.product, quantity=Decimal(10 + round_))],
        comment=f"Изменение {round_}",
    )
    order_decide(acting_user=pipeline.production, order=order, approve=True)
    # With money on the deal only the head moves it back before «Получение оплаты».
    moved = deal_move(
        acting_user=sales_head, deal=Deal.objects.get(pk=deal.pk), to_stage=Stage.SHIPMENT, comment="Уточнить"
    )
    deal_move(acting_user=sales_head, deal=moved, to_stage=Stage.PAYMENT)
    deal_transfer(
        acting_user=sales_head,
        deal=Deal.objects.get(pk=deal.pk),
        to_owner=other_hunter,
        return_on=timezone.localdate() + timedelta(days=3),
    )
    deal_transfer(acting_user=sales_head, deal=Deal.objects.get(pk=deal.pk), to_owner=hunter)


@pytest.mark.parametrize("who", ["hunter", "sales_head", "accountant"])
def test_deal_page_queries_stay_the_same_as_the_story_grows(
    client, pipeline, approved, sales_head, other_hunter, who
):
    viewer = {"hunter": pipeline.hunter, "sales_head": sales_head, "accountant": pipeline.accountant}[who]
    client.force_login(viewer)
    url = reverse("deals:detail", args=[approved.pk])
    grow_history(pipeline, approved, sales_head, other_hunter, 1)
    before = count_queries(client, url)
    for round_ in range(2, 5):
        grow_history(pipeline, approved, sales_head, other_hunter, round_)
    assert count_queries(client, url) == before
    assert before <= 28, before  # 35–37 before the records were loaded once for the page
