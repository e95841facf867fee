"""HTML drawn in Python where a page repeats a fragment hundreds of times (board cards, select options,
one-tap links).

``fill`` is ``format_html`` with the standard library's escape: Django's ``conditional_escape`` goes
through its lazy-string wrapper on every value, which is most of the cost of a board card. The rule is
the same: values marked safe go in as they are, everything else is escaped.
"""

import html

from django.utils.safestring import SafeData, SafeString, mark_safe


def escape(value) -> str:
    return value if isinstance(value, SafeData) else html.escape(str(value))


def fill(template: str, /, *args, **kwargs) -> SafeString:
    """``template.format`` with every value escaped unless it is already safe HTML."""
    return mark_safe(
        template.format(*map(escape, args), **{name: escape(value) for name, value in kwargs.items()})
    )
