"""The accountant's home (SPEC §8): what to do today, each item a link to where it is done."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation.models import BankLine
from deals.models import Client, DealDocument
from deals.services import (
    OrderLineInput,
    client_update_requisites,
    order_decide,
    order_set_lines,
    payment_record,
)
from deals.stages import Stage
from kpi.months import month_start, previous_month
from tests.deals.factories import Pipeline, branch_requisites, make_client, make_deal
from tests.factories import UserFactory
from tests.properties.support import page_text
from tests.workflow import approve


@pytest.fixture
def desk(settings, tmp_path, hunter, other_hunter, production, accountant, sales_head):
    settings.MEDIA_ROOT = tmp_path
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    owed = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter)), Stage.SHIPMENT
    )
    payment_record(
        acting_user=accountant, deal=owed, amount=Decimal("1500.00"), received_on=timezone.localdate()
    )

    # At «Сделка» with the order approved and no invoice yet.
    other = Pipeline(hunter=other_hunter, production=production, accountant=accountant)
    no_invoice = other.advance_to(
        make_deal(
            acting_user=other_hunter, client=make_client(acting_user=other_hunter, name="Кафе «Без счёта»")
        ),
        Stage.DEAL,
    )
    order = order_set_lines(
        acting_user=other_hunter,
        deal=no_invoice,
        lines=[OrderLineInput(product=other.product, quantity=Decimal("4"))],
    )
    client_update_requisites(
        acting_user=other_hunter,
        client=Client.objects.get(pk=no_invoice.client_id),
        requisites=branch_requisites(),
    )
    order_decide(acting_user=production, order=order, approve=True)
    assert not DealDocument.objects.filter(deal=no_invoice).exists()

    last_month = previous_month(month_start(timezone.localdate()))
    approve(hunter, last_month, head=sales_head)
    line = BankLine.objects.create(
        document_number="901",
        document_date=date(2026, 3, 5),
        amount=Decimal("2500.00"),
        payer_name="ООО «Неизвестный плательщик»",
        payer_inn="5408131553",
        reason="плательщик не найден среди клиентов",
    )
    return {"owed": owed, "no_invoice": no_invoice, "last_month": last_month, "line": line}


def test_the_accountant_lands_on_her_home_and_the_head_may_open_it(client, accountant, sales_head, desk):
    client.force_login(accountant)
    assert client.get(reverse("home"))["Location"] == reverse("compensation:home")
    assert client.get(reverse("compensation:home")).status_code == 200
    client.force_login(sales_head)
    assert client.get(reverse("compensation:home")).status_code == 200


def test_the_home_is_in_the_accountant_s_menu_and_under_the_head_s_more(client, accountant, sales_head, desk):
    link = f'href="{reverse("compensation:home")}"'
    client.force_login(accountant)
    nav = client.get(reverse("compensation:payments")).content.decode().split("</nav>")[0]
    assert link in nav and "Сегодня" in nav
    client.force_login(sales_head)
    nav = client.get(reverse("kpi:dashboard")).content.decode().split("</nav>")[0]
    assert link in nav and "Бухгалтерия: дебиторка и закрытие" in nav


@pytest.mark.parametrize("role", ["hunter", "production"])
def test_hunters_and_production_are_refused_the_home(client, request, desk, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("compensation:home")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, desk):
    assert client.get(reverse("compensation:home"))["Location"].startswith(reverse("login"))


def test_each_list_names_what_to_do_and_links_to_where_it_is_done(client, accountant, hunter, desk):
    client.force_login(accountant)
    response = client.get(reverse("compensation:home"))
    html = response.content.decode()
    text = " ".join(page_text(response).split())

    owed = desk["owed"]
    assert f"{reverse('deals:detail', args=[owed.pk])}#payment" in html  # deals awaiting payment
    assert "3 500,00 ₽" in text  # 5 000,00 ordered, 1 500,00 paid
    assert f"{reverse('deals:detail', args=[desk['no_invoice'].pk])}#document" in html  # invoice to upload
    assert "Кафе «Без счёта»" in text
    month = desk["last_month"]
    assert reverse("compensation:statement", args=[hunter.username, f"{month:%Y-%m}"]) in html
    assert f"{reverse('compensation:statements')}?month={month:%Y-%m}&amp;confirm=lock" in html
    assert reverse("compensation:bank_line", args=[desk["line"].pk]) in html
    assert "ООО «Неизвестный плательщик»" in text
    # The aging tables: one hunter row links to the deals of that hunter, one client row to its card.
    assert f"?hunter={hunter.pk}#awaiting" in html
    assert reverse("clients:detail", args=[owed.client_id]) in html


def test_the_head_sees_the_lists_but_not_the_bank_lines(client, sales_head, desk):
    client.force_login(sales_head)
    html = client.get(reverse("compensation:home")).content.decode()
    assert f"{reverse('deals:detail', args=[desk['owed'].pk])}#payment" in html
    assert reverse("compensation:bank_line", args=[desk["line"].pk]) not in html


def test_filtering_by_hunter_lists_only_that_hunters_deals(client, accountant, other_hunter, desk):
    client.force_login(accountant)
    response = client.get(reverse("compensation:home"), {"hunter": other_hunter.pk})
    assert response.context["awaiting"] == []


def test_the_home_reads_a_fixed_number_of_queries_whatever_the_number_of_rows(
    client, accountant, desk, django_assert_max_num_queries
):
    client.force_login(accountant)
    client.get(reverse("compensation:home"))  # sessions, permissions: warmed up
    with django_assert_max_num_queries(13):
        client.get(reverse("compensation:home"))
    for number in range(5):
        BankLine.objects.create(
            document_number=f"95{number}", document_date=date(2026, 3, 6), amount=Decimal("100.00") + number
        )
    approve(UserFactory(role="hunter"), desk["last_month"])
    with django_assert_max_num_queries(13):
        response = client.get(reverse("compensation:home"))
    assert len(response.context["home"].bank_lines) == 6
    assert len(response.context["home"].statements_to_lock) == 2
