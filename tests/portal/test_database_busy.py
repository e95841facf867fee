"""A statement cancelled by its lock or statement timeout costs one request a Russian 503 page, not a 500
and not a hung worker. (A real lock held by another PostgreSQL session: tests/portal/test_failures.py.)"""

from unittest import mock

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from atlanset_portal.middleware import database_busy
from deals.models import Payment
from deals.stages import Stage
from tests.deals.factories import Pipeline, make_deal
from tests.kpi.factories import ORDER_TOTAL, make_hunter

pytestmark = pytest.mark.django_db


class LockNotAvailable(Exception):
    pgcode = "55P03"


def lock_timeout() -> OperationalError:
    error = OperationalError("canceling statement due to lock timeout")
    error.__cause__ = LockNotAvailable()
    return error


def test_a_lock_timeout_answers_503_in_russian_and_saves_nothing(client, accountant, production):
    hunter = make_hunter()
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    client.force_login(accountant)
    form = {"amount": str(ORDER_TOTAL), "received_on": timezone.localdate().isoformat(), "bank_document": "5"}

    with mock.patch("deals.services._locked_deal", side_effect=lock_timeout()):
        response = client.post(reverse("deals:payment", args=[deal.pk]), form)

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "Портал сейчас занят" in page and "ничего не сохранено" in page
    assert not Payment.objects.filter(deal=deal).exists()

    assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 302  # a minute later


def test_only_waits_for_locks_and_long_statements_count_as_busy():
    assert database_busy(lock_timeout())
    statement_timeout = OperationalError("canceling statement due to statement timeout")
    statement_timeout.__cause__ = type("QueryCanceled", (Exception,), {"pgcode": "57014"})()
    assert database_busy(statement_timeout)
    assert database_busy(OperationalError("database is locked"))  # SQLite past its busy timeout
    assert not database_busy(OperationalError("could not connect to server"))
    assert not database_busy(ValueError("canceling statement due to lock timeout"))


def test_any_other_error_is_still_an_error(client, hunter):
    client.force_login(hunter)
    failing = mock.patch("kpi.views.MyDayView.get_context_data", side_effect=OperationalError("closed"))
    with failing, pytest.raises(OperationalError):
        client.get(reverse("kpi:my_day"))
