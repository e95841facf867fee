import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role

from .models import Client, ClientPhone, ClientSource, Deal, OrderVersion, SampleRequest
from .phones import normalize_phone
from .stages import DealStatus, Stage


def _search(queryset, value: str, *, client: str):
    """Name, ИНН or phone of the client; ``client`` is the path to the client ("" on clients themselves,
    "client__" on deals). Phones are matched with EXISTS, so no row is repeated and no DISTINCT needed."""
    value = value.strip()
    if not value:
        return queryset
    condition = Q(**{f"{client}name__icontains": value}) | Q(**{f"{client}inn__startswith": value})
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 5:
        phones = ClientPhone.objects.filter(client=OuterRef(client.removesuffix("__") or "pk"))
        try:
            phones = phones.filter(number=normalize_phone(value))
        except Exception:  # a fragment of a number: match the digits anywhere
            phones = phones.filter(number__contains=digits)
        condition |= Exists(phones)
    return queryset.filter(condition)


class ClientFilter(django_filters.FilterSet):
    STATUS_CHOICES = [
        ("in_work", _("Есть сделки в работе")),
        ("customer", _("Покупатели (есть успешные сделки)")),
        ("no_deals", _("Без сделок")),
    ]

    q = django_filters.CharFilter(label=_("Поиск: название, телефон или ИНН"), method="filter_search")
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
    q = django_filters.CharFilter(label=_("Поиск: клиент, телефон или ИНН"), method="filter_search")
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
