"""Phone numbers: every shape people type gives one E.164 number, and a stored number reads back as itself."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st

from deals.phones import format_phone, normalize_phone


@pytest.mark.parametrize(
    "typed",
    ["8 912 345-67-89", "+7 (912) 345-67-89", "9123456789", "  +79123456789 ", "8-912-345-67-89"],
)
def test_russian_shapes_give_one_number(typed):
    assert normalize_phone(typed) == "+79123456789"


def test_a_foreign_number_written_in_full_is_kept():
    assert normalize_phone("+49 30 901820") == "+4930901820"
    assert format_phone("+4930901820") == "+49 30 901820"


@pytest.mark.parametrize(
    "typed",
    [
        "+310000000",  # formatting drops a digit: +31000000, then +3100000 on the next save
        "+81000000000000000",  # 16 digits: longer than E.164 allows
        "8 912 345-67",  # too short
        "+7 912 345-67-89 доб. 12",  # an extension
        "телефон",
    ],
)
def test_numbers_that_cannot_be_stored_as_themselves_are_refused_in_russian(typed):
    with pytest.raises(ValidationError) as refused:
        normalize_phone(typed)
    assert "номер телефона" in refused.value.messages[0]


@settings(max_examples=300, deadline=None)
@given(typed=st.from_regex(r"\A\+?[0-9 ()\-]{1,22}\Z"))
@example(typed="+310000000")
def test_an_accepted_number_is_e164_and_stable(typed):
    try:
        number = normalize_phone(typed)
    except ValidationError:
        return
    assert number.startswith("+") and number[1:].isdigit() and len(number) <= 16
    assert normalize_phone(number) == number
    assert normalize_phone(format_phone(number)) == number
