"""Dates checked against what must come before them. The services call these (so the page, the shell and
any import are held to the same rules) and refuse with the Russian message on the date's field."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def day_text(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def refuse_dates(**problems: str | None) -> None:
    """Refuses with every date that cannot be right, each on its field (``None``: that date is fine)."""
    found = {field: message for field, message in problems.items() if message}
    if found:
        raise ValidationError(found)


def receipt_problem(*, received_on: date | None, courier_date: date, today: date) -> str | None:
    """Goods reach the client after the courier took them, and not later than today."""
    if received_on is None:
        return None
    if received_on < courier_date:
        return _("Клиент не мог получить товар раньше, чем его забрал курьер (%(courier)s).") % {
            "courier": day_text(courier_date)
        }
    if received_on > today:
        return _("Дата получения не может быть в будущем: сегодня %(today)s.") % {"today": day_text(today)}
    return None


def next_contact_problem(next_contact_on: date | None, *, today: date) -> str | None:
    """A next contact is planned, so it is today or later: a date in the past would be overdue at once."""
    if next_contact_on is not None and next_contact_on < today:
        return _("Следующий контакт не может быть в прошлом: сегодня %(today)s.") % {"today": day_text(today)}
    return None


def proposal_sent_problem(*, sent_on: date, today: date) -> str | None:
    if sent_on > today:
        return _("КП не может быть отправлено позже сегодняшнего дня (%(today)s).") % {
            "today": day_text(today)
        }
    return None


def callback_problem(*, callback_on: date, sent_on: date, today: date) -> str | None:
    """The callback after a proposal is agreed when it is sent, so it is not before that day; it becomes
    the deal's next contact, so it is not in the past either."""
    if callback_on < sent_on:
        return _("Обратный звонок не может быть раньше отправки КП (%(sent)s).") % {"sent": day_text(sent_on)}
    return next_contact_problem(callback_on, today=today)
