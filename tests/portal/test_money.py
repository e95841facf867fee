from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from atlanset_portal.templatetags.formatting import rub


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("1234.56"), "1\u00a0234,56\u00a0₽"),
        (Decimal("38000"), "38\u00a0000,00\u00a0₽"),
        (Decimal("1000000.1"), "1\u00a0000\u00a0000,10\u00a0₽"),
        (Decimal("0.505"), "0,51\u00a0₽"),
        (Decimal("-2500.00"), "-2\u00a0500,00\u00a0₽"),
        (0, "0,00\u00a0₽"),
    ],
)
def test_money_is_shown_in_russian_format(amount, shown):
    with translation.override("ru"):
        assert rub(amount) == shown


def test_missing_amount_shows_nothing():
    assert rub(None) == ""


def test_filter_is_available_in_every_template_without_load():
    with translation.override("ru"):
        assert Template("{{ x|rub }}").render(Context({"x": Decimal("99.9")})) == "99,90\u00a0₽"


@pytest.mark.parametrize(
    ("rate", "shown"),
    [("0.05", "5\u00a0%"), ("0.025", "2,5\u00a0%"), ("0.10", "10\u00a0%"), ("0.0500", "5\u00a0%")],
)
def test_rates_are_shown_as_short_percentages(rate, shown):
    from atlanset_portal.templatetags.formatting import percent

    with translation.override("ru"):
        assert percent(Decimal(rate)) == shown
