"""Quantities as people read them: «10 канистр», «1,5 канистры», «1 000 шт.»."""

from decimal import Decimal

from django import template

from atlanset_portal.numbers import format_decimal

register = template.Library()

NO_BREAK_SPACE = "\u00a0"


@register.filter
def quantity(value: Decimal | int | None) -> str:
    """«10» for 10.000, «1,5», grouped by thousands."""
    return "" if value is None or value == "" else format_decimal(value)


@register.filter
def with_unit(value: Decimal | int | None, product) -> str:
    """The quantity with the product's unit declined for it: «10 канистр»."""
    if value is None or value == "":
        return ""
    return f"{format_decimal(value)}{NO_BREAK_SPACE}{product.unit_for(Decimal(value))}"
