"""Months and quarters in Surgut's time: the portal's plans, counters and statements are monthly."""

from datetime import date, datetime, time

from django.utils import timezone


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_range(month: date) -> tuple[datetime, datetime]:
    """[start, end) of the month as aware datetimes in the portal's time zone."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(month_start(month), time.min, tzinfo=zone)
    return start, datetime.combine(next_month(month), time.min, tzinfo=zone)


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def quarter_months(day: date) -> list[date]:
    first = quarter_start(day)
    return [first, next_month(first), next_month(next_month(first))]


def parse_month(text: str) -> date | None:
    """``2026-03`` → 1 March 2026; None for anything else."""
    try:
        year, month = text.split("-")
        day = date(int(year), int(month), 1)
    except (ValueError, AttributeError):
        return None
    # Pages step to the month before and after: the calendar's first and last months have none.
    return day if date.min < day and day.replace(day=28) < date.max.replace(day=1) else None
