"""``{% load wording %}``: a month in the case its phrase needs («за {{ month|month_year:"accusative" }}»)."""

from django import template

from atlanset_portal import wording

register = template.Library()


@register.filter
def month_year(value, case: str = wording.NOMINATIVE) -> str:
    """``{{ month|month_year:"accusative" }}`` → «январь 2027»; ``"prepositional"`` → «январе 2027»."""
    return wording.month_year(value, case) if value else ""


@register.filter
def month_only(value, case: str = wording.NOMINATIVE) -> str:
    """``{{ month|month_only }}`` → «январь»: a month button's label inside a line of text."""
    return wording.month_name(value, case) if value else ""


@register.filter
def month_heading(value) -> str:
    """``{{ month|month_heading }}`` → «Январь 2027»: a month standing alone."""
    return wording.month_heading(value) if value else ""
