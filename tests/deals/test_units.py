"""Units declined by the number before them: «1 канистра», «2 канистры», «5 канистр», «1,5 канистры»."""

from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.template import Context, Template
from django.urls import reverse

from deals.models import Product
from deals.units import plural_category, unit_for
from tests.deals.factories import make_product


@pytest.mark.parametrize(
    ("quantity", "form"),
    [
        (1, "канистра"),
        (2, "канистры"),
        (4, "канистры"),
        (5, "канистр"),
        (11, "канистр"),
        (12, "канистр"),
        (14, "канистр"),
        (21, "канистра"),
        (22, "канистры"),
        (25, "канистр"),
        (101, "канистра"),
        (111, "канистр"),
        (0, "канистр"),
        (Decimal("10.000"), "канистр"),  # a whole number however the column writes it
        (Decimal("1.000"), "канистра"),
        (Decimal("1.5"), "канистры"),  # a fraction takes the genitive singular
        (Decimal("0.5"), "канистры"),
        (Decimal("2.25"), "канистры"),
        (Decimal("21.5"), "канистры"),
    ],
)
def test_a_unit_is_declined_for_whole_numbers_and_fractions(quantity, form):
    assert unit_for(quantity, unit="канистра") == form


def test_the_categories_are_russian_plural_rules():
    assert [plural_category(n) for n in (1, 2, 5, 11, 21, 112, 1001)] == [
        "one",
        "few",
        "many",
        "many",
        "one",
        "many",
        "one",
    ]


def test_a_unit_that_does_not_decline_stays_as_it_is():
    assert [unit_for(n, unit="шт.") for n in (1, 2, 5, Decimal("1.5"))] == ["шт."] * 4
    assert unit_for(5, unit="галлон") == "галлон"  # unknown: never a wrong ending


@pytest.mark.django_db
def test_forms_stored_on_the_product_win_over_the_known_ones():
    product = make_product(unit="флакон")
    assert product.unit_forms == ("флакон", "флакона", "флаконов")
    Product.objects.filter(pk=product.pk).update(unit="туба", unit_few="тубы", unit_many="туб")
    product.refresh_from_db()
    assert [product.unit_for(n) for n in (1, 3, 7)] == ["туба", "тубы", "туб"]


@pytest.mark.django_db
def test_the_page_filter_writes_the_quantity_and_its_unit():
    product = make_product(unit="канистра")
    template = Template("{% load quantities %}{{ q|with_unit:product }}")
    shown = [template.render(Context({"q": q, "product": product})) for q in ("10.000", "1", "1.5", "1000")]
    assert [" ".join(text.split()) for text in shown] == [
        "10 канистр",
        "1 канистра",
        "1,5 канистры",
        "1 000 канистр",
    ]


@pytest.mark.django_db
def test_the_migration_fills_the_forms_of_the_catalogue_as_it_was():
    migration = import_module("deals.migrations.0022_unit_forms_sample_address_decline_reason")
    canister = Product.objects.create(name="Мыло 5 л", unit="Канистра", list_price=1, cost=1)
    piece = Product.objects.create(name="Салфетки", unit="шт.", list_price=1, cost=1)
    migration.fill_unit_forms(apps, schema_editor=None)
    canister.refresh_from_db()
    piece.refresh_from_db()
    assert (canister.unit_few, canister.unit_many) == ("канистры", "канистр")
    assert (piece.unit_few, piece.unit_many) == ("шт.", "шт.")


@pytest.mark.django_db
def test_the_head_adding_a_product_gets_the_forms_of_a_known_unit(client, sales_head):
    client.force_login(sales_head)
    response = client.post(
        reverse("deals:product_create"),
        {
            "name": "Гель для стирки 5 л",
            "unit": "канистра",
            "list_price": "1200",
            "cost": "780",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert Product.objects.get(name="Гель для стирки 5 л").unit_forms == ("канистра", "канистры", "канистр")
    response = client.post(
        reverse("deals:product_create"),
        {
            "name": "Паста 100 мл",
            "unit": "туба",
            "unit_few": "тубы",
            "unit_many": "туб",
            "list_price": "90",
            "cost": "40",
        },
    )
    assert response.status_code == 302
    assert Product.objects.get(name="Паста 100 мл").unit_for(5) == "туб"
