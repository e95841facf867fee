"""Reads about clients and deals that are more than a ``.get()``; each runs a fixed number of queries."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from atlanset_portal.workdays import add_working_days

from . import stages
from .models import (
    CallResult,
    Client,
    Deal,
    DealDocument,
    Feedback,
    FollowUp,
    Order,
    Payment,
    Proposal,
    SampleRequest,
    Shipment,
    StageChange,
    Transfer,
)
from .stages import (
    AGREED_CALL_OUTCOMES,
    CallFacts,
    CallOutcome,
    DealFacts,
    DealStatus,
    ProposalFacts,
    SampleRequestFacts,
    ShipmentFacts,
)

ZERO = Decimal("0")


def deal_facts(deal: Deal) -> DealFacts:
    """Everything the exit criteria look at, for one deal."""
    client = Client.objects.annotate(phone_count=Count("phones")).get(pk=deal.client_id)
    call = (
        CallResult.objects.filter(deal=deal)
        # The latest conclusive call (agreed or refused) decides; unanswered attempts do not undo it.
        .annotate(
            conclusive=Case(
                When(outcome__in=[*AGREED_CALL_OUTCOMES, CallOutcome.REFUSED], then=1),
                default=0,
                output_field=IntegerField(),
            )
        )
        .order_by("-conclusive", "-at", "-pk")
        .first()
    )
    proposal = Proposal.objects.filter(deal=deal).order_by("-sent_at", "-pk").first()
    sample = (
        SampleRequest.objects.filter(deal=deal)
        .exclude(status=SampleRequest.Status.DECLINED)
        .annotate(line_count=Count("lines"))
        .order_by("-requested_at", "-pk")
        .first()
    )
    order = Order.objects.filter(deal=deal).annotate(line_count=Count("lines")).first()
    shipment = Shipment.objects.filter(deal=deal).first()
    flags = Deal.objects.filter(pk=deal.pk).aggregate(
        confirmed=Count("follow_ups", filter=Q(follow_ups__client_confirmed=True), distinct=True),
        invoices=Count("documents", filter=Q(documents__kind=DealDocument.Kind.INVOICE), distinct=True),
    )
    paid = Payment.objects.filter(deal=deal).aggregate(total=Sum("amount"))["total"] or ZERO
    return DealFacts(
        client_name=client.name,
        client_address=client.address,
        client_phone_count=client.phone_count,
        client_requisites_complete=not client.missing_requisites(),
        missing_requisites=tuple(client.missing_requisites()),
        best_call=CallFacts(
            outcome=call.outcome,
            call_description=call.call_description,
            client_description=call.client_description,
            decision_maker_email=call.decision_maker_email or client.decision_maker_email,
        )
        if call
        else None,
        proposal=ProposalFacts(
            has_file_or_template=bool(proposal.document_id or proposal.template_name),
            sent_to_email=proposal.sent_to_email,
            sent_at=proposal.sent_at,
            callback_on=proposal.callback_on,
        )
        if proposal
        else None,
        next_contact_on=deal.next_contact_on,
        sample_request=SampleRequestFacts(
            line_count=sample.line_count,
            receiver_name=sample.receiver_name,
            receiver_phone=sample.receiver_phone,
            potential_volume=sample.potential_volume,
            delivered=sample.status == SampleRequest.Status.HANDED_OVER,
        )
        if sample
        else None,
        client_confirmed_purchase=flags["confirmed"] > 0,
        order_line_count=order.line_count if order else 0,
        order_total=order.total if order else ZERO,
        order_approved=bool(order and order.production_status == Order.ProductionStatus.APPROVED),
        invoice_uploaded=flags["invoices"] > 0,
        shipment=ShipmentFacts(
            receiver_name=shipment.receiver_name,
            receiver_phone=shipment.receiver_phone,
            delivery_address=shipment.delivery_address,
            courier_date=shipment.courier_date,
            received=shipment.received_on is not None,
        )
        if shipment
        else None,
        paid_total=paid,
        feedback_recorded=Feedback.objects.filter(deal=deal).exists(),
    )


def _with_amounts(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    return deals.select_related("client", "owner").annotate(
        amount=Coalesce(Subquery(Order.objects.filter(deal=OuterRef("pk")).values("total")[:1]), Value(ZERO)),
    )


@dataclass
class BoardColumn:
    definition: stages.StageDefinition
    deals: list[Deal]
    count: int
    total: Decimal
    is_last: bool = False
    cards: list = field(default_factory=list)  # the rendered cards (deals/cards.py)


def board_columns(
    *, viewer: User, owner: User | None = None, limit_per_column: int = 200
) -> list[BoardColumn]:
    """The kanban: the viewer's open deals per stage with counts and sums, in three queries."""
    deals = Deal.objects.visible_to(viewer).open()
    if owner is not None:
        deals = deals.filter(owner=owner)
    summary = {
        row["stage"]: row
        for row in deals.values("stage").annotate(
            count=Count("pk"), total=Coalesce(Sum("order__total"), Value(ZERO))
        )
    }
    cards = (
        _with_amounts(deals)
        .annotate(
            stage_rank=Case(
                *[When(stage=s, then=i) for i, s in enumerate(stages.ORDER)], output_field=IntegerField()
            )
        )
        .order_by("stage_rank", "next_contact_on", "-pk")
    )
    by_stage: dict[str, list[Deal]] = {stage: [] for stage in stages.ORDER}
    for deal in cards:
        column = by_stage[deal.stage]
        if len(column) < limit_per_column:
            column.append(deal)
    return [
        BoardColumn(
            is_last=definition is stages.STAGES[-1],
            definition=definition,
            deals=by_stage[definition.stage.value],
            count=summary.get(definition.stage.value, {}).get("count", 0),
            total=summary.get(definition.stage.value, {}).get("total", ZERO),
        )
        for definition in stages.STAGES
    ]


def deal_list(*, viewer: User) -> QuerySet[Deal]:
    return _with_amounts(Deal.objects.visible_to(viewer)).select_related("lost_reason")


def client_list(*, viewer: User) -> QuerySet[Client]:
    return (
        Client.objects.visible_to(viewer)
        .select_related("owner")
        .prefetch_related("phones")
        # Counted per shown row (subqueries), not by grouping every client's deals before paginating.
        .annotate(open_deals=_deals_of_client(DealStatus.OPEN), won_deals=_deals_of_client(DealStatus.WON))
    )


def _deals_of_client(status: str):
    counted = (
        Deal.objects.filter(client=OuterRef("pk"), status=status)
        .order_by()
        .values("client")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def deal_detail(*, viewer: User, pk: int) -> Deal:
    """The deal page's deal with everything it shows, or Deal.DoesNotExist (→ 404) if not visible."""
    return (
        Deal.objects.visible_to(viewer)
        .select_related("client", "owner", "lost_reason", "order", "shipment", "feedback")
        .prefetch_related(
            Prefetch("stage_changes", queryset=StageChange.objects.select_related("by")),
            Prefetch("call_results", queryset=CallResult.objects.select_related("author")),
            Prefetch("proposals", queryset=Proposal.objects.select_related("document")),
            Prefetch("sample_requests", queryset=SampleRequest.objects.prefetch_related("lines__product")),
            Prefetch("follow_ups", queryset=FollowUp.objects.select_related("author")),
            "order__lines__product",
            Prefetch("documents", queryset=DealDocument.objects.select_related("uploaded_by")),
            Prefetch("payments", queryset=Payment.objects.select_related("credited_to")),
            "client__phones",
        )
        .get(pk=pk)
    )


def production_queue() -> dict[str, QuerySet]:
    """Sample requests to prepare or hand over and orders waiting for approval, oldest first."""
    return {
        "samples": SampleRequest.objects.filter(
            status__in=[SampleRequest.Status.REQUESTED, SampleRequest.Status.PREPARED]
        )
        .select_related("deal__client", "requested_by")
        .prefetch_related("lines__product")
        .order_by("requested_at"),
        "orders": Order.objects.filter(
            production_status=Order.ProductionStatus.PENDING, deal__status=DealStatus.OPEN
        )
        .exclude(lines=None)
        .select_related("deal__client", "deal__owner")
        .prefetch_related("lines__product")
        .order_by("created_at"),
    }


def overdue_for(deal: Deal) -> bool:
    return deal.next_contact_on is not None and deal.next_contact_on < timezone.localdate()


def quality_claims(*, days: int) -> QuerySet[Feedback]:
    """Negative feedback on the product, routed to the sales head (SPEC §3)."""
    since = timezone.now() - timedelta(days=days)
    return (
        Feedback.objects.filter(has_quality_claims=True, at__gte=since)
        .select_related("deal__client", "deal__owner")
        .order_by("-at")
    )


@dataclass
class OverduePayment:
    deal: Deal
    due_on: date
    outstanding: Decimal


def deferred_due_on(client: Client, received_on: date) -> date:
    """The last day to pay on deferred terms: the term runs from the client's receipt of the goods,
    in calendar days or, when the contract says so, in working days of the production calendar."""
    days = client.deferred_days or 0
    if client.deferred_in_working_days:
        return add_working_days(received_on, days)
    return received_on + timedelta(days=days)


def overdue_deferred_payments(
    *, today: "date | None" = None, owner: User | None = None
) -> list[OverduePayment]:
    """Deals on deferred payment whose term, counted from the client's receipt of the goods, has run out
    while the order is not paid in full (SPEC §7)."""
    today = today or timezone.localdate()
    deals = (
        Deal.objects.filter(
            status=DealStatus.OPEN,
            client__payment_terms="deferred",
            shipment__received_on__isnull=False,
            paid_in_full_on__isnull=True,
            order__total__gt=0,
        )
        .select_related("client", "owner", "order", "shipment")
        .annotate(paid=Coalesce(Sum("payments__amount"), Value(ZERO)))
    )
    if owner is not None:
        deals = deals.filter(owner=owner)
    result = []
    for deal in deals:
        due_on = deferred_due_on(deal.client, deal.shipment.received_on)
        if due_on < today:
            result.append(OverduePayment(deal=deal, due_on=due_on, outstanding=deal.order.total - deal.paid))
    return sorted(result, key=lambda item: item.due_on)


@dataclass
class PaymentStatus:
    """Paid / due / overdue, as the deal page shows it."""

    paid: Decimal
    outstanding: Decimal
    due_on: date | None
    overdue: bool

    @property
    def label(self) -> str:
        if self.outstanding <= 0 and self.paid > 0:
            return "paid"
        return "overdue" if self.overdue else "due"


def payment_status(deal: Deal, facts: DealFacts) -> PaymentStatus | None:
    if facts.order_total <= 0:
        return None
    due_on = None
    client = deal.client
    shipment = getattr(deal, "shipment", None)
    if client.payment_terms == "deferred" and shipment is not None and shipment.received_on:
        due_on = deferred_due_on(client, shipment.received_on)
    outstanding = facts.order_total - facts.paid_total
    overdue = outstanding > 0 and due_on is not None and due_on < timezone.localdate()
    return PaymentStatus(paid=facts.paid_total, outstanding=outstanding, due_on=due_on, overdue=overdue)


def transfers_of(*, deal: Deal | None = None, client: Client | None = None) -> list[Transfer]:
    """The transfer log of a deal (its own transfers and its client's) or of a client (all of them),
    newest first, each marked whether it can still be returned."""
    if deal is not None:
        rows = Transfer.objects.filter(Q(deal=deal) | Q(client_id=deal.client_id, deal__isnull=True))
    else:
        rows = Transfer.objects.filter(client=client)
    rows = list(
        rows.select_related("from_owner", "to_owner", "by", "deal", "client", "returned_by").order_by(
            "-at", "-pk"
        )
    )
    for transfer in rows:
        transfer.returnable = transfer_is_returnable(transfer)
    return rows


def transfer_is_returnable(transfer: Transfer) -> bool:
    """A temporary transfer still in force: not returned, and what it moved is still with the stand-in."""
    if transfer.return_on is None or hasattr(transfer, "returned_by"):
        return False
    holder = transfer.deal.owner_id if transfer.deal_id else transfer.client.owner_id
    return holder == transfer.to_owner_id
