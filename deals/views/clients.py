"""The client pages: the list, the card with its timeline, editing, requisites, terms and contacts."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.access import CapabilityRequiredMixin, can
from accounts.roles import Capability
from atlanset_portal.client_ip import client_ip
from kpi.models import Activity

from .. import exports, selectors, services
from ..filters import ClientFilter
from ..forms import (
    ClientForm,
    ContactForm,
    DecisionForm,
    PaymentTermsForm,
    PaymentTermsRequestForm,
    RequisitesForm,
    TransferForm,
)
from ..models import Client, Deal, DealDocument, PaymentTerms, PaymentTermsRequest, StageChange
from .common import ScopedListView, add_form_errors, flash_errors, get_visible_or_404, safe_next


class ClientListView(ScopedListView):
    filterset_class = ClientFilter
    template_name = "deals/client_list.html"

    def get_queryset(self):
        return selectors.client_list(viewer=self.request.user).order_by("name", "pk")

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["show_owner"] = can(self.request.user, Capability.VIEW_ALL_HUNTERS)
        return kwargs


class ClientExportView(CapabilityRequiredMixin, View):
    """The client list, as filtered on the page, as an XLSX file (its own permission; logged)."""

    required_capability = Capability.EXPORT_CLIENT_BASE

    def get(self, request):
        visible = selectors.client_list(viewer=request.user).order_by("name", "pk")
        clients = ClientFilter(
            request.GET, queryset=visible, show_owner=can(request.user, Capability.VIEW_ALL_HUNTERS)
        ).qs
        data = exports.client_base_export(
            acting_user=request.user,
            clients=clients,
            filters=request.GET.urlencode(),
            address=client_ip(request),
        )
        response = HttpResponse(
            data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="klienty-{timezone.localdate():%Y-%m-%d}.xlsx"'
        )
        return response


def _visible_client(request, pk: int) -> Client:
    return get_visible_or_404(Client.objects.visible_to(request.user).select_related("owner"), pk=pk)


def _workable_client(request, pk: int) -> Client:
    """A client the user may change: the owner's, or any for the head (others only read it)."""
    client = _visible_client(request, pk)
    if not (can(request.user, Capability.VIEW_ALL_HUNTERS) or client.owner_id == request.user.pk):
        raise PermissionDenied
    return client


class ClientCreateView(CapabilityRequiredMixin, View):
    required_capability = Capability.WORK_PIPELINE

    def may_choose_owner(self) -> bool:
        return can(self.request.user, Capability.VIEW_ALL_HUNTERS)

    def get(self, request):
        return render(
            request, "deals/client_form.html", {"form": ClientForm(may_choose_owner=self.may_choose_owner())}
        )

    def post(self, request):
        form = ClientForm(request.POST, may_choose_owner=self.may_choose_owner())
        if form.is_valid():
            try:
                client = services.client_create(
                    acting_user=request.user,
                    owner=form.cleaned_data.get("owner"),
                    name=form.cleaned_data["name"],
                    address=form.cleaned_data["address"],
                    phones=form.phones(),
                    **form.card(),
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Клиент «%(name)s» добавлен.") % {"name": client.name})
                return redirect("clients:detail", pk=client.pk)
        return render(request, "deals/client_form.html", {"form": form}, status=400)


class ClientUpdateView(View):
    def get(self, request, pk: int):
        client = _workable_client(request, pk)
        return render(
            request, "deals/client_form.html", {"form": ClientForm(instance=client), "client": client}
        )

    def post(self, request, pk: int):
        client = _workable_client(request, pk)
        form = ClientForm(request.POST, instance=Client.objects.get(pk=client.pk))
        if form.is_valid():
            try:
                services.client_update(
                    acting_user=request.user,
                    client=client,
                    phones=form.phones(),
                    name=form.cleaned_data["name"],
                    address=form.cleaned_data["address"],
                    **form.card(),
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Карточка клиента сохранена."))
                return redirect("clients:detail", pk=client.pk)
        return render(request, "deals/client_form.html", {"form": form, "client": client}, status=400)


class ClientDetailView(View):
    def get(self, request, pk: int):
        return client_page(request, pk)


def client_page(request, pk: int, *, bound: dict | None = None, status: int = 200):
    client = get_visible_or_404(
        selectors.client_list(viewer=request.user).prefetch_related("contacts", "holidays"), pk=pk
    )
    deals = Deal.objects.visible_to(request.user).filter(client=client).select_related("owner", "order")
    works = can(request.user, Capability.VIEW_ALL_HUNTERS) or client.owner_id == request.user.pk
    terms_requests = selectors.terms_requests_of(client)
    pending_request = next(
        (item for item in terms_requests if item.status == PaymentTermsRequest.Status.PENDING), None
    )
    current_terms = {
        "payment_terms": client.payment_terms,
        "deferred_days": client.deferred_days,
        "deferred_in_working_days": client.deferred_in_working_days,
        "deferred_limit": client.deferred_limit,
        "consignment_cadence": client.consignment_cadence,
    }
    forms = {}
    if works:
        forms["contact"] = ContactForm()
    if services.may_set_payment_terms(request.user):  # the head and the accountant
        forms["terms"] = PaymentTermsForm(initial=current_terms)
    elif works and pending_request is None:  # the hunter asks the head
        forms["terms_request"] = PaymentTermsRequestForm(initial=current_terms)
    if pending_request is not None and can(request.user, Capability.VIEW_ALL_HUNTERS):
        forms["terms_decision"] = DecisionForm()
    if can(request.user, Capability.TRANSFER_CLIENTS):
        forms["transfer"] = TransferForm(current_owner=client.owner)
    forms.update(bound or {})
    transfers = selectors.transfers_of(client=client)
    timeline = _timeline(client, deals, transfers)
    return render(
        request,
        "deals/client_detail.html",
        {
            "client": client,
            "deals": deals,
            "forms": forms,
            "works": works,
            "timeline": timeline,
            "transfers": transfers,
            "decided_requests": [item for item in terms_requests if item is not pending_request],
            "pending_request": pending_request,
            "unpaid_deferred": selectors.client_unpaid_deferred_total(client)
            if client.payment_terms == PaymentTerms.DEFERRED
            else None,
        },
        status=status,
    )


def _timeline(client: Client, deals, transfers) -> list[dict]:
    """Deal events, documents, activities and transfers, newest first."""
    events = [
        {"at": change.at, "kind": "stage", "change": change}
        for change in StageChange.objects.filter(deal__in=deals)
        .select_related("deal", "by")
        .order_by("-at")[:50]
    ]
    events += [
        {"at": document.uploaded_at, "kind": "document", "document": document}
        for document in DealDocument.objects.filter(deal__in=deals)
        .select_related("deal")
        .order_by("-uploaded_at")[:50]
    ]
    events += [
        {"at": activity.at, "kind": "activity", "activity": activity}
        for activity in Activity.objects.filter(client=client).select_related("owner").order_by("-at")[:50]
    ]
    events += [{"at": transfer.at, "kind": "transfer", "transfer": transfer} for transfer in transfers[:50]]
    return sorted(events, key=lambda event: event["at"], reverse=True)[:50]


class ClientRequisitesView(View):
    def get(self, request, pk: int):
        client = _workable_client(request, pk)
        form = RequisitesForm(initial={name: getattr(client, name) for name in RequisitesForm.base_fields})
        return render(request, "deals/client_requisites.html", {"client": client, "form": form})

    def post(self, request, pk: int):
        client = _workable_client(request, pk)
        form = RequisitesForm(request.POST)
        if form.is_valid():
            try:
                services.client_update_requisites(
                    acting_user=request.user,
                    client=client,
                    requisites=services.Requisites(**form.cleaned_data),
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Карточка предприятия сохранена."))
                return redirect("clients:detail", pk=client.pk)
        return render(request, "deals/client_requisites.html", {"client": client, "form": form}, status=400)


class ClientPaymentTermsView(View):
    """The head or the accountant sets the client's payment terms."""

    def post(self, request, pk: int):
        client = _visible_client(request, pk)
        if not services.may_set_payment_terms(request.user):
            raise PermissionDenied
        form = PaymentTermsForm(request.POST)
        if form.is_valid():
            try:
                services.client_set_payment_terms(
                    acting_user=request.user, client=client, **form.cleaned_data
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Условия оплаты сохранены."))
                return redirect("clients:detail", pk=client.pk)
        return client_page(request, pk, bound={"terms": form}, status=400)


class ClientTermsRequestView(View):
    """The client's hunter asks the head for payment terms."""

    def post(self, request, pk: int):
        client = _workable_client(request, pk)
        form = PaymentTermsRequestForm(request.POST)
        if form.is_valid():
            try:
                services.payment_terms_request_create(
                    acting_user=request.user, client=client, **form.cleaned_data
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Запрос условий оплаты отправлен руководителю отдела продаж."))
                return redirect(reverse("clients:detail", args=[client.pk]) + "#terms")
        return client_page(request, pk, bound={"terms_request": form}, status=400)


class TermsRequestDecideView(CapabilityRequiredMixin, View):
    """The head approves a request for payment terms (the terms are set) or declines it with a reason."""

    required_capability = Capability.VIEW_ALL_HUNTERS

    def post(self, request, pk: int):
        terms_request = get_visible_or_404(
            PaymentTermsRequest.objects.filter(client__in=Client.objects.visible_to(request.user)), pk=pk
        )
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Выберите: одобрить или отклонить."))
        else:
            try:
                services.payment_terms_request_decide(
                    acting_user=request.user, request=terms_request, **form.cleaned_data
                )
            except ValidationError as error:
                flash_errors(request, error)
            else:
                if form.cleaned_data["approve"]:
                    messages.success(request, _("Запрос одобрен: условия оплаты клиента изменены."))
                else:
                    messages.success(request, _("Запрос отклонён."))
        return redirect(
            safe_next(request) or reverse("clients:detail", args=[terms_request.client_id]) + "#terms"
        )


class ContactAddView(View):
    def post(self, request, pk: int):
        client = _visible_client(request, pk)
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                services.contact_add(acting_user=request.user, client=client, **form.cleaned_data)
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, _("Контакт добавлен."))
                return redirect("clients:detail", pk=client.pk)
        return client_page(request, pk, bound={"contact": form}, status=400)


class ClientTransferView(CapabilityRequiredMixin, View):
    required_capability = Capability.TRANSFER_CLIENTS

    def post(self, request, pk: int):
        client = _visible_client(request, pk)
        form = TransferForm(request.POST, current_owner=client.owner)
        if form.is_valid():
            try:
                services.client_transfer(acting_user=request.user, client=client, **form.cleaned_data)
            except ValidationError as error:
                flash_errors(request, error)
            else:
                messages.success(
                    request, _("Клиент передан хантеру %(owner)s.") % {"owner": form.cleaned_data["to_owner"]}
                )
                return redirect("clients:detail", pk=client.pk)
        return client_page(request, pk, bound={"transfer": form}, status=400)
