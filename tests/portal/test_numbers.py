"""Numbers as Russian people type them (atlanset_portal/numbers.py): a comma is the decimal separator, a
space groups thousands, and what could be read two ways is refused, never guessed."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atlanset_portal.numbers import NumberRefused, format_decimal, input_text, parse_decimal
from tests.properties.support import assert_clear_russian


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("237,50", Decimal("237.50")),
        ("237.50", Decimal("237.50")),  # a phone's keypad or a spreadsheet's dot
        ("10", Decimal("10")),
        ("0,5", Decimal("0.5")),
        (",5", Decimal("0.5")),
        ("0.125", Decimal("0.125")),  # cannot be thousands: a whole part of 0
        ("1234.500", Decimal("1234.500")),  # nor after four digits
        ("1 500", Decimal("1500")),
        ("1\u00a0234,56", Decimal("1234.56")),  # the no-break space the portal itself writes
        ("1\u202f234 567,5", Decimal("1234567.5")),
        ("1 234.50", Decimal("1234.50")),  # grouped by spaces: the dot is the decimal point
        (" 42 ", Decimal("42")),
        ("-3,5", Decimal("-3.5")),
        ("−3", Decimal("-3")),  # the minus sign of a Russian keyboard layout
    ],
)
def test_russian_input_is_read_as_meant(typed, value):
    parsed = parse_decimal(typed)
    assert parsed == value and parsed.as_tuple() == value.as_tuple()


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("1.500", "1,5 или 1 500"),  # the ambiguous dot: never 1500 nor 1,5 silently
        ("10.000", "10 или 10 000"),
        ("237.500", "237,5 или 237 500"),
        ("1.234,56", "и точка, и запятая"),
        ("1,234.56", "и точка, и запятая"),
        ("1.234.567", "несколько знаков"),
        ("1,2,3", "несколько знаков"),
        ("12 34", "по три цифры"),
        ("1 2345", "по три цифры"),
        ("", "Введите число"),
        ("abc", "цифрами"),
        ("1e5", "цифрами"),
        ("NaN", "цифрами"),
        ("١٢٣", "цифрами"),
        ("１２３", "цифрами"),
        (".", "цифрами"),
        ("9" * 41, "Слишком длинное"),
    ],
)
def test_what_cannot_be_read_one_way_is_refused_in_russian(typed, says):
    with pytest.raises(NumberRefused) as refusal:
        parse_decimal(typed)
    assert says in " ".join(str(refusal.value).split())
    assert_clear_russian(refusal.value, echoed=[typed])


def test_a_comma_is_never_dropped():
    """The old pages could read «237,50» as 23 750."""
    assert parse_decimal("237,50") == Decimal("237.5")
    assert parse_decimal("2,375") == Decimal("2.375")


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (Decimal("10.000"), None, "10"),
        (Decimal("2.500"), None, "2,5"),
        (Decimal("0.125"), None, "0,125"),
        (Decimal("1E+3"), None, "1000"),
        (Decimal("237.5"), 2, "237,50"),
        (Decimal("1000"), 2, "1000,00"),
    ],
)
def test_inputs_show_numbers_as_they_are_read_back(value, places, shown):
    assert input_text(value, places) == shown
    assert parse_decimal(shown) == value


def test_numbers_for_reading_are_grouped_without_trailing_zeros():
    assert format_decimal(Decimal("10.000")) == "10"
    assert format_decimal(Decimal("1000.500")) == "1\u00a0000,5"


@given(st.decimals(min_value=Decimal("-999999999"), max_value=Decimal("999999999"), places=3))
def test_whatever_an_input_shows_reads_back_as_the_same_number(value):
    assert parse_decimal(input_text(value)) == value
    assert parse_decimal(input_text(value.quantize(Decimal("0.01")), 2)) == value.quantize(Decimal("0.01"))
