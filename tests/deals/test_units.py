"""Units declined by the number before them through the translation catalogues: «1 канистра»,
«2 канистры», «10 канистр», «1,5 канистры»; in English «1 canister», «10 canisters»."""

import json
import warnings
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from deals.models import Product
from deals.units import Unit, unit_for, unit_forms_by_category
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
    assert unit_for(Unit.CANISTER, quantity) == form


@pytest.mark.parametrize(
    ("unit", "forms"),
    [
        (Unit.BOTTLE, ["бутылка", "бутылки", "бутылок"]),
        (Unit.VIAL, ["флакон", "флакона", "флаконов"]),
        (Unit.BUCKET, ["ведро", "ведра", "вёдер"]),
        (Unit.PAIR, ["пара", "пары", "пар"]),
        (Unit.PIECE, ["шт.", "шт.", "шт."]),  # an abbreviation does not decline
        (Unit.LITRE, ["л", "л", "л"]),
    ],
)
def test_every_unit_has_its_three_russian_forms_in_the_catalogue(unit, forms):
    assert [unit_for(unit, n) for n in (1, 3, 7)] == forms


@pytest.mark.parametrize("unit", Unit.values)
def test_every_unit_of_the_list_is_translated_to_english(unit):
    with translation.override("en"):
        one, many = unit_for(unit, 1), unit_for(unit, 5)
    assert one.isascii() and many.isascii(), (one, many)


def test_the_forms_come_from_ngettext_so_english_pages_say_canisters():
    with translation.override("en"):
        assert [unit_for(Unit.CANISTER, n) for n in (1, 2, 5, Decimal("1.5"))] == [
            "canister",
            "canisters",
            "canisters",
            "canisters",
        ]


def test_a_fractional_quantity_is_declined_without_gettext_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert unit_for(Unit.BOTTLE, Decimal("0.25")) == "бутылки"


def test_a_unit_typed_before_the_list_is_shown_as_it_was():
    assert [unit_for("туба", n) for n in (1, 5)] == ["туба", "туба"]


def test_the_script_gets_the_form_for_each_plural_category_of_the_page_language():
    assert unit_forms_by_category(Unit.CANISTER) == {
        "one": "канистра",
        "few": "канистры",
        "many": "канистр",
        "other": "канистры",
    }
    with translation.override("en"):
        assert unit_forms_by_category(Unit.CANISTER)["other"] == "canisters"


@pytest.mark.django_db
def test_the_page_filter_writes_the_quantity_and_its_unit():
    product = make_product(unit=Unit.CANISTER)
    template = Template("{% load quantities %}{{ q|with_unit:product }}")
    shown = [template.render(Context({"q": q, "product": product})) for q in ("10.000", "1", "1.5", "1000")]
    assert [" ".join(text.split()) for text in shown] == [
        "10 канистр",
        "1 канистра",
        "1,5 канистры",
        "1 000 канистр",
    ]


@pytest.mark.django_db
def test_the_migration_turns_typed_units_into_the_list_and_keeps_unknown_ones():
    migration = import_module("deals.migrations.0023_product_unit_choices_sample_address_decline_reason")
    canister = Product.objects.create(name="Мыло 5 л", unit="Канистра", list_price=1, cost=1)
    piece = Product.objects.create(name="Салфетки", unit="шт", list_price=1, cost=1)
    tube = Product.objects.create(name="Паста", unit="туба", list_price=1, cost=1)
    migration.units_to_codes(apps, schema_editor=None)
    assert list(Product.objects.order_by("pk").values_list("unit", flat=True)) == [
        Unit.CANISTER,
        Unit.PIECE,
        "туба",
    ]
    assert canister.pk and piece.pk and tube.pk


@pytest.mark.django_db
def test_the_head_picks_a_unit_from_the_list_and_orders_then_read_it_declined(client, sales_head):
    client.force_login(sales_head)
    product = {"name": "Гель для стирки 5 л", "list_price": "1200", "cost": "780", "is_active": "on"}
    response = client.post(reverse("deals:product_create"), {**product, "unit": "туба"})
    assert response.status_code == 200 and "unit" in response.context["form"].errors
    assert not Product.objects.exists()

    response = client.post(reverse("deals:product_create"), {**product, "unit": Unit.CANISTER})
    assert response.status_code == 302
    saved = Product.objects.get(name="Гель для стирки 5 л")
    assert saved.unit_for(10) == "канистр"
    listing = client.get(reverse("deals:products")).content.decode()
    assert "канистра" in listing


@pytest.mark.django_db
def test_each_product_option_carries_its_unit_forms_in_the_page_language(client, sales_head):
    from deals.forms import OrderLineForm

    product = make_product(unit=Unit.BOTTLE)
    html = str(OrderLineForm(products=[product])["product"])
    start = html.index("data-unit-forms=") + len('data-unit-forms="')
    forms = json.loads(html[start : html.index('"', start)].replace("&quot;", '"'))
    assert forms == {"one": "бутылка", "few": "бутылки", "many": "бутылок", "other": "бутылки"}
