import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.filtering import DAY, DayFilter, FilterSetWithMore, MonthFilter, yes_no_filter
from kpi import analytics
from kpi.counters import lead_cards

from .models import Client, ClientSource, Deal, OrderVersion, Payment, SampleRequest
from .search import matching
from .stages import DealStatus, Stage

SEARCH_BOX = forms.TextInput(attrs={"type": "search", "enterkeyhint": "search"})
# A short label for lists whose filters are many: what it searches is said in the box.
CLIENT_SEARCH_BOX = forms.TextInput(
    attrs={"type": "search", "enterkeyhint": "search", "placeholder": _("название, телефон, ИНН")}
)


def _search(queryset, value: str, *, client: str):
    """Name, address, phone (however written), ИНН or a contact of the client, in any case and with «ё»
    or «е» (deals.search); ``client`` is the path to the client ("" on clients themselves, "client__" on
    deals)."""
    return matching(queryset, value, field=f"{client}search_text")


def _hunters():
    return User.objects.filter(role=Role.HUNTER).order_by("full_name", "pk")


class ClientFilter(FilterSetWithMore):
    STATUS_CHOICES = [
        ("in_work", _("Есть сделки в работе")),
        ("customer", _("Покупатели (есть успешные сделки)")),
        ("no_deals", _("Без сделок")),
    ]

    q = django_filters.CharFilter(
        label=_("Поиск: название, адрес, телефон, ИНН или контакт"), method="filter_search", widget=SEARCH_BOX
    )
    segment = django_filters.CharFilter(label=_("Сегмент"), lookup_expr="icontains")
    source = django_filters.ChoiceFilter(label=_("Источник"), choices=ClientSource.choices)
    owner = django_filters.ModelChoiceFilter(
        label=_("Хантер"), queryset=User.objects.filter(role=Role.HUNTER)
    )
    status = django_filters.ChoiceFilter(label=_("Статус"), choices=STATUS_CHOICES, method="filter_status")
    # The leads figure of the dashboard: cards a hunter added in a month that count as leads.
    created_by = django_filters.ModelChoiceFilter(label=_("Добавил"), queryset=_hunters())
    created_month = MonthFilter(label=_("Добавлен в месяце"), field_name="created_at", moments=True)
    lead = yes_no_filter(_("Считается лидом (название, адрес, телефон)"), method="filter_lead")

    more = ("created_by", "created_month", "lead")

    class Meta:
        model = Client
        fields = ["q", "segment", "source", "owner", "status"]

    def __init__(self, *args, show_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_owner:
            del self.filters["owner"]
            del self.filters["created_by"]

    def filter_lead(self, queryset, name, value):
        if value:
            return lead_cards(queryset)
        return queryset.exclude(pk__in=lead_cards(Client.objects.all()).values("pk"))

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, client="")

    def filter_status(self, queryset, name, value):
        if value == "in_work":
            return queryset.filter(Exists(Deal.objects.filter(client=OuterRef("pk"), status=DealStatus.OPEN)))
        if value == "customer":
            return queryset.filter(Exists(Deal.objects.filter(client=OuterRef("pk"), status=DealStatus.WON)))
        if value == "no_deals":
            return queryset.exclude(Exists(Deal.objects.filter(client=OuterRef("pk"))))
        return queryset


class DealFilter(FilterSetWithMore):
    """The deal list's filters, and the figures of the head's dashboard it lists: completed deals of a
    month, overdue contacts, a funnel stage's entries and the forecast's open deals and samples."""

    q = django_filters.CharFilter(
        label=_("Поиск: клиент, адрес, телефон, ИНН или контакт"), method="filter_search", widget=SEARCH_BOX
    )
    stage = django_filters.ChoiceFilter(label=_("Этап"), choices=Stage.choices)
    status = django_filters.ChoiceFilter(label=_("Статус"), choices=DealStatus.choices)
    owner = django_filters.ModelChoiceFilter(label=_("Хантер"), queryset=_hunters())
    is_new_client = yes_no_filter(_("Новый клиент"))
    overdue = yes_no_filter(_("Следующий контакт просрочен"), method="filter_overdue")
    paid_in_full = yes_no_filter(_("Оплачена полностью"), field_name="paid_in_full_on", method="filter_paid")
    completed_for = django_filters.ModelChoiceFilter(
        label=_("Завершённая сделка засчитана хантеру"), queryset=_hunters()
    )
    completed_in = MonthFilter(label=_("Завершена в месяце"), help_text=_("Месяц оплаты, закрывшей заказ"))
    # The funnel: deals that entered a stage within the days, and of those the ones that went on.
    entered_stage = django_filters.ChoiceFilter(
        label=_("Вошла в этап"), choices=Stage.choices, method="filter_later"
    )
    entered_from = django_filters.DateFilter(label=_("Вошла в этап с"), widget=DAY, method="filter_later")
    entered_to = django_filters.DateFilter(label=_("Вошла в этап по"), widget=DAY, method="filter_later")
    moved_on = yes_no_filter(_("Перешла на следующий этап"), method="filter_later")
    # The forecast's sample: deals finished within the days that were ever at a stage.
    was_at_stage = django_filters.ChoiceFilter(
        label=_("Была на этапе"), choices=Stage.choices, method="filter_was_at"
    )
    finished_from = django_filters.DateFilter(
        label=_("Завершена с"),
        help_text=_("Оплачена полностью, закрыта или отказ"),
        widget=DAY,
        method="filter_later",
    )
    finished_to = django_filters.DateFilter(label=_("Завершена по"), widget=DAY, method="filter_later")

    more = (
        "overdue",
        "paid_in_full",
        "completed_for",
        "completed_in",
        "entered_stage",
        "entered_from",
        "entered_to",
        "moved_on",
        "was_at_stage",
        "finished_from",
        "finished_to",
    )

    class Meta:
        model = Deal
        fields = ["q", "stage", "status", "owner", "is_new_client"]

    def __init__(self, *args, show_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_owner:
            del self.filters["owner"]
            del self.filters["completed_for"]

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, client="client__")

    def filter_overdue(self, queryset, name, value):
        if value:
            return queryset.contact_overdue(timezone.localdate())
        return queryset.exclude(pk__in=Deal.objects.contact_overdue(timezone.localdate()).values("pk"))

    def filter_paid(self, queryset, name, value):
        return queryset.filter(paid_in_full_on__isnull=not value)

    def filter_was_at(self, queryset, name, value):
        return queryset.filter(analytics.ever_at_stage(value))

    def filter_later(self, queryset, name, value):
        return queryset  # read together with the filters of its group in filter_queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        since, until = data.get("entered_from"), data.get("entered_to")
        if data.get("entered_stage"):
            queryset = analytics.deals_entering(
                queryset, stage=data["entered_stage"], since=since, until=until, moved_on=data.get("moved_on")
            )
        elif since or until:
            entries = analytics.stage_entries(since=since, until=until).values("deal_id")
            queryset = queryset.filter(pk__in=entries)
        finished_from, finished_to = data.get("finished_from"), data.get("finished_to")
        if finished_from or finished_to:
            queryset = queryset.filter(analytics.finished_within(finished_from, finished_to))
        return queryset


class PaymentFilter(FilterSetWithMore):
    """The payment list's filters; the dashboard's revenue figures link here with the month the money
    counts in (its accrual month, as the counters and the statements count it) and the hunter credited."""

    q = django_filters.CharFilter(label=_("Клиент"), method="filter_search", widget=CLIENT_SEARCH_BOX)
    credited_to = django_filters.ModelChoiceFilter(label=_("Засчитана хантеру"), queryset=_hunters())
    month = MonthFilter(label=_("Учитывается в месяце"), field_name="accrual_month")
    kind = django_filters.ChoiceFilter(label=_("Вид"), choices=Payment.Kind.choices)
    received_from = DayFilter(label=_("Поступила с"), field_name="received_on", lookup_expr="gte")
    received_to = DayFilter(label=_("Поступила по"), field_name="received_on", lookup_expr="lte")
    accrual_from = MonthFilter(label=_("Месяц учёта с"), field_name="accrual_month", lookup_expr="gte")
    accrual_to = MonthFilter(label=_("Месяц учёта по"), field_name="accrual_month", lookup_expr="lte")
    late = yes_no_filter(_("Поступила после закрытия месяца"))
    stage = django_filters.ChoiceFilter(
        label=_("Этап сделки"), choices=Stage.choices, field_name="deal__stage"
    )

    more = ("received_from", "received_to", "accrual_from", "accrual_to", "late", "stage")

    class Meta:
        model = Payment
        fields = ["q", "credited_to", "month", "kind"]

    def __init__(self, *args, show_hunter: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_hunter:
            del self.filters["credited_to"]

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, client="deal__client__")


def deal_search(queryset, value: str):
    """Deals by their client (name, address, phone, ИНН or a contact, as the lists search) or by their
    own title."""
    value = value.strip()
    if not value:
        return queryset
    by_client = _search(Deal.objects.all(), value, client="client__").values("pk")
    return queryset.filter(Q(pk__in=by_client) | Q(title__icontains=value))


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ProductionHistoryFilter(django_filters.FilterSet):
    """What production has handled, by what and when. Applied to the sample requests and to the order
    versions alike (deals.selectors.handled_sample_requests / decided_order_versions annotate both with
    ``outcome`` and ``decided_at``)."""

    KINDS = [("samples", _("Пробники")), ("orders", _("Заказы"))]
    OUTCOMES = [
        ("prepared", _("Пробники подготовлены")),
        ("handed_over", _("Пробники переданы клиенту")),
        ("approved", _("Заказ согласован")),
        ("declined", _("Отклонено")),
    ]

    kind = django_filters.ChoiceFilter(
        label=_("Что"), choices=KINDS, method="filter_kind", empty_label=_("Пробники и заказы")
    )
    outcome = django_filters.ChoiceFilter(label=_("Решение"), choices=OUTCOMES, empty_label=_("Любое"))
    since = django_filters.DateFilter(
        label=_("С"), field_name="decided_at", lookup_expr="date__gte", widget=DATE_INPUT
    )
    until = django_filters.DateFilter(
        label=_("По"), field_name="decided_at", lookup_expr="date__lte", widget=DATE_INPUT
    )

    def filter_kind(self, queryset, name, value):
        wanted = SampleRequest if value == "samples" else OrderVersion
        return queryset if queryset.model is wanted else queryset.none()
