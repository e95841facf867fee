"""Filters every template has: money as ``1 234,56 ₽`` and phones as ``+7 912 345-67-89``."""

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()

NO_BREAK_SPACE = "\u00a0"


@register.filter
def rub(value: Decimal | int | str | None) -> str:
    if value is None or value == "":
        return ""
    # floatformat rounds half up on Decimal and groups digits by the locale (a no-break space in ru).
    return floatformat(value, "2g") + NO_BREAK_SPACE + "₽"


@register.filter
def phone(value: str | None) -> str:
    """``+79123456789`` → ``+7 912 345-67-89``."""
    from deals.phones import format_phone

    return format_phone(value) if value else ""
