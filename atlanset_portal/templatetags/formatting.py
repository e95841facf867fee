"""Filters every template has: money as ``1 234,56 ₽`` and phones as ``+7 912 345-67-89``."""

import functools
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from django.utils.formats import get_format, number_format
from django.utils.translation import get_language

from atlanset_portal.money import KOPECK

register = template.Library()

NO_BREAK_SPACE = "\u00a0"


@register.filter
def rub(value: Decimal | int | str | None) -> str:
    """Money as ``1 234,56 ₽``: rounded half up to kopecks, digits grouped and the decimal mark as the
    active language writes them (a no-break space and a comma in Russian), as ``floatformat:"2g"`` does.

    Written out here because a statement or a board shows hundreds of amounts and ``floatformat`` spent
    20 µs on each; ``tests/portal/test_formatting.py`` holds it to ``floatformat``'s output."""
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except InvalidOperation:
            return ""
    if not value.is_finite():
        return ""
    value = value.quantize(KOPECK, rounding=ROUND_HALF_UP)
    grouped = f"{value if value else abs(value):,.2f}"  # −0,004 is 0,00, not −0,00
    return grouped.translate(_number_marks(get_language())) + NO_BREAK_SPACE + "₽"


@functools.cache
def _number_marks(language: str | None) -> dict[int, str]:
    """Python's «,» and «.» in a formatted number → the language's digit group and decimal marks."""
    with translation.override(language):
        return {ord(","): get_format("THOUSAND_SEPARATOR"), ord("."): get_format("DECIMAL_SEPARATOR")}


@receiver(setting_changed)
def _forget_number_marks(*, setting, **kwargs):
    if setting in ("FORMAT_MODULE_PATH", "THOUSAND_SEPARATOR", "DECIMAL_SEPARATOR", "LANGUAGES"):
        _number_marks.cache_clear()


@register.filter
def phone(value: str | None, extension: str = "") -> str:
    """``+79123456789`` → ``+7 912 345-67-89``; a landline by its area code (``+7 3462 55-12-34``), with
    the extension if given (``{{ number|phone:extension }}``). Links to call: ``{% load reach %}``."""
    from deals.phones import format_phone

    return format_phone(value, extension or "") if value else ""


@register.filter
def progress_width(percent) -> int:
    """A progress bar's width class (w-0 … w-100 in steps of 5; the portal's CSS defines them)."""
    try:
        value = float(percent)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, int(value // 5 * 5)))


@register.filter
def minutes(value) -> int:
    """A timedelta in whole minutes, rounded up (a lockout's wait)."""
    return -(-int(value.total_seconds()) // 60)


@register.filter
def get_item(mapping, key):
    """``{{ counts|get_item:hunter.pk }}``: a dict lookup by a variable key."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def mul(value, factor):
    return int(value) * int(factor)


@register.filter
def rsub(value, minuend):
    """``{{ height|rsub:110 }}`` is 110 − height (an SVG bar's top)."""
    return int(minuend) - int(value)


@register.filter
def percent(rate) -> str:
    """A rate as a percentage: 0.025 → «2,5 %»."""
    if rate is None or rate == "":
        return ""
    value = Decimal(rate) * 100
    value = value.to_integral_value() if value == value.to_integral_value() else value.normalize()
    return number_format(value) + NO_BREAK_SPACE + "%"


MINUS = "\u2212"


def _sign(value) -> str:
    return "+" if value > 0 else MINUS if value < 0 else ""


@register.filter
def signed(value) -> str:
    """A change with its sign: «+3», «−2», «0»; a Decimal to one decimal place (a percentage point)."""
    if value is None or value == "":
        return ""
    number = number_format(abs(value), 1) if isinstance(value, Decimal) else number_format(abs(value))
    return _sign(value) + number


@register.filter
def signed_rub(value) -> str:
    """A change of money with its sign: «+1 234,50 ₽», «−500,00 ₽»."""
    if value is None or value == "":
        return ""
    return _sign(value) + rub(abs(value))
