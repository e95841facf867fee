"""``{% filter_bar filter %}``: a list's filter form (templates/includes/filter_bar.html), kept drawn.

crispy-forms draws a field in about 2 ms; a list's bar has up to ten, on every page of the list. The bar is
a GET form without a CSRF token, so it is kept (atlanset_portal/fragments.py) under what its fields show:
names, labels, help texts, widgets, values, errors and choices, and the page it resets to.
"""

from django import template

from atlanset_portal import fragments

register = template.Library()


def _field_facts(field) -> tuple:
    widget = field.field.widget
    choices = getattr(field.field, "choices", None)
    return (
        field.html_name,
        str(field.label),
        str(field.help_text),
        field.field.required,
        type(widget).__qualname__,
        sorted((key, str(value)) for key, value in widget.attrs.items()),
        field.value(),
        list(field.errors),
        [(str(value), str(label)) for value, label in choices] if choices is not None else None,
    )


@register.simple_tag(takes_context=True)
def filter_bar(context, filter):
    request = context["request"]
    fingerprint = (
        request.path,
        [_field_facts(field) for field in filter.form],
        list(filter.shown_more) if hasattr(filter, "shown_more") else None,
        getattr(filter, "more_in_use", False),
    )
    return fragments.drawn(
        "includes/filter_bar.html",
        fingerprint=fingerprint,
        context=lambda: {"filter": filter, "request_path": request.path},
    )
