"""Events that tell the people they concern, in the bell and in the email digest.

Each public function is one event, called in one line by the service that makes the change, inside its
transaction. It only notes which object changed and how (attributes already in memory, no queries), and
leaves the telling to ``transaction.on_commit(robust=True)``: nobody hears of a change that rolled back,
and a notice that fails (the database gone at that moment) is logged and never undoes the change. Each
notice is keyed by its event (kind, object, transition), so a repeated call, a double submit or a re-run
tells nobody twice (``notifications.services.event_notifications_create``).

Who is told is decided after the commit and fails closed: the deal's owner at that moment, and only if
the deal is visible to them (a hunter never hears of another hunter's deal; after a transfer the new owner
hears the later events); production and the sales head only while their role grants what the link
opens. Whoever made the change is not told of it.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import can
from accounts.models import User
from accounts.roles import ROLE_CAPABILITIES, Capability
from atlanset_portal.templatetags.formatting import rub
from deals.models import (
    Client,
    Deal,
    DealDocument,
    LostReason,
    Order,
    OrderVersion,
    Payment,
    PaymentTermsRequest,
    SampleRequest,
    StageChange,
)
from deals.stages import DealStatus

from .models import NotificationKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventNotice:
    """What one person is told of one event; ``event`` names the event (object and transition,
    ``sample_request:7:prepared``), the same however often it is told."""

    recipient_id: int
    kind: str
    event: str
    title: str
    body: str = ""
    url: str = ""

    @property
    def event_key(self) -> str:
        return f"{self.kind}:{self.event}"


# Set while a history is replayed (a scenario import): what happened long ago is not news.
_quiet: ContextVar[bool] = ContextVar("notification_events_quiet", default=False)


@contextmanager
def quiet() -> Iterator[None]:
    """Changes made inside tell nobody."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _after_commit(tell: Callable[..., Iterable], **facts) -> None:
    if _quiet.get():
        return
    transaction.on_commit(partial(_deliver, tell, facts), robust=True)


def _deliver(tell: Callable[..., Iterable], facts: dict) -> None:
    from .services import event_notifications_create

    created = event_notifications_create(notices=tell(**facts))
    logger.debug("%s %s: %s new notification(s)", tell.__name__, facts, created)


# --- who may be told ---------------------------------------------------------------------------------


def _owner_of(deal: Deal, *, actor_id: int | None) -> list[int]:
    """The deal's owner now, if active, not the one who acted, and allowed to see the deal."""
    owner = deal.owner
    if owner.pk == actor_id or not owner.is_active:
        return []
    if not Deal.objects.visible_to(owner).filter(pk=deal.pk).exists():
        return []
    return [owner.pk]


def _tell_owner(
    deal: Deal, *, actor_id: int | None, kind: str, event: str, title: str, body: str = ""
) -> Iterator[EventNotice]:
    """The notice of an event on a deal for its owner (``_owner_of``), linking to the deal."""
    for recipient_id in _owner_of(deal, actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id, kind=kind, event=event, title=title, body=body, url=_deal_url(deal.pk)
        )


def _people_who_can(capability: Capability, *, actor_id: int | None) -> list[User]:
    """Active people whose role grants the capability (checked person by person: the admin may have
    changed a role's permissions), but not the one who acted."""
    roles = [role for role, capabilities in ROLE_CAPABILITIES.items() if capability in capabilities]
    people = User.objects.filter(role__in=roles, is_active=True).exclude(pk=actor_id).order_by("pk")
    return [person for person in people if can(person, capability)]


def _production(*, actor_id: int | None) -> list[int]:
    return [person.pk for person in _people_who_can(Capability.HANDLE_PRODUCTION, actor_id=actor_id)]


def _heads_seeing(queryset, pk: int, *, actor_id: int | None) -> list[int]:
    """The sales heads to whom the object (a deal, a client) is visible."""
    return [
        head.pk
        for head in _people_who_can(Capability.VIEW_ALL_HUNTERS, actor_id=actor_id)
        if queryset.visible_to(head).filter(pk=pk).exists()
    ]


def _deal_url(deal_id: int) -> str:
    return reverse("deals:detail", args=[deal_id])


def _name(user: User | None) -> str:
    return "" if user is None else str(user)


# --- samples -----------------------------------------------------------------------------------------


def sample_request_created(*, request: SampleRequest, acting_user: User) -> None:
    """Production is told of a new sample request."""
    _after_commit(_tell_sample_request_created, request_id=request.pk, actor_id=acting_user.pk)


def _tell_sample_request_created(*, request_id: int, actor_id: int):
    request = (
        SampleRequest.objects.select_related("deal__client")
        .prefetch_related("lines__product")
        .filter(pk=request_id, status=SampleRequest.Status.REQUESTED)
        .first()
    )
    if request is None:
        return  # already handled or gone
    title = _("Новая заявка на пробники: «%(client)s»") % {"client": request.deal.client.name}
    body = ", ".join(f"{line.product} × {line.quantity}" for line in request.lines.all())
    url = reverse("deals:production_queue") + "#samples"
    for recipient_id in _production(actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id,
            kind=NotificationKind.SAMPLES_REQUESTED,
            event=f"sample_request:{request.pk}:requested",
            title=title,
            body=body,
            url=url,
        )


SAMPLE_TITLES = {
    SampleRequest.Status.PREPARED: gettext_lazy("Пробники для «%(client)s» подготовлены"),
    SampleRequest.Status.HANDED_OVER: gettext_lazy("Пробники для «%(client)s» переданы клиенту"),
    SampleRequest.Status.DECLINED: gettext_lazy("Заявка на пробники для «%(client)s» отклонена"),
}


def sample_request_status_changed(*, request: SampleRequest, acting_user: User) -> None:
    """The deal's hunter is told that production prepared, handed over or declined their samples."""
    _after_commit(
        _tell_sample_request_status, request_id=request.pk, status=request.status, actor_id=acting_user.pk
    )


def _tell_sample_request_status(*, request_id: int, status: str, actor_id: int):
    requests = SampleRequest.objects.select_related("deal__client", "deal__owner")
    request = requests.filter(pk=request_id).first()
    if request is None or status not in SAMPLE_TITLES:
        return
    deal = request.deal
    title = str(SAMPLE_TITLES[status]) % {"client": deal.client.name}
    body = ""
    if status == SampleRequest.Status.DECLINED and request.comment:
        body = _("Причина: %(reason)s") % {"reason": request.comment}
    yield from _tell_owner(
        deal,
        actor_id=actor_id,
        kind=NotificationKind.SAMPLES_UPDATED,
        event=f"sample_request:{request.pk}:{status}",
        title=title,
        body=body,
    )


# --- orders ------------------------------------------------------------------------------------------


def order_version_submitted(*, version: OrderVersion, acting_user: User) -> None:
    """Production is told of an order (or a change to one) waiting for its approval; the head too when
    it takes the client over the deferred limit and waits for the head's word first."""
    _after_commit(_tell_order_version_submitted, version_id=version.pk, actor_id=acting_user.pk)


def _tell_order_version_submitted(*, version_id: int, actor_id: int):
    from deals.selectors import order_version_limit_check

    version = (
        OrderVersion.objects.select_related("order__deal__client", "order__deal__owner")
        .filter(pk=version_id, status=OrderVersion.Status.PENDING, order__deal__status=DealStatus.OPEN)
        .first()
    )
    if version is None:
        return  # replaced by a newer version or decided already
    deal = version.order.deal
    client = deal.client.name
    check = order_version_limit_check(version)
    awaits_head = bool(check and check.exceeded and version.limit_approved_at is None)
    title = (
        _("Изменение заказа «%(client)s» (версия №%(number)s) ждёт согласования")
        if version.order.production_status == Order.ProductionStatus.APPROVED
        else _("Заказ «%(client)s» ждёт согласования")
    ) % {"client": client, "number": version.number}
    body = _("Сумма заказа %(total)s.") % {"total": rub(version.total)}
    if awaits_head:
        body += " " + _("Сначала превышение лимита отсрочки согласует руководитель.")
    queue = reverse("deals:production_queue") + f"#order-{version.order_id}"
    for recipient_id in _production(actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id,
            kind=NotificationKind.ORDER_TO_APPROVE,
            event=f"order_version:{version.pk}:submitted",
            title=title,
            body=body,
            url=queue,
        )
    if not awaits_head:
        return
    title = _("Заказ «%(client)s» выводит клиента за лимит отсрочки") % {"client": client}
    body = _(
        "Неоплаченная отсрочка станет %(after)s при лимите %(limit)s (превышение %(excess)s). Хантер: "
        "%(hunter)s."
    ) % {
        "after": rub(check.unpaid_after),
        "limit": rub(check.limit),
        "excess": rub(check.excess),
        "hunter": _name(deal.owner),
    }
    for recipient_id in _heads_seeing(Deal.objects, deal.pk, actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id,
            kind=NotificationKind.ORDER_OVER_LIMIT,
            event=f"order_version:{version.pk}:over_limit",
            title=title,
            body=body,
            url=reverse("deals:approvals") + "#over-limit",
        )


def order_version_decided(*, version: OrderVersion, acting_user: User) -> None:
    """The deal's hunter is told that their order (or its new version) was approved or declined, by
    production or, over the deferred limit, by the head; with the reason."""
    _after_commit(
        _tell_order_version_decided, version_id=version.pk, status=version.status, actor_id=acting_user.pk
    )


def _tell_order_version_decided(*, version_id: int, status: str, actor_id: int):
    version = (
        OrderVersion.objects.select_related("order__deal__client", "order__deal__owner", "decided_by")
        .filter(pk=version_id)
        .first()
    )
    if version is None or status not in (OrderVersion.Status.APPROVED, OrderVersion.Status.DECLINED):
        return
    deal = version.order.deal
    figures = {"client": deal.client.name, "number": version.number}
    if status == OrderVersion.Status.APPROVED:
        title = (
            _("Производство согласовало заказ «%(client)s» (версия №%(number)s)")
            if version.number > 1
            else _("Производство согласовало заказ «%(client)s»")
        ) % figures
        body = _("Комментарий: %(comment)s") % {"comment": version.decision_comment}
        if not version.decision_comment:
            body = ""
    else:
        title = (
            _("Заказ «%(client)s» (версия №%(number)s) отклонён")
            if version.number > 1
            else _("Заказ «%(client)s» отклонён")
        ) % figures
        body = _("Причина: %(reason)s (%(who)s)") % {
            "reason": version.decision_comment,
            "who": _name(version.decided_by),
        }
    yield from _tell_owner(
        deal,
        actor_id=actor_id,
        kind=NotificationKind.ORDER_DECIDED,
        event=f"order_version:{version.pk}:{status}",
        title=title,
        body=body,
    )


# --- money -------------------------------------------------------------------------------------------


def document_uploaded(*, document: DealDocument, acting_user: User) -> None:
    """An invoice uploaded for a deal tells its hunter; other documents tell nobody."""
    if document.kind == DealDocument.Kind.INVOICE:
        _after_commit(_tell_invoice_uploaded, document_id=document.pk, actor_id=acting_user.pk)


def _tell_invoice_uploaded(*, document_id: int, actor_id: int):
    documents = DealDocument.objects.select_related("deal__client", "deal__owner")
    document = documents.filter(pk=document_id).first()
    if document is None:
        return
    deal = document.deal
    yield from _tell_owner(
        deal,
        actor_id=actor_id,
        kind=NotificationKind.INVOICE_UPLOADED,
        event=f"document:{document.pk}:uploaded",
        title=_("Загружен счёт №%(number)s по «%(client)s»")
        % {"number": document.number, "client": deal.client.name},
    )


def payment_recorded(*, payment: Payment, acting_user: User) -> None:
    """The deal's hunter is told of a payment received or a refund made on their deal."""
    _after_commit(_tell_payment_recorded, payment_id=payment.pk, actor_id=acting_user.pk)


def _tell_payment_recorded(*, payment_id: int, actor_id: int):
    payment = Payment.objects.select_related("deal__client", "deal__owner").filter(pk=payment_id).first()
    if payment is None:
        return
    deal = payment.deal
    figures = {
        "amount": rub(abs(payment.amount)),
        "client": deal.client.name,
        "day": date_format(payment.received_on, "j E"),
    }
    if payment.kind == Payment.Kind.REFUND:
        title = _("Возврат %(amount)s клиенту «%(client)s»") % figures
        body = _("Внесён %(day)s.") % figures
    else:
        title = _("Оплата %(amount)s от «%(client)s»") % figures
        body = _("Поступила %(day)s.") % figures
    yield from _tell_owner(
        deal,
        actor_id=actor_id,
        kind=NotificationKind.PAYMENT_RECORDED,
        event=f"payment:{payment.pk}:recorded",
        title=title,
        body=body,
    )


# --- the head's attention ----------------------------------------------------------------------------


def deal_lost(*, deal: Deal, acting_user: User) -> None:
    """A deal lost over complaints about the product tells the sales head; other refusals tell nobody."""
    reason = deal.lost_reason
    if reason is not None and reason.code == LostReason.PRODUCT_COMPLAINT:
        _after_commit(_tell_deal_lost_complaint, deal_id=deal.pk, actor_id=acting_user.pk)


def _tell_deal_lost_complaint(*, deal_id: int, actor_id: int):
    loss = (
        StageChange.objects.filter(deal_id=deal_id, kind=StageChange.Kind.LOST)
        .select_related("deal__client", "deal__owner")
        .order_by("-at", "-pk")
        .first()
    )
    if loss is None:
        return
    deal = loss.deal
    body = _("%(note)s Хантер: %(hunter)s.") % {
        "note": loss.comment.rstrip(".") + "." if loss.comment else "",
        "hunter": _name(deal.owner),
    }
    for recipient_id in _heads_seeing(Deal.objects, deal.pk, actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id,
            kind=NotificationKind.DEAL_LOST_COMPLAINT,
            # Each loss is its own event: a deal restored and lost again tells again.
            event=f"deal:{deal.pk}:lost:{loss.pk}",
            title=_("Отказ из-за претензий к продукции: «%(client)s»") % {"client": deal.client.name},
            body=body.strip(),
            url=_deal_url(deal.pk),
        )


def payment_terms_requested(*, request: PaymentTermsRequest, acting_user: User) -> None:
    """The sales head is told of a hunter's request for a client's payment terms."""
    _after_commit(_tell_payment_terms_requested, request_id=request.pk, actor_id=acting_user.pk)


def _tell_payment_terms_requested(*, request_id: int, actor_id: int):
    request = (
        PaymentTermsRequest.objects.select_related("client", "requested_by")
        .filter(pk=request_id, status=PaymentTermsRequest.Status.PENDING)
        .first()
    )
    if request is None:
        return  # decided already
    title = _("Запрос условий оплаты для «%(client)s»: %(terms)s") % {
        "client": request.client.name,
        "terms": request.get_payment_terms_display().lower(),
    }
    body = f"{request.comment} ({_name(request.requested_by)})"
    for recipient_id in _heads_seeing(Client.objects, request.client_id, actor_id=actor_id):
        yield EventNotice(
            recipient_id=recipient_id,
            kind=NotificationKind.TERMS_REQUESTED,
            event=f"terms_request:{request.pk}:requested",
            title=title,
            body=body,
            url=reverse("deals:approvals") + "#terms-requests",
        )
