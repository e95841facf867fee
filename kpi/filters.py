"""The activity list's filters; the dashboard's calls, meetings and messages link here."""

import django_filters
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.filtering import DayFilter, FilterSetWithMore, MonthFilter, yes_no_filter
from deals.filters import CLIENT_SEARCH_BOX
from deals.search import matching

from .counters import counted_calls
from .models import Activity, ActivityKind, ActivitySource, CallDirection, CallRecord


class ActivityFilter(FilterSetWithMore):
    q = django_filters.CharFilter(label=_("Клиент"), method="filter_search", widget=CLIENT_SEARCH_BOX)
    owner = django_filters.ModelChoiceFilter(
        label=_("Хантер"), queryset=User.objects.filter(role=Role.HUNTER).order_by("full_name", "pk")
    )
    kind = django_filters.ChoiceFilter(label=_("Вид"), choices=ActivityKind.choices)
    month = MonthFilter(label=_("Месяц"), field_name="at", moments=True)
    counted = yes_no_filter(_("Засчитан в KPI"), method="filter_counted")
    since = DayFilter(label=_("С"), field_name="at", lookup_expr="gte", moments=True)
    until = DayFilter(label=_("По"), field_name="at", lookup_expr="lte", moments=True)
    source = django_filters.ChoiceFilter(label=_("Источник"), choices=ActivitySource.choices)
    direction = django_filters.ChoiceFilter(label=_("Направление звонка"), choices=CallDirection.choices)

    more = ("since", "until", "source", "direction")

    class Meta:
        model = Activity
        fields = ["q", "owner", "kind", "month", "counted"]

    def __init__(self, *args, show_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_owner:
            del self.filters["owner"]

    def filter_search(self, queryset, name, value):
        return matching(queryset, value, field="client__search_text")

    def filter_counted(self, queryset, name, value):
        # The KPI rule itself (kpi.counters): telephony, outgoing, at least the minimum duration.
        if value:
            return counted_calls(queryset)
        return queryset.exclude(pk__in=counted_calls(Activity.objects.all()).values("pk"))


class CallRecordFilter(FilterSetWithMore):
    """The PBX call log: every record as the PBX sent it, matched to a hunter and a client or not."""

    hunter = django_filters.ModelChoiceFilter(
        label=_("Хантер"), queryset=User.objects.filter(role=Role.HUNTER).order_by("full_name", "pk")
    )
    month = MonthFilter(label=_("Месяц"), field_name="started_at", moments=True)
    direction = django_filters.ChoiceFilter(label=_("Направление"), choices=CallDirection.choices)
    counted = yes_no_filter(_("Засчитан в KPI"), method="filter_counted")
    matched = yes_no_filter(_("Хантер найден по внутр. номеру"), field_name="hunter", method="filter_matched")
    since = DayFilter(label=_("С"), field_name="started_at", lookup_expr="gte", moments=True)
    until = DayFilter(label=_("По"), field_name="started_at", lookup_expr="lte", moments=True)
    other_number = django_filters.CharFilter(label=_("Номер собеседника"), lookup_expr="contains")

    more = ("matched", "since", "until", "other_number")

    class Meta:
        model = CallRecord
        fields = ["hunter", "month", "direction", "counted"]

    def filter_counted(self, queryset, name, value):
        counted = counted_calls(Activity.objects.all()).values("pk")
        return queryset.filter(activity__in=counted) if value else queryset.exclude(activity__in=counted)

    def filter_matched(self, queryset, name, value):
        return queryset.filter(hunter__isnull=not value)
