"""The order and sample lines on the deal page: a formset of lines typed in Russian («237,50», «10»), added
and removed, the order's total, units declined, and the confirmation a price far from the list needs."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from deals.models import Order, OrderVersion, SampleLine, SampleRequest
from deals.services import (
    OrderLineInput,
    PricesNotConfirmed,
    order_decide,
    order_set_lines,
    price_deviations,
)
from deals.stages import Stage
from deals.units import Unit
from tests.deals.factories import make_deal, make_product, order_post, samples_post
from tests.deals.test_views import page_text
from tests.properties.support import assert_errors_shown

ORDER_TABLES = (Order, OrderVersion)


@pytest.fixture
def soap(db):
    return make_product(name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("250.00"))


@pytest.fixture
def gloves(db):
    return make_product(name="Перчатки", unit=Unit.PAIR, list_price=Decimal("90.00"))


@pytest.fixture
def at_deal(pipeline):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.DEAL)


def post_order(client, deal, data):
    return client.post(reverse("deals:order", args=[deal.pk]), data)


def order_lines(deal) -> list[tuple]:
    order = Order.objects.filter(deal=deal).first()
    if order is None:
        return []
    return list(order.lines.order_by("pk").values_list("product__name", "quantity", "price"))


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    if match is None:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


# --- Russian numbers ----------------------------------------------------------------------------------


def test_a_price_typed_with_a_comma_is_stored_as_typed_and_shown_back_so(client, at_deal, soap):
    client.force_login(at_deal.owner)
    response = post_order(client, at_deal, order_post((soap, "10", "237,50")))

    assert response.status_code == 302
    assert order_lines(at_deal) == [("Мыло жидкое 5 л", Decimal("10"), Decimal("237.50"))]
    assert Order.objects.get(deal=at_deal).total == Decimal("2375.00")
    html = client.get(reverse("deals:detail", args=[at_deal.pk])).content.decode()
    assert input_value(html, "lines-0-quantity") == "10"  # not «10.000»
    assert input_value(html, "lines-0-price") == "237,50"
    text = page_text(client.get(reverse("deals:detail", args=[at_deal.pk])))
    assert "Итого по заказу 2 375,00 ₽" in text
    assert "10 канистр" in text


@pytest.mark.parametrize(
    ("quantity", "price", "stored"),
    [
        ("2,5", "1 200,00", (Decimal("2.5"), Decimal("1200.00"))),
        ("0,125", "200", (Decimal("0.125"), Decimal("200"))),
        ("3", "237.50", (Decimal("3"), Decimal("237.50"))),
        ("1 000", "", (Decimal("1000"), Decimal("250.00"))),  # an empty price is the list price
    ],
)
def test_russian_numbers_are_stored_exactly(client, at_deal, soap, quantity, price, stored):
    client.force_login(at_deal.owner)
    confirmation = f"{soap.pk}:{stored[1]}"  # 1 200 is far above the list price of 250
    response = post_order(client, at_deal, order_post((soap, quantity, price), confirm_prices=confirmation))
    assert response.status_code == 302
    assert order_lines(at_deal) == [("Мыло жидкое 5 л", *stored)]


@pytest.mark.parametrize(
    ("quantity", "price", "says"),
    [
        ("10", "1.500", "1,5 или 1 500"),
        ("1.500", "250", "1,5 или 1 500"),
        ("10", "1.237,50", "и точка, и запятая"),
        ("10", "237,505", "не больше двух знаков"),
        ("1,0005", "250", "не больше трёх знаков"),
        ("0", "250", "больше нуля"),
        ("10", "-5", "отрицательной"),
        ("10", "1" + "0" * 12, "меньше триллиона"),
        ("1" + "0" * 9, "250", "меньше миллиарда"),
        ("десять", "250", "цифрами"),
    ],
)
def test_numbers_that_cannot_be_right_are_refused_in_russian_and_nothing_is_saved(
    client, at_deal, soap, quantity, price, says
):
    client.force_login(at_deal.owner)
    data = order_post((soap, quantity, price))
    response = post_order(client, at_deal, data)

    assert response.status_code == 400
    errors = assert_errors_shown(response, response.context["forms"]["order"], echoed=data.values())
    assert any(says in " ".join(error.split()) for error in errors), errors
    assert not Order.objects.filter(deal=at_deal).exists()
    html = response.content.decode()
    assert input_value(html, "lines-0-quantity") == quantity  # what was typed stays to be corrected
    assert input_value(html, "lines-0-price") == price


# --- adding and removing lines ---------------------------------------------------------------------------


def test_lines_are_added_as_rows_and_blank_rows_are_skipped(client, at_deal, soap, gloves):
    client.force_login(at_deal.owner)
    data = order_post((soap, "2", ""), (gloves, "3", "90"), ("", "", ""))
    assert post_order(client, at_deal, data).status_code == 302
    assert order_lines(at_deal) == [
        ("Мыло жидкое 5 л", Decimal("2"), Decimal("250.00")),
        ("Перчатки", Decimal("3"), Decimal("90")),
    ]
    assert Order.objects.get(deal=at_deal).total == Decimal("770.00")


def test_a_line_is_removed_by_ticking_it(client, at_deal, soap, gloves):
    hunter = at_deal.owner
    order_set_lines(
        acting_user=hunter,
        deal=at_deal,
        lines=[
            OrderLineInput(product=soap, quantity=Decimal("2")),
            OrderLineInput(product=gloves, quantity=Decimal("1")),
        ],
    )
    client.force_login(hunter)
    form = client.get(reverse("deals:detail", args=[at_deal.pk])).context["forms"]["order"]
    assert form.lines.initial_form_count() == 2
    data = order_post((soap, "2", "250,00"), (gloves, "1", "90,00"), initial=2)
    data["lines-1-DELETE"] = "on"
    data["lines-1-quantity"] = "не важно: строка убрана"

    assert post_order(client, at_deal, data).status_code == 302
    assert order_lines(at_deal) == [("Мыло жидкое 5 л", Decimal("2"), Decimal("250.00"))]


def test_an_order_with_every_line_removed_or_blank_is_refused(client, at_deal, soap):
    order_set_lines(acting_user=at_deal.owner, deal=at_deal, lines=[OrderLineInput(soap, Decimal("2"))])
    client.force_login(at_deal.owner)
    for data in (
        order_post(("", "", "")),
        {**order_post((soap, "2", ""), initial=1), "lines-0-DELETE": "on"},
        order_post(),
    ):
        response = post_order(client, at_deal, data)
        assert response.status_code == 400
        errors = assert_errors_shown(response, response.context["forms"]["order"])
        assert "Добавьте хотя бы одну позицию." in errors
        assert order_lines(at_deal) == [("Мыло жидкое 5 л", Decimal("2"), Decimal("250.00"))]


def test_a_form_without_its_line_count_or_with_too_many_lines_is_refused(client, at_deal, soap):
    client.force_login(at_deal.owner)
    response = post_order(client, at_deal, {"lines-0-product": soap.pk, "lines-0-quantity": "1"})
    assert response.status_code == 400
    assert_errors_shown(response, response.context["forms"]["order"])
    assert "Форма пришла неполной" in page_text(response)

    many = order_post(*[(soap, "1", "")] * 51)
    response = post_order(client, at_deal, many)
    assert response.status_code == 400
    assert "не больше 50" in page_text(response)
    many["lines-TOTAL_FORMS"] = "100000000"
    assert post_order(client, at_deal, many).status_code == 400
    assert not Order.objects.filter(deal=at_deal).exists()


def test_a_product_that_is_not_offered_is_refused(client, at_deal, soap):
    soap.is_active = False
    soap.save()
    client.force_login(at_deal.owner)
    response = post_order(client, at_deal, order_post((soap, "1", "")))
    assert response.status_code == 400
    assert_errors_shown(response, response.context["forms"]["order"])


# --- what the page shows -------------------------------------------------------------------------------


def test_each_product_option_carries_its_list_price_and_unit_forms_for_the_script(client, at_deal, soap):
    client.force_login(at_deal.owner)
    html = client.get(reverse("deals:detail", args=[at_deal.pk])).content.decode()
    assert (
        f'value="{soap.pk}" data-list-price="250,00" data-unit-forms="{{&quot;one&quot;: &quot;канистра&quot;'
        in html
    )
    assert 'src="/static/js/lines.js"' in html and "<script>" not in html  # no inline script (CSP)
    assert "lines-__prefix__-product" in html  # the empty row the script adds
    assert 'inputmode="decimal"' in html


def test_units_are_declined_wherever_an_order_is_shown(client, pipeline, production, at_deal, soap, gloves):
    order = order_set_lines(
        acting_user=at_deal.owner,
        deal=at_deal,
        lines=[OrderLineInput(soap, Decimal("21")), OrderLineInput(gloves, Decimal("1.5"))],
    )
    client.force_login(at_deal.owner)
    text = page_text(client.get(reverse("deals:detail", args=[at_deal.pk])))
    assert "21 канистра" in text and "1,5 пары" in text
    client.force_login(production)
    text = page_text(client.get(reverse("deals:production_queue")))
    assert "Мыло жидкое 5 л × 21 канистра" in text and "Перчатки × 1,5 пары" in text
    text = page_text(client.get(reverse("deals:production_deal", args=[at_deal.pk])))
    assert "21 канистра" in text and "1,5 пары" in text
    order_decide(acting_user=production, order=order, approve=True)
    text = page_text(client.get(reverse("deals:production_history")))
    assert "Мыло жидкое 5 л × 21 канистра" in text and "Перчатки × 1,5 пары" in text


# --- prices far from the list ---------------------------------------------------------------------------


def test_a_price_far_from_the_list_is_shown_and_waits_for_confirmation(client, at_deal, soap, settings):
    settings.PRICE_DEVIATION_CONFIRM_SHARE = Decimal("0.3")
    client.force_login(at_deal.owner)
    response = post_order(client, at_deal, order_post((soap, "10", "150")))  # 40 % below 250

    assert response.status_code == 400
    assert not Order.objects.filter(deal=at_deal).exists()  # nothing goes to production yet
    text = page_text(response)
    assert "Цены не по прайсу" in text
    assert "Мыло жидкое 5 л 250,00 ₽ 150,00 ₽ -100,00 ₽ (-40 %)" in text
    assert "Заказ не отправлен: подтвердите цены" in text
    html = response.content.decode()
    assert f'name="confirm_prices" value="{soap.pk}:150"' in html
    assert input_value(html, "lines-0-price") == "150"

    confirmed = post_order(client, at_deal, order_post((soap, "10", "150"), confirm_prices=f"{soap.pk}:150"))
    assert confirmed.status_code == 302
    assert order_lines(at_deal) == [("Мыло жидкое 5 л", Decimal("10"), Decimal("150"))]
    assert Order.objects.get(deal=at_deal).production_status == Order.ProductionStatus.PENDING


def test_a_confirmation_covers_only_the_prices_it_showed(client, at_deal, soap):
    client.force_login(at_deal.owner)
    # Confirmed at 150, then the price was changed to 15 before sending: asked again, with the new figure.
    response = post_order(client, at_deal, order_post((soap, "10", "15"), confirm_prices=f"{soap.pk}:150"))
    assert response.status_code == 400
    assert "15,00 ₽ -235,00 ₽ (-94 %)" in page_text(response)
    assert not Order.objects.filter(deal=at_deal).exists()
    # A confirmation that is not one (tampered) counts for nothing.
    for tampered in ("x:y;;1", f"{soap.pk}:sNaN;{soap.pk}:NaN;{soap.pk}:Infinity", "9" * 30 + ":1"):
        response = post_order(client, at_deal, order_post((soap, "10", "15"), confirm_prices=tampered))
        assert response.status_code == 400


def test_prices_within_the_share_and_list_prices_need_no_confirmation(client, at_deal, soap, settings):
    settings.PRICE_DEVIATION_CONFIRM_SHARE = Decimal("0.3")
    client.force_login(at_deal.owner)
    assert post_order(client, at_deal, order_post((soap, "1", "325"))).status_code == 302  # +30 % exactly
    assert post_order(client, at_deal, order_post((soap, "2", ""))).status_code == 302


def test_the_share_is_a_setting(client, at_deal, soap, settings):
    client.force_login(at_deal.owner)
    settings.PRICE_DEVIATION_CONFIRM_SHARE = Decimal("0.03")
    response = post_order(client, at_deal, order_post((soap, "1", "240")))  # −4 %
    assert response.status_code == 400 and "больше чем на 3 %" in page_text(response)
    settings.PRICE_DEVIATION_CONFIRM_SHARE = Decimal("0.05")
    assert post_order(client, at_deal, order_post((soap, "1", "240"))).status_code == 302


def test_a_confirmed_price_already_in_the_order_is_not_asked_again(client, pipeline, at_deal, soap, gloves):
    order = order_set_lines(
        acting_user=at_deal.owner,
        deal=at_deal,
        lines=[OrderLineInput(soap, Decimal("10"), price=Decimal("150"))],
        confirmed_prices=[(soap.pk, Decimal("150"))],
    )
    order_decide(acting_user=pipeline.production, order=order, approve=True)
    client.force_login(at_deal.owner)
    # A line added to the approved order: the price production approved stands; the new line is at list.
    data = order_post((soap, "10", "150,00"), (gloves, "2", ""), initial=1)
    assert post_order(client, at_deal, data).status_code == 302
    pending = OrderVersion.objects.get(order__deal=at_deal, status=OrderVersion.Status.PENDING)
    assert sorted(pending.lines.values_list("price", flat=True)) == [Decimal("90.00"), Decimal("150.00")]


def test_the_service_refuses_an_unconfirmed_price_on_every_path(at_deal, soap):
    with pytest.raises(PricesNotConfirmed) as refusal:
        order_set_lines(
            acting_user=at_deal.owner,
            deal=at_deal,
            lines=[OrderLineInput(soap, Decimal("1"), Decimal("500"))],
        )
    [deviation] = refusal.value.deviations
    assert (deviation.difference, deviation.share) == (Decimal("250.00"), Decimal("1.000"))
    assert not Order.objects.filter(deal=at_deal).exists()
    free = make_product(list_price=Decimal("0"))
    assert [d.product for d in price_deviations([(free, Decimal(1), Decimal("1"), Decimal(0))])] == [free]
    assert price_deviations([(free, Decimal(1), Decimal("0"), Decimal(0))]) == []


# --- who may post -----------------------------------------------------------------------------------


def test_the_head_may_post_an_order_and_other_roles_may_not(
    client, at_deal, soap, sales_head, other_hunter, production, accountant
):
    data = order_post((soap, "4", "250,00"))
    client.force_login(other_hunter)
    assert post_order(client, at_deal, data).status_code == 404
    client.force_login(production)
    assert post_order(client, at_deal, data).status_code == 404
    client.force_login(accountant)  # sees the deal from «Сделка» on, but does not work it
    assert post_order(client, at_deal, data).status_code == 403
    assert not Order.objects.filter(deal=at_deal).exists()
    client.force_login(sales_head)
    assert post_order(client, at_deal, data).status_code == 302
    assert order_lines(at_deal) == [("Мыло жидкое 5 л", Decimal("4"), Decimal("250.00"))]


# --- sample requests ---------------------------------------------------------------------------------


@pytest.fixture
def at_samples(pipeline):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)


def post_samples(client, deal, data):
    return client.post(reverse("deals:samples", args=[deal.pk]), data)


def test_a_sample_request_takes_its_lines_and_where_to_deliver(client, at_samples, soap, gloves):
    client.force_login(at_samples.owner)
    data = samples_post(
        (soap, "2"), (gloves, "1 000"), ("", ""), delivery_address="Сургут, ул. Мира, 7, склад"
    )
    assert post_samples(client, at_samples, data).status_code == 302
    request = SampleRequest.objects.get(deal=at_samples)
    assert request.delivery_address == "Сургут, ул. Мира, 7, склад"
    assert list(request.lines.order_by("pk").values_list("product__name", "quantity")) == [
        ("Мыло жидкое 5 л", 2),
        ("Перчатки", 1000),
    ]
    text = page_text(client.get(reverse("deals:detail", args=[at_samples.pk])))
    assert "Мыло жидкое 5 л × 2 канистры" in text and "Перчатки × 1 000 пар" in text


@pytest.mark.parametrize(
    ("quantity", "says"),
    [("1,5", "целое число"), ("0", "больше нуля"), ("1001", "не больше 1000"), ("два", "цифрами")],
)
def test_sample_quantities_that_cannot_be_right_are_refused(client, at_samples, soap, quantity, says):
    client.force_login(at_samples.owner)
    data = samples_post((soap, quantity))
    response = post_samples(client, at_samples, data)
    assert response.status_code == 400
    errors = assert_errors_shown(response, response.context["forms"]["samples"], echoed=data.values())
    assert any(says in error for error in errors), errors
    assert not SampleRequest.objects.exists() and not SampleLine.objects.exists()


def test_a_sample_request_with_no_line_left_is_refused(client, at_samples, soap):
    client.force_login(at_samples.owner)
    data = {**samples_post((soap, "2")), "sample_lines-0-DELETE": "on"}
    response = post_samples(client, at_samples, data)
    assert response.status_code == 400
    assert "Добавьте хотя бы одну позицию." in assert_errors_shown(
        response, response.context["forms"]["samples"]
    )
    assert not SampleRequest.objects.exists()


def test_the_sample_form_starts_with_the_clients_address(client, at_samples):
    client.force_login(at_samples.owner)
    html = client.get(reverse("deals:detail", args=[at_samples.pk])).content.decode()
    assert input_value(html, "delivery_address") == at_samples.client.address


def test_the_service_delivers_to_the_clients_address_unless_told_otherwise(at_samples, soap, production):
    from deals.services import sample_request_create

    request = sample_request_create(
        acting_user=at_samples.owner,
        deal=at_samples,
        lines=[(soap, 1)],
        receiver_name="Мария",
        receiver_phone="+79120001122",
        potential_volume="10 л",
    )
    assert request.delivery_address == at_samples.client.address
    with pytest.raises(PermissionDenied):
        sample_request_create(
            acting_user=production,
            deal=at_samples,
            lines=[(soap, 1)],
            receiver_name="Мария",
            receiver_phone="+79120001122",
            potential_volume="10 л",
        )
