"""Reads about statements (compensation.selectors): from which month a new pay scheme may take effect."""

from dataclasses import asdict
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from compensation.rules import DEFAULT_SCHEME
from compensation.selectors import first_open_month, scheme_start_default
from compensation.services import scheme_save
from tests.kpi.factories import set_plan
from tests.workflow import approve, close_month

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)
RATES = {name: value for name, value in asdict(DEFAULT_SCHEME).items() if name != "effective_from"}


@pytest.fixture
def march_locked(sales_head, hunter, accountant):
    set_plan(sales_head, hunter, MARCH, calls_target=1)
    close_month(hunter, MARCH, head=sales_head, accountant=accountant)


def test_without_locked_statements_every_month_is_open():
    assert first_open_month(date(2026, 3, 17)) == MARCH
    assert scheme_start_default(date(2026, 3, 17)) == date(2026, 4, 1)
    assert scheme_start_default(date(2026, 12, 31)) == date(2027, 1, 1)


def test_the_first_open_month_is_the_one_after_the_latest_locked_statement(march_locked):
    assert first_open_month(date(2026, 1, 1)) == date(2026, 4, 1)
    assert first_open_month(MARCH) == date(2026, 4, 1)
    assert first_open_month(date(2026, 4, 1)) == date(2026, 4, 1)
    assert scheme_start_default(date(2026, 2, 10)) == date(2026, 4, 1)  # next month is locked: the one after
    assert scheme_start_default(date(2026, 3, 10)) == date(2026, 4, 1)


def test_an_approved_statement_does_not_close_its_month_to_a_new_scheme(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=1)
    approve(hunter, MARCH, head=sales_head)

    assert first_open_month(MARCH) == MARCH


def test_scheme_save_takes_the_first_open_month_and_refuses_an_earlier_one(march_locked, sales_head):
    with pytest.raises(ValidationError) as error:
        scheme_save(acting_user=sales_head, effective_from=date(2026, 3, 15), **RATES)

    assert "Новая редакция может действовать с 01.04.2026 или позже." in error.value.messages[0]
    version = scheme_save(acting_user=sales_head, effective_from=first_open_month(MARCH), **RATES)
    assert version.effective_from == date(2026, 4, 1)
