"""Working days by the Russian production calendar (holidays and the government's day transfers).

Reminders due on a day off go out on the next working day, and deferred-payment terms written in
working days are counted with the same calendar.
"""

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=32)
def _calendar(year: int) -> holidays.HolidayBase:
    # A year's calendar also needs its neighbours: a transfer can cross the new year.
    return holidays.country_holidays("RU", years=(year - 1, year, year + 1), language="ru")


def is_working_day(day: date) -> bool:
    return _calendar(day.year).is_working_day(day)


def next_working_day(day: date) -> date:
    """The day itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def previous_working_day(day: date) -> date:
    """The last working day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    day = start
    for _ in range(days):
        day = next_working_day(day + timedelta(days=1))
    return day


def working_days_back(today: date, days: int) -> date:
    """The earliest date ``days`` working days before ``today`` (today itself not counted)."""
    day = today
    for _ in range(days):
        day = previous_working_day(day)
    return day


def reminder_days(today: date) -> list[date]:
    """The dates whose reminders go out today: nothing on a day off; on a working day, the days off
    just before it and today itself."""
    if not is_working_day(today):
        return []
    first = previous_working_day(today) + timedelta(days=1)
    return [first + timedelta(days=offset) for offset in range((today - first).days + 1)]
