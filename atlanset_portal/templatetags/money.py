"""Money in templates: ``{{ amount|rub }}`` gives ``1 234,56 ₽`` in the active locale."""

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
