"""The Russian production calendar as the portal counts it (holidays and the government's transfers),
checked against the published 2025–2026 calendars, and deferred-payment terms counted with it."""

from datetime import date, timedelta

import pytest

from atlanset_portal.workdays import (
    add_working_days,
    is_working_day,
    next_working_day,
    previous_working_day,
    reminder_days,
)
from deals.models import Client
from deals.selectors import deferred_due_on


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


# --- is_working_day ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 17), True),  # an ordinary Tuesday
        (date(2026, 11, 21), False),  # an ordinary Saturday
        (date(2026, 11, 22), False),  # an ordinary Sunday
        (date(2025, 11, 1), True),  # Saturday worked instead of Monday 3 November
        (date(2025, 11, 3), False),  # the Monday it was transferred to
        (date(2025, 11, 4), False),  # Unity Day
        (date(2025, 11, 5), True),
        (date(2025, 12, 31), False),  # transferred from Sunday 5 January 2025
        (date(2026, 1, 9), False),  # a Friday, transferred from Saturday 3 January 2026
        (date(2026, 1, 12), True),  # the first working day of 2026
        (date(2026, 11, 4), False),  # Unity Day on a Wednesday
        (date(2026, 12, 31), False),  # transferred from Sunday 4 January 2026
    ],
)
def test_working_days_follow_the_production_calendar(day, working):
    assert is_working_day(day) is working


def test_the_new_year_break_2026_runs_from_1_to_11_january():
    assert [day for day in days(date(2026, 1, 1), date(2026, 1, 11)) if is_working_day(day)] == []
    # Weekdays of the break are days off too, not only the weekend.
    assert date(2026, 1, 5).weekday() == 0 and not is_working_day(date(2026, 1, 5))


# --- next / previous working day -----------------------------------------------------------------


def test_next_working_day_is_the_day_itself_when_it_is_a_working_day():
    assert next_working_day(date(2026, 11, 17)) == date(2026, 11, 17)
    assert next_working_day(date(2025, 11, 1)) == date(2025, 11, 1)  # a working Saturday


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 21), date(2026, 11, 23)),  # Saturday → Monday
        (date(2025, 11, 2), date(2025, 11, 5)),  # Sunday before the 3–4 November days off
        (date(2026, 1, 1), date(2026, 1, 12)),
        (date(2025, 12, 31), date(2026, 1, 12)),  # across the new year
    ],
)
def test_next_working_day_skips_days_off(day, expected):
    assert next_working_day(day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 17), date(2026, 11, 16)),  # strictly before, even on a working day
        (date(2026, 11, 23), date(2026, 11, 20)),  # Monday → Friday
        (date(2025, 11, 5), date(2025, 11, 1)),  # the working Saturday
        (date(2026, 1, 12), date(2025, 12, 30)),  # back over the whole new-year break
    ],
)
def test_previous_working_day(day, expected):
    assert previous_working_day(day) == expected


# --- add_working_days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 11, 17), 0, date(2026, 11, 17)),
        (date(2026, 11, 16), 5, date(2026, 11, 23)),  # a plain week: Monday + 5 = next Monday
        (date(2025, 10, 31), 1, date(2025, 11, 1)),  # the working Saturday counts
        (date(2025, 10, 31), 2, date(2025, 11, 5)),  # then 2, 3 and 4 November are skipped
        (date(2025, 12, 30), 1, date(2026, 1, 12)),  # the whole new-year break is skipped
        (date(2025, 12, 26), 5, date(2026, 1, 14)),
        (date(2026, 11, 21), 1, date(2026, 11, 23)),  # from a day off, the start is not counted
    ],
)
def test_add_working_days(start, count, expected):
    assert add_working_days(start, count) == expected


# --- reminder_days -------------------------------------------------------------------------------


def test_reminder_days_on_an_ordinary_working_day_is_that_day():
    assert reminder_days(date(2026, 11, 17)) == [date(2026, 11, 17)]


def test_reminder_days_on_a_monday_covers_the_weekend():
    assert reminder_days(date(2026, 11, 23)) == [date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)]


@pytest.mark.parametrize(
    "day", [date(2026, 11, 21), date(2026, 11, 22), date(2025, 11, 3), date(2025, 11, 4), date(2026, 1, 9)]
)
def test_reminder_days_on_a_day_off_is_empty(day):
    assert reminder_days(day) == []


def test_reminder_days_on_a_working_saturday_is_that_saturday():
    assert reminder_days(date(2025, 11, 1)) == [date(2025, 11, 1)]


def test_reminder_days_after_the_november_days_off_cover_them():
    assert reminder_days(date(2025, 11, 5)) == days(date(2025, 11, 2), date(2025, 11, 5))


def test_the_first_working_day_after_the_new_year_break_covers_every_holiday():
    covered = reminder_days(date(2026, 1, 12))
    assert covered == days(date(2025, 12, 31), date(2026, 1, 12))
    assert len(covered) == 13


def test_every_day_of_a_year_is_covered_by_exactly_one_working_day():
    """Nothing falls through the gaps and nothing is reminded twice, across holidays and transfers."""
    covered = []
    for day in days(date(2025, 1, 1), date(2026, 12, 30)):
        covered.extend(reminder_days(day))
    # 31 December 2026 is a day off: it waits for January 2027, so it is not in this run.
    assert covered == days(covered[0], date(2026, 12, 30))
    assert covered[0] <= date(2025, 1, 1)


# --- deferred terms ------------------------------------------------------------------------------


def deferred_client(days: int | None, *, working: bool = False) -> Client:
    return Client(payment_terms="deferred", deferred_days=days, deferred_in_working_days=working)


def test_deferred_term_in_calendar_days_counts_weekends_and_holidays():
    assert deferred_due_on(deferred_client(10), date(2026, 11, 3)) == date(2026, 11, 13)
    assert deferred_due_on(deferred_client(3), date(2025, 10, 30)) == date(2025, 11, 2)
    assert deferred_due_on(deferred_client(5), date(2025, 12, 26)) == date(2025, 12, 31)


def test_deferred_term_in_working_days_skips_weekends_and_holidays():
    # 4 November (Unity Day) and two weekends are not counted.
    assert deferred_due_on(deferred_client(10, working=True), date(2026, 11, 3)) == date(2026, 11, 18)
    # 31 October, the working Saturday 1 November, then 5 November.
    assert deferred_due_on(deferred_client(3, working=True), date(2025, 10, 30)) == date(2025, 11, 5)
    # 29 and 30 December, then 12, 13 and 14 January after the break.
    assert deferred_due_on(deferred_client(5, working=True), date(2025, 12, 26)) == date(2026, 1, 14)


def test_deferred_term_without_days_is_due_on_receipt():
    assert deferred_due_on(deferred_client(None), date(2026, 11, 17)) == date(2026, 11, 17)
    assert deferred_due_on(deferred_client(None, working=True), date(2026, 11, 17)) == date(2026, 11, 17)
