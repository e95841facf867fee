"""Payment terms (SPEC §2, §5): set by the sales head or the accountant; a hunter requests them for an
own client with a reason, and the head approves (the terms are set by the same service) or declines."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from deals.models import Client, PaymentTermsRequest
from deals.services import (
    client_set_payment_terms,
    payment_record,
    payment_terms_request_create,
    payment_terms_request_decide,
)
from deals.stages import Stage
from tests.deals.factories import make_client, make_deal
from tests.deals.test_views import page_text

DEFERRED = {"payment_terms": "deferred", "deferred_days": 14, "deferred_limit": Decimal("20000")}


@pytest.fixture
def paid_client(pipeline, hunter):
    """Hunter A's client with a first deal paid: deferred payment may be offered from its second deal."""
    client = make_client(acting_user=hunter, name="Столовая «Вахта»")
    deal = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    payment_record(
        acting_user=pipeline.accountant, deal=deal, amount=deal.order.total, received_on=timezone.localdate()
    )
    return Client.objects.get(pk=client.pk)


def request_deferred(hunter, client, **changes) -> PaymentTermsRequest:
    return payment_terms_request_create(
        acting_user=hunter,
        client=client,
        comment="Берут каждый месяц, платят вовремя",
        **{**DEFERRED, **changes},
    )


# --- who sets the terms ------------------------------------------------------------------------------


def test_a_hunter_cannot_set_payment_terms_even_for_an_own_client(hunter, paid_client):
    with pytest.raises(PermissionDenied):
        client_set_payment_terms(acting_user=hunter, client=paid_client, **DEFERRED)
    assert Client.objects.get(pk=paid_client.pk).payment_terms == "prepayment"


@pytest.mark.parametrize("role", ["sales_head", "accountant"])
def test_the_head_and_the_accountant_set_payment_terms(request, role, paid_client):
    client_set_payment_terms(acting_user=request.getfixturevalue(role), client=paid_client, **DEFERRED)

    client = Client.objects.get(pk=paid_client.pk)
    assert (client.payment_terms, client.deferred_days, client.deferred_limit) == (
        "deferred",
        14,
        Decimal("20000"),
    )


def test_production_cannot_set_payment_terms(production, paid_client):
    with pytest.raises(PermissionDenied):
        client_set_payment_terms(acting_user=production, client=paid_client, payment_terms="consignment")


def test_deferred_payment_still_starts_from_the_clients_second_deal(sales_head, hunter):
    client = make_client(acting_user=hunter)
    with pytest.raises(ValidationError, match="со второй сделки"):
        client_set_payment_terms(acting_user=sales_head, client=client, **DEFERRED)
    with pytest.raises(ValidationError, match="укажите число дней и лимит"):
        client_set_payment_terms(acting_user=sales_head, client=client, payment_terms="deferred")


# --- the hunter's request and the head's decision ------------------------------------------------


def test_a_hunter_requests_terms_and_the_head_approves_them_through_the_same_service(
    hunter, sales_head, paid_client
):
    terms_request = request_deferred(hunter, paid_client)
    assert Client.objects.get(pk=paid_client.pk).payment_terms == "prepayment"
    assert (terms_request.status, terms_request.requested_by) == (PaymentTermsRequest.Status.PENDING, hunter)

    payment_terms_request_decide(acting_user=sales_head, request=terms_request, approve=True)

    terms_request.refresh_from_db()
    assert (terms_request.status, terms_request.decided_by) == (
        PaymentTermsRequest.Status.APPROVED,
        sales_head,
    )
    assert terms_request.decided_at is not None
    client = Client.objects.get(pk=paid_client.pk)
    assert (client.payment_terms, client.deferred_days, client.deferred_limit) == (
        "deferred",
        14,
        Decimal("20000"),
    )


def test_the_head_declines_a_request_with_a_reason_and_nothing_changes(hunter, sales_head, paid_client):
    terms_request = request_deferred(hunter, paid_client)

    with pytest.raises(ValidationError, match="почему запрос отклонён"):
        payment_terms_request_decide(acting_user=sales_head, request=terms_request, approve=False)
    payment_terms_request_decide(
        acting_user=sales_head, request=terms_request, approve=False, comment="Сначала три оплаты вовремя"
    )

    terms_request.refresh_from_db()
    assert (terms_request.status, terms_request.decision_comment) == (
        PaymentTermsRequest.Status.DECLINED,
        "Сначала три оплаты вовремя",
    )
    assert Client.objects.get(pk=paid_client.pk).payment_terms == "prepayment"
    with pytest.raises(ValidationError, match="уже рассмотрен"):
        payment_terms_request_decide(acting_user=sales_head, request=terms_request, approve=True)


def test_a_request_is_checked_as_the_terms_themselves(hunter):
    new_client = make_client(acting_user=hunter)
    with pytest.raises(ValidationError, match="со второй сделки"):
        request_deferred(hunter, new_client)
    with pytest.raises(ValidationError, match="почему клиенту нужны"):
        payment_terms_request_create(
            acting_user=hunter,
            client=new_client,
            payment_terms="consignment",
            consignment_cadence="weekly",
            comment="",
        )
    with pytest.raises(ValidationError, match="уже действуют"):
        payment_terms_request_create(
            acting_user=hunter, client=new_client, payment_terms="prepayment", comment="x"
        )
    assert not PaymentTermsRequest.objects.exists()


def test_one_request_per_client_waits_at_a_time(hunter, paid_client):
    request_deferred(hunter, paid_client)
    with pytest.raises(ValidationError, match="уже есть запрос"):
        request_deferred(hunter, paid_client, deferred_days=30)


def test_only_the_head_decides_and_another_hunter_cannot_request(
    hunter, other_hunter, accountant, production, paid_client
):
    with pytest.raises(PermissionDenied):
        request_deferred(other_hunter, paid_client)
    terms_request = request_deferred(hunter, paid_client)
    for user in (hunter, other_hunter, accountant, production):
        with pytest.raises(PermissionDenied):
            payment_terms_request_decide(acting_user=user, request=terms_request, approve=True)
    assert PaymentTermsRequest.objects.get().status == PaymentTermsRequest.Status.PENDING


# --- the pages -------------------------------------------------------------------------------------


def terms_url(client: Client, name: str = "clients:terms") -> str:
    return reverse(name, args=[client.pk])


def test_hunter_is_refused_the_terms_form_and_offered_a_request_instead(client, hunter, paid_client):
    client.force_login(hunter)
    page = client.get(reverse("clients:detail", args=[paid_client.pk])).content.decode()
    assert terms_url(paid_client, "clients:terms_request") in page
    assert f'action="{terms_url(paid_client)}"' not in page

    response = client.post(
        terms_url(paid_client), {"payment_terms": "consignment", "consignment_cadence": "weekly"}
    )
    assert response.status_code == 403
    assert Client.objects.get(pk=paid_client.pk).payment_terms == "prepayment"


def test_hunter_requests_terms_on_the_card_and_sees_the_pending_request(client, hunter, paid_client):
    client.force_login(hunter)
    response = client.post(
        terms_url(paid_client, "clients:terms_request"),
        {
            "payment_terms": "deferred",
            "deferred_days": "21",
            "deferred_limit": "15000",
            "comment": "Сеть столовых",
        },
    )
    assert response.status_code == 302
    text = page_text(client.get(reverse("clients:detail", args=[paid_client.pk])))
    assert "Запрос ждёт решения руководителя" in text and "Сеть столовых" in text
    assert PaymentTermsRequest.objects.get().deferred_limit == Decimal("15000")


def test_a_request_without_a_reason_is_shown_again_with_the_error(client, hunter, paid_client):
    client.force_login(hunter)
    response = client.post(
        terms_url(paid_client, "clients:terms_request"),
        {"payment_terms": "consignment", "consignment_cadence": "weekly"},
    )
    assert response.status_code == 400
    assert "Обязательное поле" in page_text(response)
    assert not PaymentTermsRequest.objects.exists()


def test_another_hunter_gets_404_for_the_card_and_its_terms(client, other_hunter, paid_client):
    client.force_login(other_hunter)
    body = {"payment_terms": "consignment", "consignment_cadence": "weekly", "comment": "x"}
    assert client.post(terms_url(paid_client, "clients:terms_request"), body).status_code == 404
    assert client.post(terms_url(paid_client), body).status_code == 404
    assert not PaymentTermsRequest.objects.exists()


def test_head_approves_a_request_on_the_card_and_the_decision_is_shown(
    client, hunter, sales_head, paid_client
):
    terms_request = request_deferred(hunter, paid_client)
    client.force_login(sales_head)
    decide = reverse("clients:terms_request_decide", args=[terms_request.pk])
    assert decide in client.get(reverse("clients:detail", args=[paid_client.pk])).content.decode()

    response = client.post(decide, {"approve": "1", "comment": "Согласовано"})

    assert response.status_code == 302
    assert Client.objects.get(pk=paid_client.pk).payment_terms == "deferred"
    client.force_login(hunter)
    text = page_text(client.get(reverse("clients:detail", args=[paid_client.pk])))
    assert "Одобрен" in text and "Согласовано" in text
    assert "Неоплачено по отсрочке" in text


def test_the_accountant_cannot_decide_a_request(client, hunter, accountant, paid_client):
    terms_request = request_deferred(hunter, paid_client)
    client.force_login(accountant)
    response = client.post(reverse("clients:terms_request_decide", args=[terms_request.pk]), {"approve": "1"})
    assert response.status_code == 403
    assert PaymentTermsRequest.objects.get().status == PaymentTermsRequest.Status.PENDING


def test_head_sees_waiting_requests_on_the_approvals_page_and_declines_one(
    client, hunter, sales_head, paid_client
):
    terms_request = request_deferred(hunter, paid_client)
    client.force_login(sales_head)
    page = reverse("deals:approvals")
    assert "Столовая «Вахта»" in page_text(client.get(page))

    response = client.post(
        reverse("clients:terms_request_decide", args=[terms_request.pk]),
        {"approve": "0", "comment": "Рано", "next": page},
    )

    assert response["Location"] == page
    assert PaymentTermsRequest.objects.get().status == PaymentTermsRequest.Status.DECLINED
    assert "Запросов нет" in page_text(client.get(page))
