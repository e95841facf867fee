"""The hunter's projected pay, gathered from the database and run through the statement engine."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation.projection import projected_pay
from deals.services import OrderLineInput, order_set_lines, payment_record
from kpi.models import ActivityKind
from kpi.services import PlanRow, plans_save
from tests.deals.factories import Pipeline, make_client, make_deal, make_product
from tests.kpi.factories import local, log_activity
from tests.kpi.test_views import section

MARCH = date(2026, 3, 1)


@pytest.fixture
def pipeline(hunter, production, accountant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


def deal_with_order(pipeline, client, *, quantity, price, cost):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=client), "deal")
    product = make_product(list_price=price, cost=cost)
    order_set_lines(
        acting_user=pipeline.hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=quantity)]
    )
    return deal


def new_clients_order_of_10_000(pipeline):
    """A new client's deal with an order of 10 000 ₽ (cost 6 000), nothing paid."""
    client = make_client(acting_user=pipeline.hunter)
    return deal_with_order(pipeline, client, quantity=Decimal(10), price=Decimal("1000"), cost=Decimal("600"))


def test_worked_example_of_the_spec_is_the_projected_pay(pipeline, sales_head, accountant):
    """SPEC §5: 10 000 + 2 500 + 2 500 (accelerated) + plan bonus 13 000 + fixed 10 000 = 38 000,00 ₽."""
    hunter = pipeline.hunter
    plans_save(
        acting_user=sales_head,
        month=MARCH,
        rows=[PlanRow(hunter=hunter, revenue_target=Decimal("300000"), deals_target=2, meetings_target=1)],
    )
    # "KPI targets reached": a KPI plan of zeros would be no KPI plan and earn no fixed part.
    log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 10))
    regular = make_client(acting_user=hunter, name="ИП Сидоров")
    earlier = deal_with_order(
        pipeline, regular, quantity=Decimal(10), price=Decimal("1000"), cost=Decimal("700")
    )
    payment_record(
        acting_user=accountant, deal=earlier, amount=Decimal("10000"), received_on=date(2026, 1, 20)
    )
    d1 = deal_with_order(
        pipeline,
        make_client(acting_user=hunter, name="ООО «Ромашка»"),
        quantity=Decimal(1000),
        price=Decimal("200"),
        cost=Decimal("120"),
    )
    d2 = deal_with_order(
        pipeline, regular, quantity=Decimal(100), price=Decimal("1500"), cost=Decimal("1000")
    )
    assert d1.is_new_client and not d2.is_new_client
    payment_record(acting_user=accountant, deal=d1, amount=Decimal("200000"), received_on=date(2026, 3, 5))
    payment_record(acting_user=accountant, deal=d2, amount=Decimal("150000"), received_on=date(2026, 3, 20))

    statement = projected_pay(hunter=hunter, month=MARCH).statement

    assert [(line.kind, line.base, line.amount, line.accelerated) for line in statement.lines] == [
        ("commission", Decimal("200000.00"), Decimal("10000.00"), False),
        ("commission", Decimal("100000.00"), Decimal("2500.00"), False),
        ("commission", Decimal("50000.00"), Decimal("2500.00"), True),
        ("plan_bonus", Decimal("130000.00"), Decimal("13000.00"), False),
        ("fixed", None, Decimal("10000.00"), False),
    ]
    assert statement.total == Decimal("38000.00")
    assert projected_pay(hunter=hunter, month=MARCH).sections == [
        ("Процент с оплат", Decimal("15000.00")),
        ("Доп. процент с маржи", Decimal("13000.00")),
        ("Фиксированная часть", Decimal("10000.00")),
    ]


def test_the_hunters_day_shows_the_parts_of_pay_and_leads_to_the_statement(client, pipeline, accountant):
    hunter = pipeline.hunter
    deal = new_clients_order_of_10_000(pipeline)
    today = timezone.localdate()
    payment_record(acting_user=accountant, deal=deal, amount=Decimal("4000"), received_on=today)
    client.force_login(hunter)

    html = client.get(reverse("kpi:my_day")).content.decode()
    pay = " ".join(re.sub(r"<[^>]+>", " ", section(html, "pay")).replace("\xa0", " ").split())

    assert "Процент с оплат 200,00 ₽" in pay  # 5 % of a new client's 4 000
    assert "Фиксированная часть" not in pay  # no plan: nothing earned there, no line for it
    statement = reverse("compensation:statement", args=[hunter.username, f"{today:%Y-%m}"])
    assert f'href="{statement}"' in html
    assert client.get(statement).status_code == 200


def test_an_open_deal_shows_what_its_payment_would_add(pipeline, sales_head):
    hunter = pipeline.hunter
    plans_save(
        acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, revenue_target=Decimal("1000000"))]
    )
    deal = new_clients_order_of_10_000(pipeline)

    projection = projected_pay(hunter=hunter, month=MARCH)

    [upside] = projection.upsides
    assert upside.deal == deal
    assert upside.outstanding == Decimal("10000.00")
    assert upside.adds == Decimal("500.00")  # 5 % of a new client's 10 000; the plan stays unfulfilled


def test_what_a_deal_would_add_follows_each_change_of_the_month_and_deal(pipeline, sales_head, accountant):
    """The answers are kept between visits; any change of what they are worked out from gives new ones."""
    hunter = pipeline.hunter
    plans_save(
        acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, revenue_target=Decimal("1000000"))]
    )
    deal = new_clients_order_of_10_000(pipeline)
    other = new_clients_order_of_10_000(pipeline)
    assert {u.deal: u.adds for u in projected_pay(hunter=hunter, month=MARCH).upsides} == {
        deal: Decimal("500.00"),
        other: Decimal("500.00"),
    }

    # Part of the deal is paid: the rest would add 5 % of what is left.
    payment_record(acting_user=accountant, deal=deal, amount=Decimal("4000"), received_on=date(2026, 3, 2))
    upsides = {u.deal: (u.outstanding, u.adds) for u in projected_pay(hunter=hunter, month=MARCH).upsides}
    assert upsides[deal] == (Decimal("6000.00"), Decimal("300.00"))

    # A plan that the other deal's payment would fulfil: its payment now brings the plan bonus too.
    plans_save(
        acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, revenue_target=Decimal("14000"))]
    )
    upsides = {u.deal: u.adds for u in projected_pay(hunter=hunter, month=MARCH).upsides}
    assert upsides[other] > Decimal("500.00")
