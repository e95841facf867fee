"""Reminders need people who read their mail: the usual roles, each with an email address, plus the
helpers to run the morning reminders for a chosen day and to read what each person got."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.roles import Role
from notifications.models import Notification
from notifications.services import daily_reminders_send
from tests.deals.factories import Pipeline
from tests.factories import UserFactory

# An ordinary working Tuesday, far from any holiday: the day most reminder tests run on.
TUESDAY = date(2026, 11, 17)
# When the follow-ups of these tests were agreed with the client: before any next contact they set.
AGREED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Yekaterinburg"))


def follow_up_agreed(**kwargs):
    """A follow-up recorded on AGREED_AT, as it happened: a next contact is never planned in the past."""
    from deals.services import follow_up_record

    with time_machine.travel(AGREED_AT, tick=False):
        return follow_up_record(**kwargs)


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Invoices uploaded while deals are walked through the pipeline land in the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def hunter(db):
    return UserFactory(
        username="hunter_a",
        full_name="Иван Иванов",
        role=Role.HUNTER,
        extension="101",
        email="ivanov@atlanset.example",
    )


@pytest.fixture
def other_hunter(db):
    return UserFactory(
        username="hunter_b",
        full_name="Анна Смирнова",
        role=Role.HUNTER,
        extension="102",
        email="smirnova@atlanset.example",
    )


@pytest.fixture
def sales_head(db):
    return UserFactory(
        username="head", full_name="Ольга Петрова", role=Role.SALES_HEAD, email="petrova@atlanset.example"
    )


@pytest.fixture
def accountant(db):
    return UserFactory(
        username="buh", full_name="Евгения Шибанова", role=Role.ACCOUNTANT, email="shibanova@atlanset.example"
    )


@pytest.fixture
def pipeline(hunter, production, accountant):
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


@pytest.fixture
def run_reminders(django_capture_on_commit_callbacks):
    """The morning run for ``today``, with the emails it queues on commit actually sent (Celery is
    eager in tests; the test's own transaction would otherwise hold the on-commit queue forever)."""

    def run(today: date):
        with django_capture_on_commit_callbacks(execute=True):
            return daily_reminders_send(today=today)

    return run


def titles(user, kind: str | None = None) -> list[str]:
    """What the user's bell lists, oldest first."""
    notifications = Notification.objects.filter(recipient=user)
    if kind is not None:
        notifications = notifications.filter(kind=kind)
    return list(notifications.order_by("pk").values_list("title", flat=True))
