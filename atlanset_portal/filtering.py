"""Filters the portal's lists share: a month, a day range, a yes/no choice, and the «ещё фильтры» group.

The dashboard's figures link to these lists with their filters in the address (``kpi/drilldown.py``),
so every filter reads the same plain values it is linked with: a month as ``2026-03``, a day as
``2026-03-31``, yes/no as ``1``/``0``.
"""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpi.months import month_range, parse_month

YES_NO = forms.Select(choices=[("", "—"), ("1", _("да")), ("0", _("нет"))])
DAY = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "2026-03"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        month = parse_month(value)
        if month is None:
            raise ValidationError(_("Укажите месяц в виде ГГГГ-ММ, например 2026-03."), code="month")
        return month

    def prepare_value(self, value):
        return f"{value:%Y-%m}" if isinstance(value, date) else value


def _start_of(day: date) -> datetime:
    """The first moment of a day in the portal's time zone (the counters' months are in it too)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class MonthFilter(django_filters.Filter):
    """A month: equal to a first-of-month date field, or with ``moments=True`` a date-time field within
    the month in the portal's time zone (as the KPI counters count it). ``lookup_expr="gte"``/``"lte"``
    bound a range of months instead."""

    field_class = MonthField

    def __init__(self, *args, moments: bool = False, **kwargs):
        self.moments = moments
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        name = self.field_name
        if not self.moments:
            return qs.filter(**{f"{name}__{self.lookup_expr}": value})
        start, end = month_range(value)
        if self.lookup_expr == "gte":
            return qs.filter(**{f"{name}__gte": start})
        if self.lookup_expr == "lte":
            return qs.filter(**{f"{name}__lt": end})
        return qs.filter(**{f"{name}__gte": start, f"{name}__lt": end})


class DayFilter(django_filters.DateFilter):
    """A day bounding a range: ``lookup_expr`` "gte" (from) or "lte" (to, the whole day included); with
    ``moments=True`` on a date-time field, in the portal's time zone."""

    def __init__(self, *args, moments: bool = False, **kwargs):
        self.moments = moments
        kwargs.setdefault("widget", DAY)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None or not self.moments:
            return super().filter(qs, value)
        if self.lookup_expr == "gte":
            return qs.filter(**{f"{self.field_name}__gte": _start_of(value)})
        return qs.filter(**{f"{self.field_name}__lt": _start_of(value + timedelta(days=1))})


def yes_no_filter(label, **kwargs) -> django_filters.BooleanFilter:
    return django_filters.BooleanFilter(label=label, widget=YES_NO, **kwargs)


class FilterSetWithMore(django_filters.FilterSet):
    """A filter set whose rarely used filters (``more``) sit under «Ещё фильтры», open when one is set."""

    more: tuple[str, ...] = ()

    @property
    def more_in_use(self) -> bool:
        return any(self.data.get(name) not in (None, "") for name in self.more if name in self.filters)

    @property
    def shown_more(self) -> list[str]:
        return [name for name in self.more if name in self.filters]
