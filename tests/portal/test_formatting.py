"""Money as the pages write it: ``rub`` is written out for speed and must say exactly what Django's
``floatformat:"2g"`` says, in Russian and in English, for every amount."""

from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from atlanset_portal.templatetags.formatting import rub

amounts = st.one_of(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=2),
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=5),
    st.integers(min_value=-(10**12), max_value=10**12),
)


@pytest.mark.parametrize("language", ["ru", "en"])
@given(value=amounts)
def test_rub_writes_an_amount_as_floatformat_does(language, value):
    with translation.override(language):
        assert rub(value) == floatformat(value, "2g") + "\u00a0₽"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("1234.5"), "1\u00a0234,50\u00a0₽"),
        (Decimal("0.005"), "0,01\u00a0₽"),  # half up, not to even
        (Decimal("-0.005"), "-0,01\u00a0₽"),
        (Decimal("-1234567.891"), "-1\u00a0234\u00a0567,89\u00a0₽"),
        ("300000", "300\u00a0000,00\u00a0₽"),
        (0, "0,00\u00a0₽"),
        (None, ""),
        ("", ""),
        ("not a number", ""),
    ],
)
def test_rub_in_russian(value, written):
    with translation.override("ru"):
        assert rub(value) == written
