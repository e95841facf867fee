"""The deal pages: the board, the list, the deal card with its stage forms, and the stage actions."""

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin, can
from accounts.models import User
from accounts.roles import Capability, Role
from atlanset_portal.keyset import keyset_page
from kpi.models import Task

from .. import selectors, services, stages
from ..cards import CardRenderer
from ..filters import DealFilter
from ..forms import (
    CallResultForm,
    DealCreateForm,
    DecisionForm,
    DocumentForm,
    FeedbackForm,
    FollowUpForm,
    LostForm,
    MoveForm,
    OrderForm,
    PaymentForm,
    ProposalForm,
    RefundForm,
    SampleRequestForm,
    ShipmentForm,
    TransferForm,
)
from ..models import Client, Deal, DealDocument, Order, OrderVersion, Transfer
from ..stages import DealStatus, Stage
from .common import (
    ScopedListView,
    add_form_errors,
    error_messages,
    flash_errors,
    get_visible_or_404,
    safe_next,
)


def board_filters(user, params: QueryDict) -> selectors.BoardFilters:
    """The board's filters from its address: the head may choose a hunter, anyone a search text and
    the next contact due (overdue or today)."""
    owner = None
    owner_id = params.get("owner", "")
    if owner_id.isdigit() and can(user, Capability.VIEW_ALL_HUNTERS):
        owner = User.objects.filter(role=Role.HUNTER, is_active=True, pk=owner_id).first()
    due = params.get("due", "")
    return selectors.BoardFilters(
        owner=owner,
        search=params.get("q", "").strip()[:100],
        due=due if due in (selectors.BoardFilters.OVERDUE, selectors.BoardFilters.TODAY) else "",
    )


def board_address(request) -> str:
    """The board page the request comes from: the page itself, or for an htmx move the page it was made
    on (its filters decide what the answer shows)."""
    if request.htmx and request.htmx.current_url_abs_path:
        return request.htmx.current_url_abs_path
    return request.get_full_path()


def card_renderer(request, board_path: str) -> CardRenderer:
    return CardRenderer(
        today=timezone.localdate(),
        board_path=board_path,
        show_owner=can(request.user, Capability.VIEW_ALL_HUNTERS),
        csrf_token=get_token(request),
    )


class BoardView(CapabilityRequiredMixin, TemplateView):
    """The kanban. On a desktop: nine columns, drag-and-drop; below the md breakpoint: one stage at a
    time (its tab is kept in the address as ``stage``), each card moved from its menu. Moves answer in
    place (``AdvanceView``), so the reader keeps the stage and the scroll position."""

    required_capability = Capability.WORK_PIPELINE
    template_name = "deals/board.html"

    def get_context_data(self, **kwargs):
        hunters = None
        if can(self.request.user, Capability.VIEW_ALL_HUNTERS):
            hunters = User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name")
        params = self.request.GET
        filters = board_filters(self.request.user, params)
        today = timezone.localdate()
        columns = selectors.board_columns(viewer=self.request.user, filters=filters, today=today)
        board_path = self.request.get_full_path()
        renderer = card_renderer(self.request, board_path)
        stage = params.get("stage", "")
        if stage not in stages.ORDER:
            # The first stage with deals in it (the first stage when there are none).
            stage = next(
                (column.definition.stage.value for column in columns if column.count), stages.ORDER[0]
            )
        for column in columns:
            code = column.definition.stage.value
            column.cards = [renderer.card(deal, last_stage=column.is_last) for deal in column.deals]
            column.more_url = board_more_url(params, stage=code, offset=len(column.deals))
            column.selected = code == stage
            column.tab_url = "?" + urlencode(
                {**{k: v for k, v in params.items() if k != "stage"}, "stage": code}
            )
        return super().get_context_data(
            columns=columns,
            today=today,
            activity_url=reverse("kpi:activity_create"),
            board_path=board_path,
            hunters=hunters,
            selected_owner=filters.owner,
            filters=filters,
            selected_stage=stage,
            due_choices=[
                ("", _("Все")),
                (selectors.BoardFilters.OVERDUE, _("Просрочен контакт")),
                (selectors.BoardFilters.TODAY, _("Контакт сегодня")),
            ],
            **kwargs,
        )


def board_more_url(params: QueryDict, *, stage: str, offset: int) -> str:
    """The address of a column's next cards, with the board's own filters."""
    kept = {key: value for key, value in params.items() if key not in ("stage", "offset")}
    return reverse("deals:board_more") + "?" + urlencode({**kept, "stage": stage, "offset": offset})


class BoardMoreView(CapabilityRequiredMixin, View):
    """A column's «Показать ещё»: its next cards after the ones shown, and the button for the ones after
    them (htmx puts both where the button was; without it the button is a link to the deal list)."""

    required_capability = Capability.WORK_PIPELINE

    def get(self, request):
        params = request.GET
        stage = params.get("stage", "")
        offset = params.get("offset", "")
        if stage not in stages.ORDER or not offset.isdigit():
            return HttpResponse(_("Не удалось показать карточки: обновите доску."), status=400)
        offset = int(offset)
        filters = board_filters(request.user, params)
        today = timezone.localdate()
        deals = selectors.board_column_cards(
            viewer=request.user, filters=filters, today=today, stage=stage, offset=offset
        )
        count = selectors.board_summary(viewer=request.user, filters=filters, today=today)[stage][0]
        board_params = {key: value for key, value in params.items() if key != "offset"}
        renderer = card_renderer(request, reverse("deals:board") + "?" + urlencode(board_params))
        last_stage = stage == stages.ORDER[-1]
        shown = offset + len(deals)
        return render(
            request,
            "deals/board.html#more",
            {
                "cards": [renderer.card(deal, last_stage=last_stage) for deal in deals],
                "stage": stage,
                "shown": shown,
                "count": count,
                "more_url": board_more_url(params, stage=stage, offset=shown),
            },
        )


def board_moved(request, *, from_stage: str, deal: Deal, message: str) -> HttpResponse:
    """The answer to a move made on the board: the card leaves its column (the answer's own content is
    empty), the counts of both stages change, the card joins its new column if the board as filtered
    shows it there, and the notice says what happened."""
    board_path = board_address(request)
    filters = board_filters(request.user, QueryDict(urlsplit(board_path).query))
    today = timezone.localdate()
    summary = selectors.board_summary(viewer=request.user, filters=filters, today=today)
    card = ""
    if deal.status == DealStatus.OPEN:
        moved = selectors.board_card(viewer=request.user, filters=filters, today=today, pk=deal.pk)
        if moved is not None:
            card = card_renderer(request, board_path).card(moved, last_stage=moved.stage == stages.ORDER[-1])
    changed = [code for code in stages.ORDER if code in (from_stage, deal.stage)]
    context = {
        "stats": [{"stage": code, "count": summary[code][0], "total": summary[code][1]} for code in changed],
        "card": card,
        "to_stage": deal.stage,
        "level": "success",
        "messages": [message],
    }
    return render(request, "deals/board.html#moved", context)


class DealListView(ScopedListView):
    filterset_class = DealFilter
    template_name = "deals/deal_list.html"

    def get_queryset(self):
        return selectors.deal_list(viewer=self.request.user)

    def paginate_queryset(self, queryset, page_size):
        # Newest first, paged by cursor from the (created_at, id) indexes: a late page costs the first's.
        page = keyset_page(queryset, field="created_at", query=self.request.GET, size=page_size)
        return None, page, page.rows, page.has_other_pages

    def get_context_data(self, **kwargs):
        return super().get_context_data(deal_count=self.object_list.count(), **kwargs)

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["show_owner"] = not (
            can(self.request.user, Capability.WORK_PIPELINE)
            and not can(self.request.user, Capability.VIEW_ALL_HUNTERS)
        )
        return kwargs


class DealCreateView(CapabilityRequiredMixin, View):
    required_capability = Capability.WORK_PIPELINE

    def clients(self):
        return Client.objects.visible_to(self.request.user).order_by("name")

    def get(self, request):
        form = DealCreateForm(clients=self.clients(), initial={"client": request.GET.get("client")})
        return render(request, "deals/deal_create.html", {"form": form})

    def post(self, request):
        form = DealCreateForm(request.POST, clients=self.clients())
        if form.is_valid():
            start = stages.REPEAT_ORDER_START if form.cleaned_data["repeat_order"] else Stage.LEAD
            try:
                deal = services.deal_create(
                    acting_user=request.user,
                    client=form.cleaned_data["client"],
                    title=form.cleaned_data["title"],
                    start_stage=start,
                )
            except (services.DealRuleError, ValidationError) as error:
                for message in error_messages(error):
                    form.add_error(None, message)
            else:
                messages.success(request, _("Сделка создана."))
                return redirect("deals:detail", pk=deal.pk)
        return render(request, "deals/deal_create.html", {"form": form}, status=400)


def _offered_forms(user, deal: Deal) -> dict[str, Callable[[], BaseForm]]:
    """The forms the deal page offers this user at the deal's stage, each as the function that builds it
    (a form is built only when it is drawn)."""
    works = services.works_deal(user, deal)
    offered: dict[str, Callable[[], BaseForm]] = {}
    if deal.status == DealStatus.OPEN and works:
        client = deal.client
        if deal.stage == Stage.CALL:
            offered["call"] = lambda: CallResultForm(
                initial={"decision_maker_email": client.decision_maker_email}
            )
        if deal.stage == Stage.PROPOSAL:
            offered["proposal"] = lambda: ProposalForm(
                initial={"sent_to_email": client.decision_maker_email or client.email}
            )
        if deal.stage == Stage.SAMPLES:
            offered["samples"] = lambda: SampleRequestForm(
                initial={"receiver_name": client.decision_maker_name, "delivery_address": client.address}
            )
        if deal.stage == Stage.FOLLOW_UP:
            offered["follow_up"] = FollowUpForm
        # From «Сделка» on the order can be changed: once approved, a change is a new version.
        if deal.stage == Stage.DEAL or (deal.stage in stages.FINANCE_STAGES and _has_order(deal)):
            offered["order"] = lambda: OrderForm(lines_initial=_order_initial(deal))
        if deal.stage == Stage.SHIPMENT:
            offered["shipment"] = lambda: ShipmentForm(initial=_shipment_initial(deal))
        if deal.stage == Stage.CLOSED:
            offered["feedback"] = FeedbackForm
        if deal.stage in stages.LOSABLE_STAGES:
            offered["lost"] = LostForm
        if deal.stage != stages.ORDER[0]:
            offered["move_back"] = lambda: MoveForm(
                initial={"to_stage": stages.ORDER[stages.ORDER.index(deal.stage) - 1]}
            )
    if can(user, Capability.TRANSFER_CLIENTS) and deal.status == DealStatus.OPEN:
        offered["transfer"] = lambda: TransferForm(current_owner=deal.owner)
    if can(user, Capability.RECORD_PAYMENTS) and services.deal_in_finance(deal):
        offered["document"] = _document_form
        offered["payment"] = PaymentForm
        if deal.payments.all():  # loaded with the deal on the deal page
            offered["refund"] = RefundForm
    return offered


# Drawn on the deal page only when the user opens them (DealFormView): rarely used, and each costs as
# much to draw as the stage's own form.
SECONDARY_FORMS = frozenset({"move_back", "lost", "transfer", "refund"})


def _is_secondary(key: str, deal: Deal) -> bool:
    """Whether the form waits to be opened: the rare actions, and the change of an order production has
    approved (the order of a deal at «Сделка» is the stage's own work, drawn at once)."""
    if key == "order":
        return _has_order(deal) and deal.order.production_status == Order.ProductionStatus.APPROVED
    return key in SECONDARY_FORMS


def _document_form() -> DocumentForm:
    form = DocumentForm(initial={"kind": DealDocument.Kind.INVOICE})
    form.fields["kind"].choices = [
        (DealDocument.Kind.INVOICE, DealDocument.Kind.INVOICE.label),
        (DealDocument.Kind.WAYBILL, DealDocument.Kind.WAYBILL.label),
    ]
    return form


def _has_order(deal: Deal) -> bool:
    return getattr(deal, "order", None) is not None


def _order_initial(deal: Deal) -> list[dict]:
    """The form starts from the version waiting for approval, if any, else from the order in force."""
    order = getattr(deal, "order", None)
    if order is None:
        return []
    pending = order.versions.filter(status=OrderVersion.Status.PENDING).first()
    lines = pending.lines.all() if pending is not None else order.lines.all()
    return [{"product": line.product_id, "quantity": line.quantity, "price": line.price} for line in lines]


def _shipment_initial(deal: Deal) -> dict:
    shipment = getattr(deal, "shipment", None)
    if shipment is not None:
        return {
            "receiver_name": shipment.receiver_name,
            "receiver_phone": shipment.receiver_phone,
            "delivery_address": shipment.delivery_address,
            "courier_date": shipment.courier_date,
            "received_on": shipment.received_on,
        }
    return {"delivery_address": deal.client.address}


def deal_page(request, pk: int, *, bound: dict | None = None, status: int = 200) -> HttpResponse:
    """The deal page; ``bound`` is a form refused on its POST, drawn open with its errors."""
    deal = get_visible_or_404_deal(request.user, pk)
    bound = bound or {}
    facts = selectors.deal_facts(deal)
    definition = stages.definition(deal.stage)
    offered = _offered_forms(request.user, deal)
    forms = {key: build() for key, build in offered.items() if not _is_secondary(key, deal)}
    history = selectors.order_history(deal)
    if (
        history
        and history.pending
        and history.pending.awaits_head
        and can(request.user, Capability.VIEW_ALL_HUNTERS)
    ):
        forms["order_limit"] = DecisionForm()
    forms.update(bound)
    transfers = selectors.transfers_of(deal=deal)
    context = {
        "deal": deal,
        "definition": definition,
        "checklist": stages.checklist(deal.stage, facts) if deal.status == DealStatus.OPEN else [],
        "stages": stages.STAGES,
        "current_number": definition.number,
        "facts": facts,
        "forms": forms,
        # The forms drawn when opened: a link each (DealFormView), unless refused and drawn above.
        "closed_forms": {key for key in offered if _is_secondary(key, deal) and key not in bound},
        "next_stage": stages.next_stage(deal.stage),
        "overdue": selectors.overdue_for(deal),
        "works": deal.status == DealStatus.OPEN and services.works_deal(request.user, deal),
        "payment_status": selectors.payment_status(deal, facts),
        "transfers": transfers,
        "order_history": history,
        "timeline": selectors.deal_timeline(deal, transfers=transfers, order_history=history),
        "next_task": deal.tasks.filter(status=Task.Status.OPEN).first(),
    }
    return render(request, "deals/deal_detail.html", context, status=status)


def get_visible_or_404_deal(user, pk: int) -> Deal:
    try:
        return selectors.deal_detail(viewer=user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404 from None


class DealDetailView(View):
    def get(self, request, pk: int):
        return deal_page(request, pk)


class DealFormView(View):
    """One of the deal page's secondary forms (``SECONDARY_FORMS``, the change of an approved order),
    opened: for htmx its partial, put where its link was; without JavaScript a page of its own. Either
    posts to the form's action view, which on a refusal draws the deal page with the form open."""

    def get(self, request, pk: int, key: str):
        deal = get_visible_or_404(
            Deal.objects.visible_to(request.user).select_related("client", "owner", "order"), pk=pk
        )
        build = _offered_forms(request.user, deal).get(key)
        if build is None or not _is_secondary(key, deal):
            raise Http404
        partial = f"deals/deal_detail.html#{key}-form"
        context = {"deal": deal, "form": build(), "key": key, "partial": partial}
        if request.htmx:
            return render(request, partial, context)
        return render(request, "deals/deal_form.html", context)


class DealActionView(View):
    """A stage form posted from the deal page: valid input goes to one service call."""

    form_class = None
    form_key = ""
    success_message = ""
    message_level = messages.SUCCESS

    def refused_message(self, form) -> str:
        return _("Не сохранено: исправьте ошибки в форме.")

    def form_kwargs(self, deal: Deal) -> dict:
        return {}

    def perform(self, form, deal: Deal):
        raise NotImplementedError

    def post(self, request, pk: int):
        deal = get_visible_or_404(
            Deal.objects.visible_to(request.user).select_related("client", "owner"), pk=pk
        )
        form = self.form_class(request.POST, request.FILES, **self.form_kwargs(deal))
        if form.is_valid():
            try:
                self.perform(form, deal)
            except PermissionDenied:
                raise
            except ValidationError as error:
                add_form_errors(form, error)
            except services.DealRuleError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                if self.success_message:
                    messages.add_message(request, self.message_level, self.success_message)
                return redirect(reverse("deals:detail", args=[deal.pk]) + f"#{self.form_key}")
        messages.error(request, self.refused_message(form))
        return deal_page(request, pk, bound={self.form_key: form}, status=400)


class CallResultView(DealActionView):
    form_class, form_key = CallResultForm, "call"

    @property
    def success_message(self):
        return _("Результат звонка записан.")

    def perform(self, form, deal):
        services.call_result_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class ProposalView(DealActionView):
    form_class, form_key = ProposalForm, "proposal"

    @property
    def success_message(self):
        return _("КП записано как отправленное.")

    def perform(self, form, deal):
        services.proposal_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class SampleRequestView(DealActionView):
    form_class, form_key = SampleRequestForm, "samples"

    @property
    def success_message(self):
        return _("Заявка на пробники отправлена в производство.")

    def perform(self, form, deal):
        services.sample_request_create(
            acting_user=self.request.user,
            deal=deal,
            lines=form.sample_lines(),
            receiver_name=form.cleaned_data["receiver_name"],
            receiver_phone=form.cleaned_data["receiver_phone"],
            delivery_address=form.cleaned_data["delivery_address"],
            potential_volume=form.cleaned_data["potential_volume"],
        )


class FollowUpView(DealActionView):
    form_class, form_key = FollowUpForm, "follow_up"

    @property
    def success_message(self):
        return _("Контакт записан.")

    def perform(self, form, deal):
        services.follow_up_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class OrderView(DealActionView):
    form_class, form_key = OrderForm, "order"
    success_message = ""

    def refused_message(self, form) -> str:
        if form.deviations:
            return _("Заказ не отправлен: подтвердите цены, которые отличаются от прайса.")
        return super().refused_message(form)

    def perform(self, form, deal):
        try:
            order = services.order_set_lines(
                acting_user=self.request.user,
                deal=deal,
                lines=form.order_lines(),
                comment=form.cleaned_data["comment"],
                confirmed_prices=form.confirmed_prices(),
            )
        except services.PricesNotConfirmed as refusal:
            # The page shows each line's difference and a button that confirms exactly these prices.
            form.deviations = refusal.deviations
            raise
        if order.production_status == Order.ProductionStatus.APPROVED:
            number = order.versions.filter(status=OrderVersion.Status.PENDING).values_list(
                "number", flat=True
            )
            self.success_message = _(
                "Изменение сохранено как версия №%(number)s и отправлено на согласование в производство; "
                "до согласования действует прежняя версия."
            ) % {"number": number.get()}
        else:
            self.success_message = _("Заказ сохранён и отправлен на согласование в производство.")


class OrderVersionLimitView(CapabilityRequiredMixin, View):
    """The head agrees to (or refuses) a version that takes the client over its deferred limit."""

    required_capability = Capability.VIEW_ALL_HUNTERS

    def post(self, request, pk: int):
        version = get_visible_or_404(
            OrderVersion.objects.filter(order__deal__in=Deal.objects.visible_to(request.user)).select_related(
                "order"
            ),
            pk=pk,
        )
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Выберите: согласовать или отклонить."))
        else:
            try:
                services.order_version_limit_decide(
                    acting_user=request.user, version=version, **form.cleaned_data
                )
            except (services.DealRuleError, ValidationError) as error:
                flash_errors(request, error)
            else:
                if form.cleaned_data["approve"]:
                    messages.success(
                        request, _("Превышение лимита согласовано: заказ ждёт решения производства.")
                    )
                else:
                    messages.success(request, _("Версия заказа отклонена."))
        return redirect(
            safe_next(request) or reverse("deals:detail", args=[version.order.deal_id]) + "#order"
        )


class DocumentView(DealActionView):
    form_class, form_key = DocumentForm, "document"

    @property
    def success_message(self):
        return _("Документ загружен.")

    def perform(self, form, deal):
        services.document_upload(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class ShipmentView(DealActionView):
    form_class, form_key = ShipmentForm, "shipment"

    @property
    def success_message(self):
        return _("Отгрузка сохранена.")

    def perform(self, form, deal):
        services.shipment_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class PaymentView(DealActionView):
    form_class, form_key = PaymentForm, "payment"
    already_recorded = ""

    @property
    def success_message(self):
        return self.already_recorded or _("Оплата внесена.")

    def perform(self, form, deal):
        try:
            services.payment_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)
        except services.DuplicatePayment as duplicate:
            existing = duplicate.existing
            if (existing.amount, existing.received_on) != (
                form.cleaned_data["amount"],
                form.cleaned_data["received_on"],
            ):
                raise
            # The same document with the same figures: it is in the books once, and the page says so.
            self.already_recorded = _("Повторно не внесена: %(what)s") % {"what": duplicate.messages[0]}
            self.message_level = messages.WARNING


class RefundView(DealActionView):
    form_class, form_key = RefundForm, "refund"

    @property
    def success_message(self):
        return _("Возврат записан.")

    def perform(self, form, deal):
        services.payment_refund(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class FeedbackView(DealActionView):
    form_class, form_key = FeedbackForm, "feedback"

    @property
    def success_message(self):
        return _("Обратная связь записана.")

    def perform(self, form, deal):
        services.feedback_record(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class LostView(DealActionView):
    form_class, form_key = LostForm, "lost"

    @property
    def success_message(self):
        return _("Сделка закрыта с отказом.")

    def perform(self, form, deal):
        services.deal_mark_lost(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class MoveBackView(DealActionView):
    form_class, form_key = MoveForm, "move_back"

    @property
    def success_message(self):
        return _("Сделка возвращена на прежний этап.")

    def perform(self, form, deal):
        if not stages.is_before(form.cleaned_data["to_stage"], deal.stage):
            raise services.DealRuleError(_("Здесь сделку можно только вернуть на один из прежних этапов."))
        services.deal_move(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class TransferView(DealActionView):
    form_class, form_key = TransferForm, "transfer"

    def form_kwargs(self, deal):
        return {"current_owner": deal.owner}

    @property
    def success_message(self):
        return _("Сделка передана.")

    def perform(self, form, deal):
        services.deal_transfer(acting_user=self.request.user, deal=deal, **form.cleaned_data)


class TransferReturnView(CapabilityRequiredMixin, View):
    """ "Вернуть сейчас": a temporary transfer ends today; back to the page it was pressed on."""

    required_capability = Capability.TRANSFER_CLIENTS

    def post(self, request, pk: int):
        transfer = get_visible_or_404(Transfer.objects.select_related("client", "deal"), pk=pk)
        try:
            services.transfer_return(acting_user=request.user, transfer=transfer)
        except ValidationError as error:
            flash_errors(request, error)
        else:
            messages.success(request, _("Возвращено хантеру %(owner)s.") % {"owner": transfer.from_owner})
        if transfer.deal_id:
            return redirect(reverse("deals:detail", args=[transfer.deal_id]) + "#transfers")
        return redirect(reverse("clients:detail", args=[transfer.client_id]) + "#transfers")


class AdvanceView(View):
    """A stage move from the board or the deal page: «Дальше» (no ``to_stage``, or the next one), a drop
    or the card menu's move back (an earlier ``to_stage`` with its ``comment``). Without JavaScript it
    redirects with a message; from the board with htmx it answers in place (``board_moved``), and a
    refused move comes back as the card with the reason in it (and a move back's form open)."""

    def post(self, request, pk: int):
        deal = get_visible_or_404(Deal.objects.visible_to(request.user), pk=pk)
        from_stage = deal.stage
        to_stage = request.POST.get("to_stage", "")
        comment = request.POST.get("comment", "")
        try:
            if to_stage and to_stage != (stages.next_stage(deal.stage) or ""):
                deal = services.deal_move(
                    acting_user=request.user, deal=deal, to_stage=to_stage, comment=comment
                )
            else:
                deal = services.deal_advance(acting_user=request.user, deal=deal)
        except services.DealRuleError as refusal:
            return self.refused(request, deal, refusal, to_stage=to_stage, comment=comment)
        if request.htmx:
            # On the board the notice names the client: the card it speaks of has left the column.
            if deal.status == DealStatus.WON:
                message = _("Сделка «%(deal)s» успешно закрыта.") % {"deal": deal.client.name}
            else:
                message = _("Сделка «%(deal)s» перешла на этап «%(stage)s».") % {
                    "deal": deal.client.name,
                    "stage": deal.get_stage_display(),
                }
            return board_moved(request, from_stage=from_stage, deal=deal, message=message)
        if deal.status == DealStatus.WON:
            message = _("Сделка успешно закрыта.")
        else:
            message = _("Сделка перешла на этап «%(stage)s».") % {"stage": deal.get_stage_display()}
        messages.success(request, message)
        return redirect(safe_next(request) or reverse("deals:detail", args=[deal.pk]))

    def refused(self, request, deal: Deal, refusal: services.DealRuleError, *, to_stage: str, comment: str):
        if isinstance(refusal, services.StageCriteriaNotMet):
            title = _("Сделка «%(deal)s» не может перейти дальше: на этапе «%(stage)s» не выполнено") % {
                "deal": deal.client.name,
                "stage": stages.definition(refusal.stage).label,
            }
        else:
            title = _("Переход не выполнен")
        if request.htmx:
            board_path = board_address(request)
            today = timezone.localdate()
            shown = selectors.board_card(
                viewer=request.user, filters=selectors.BoardFilters(), today=today, pk=deal.pk
            )
            back = to_stage in stages.ORDER and deal.is_open and stages.is_before(to_stage, deal.stage)
            card = ""
            if shown is not None:
                card = card_renderer(request, board_path).card(
                    shown,
                    last_stage=shown.stage == stages.ORDER[-1],
                    errors=refusal.messages,
                    back_to=to_stage if back else None,
                    comment=comment,
                )
            context = {"card": card, "level": "danger", "title": title, "messages": refusal.messages}
            return render(request, "deals/board.html#refused", context, status=422)
        messages.error(request, f"{title}: " + "; ".join(refusal.messages) + ".")
        return redirect(safe_next(request) or reverse("deals:detail", args=[deal.pk]))


class RestoreView(View):
    def post(self, request, pk: int):
        deal = get_visible_or_404(Deal.objects.visible_to(request.user), pk=pk)
        try:
            services.deal_restore(
                acting_user=request.user, deal=deal, comment=request.POST.get("comment", "")
            )
        except services.DealRuleError as error:
            flash_errors(request, error)
        else:
            messages.success(request, _("Сделка восстановлена и снова в работе."))
        return redirect("deals:detail", pk=deal.pk)


class DocumentDownloadView(View):
    """Files are never public: each download checks that the user may see the deal."""

    def get(self, request, pk: int):
        document = get_visible_or_404(
            DealDocument.objects.filter(deal__in=Deal.objects.visible_to(request.user)), pk=pk
        )
        return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.original_name)
