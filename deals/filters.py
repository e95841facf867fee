import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role

from .models import Client, ClientSource, Deal, OrderVersion, SampleRequest
from .search import matching
from .stages import DealStatus, Stage

SEARCH_BOX = forms.TextInput(attrs={"type": "search", "enterkeyhint": "search"})


def _search(queryset, value: str, *, client: str):
    """Name, address, phone (however written), ИНН or a contact of the client, in any case and with «ё»
    or «е» (deals.search); ``client`` is the path to the client ("" on clients themselves, "client__" on
    deals)."""
    return matching(queryset, value, field=f"{client}search_text")


class ClientFilter(django_filters.FilterSet):
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

    class Meta:
        model = Client
        fields = ["q", "segment", "source", "owner", "status"]

    def __init__(self, *args, show_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_owner:
            del self.filters["owner"]

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


class DealFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Поиск: клиент, адрес, телефон, ИНН или контакт"), method="filter_search", widget=SEARCH_BOX
    )
    stage = django_filters.ChoiceFilter(label=_("Этап"), choices=Stage.choices)
    status = django_filters.ChoiceFilter(label=_("Статус"), choices=DealStatus.choices)
    owner = django_filters.ModelChoiceFilter(
        label=_("Хантер"), queryset=User.objects.filter(role=Role.HUNTER)
    )
    is_new_client = django_filters.BooleanFilter(label=_("Новый клиент"))

    class Meta:
        model = Deal
        fields = ["q", "stage", "status", "owner", "is_new_client"]

    def __init__(self, *args, show_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_owner:
            del self.filters["owner"]

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, client="client__")


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
