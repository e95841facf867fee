"""Reads about clients and deals that are more than a ``.get()``; each runs a fixed number of queries."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import zip_longest

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User, person_name
from accounts.roles import Capability
from atlanset_portal.money import MoneySum
from atlanset_portal.templatetags.formatting import rub
from atlanset_portal.workdays import add_working_days

from . import stages
from .models import (
    CallResult,
    Client,
    Contact,
    Deal,
    DealDocument,
    Feedback,
    FollowUp,
    Order,
    OrderLine,
    OrderVersion,
    OrderVersionLine,
    Payment,
    PaymentTerms,
    PaymentTermsRequest,
    Product,
    Proposal,
    SampleLine,
    SampleRequest,
    Shipment,
    StageChange,
    Transfer,
)
from .search import MIN_QUERY_LENGTH, SearchQuery, best_matches, parse_query
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


_CONCLUSIVE_CALL_OUTCOMES = frozenset({*AGREED_CALL_OUTCOMES, CallOutcome.REFUSED})


def _best_call(calls: Iterable[CallResult]) -> CallResult | None:
    """The latest conclusive call (agreed or refused) decides; unanswered attempts do not undo it."""
    return max(
        calls, key=lambda call: (call.outcome in _CONCLUSIVE_CALL_OUTCOMES, call.at, call.pk), default=None
    )


def deal_facts(deal: Deal) -> DealFacts:
    """Everything the exit criteria look at, for one deal. The deal's records as ``deal_detail`` loaded
    them (the deal page), else read here: a fixed number of queries, a deal's records being few."""
    client = deal.client if type(deal).client.is_cached(deal) else Client.objects.get(pk=deal.client_id)
    phones = _loaded(client, "phones", client.phones.all())
    call = _best_call(_loaded(deal, "call_results", CallResult.objects.filter(deal=deal)))
    proposal = max(
        _loaded(deal, "proposals", Proposal.objects.filter(deal=deal)),
        key=lambda proposal: (proposal.sent_at, proposal.pk),
        default=None,
    )
    samples = _loaded(
        deal, "sample_requests", SampleRequest.objects.filter(deal=deal).prefetch_related("lines")
    )
    sample = max(
        (sample for sample in samples if sample.status != SampleRequest.Status.DECLINED),
        key=lambda sample: (sample.requested_at, sample.pk),
        default=None,
    )
    order = (
        Order.objects.filter(deal=deal)
        .annotate(
            line_count=Count("lines", distinct=True),
            pending_versions=Count(
                "versions", filter=Q(versions__status=OrderVersion.Status.PENDING), distinct=True
            ),
        )
        .first()
    )
    # Loaded with the deal on the deal page (deal_detail), read here otherwise.
    shipment = _loaded_one(deal, "shipment", Shipment.objects.filter(deal=deal))
    follow_ups = _loaded(deal, "follow_ups", FollowUp.objects.filter(deal=deal))
    documents = _loaded(deal, "documents", DealDocument.objects.filter(deal=deal))
    payments = _loaded(deal, "payments", Payment.objects.filter(deal=deal))
    # Amounts are kept in kopecks exactly (two decimal places): their sum needs no rounding.
    paid = sum((payment.amount for payment in payments), ZERO)
    return DealFacts(
        client_name=client.name,
        client_address=client.address,
        client_phone_count=len(phones),
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
            line_count=len(sample.lines.all()),
            receiver_name=sample.receiver_name,
            receiver_phone=sample.receiver_phone,
            potential_volume=sample.potential_volume,
            delivered=sample.status == SampleRequest.Status.HANDED_OVER,
        )
        if sample
        else None,
        client_confirmed_purchase=any(follow_up.client_confirmed for follow_up in follow_ups),
        order_line_count=order.line_count if order else 0,
        order_total=order.total if order else ZERO,
        # Production approved the order as it stands: a change waiting for approval is not approved yet.
        order_approved=bool(
            order
            and order.production_status == Order.ProductionStatus.APPROVED
            and not order.pending_versions
        ),
        invoice_uploaded=any(document.kind == DealDocument.Kind.INVOICE for document in documents),
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
        feedback_recorded=_loaded_one(deal, "feedback", Feedback.objects.filter(deal=deal)) is not None,
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


@dataclass(frozen=True)
class BoardFilters:
    """What the board shows: whose deals (the head's choice), a search text, and the next contact due."""

    OVERDUE = "overdue"
    TODAY = "today"

    owner: User | None = None
    search: str = ""
    due: str = ""  # OVERDUE, TODAY or "" for every deal


def _board_deals(viewer: User, filters: BoardFilters, today: date) -> QuerySet[Deal]:
    from .filters import deal_search

    deals = Deal.objects.visible_to(viewer).open()
    if filters.owner is not None:
        deals = deals.filter(owner=filters.owner)
    if filters.due == BoardFilters.OVERDUE:
        deals = deals.filter(next_contact_on__lt=today)
    elif filters.due == BoardFilters.TODAY:
        deals = deals.filter(next_contact_on=today)
    return deal_search(deals, filters.search)


def board_summary(*, viewer: User, filters: BoardFilters, today: date) -> dict[str, tuple[int, Decimal]]:
    """Each stage's count and order total on the board as filtered, in one query."""
    rows = (
        _board_deals(viewer, filters, today)
        .order_by()
        .values("stage")
        .annotate(count=Count("pk"), total=MoneySum("order__total"))
    )
    summary = {stage: (0, ZERO) for stage in stages.ORDER}
    summary.update({row["stage"]: (row["count"], row["total"]) for row in rows})
    return summary


BOARD_COLUMN_PAGE = 30  # cards a column shows at first and adds with each «Показать ещё»


def _column_order() -> list:
    # Soonest next contact first (overdue ones at the top), deals with none at the end on both databases.
    return [F("next_contact_on").asc(nulls_last=True), F("pk").desc()]


def _card_clients() -> list:
    """A card's client: its name and what its one-tap links need (deals/cards.py), not its requisites; the
    phones of all the cards in one query."""
    return [
        Prefetch("client", queryset=Client.objects.only("pk", "name", "address", "city")),
        "client__phones",
    ]


def board_columns(
    *,
    viewer: User,
    filters: BoardFilters | None = None,
    today: date | None = None,
    limit_per_column: int | None = None,
) -> list[BoardColumn]:
    """The kanban: the viewer's open deals per stage with counts and sums, and each column's first
    ``limit_per_column`` cards, in three queries (and one for the clients' phones). The database picks
    each column's first cards, so a head's board of 20 000 open deals reads a few hundred rows."""
    filters = filters or BoardFilters()
    today = today or timezone.localdate()
    summary = board_summary(viewer=viewer, filters=filters, today=today)
    cards = (
        _with_amounts(_board_deals(viewer, filters, today))
        .annotate(
            stage_rank=Case(
                *[When(stage=s, then=i) for i, s in enumerate(stages.ORDER)], output_field=IntegerField()
            ),
            column_row=Window(RowNumber(), partition_by=[F("stage")], order_by=_column_order()),
        )
        .filter(column_row__lte=limit_per_column or BOARD_COLUMN_PAGE)
        .order_by("stage_rank", *_column_order())
        .prefetch_related(*_card_clients())
    )
    by_stage: dict[str, list[Deal]] = {stage: [] for stage in stages.ORDER}
    for deal in cards:
        by_stage[deal.stage].append(deal)
    return [
        BoardColumn(
            is_last=definition is stages.STAGES[-1],
            definition=definition,
            deals=by_stage[definition.stage.value],
            count=summary[definition.stage.value][0],
            total=summary[definition.stage.value][1],
        )
        for definition in stages.STAGES
    ]


def board_column_cards(
    *,
    viewer: User,
    filters: BoardFilters,
    today: date,
    stage: str,
    offset: int,
) -> list[Deal]:
    """The next cards of one column after the first ``offset`` (its «Показать ещё»)."""
    deals = (
        _with_amounts(_board_deals(viewer, filters, today))
        .filter(stage=stage)
        .order_by(*_column_order())
        .prefetch_related(*_card_clients())
    )
    return list(deals[offset : offset + BOARD_COLUMN_PAGE])


def board_card(*, viewer: User, filters: BoardFilters, today: date, pk: int) -> Deal | None:
    """One open deal as the board shows it (with its amount), or None if the board as filtered does not."""
    return (
        _with_amounts(_board_deals(viewer, filters, today))
        .filter(pk=pk)
        .prefetch_related("client__phones")
        .first()
    )


def deal_list(*, viewer: User) -> QuerySet[Deal]:
    return _with_amounts(Deal.objects.visible_to(viewer)).select_related("lost_reason")


def _paid_on_deal():
    """What was paid on the outer query's deal, net of refunds: a subquery for ``annotate``."""
    return (
        Payment.objects.filter(deal=OuterRef("pk"))
        .order_by()
        .values("deal")
        .annotate(total=MoneySum("amount"))
        .values("total")
    )


def deals_awaiting_payment(*, viewer: User, limit: int = 100) -> list[Deal]:
    """Open deals with an order not yet paid in full, longest waiting first, each with what was paid so
    far (``paid``): summed for the shown rows only, not by grouping every open deal's payments."""
    paid = _paid_on_deal()
    # The few hundred deals with an unpaid order first, then scoped to the viewer: scoping every open
    # deal first makes the database hash every payment and invoice ever recorded (the accountant's
    # scope), which grows with history.
    waiting = list(
        Deal.objects.open()
        .filter(order__total__gt=0, paid_in_full_on__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    return list(
        Deal.objects.visible_to(viewer)
        .filter(pk__in=waiting)
        .select_related("client", "owner", "order")
        .annotate(paid=Subquery(paid))
        .order_by("stage_entered_at", "pk")[:limit]
    )


def client_list(*, viewer: User) -> QuerySet[Client]:
    return (
        Client.objects.visible_to(viewer)
        .select_related("owner")
        .prefetch_related("phones")
        # Counted per shown row (subqueries), not by grouping every client's deals before paginating.
        .annotate(open_deals=_deals_of_client(DealStatus.OPEN), won_deals=_deals_of_client(DealStatus.WON))
    )


@dataclass
class SearchResults:
    """What the header search found, each list scoped as its own page is (``visible_to``)."""

    query: SearchQuery
    clients: list[Client]
    deals: list[Deal]
    contacts: list[Contact]
    more: bool  # some list was cut at the limit

    @property
    def found(self) -> bool:
        return bool(self.clients or self.deals or self.contacts)


def portal_search(*, viewer: User, text: str, limit: int = 8) -> SearchResults:
    """Clients, deals and contacts matching ``text`` (deals.search), as many as ``limit`` of each, that
    ``viewer`` may see: a hunter their own, the accountant the finance deals and their clients, the head
    all. Four queries (clients with their phones, deals, contacts)."""
    query = parse_query(text)
    if len(query.text) < MIN_QUERY_LENGTH:
        return SearchResults(query=query, clients=[], deals=[], contacts=[], more=False)
    visible_clients = Client.objects.visible_to(viewer)
    clients = best_matches(
        visible_clients.prefetch_related("phones"), query, then=("name", "pk"), limit=limit + 1
    )
    deals = best_matches(
        Deal.objects.visible_to(viewer)
        .annotate(closed=Case(When(status=DealStatus.OPEN, then=0), default=1, output_field=IntegerField()))
        .select_related("client"),
        query,
        field="client__search_text",
        then=("closed", "-created_at", "-pk"),
        limit=limit + 1,
    )
    contacts = best_matches(
        Contact.objects.filter(client__in=visible_clients).select_related("client"),
        query,
        then=("name", "pk"),
        limit=limit + 1,
    )
    return SearchResults(
        query=query,
        clients=clients[:limit],
        deals=deals[:limit],
        contacts=contacts[:limit],
        more=max(len(clients), len(deals), len(contacts)) > limit,
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
        .select_related("client", "owner", "lost_reason", "order", "shipment", "feedback__author")
        .prefetch_related(
            # Lines with their products in one query each (a prefetch of lines__product takes two).
            Prefetch(
                "sample_requests",
                queryset=SampleRequest.objects.select_related("requested_by").prefetch_related(
                    Prefetch("lines", queryset=SampleLine.objects.select_related("product"))
                ),
            ),
            Prefetch("order__lines", queryset=OrderLine.objects.select_related("product")),
            Prefetch("documents", queryset=DealDocument.objects.select_related("uploaded_by")),
            Prefetch("payments", queryset=Payment.objects.select_related("credited_to", "recorded_by")),
            # Read by the exit criteria (deal_facts) and the timeline alike.
            Prefetch("call_results", queryset=CallResult.objects.select_related("author")),
            Prefetch("proposals", queryset=Proposal.objects.select_related("author")),
            Prefetch("follow_ups", queryset=FollowUp.objects.select_related("author")),
            "client__phones",
            "client__contacts",
        )
        .get(pk=pk)
    )


def production_queue() -> dict:
    """Sample requests to prepare or hand over and order versions waiting for approval, oldest first,
    with where each goes: the sample's delivery address, and for an order the shipment's (when the
    hunter has recorded it) or the client's."""
    orders = pending_order_versions()
    deal_ids = {review.version.order.deal_id for review in orders}
    return {
        "samples": SampleRequest.objects.filter(
            status__in=[SampleRequest.Status.REQUESTED, SampleRequest.Status.PREPARED]
        )
        .select_related("deal__client", "deal__owner", "requested_by")
        .prefetch_related("lines__product")
        .order_by("requested_at"),
        "orders": orders,
        "shipments": {
            shipment.deal_id: shipment for shipment in Shipment.objects.filter(deal_id__in=deal_ids)
        },
    }


# --- what production sees of a deal ------------------------------------------------------------------


QUEUED_SAMPLE_STATUSES = (SampleRequest.Status.REQUESTED, SampleRequest.Status.PREPARED)


def production_deals(*, viewer: User) -> QuerySet[Deal]:
    """The deals whose summary ``viewer`` may read: for production and the sales head, the open deals with
    something in production's queue (a sample request to prepare or hand over, an order version waiting);
    for everyone else, none. Production sees nothing else of the hunters' deals."""
    if not (can(viewer, Capability.HANDLE_PRODUCTION) or can(viewer, Capability.VIEW_ALL_HUNTERS)):
        return Deal.objects.none()
    return Deal.objects.filter(status=DealStatus.OPEN).filter(
        Exists(SampleRequest.objects.filter(deal=OuterRef("pk"), status__in=QUEUED_SAMPLE_STATUSES))
        | Exists(OrderVersion.objects.filter(order__deal=OuterRef("pk"), status=OrderVersion.Status.PENDING))
    )


@dataclass
class ProductionDealSummary:
    deal: Deal
    stage: stages.StageDefinition
    order: Order | None
    pending: OrderVersion | None  # a version waiting for production
    samples: list[SampleRequest]
    shipment: Shipment | None


def production_deal_summary(*, viewer: User, pk: int) -> ProductionDealSummary:
    """A read-only summary of a deal behind production's queue: the client, the hunter, the stage, the
    order in force and a version waiting, the sample requests and the shipment. Deal.DoesNotExist
    (→ 404) for a deal with nothing in the queue or one ``viewer`` may not read (production_deals)."""
    deal = (
        production_deals(viewer=viewer)
        .select_related("client", "owner", "order", "shipment")
        .prefetch_related(
            "client__phones",
            "order__lines__product",
            Prefetch(
                "sample_requests",
                queryset=SampleRequest.objects.prefetch_related("lines__product").order_by("-requested_at"),
            ),
        )
        .get(pk=pk)
    )
    order = getattr(deal, "order", None)
    pending = None
    if order is not None:
        pending = (
            order.versions.filter(status=OrderVersion.Status.PENDING)
            .prefetch_related("lines__product")
            .first()
        )
    return ProductionDealSummary(
        deal=deal,
        stage=stages.definition(deal.stage),
        order=order,
        pending=pending,
        samples=list(deal.sample_requests.all()),
        shipment=getattr(deal, "shipment", None),
    )


# --- what production has handled ---------------------------------------------------------------------

HISTORY_SAMPLE_OUTCOMES = (
    SampleRequest.Status.PREPARED,
    SampleRequest.Status.HANDED_OVER,
    SampleRequest.Status.DECLINED,
)
HISTORY_ORDER_OUTCOMES = (OrderVersion.Status.APPROVED, OrderVersion.Status.DECLINED)


def handled_sample_requests() -> QuerySet[SampleRequest]:
    """Sample requests production has acted on, with when (``decided_at``) and how (``outcome``)."""
    return SampleRequest.objects.filter(status__in=HISTORY_SAMPLE_OUTCOMES).annotate(
        decided_at=F("status_changed_at"), outcome=F("status"), kind=Value("sample")
    )


def decided_order_versions() -> QuerySet[OrderVersion]:
    """Order versions approved or declined, with how (``outcome``); ``decided_at`` is their own."""
    return OrderVersion.objects.filter(status__in=HISTORY_ORDER_OUTCOMES, decided_at__isnull=False).annotate(
        outcome=F("status"), kind=Value("order")
    )


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # "sample" or "order"
    at: datetime
    item: SampleRequest | OrderVersion


def production_history_ids(samples: QuerySet[SampleRequest], versions: QuerySet[OrderVersion]) -> QuerySet:
    """The (pk, decided_at, kind) of both kinds, newest first, as one query to paginate."""
    columns = ("pk", "decided_at", "kind")
    return (
        samples.order_by()
        .values_list(*columns)
        .union(versions.order_by().values_list(*columns), all=True)
        .order_by("-decided_at", "-pk")
    )


def production_history_entries(rows: Iterable[tuple[int, datetime, str]]) -> list[HistoryEntry]:
    """One page of :func:`production_history_ids` with the requests and versions it names, in two
    queries and their prefetches whatever the page holds."""
    rows = list(rows)
    sample_ids = [pk for pk, _at, kind in rows if kind == "sample"]
    version_ids = [pk for pk, _at, kind in rows if kind == "order"]
    samples = SampleRequest.objects.select_related("deal__client", "deal__owner").prefetch_related(
        "lines__product"
    )
    versions = OrderVersion.objects.select_related(
        "order__deal__client", "order__deal__owner", "decided_by"
    ).prefetch_related("lines__product")
    found = {
        "sample": samples.in_bulk(sample_ids) if sample_ids else {},
        "order": versions.in_bulk(version_ids) if version_ids else {},
    }
    return [
        HistoryEntry(kind=kind, at=at, item=found[kind][pk]) for pk, at, kind in rows if pk in found[kind]
    ]


# --- order versions and the deferred limit ----------------------------------------------------------


@dataclass(frozen=True)
class DeferredLimitCheck:
    """What an order version does to its client's unpaid deferred total (SPEC §5: an order that would
    take it over the limit needs the head's approval)."""

    client: Client
    limit: Decimal
    unpaid_now: Decimal  # the in-force orders of the client's open deals, less what was paid on them
    unpaid_after: Decimal  # the same with this version in force

    @property
    def exceeded(self) -> bool:
        """Over the limit and more than before: a version that lowers the exposure needs nobody's word."""
        return self.unpaid_after > self.limit and self.unpaid_after > self.unpaid_now

    @property
    def excess(self) -> Decimal:
        return max(self.unpaid_after - self.limit, ZERO)


def deferred_unpaid_by_deal(client_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """For clients on deferred terms, each open deal's unpaid amount: the in-force (production-approved)
    order total less what was paid on the deal, never below zero. One query."""
    rows = (
        Deal.objects.filter(
            client_id__in=list(client_ids),
            client__payment_terms=PaymentTerms.DEFERRED,
            status=DealStatus.OPEN,
            order__production_status=Order.ProductionStatus.APPROVED,
        )
        .annotate(paid=MoneySum("payments__amount"))
        .values_list("client_id", "pk", "order__total", "paid")
    )
    unpaid: dict[int, dict[int, Decimal]] = {}
    for client_id, deal_id, total, paid in rows:
        unpaid.setdefault(client_id, {})[deal_id] = max(total - paid, ZERO)
    return unpaid


def client_unpaid_deferred_total(client: Client) -> Decimal:
    """The client's unpaid deferred total: over its open deals, the in-force order total less what was
    paid (zero for a client not on deferred terms)."""
    return sum(deferred_unpaid_by_deal([client.pk]).get(client.pk, {}).values(), ZERO)


def order_version_limit_checks(versions: Sequence[OrderVersion]) -> dict[int, DeferredLimitCheck]:
    """The deferred-limit check of each version whose client is on deferred terms with a limit, by
    version id; versions come with ``order__deal__client`` loaded. Two queries."""
    clients = {
        version.order.deal.client_id: version.order.deal.client
        for version in versions
        if version.order.deal.client.payment_terms == PaymentTerms.DEFERRED
        and version.order.deal.client.deferred_limit is not None
    }
    if not clients:
        return {}
    unpaid = deferred_unpaid_by_deal(clients)
    deal_ids = {version.order.deal_id for version in versions}
    paid = dict(
        Payment.objects.filter(deal_id__in=deal_ids)
        .order_by()
        .values("deal_id")
        .annotate(total=MoneySum("amount"))
        .values_list("deal_id", "total")
    )
    checks = {}
    for version in versions:
        deal = version.order.deal
        client = clients.get(deal.client_id)
        if client is None:
            continue
        of_client = unpaid.get(client.pk, {})
        now = sum(of_client.values(), ZERO)
        after = now - of_client.get(deal.pk, ZERO) + max(version.total - paid.get(deal.pk, ZERO), ZERO)
        checks[version.pk] = DeferredLimitCheck(
            client=client, limit=client.deferred_limit, unpaid_now=now, unpaid_after=after
        )
    return checks


def order_version_limit_check(version: OrderVersion) -> DeferredLimitCheck | None:
    """One version's deferred-limit check, or None when its client has no deferred limit."""
    version = OrderVersion.objects.select_related("order__deal__client").get(pk=version.pk)
    return order_version_limit_checks([version]).get(version.pk)


@dataclass(frozen=True)
class LineChange:
    """One line of a version beside the in-force line of the same product (either may be missing)."""

    product: Product
    old: OrderLine | None
    new: OrderVersionLine | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        same = (self.old.quantity, self.old.price) == (self.new.quantity, self.new.price)
        return "same" if same else "changed"


@dataclass
class VersionReview:
    """A version waiting for a decision, as production and the head read it."""

    version: OrderVersion
    in_force_number: int | None  # the approved version it would replace; None for an order not approved
    in_force_total: Decimal | None
    changes: list[LineChange]
    limit: DeferredLimitCheck | None

    @property
    def is_change(self) -> bool:
        return self.in_force_number is not None

    @property
    def awaits_head(self) -> bool:
        """Over the client's deferred limit and not yet agreed by the head: production cannot approve it."""
        return bool(self.limit and self.limit.exceeded and self.version.limit_approved_at is None)


def _line_changes(old_lines: Sequence[OrderLine], new_lines: Sequence[OrderVersionLine]) -> list[LineChange]:
    products: dict[int, Product] = {}
    old_by: dict[int, list[OrderLine]] = {}
    new_by: dict[int, list[OrderVersionLine]] = {}
    for line in new_lines:
        products.setdefault(line.product_id, line.product)
        new_by.setdefault(line.product_id, []).append(line)
    for line in old_lines:
        products.setdefault(line.product_id, line.product)
        old_by.setdefault(line.product_id, []).append(line)
    return [
        LineChange(product=product, old=old, new=new)
        for product_id, product in products.items()
        for old, new in zip_longest(old_by.get(product_id, []), new_by.get(product_id, []))
    ]


def _in_force_numbers(order_ids: Iterable[int]) -> dict[int, int]:
    return dict(
        OrderVersion.objects.filter(order_id__in=list(order_ids), status=OrderVersion.Status.APPROVED)
        .order_by()
        .values("order_id")
        .annotate(number=Max("number"))
        .values_list("order_id", "number")
    )


def order_version_reviews(versions: Sequence[OrderVersion]) -> list[VersionReview]:
    """Reviews of versions loaded with ``order__deal__client``, ``lines__product`` and
    ``order__lines__product``: what changes against the order in force, and the deferred limit."""
    checks = order_version_limit_checks(versions)
    in_force = _in_force_numbers({version.order_id for version in versions})
    reviews = []
    for version in versions:
        order = version.order
        approved = order.production_status == Order.ProductionStatus.APPROVED
        reviews.append(
            VersionReview(
                version=version,
                in_force_number=in_force.get(order.pk) if approved else None,
                in_force_total=order.total if approved else None,
                changes=_line_changes(list(order.lines.all()) if approved else [], list(version.lines.all())),
                limit=checks.get(version.pk),
            )
        )
    return reviews


def _pending_versions() -> QuerySet[OrderVersion]:
    return (
        OrderVersion.objects.filter(status=OrderVersion.Status.PENDING, order__deal__status=DealStatus.OPEN)
        .select_related("order__deal__client", "order__deal__owner", "created_by", "limit_approved_by")
        .prefetch_related("lines__product", "order__lines__product")
        .order_by("created_at", "pk")
    )


def pending_order_versions() -> list[VersionReview]:
    """Production's queue of orders: new orders and changes to approved ones, oldest first."""
    return order_version_reviews(list(_pending_versions()))


@dataclass
class OrderHistory:
    """The deal page's order: every version newest first, which one is in force, and the one waiting."""

    versions: list[OrderVersion]
    in_force_number: int | None
    pending: VersionReview | None


def order_history(deal: Deal) -> OrderHistory | None:
    """The deal's order versions; ``deal`` may come with its order, lines and client loaded
    (``deal_detail``), which are then not read again."""
    try:
        order = deal.order
    except Order.DoesNotExist:
        return None
    order.deal = deal
    versions = list(
        order.versions.select_related("created_by", "decided_by", "limit_approved_by")
        .prefetch_related(Prefetch("lines", queryset=OrderVersionLine.objects.select_related("product")))
        .order_by("-number")
    )
    for version in versions:
        version.order = order
    approved = [v.number for v in versions if v.status == OrderVersion.Status.APPROVED]
    pending = next((v for v in versions if v.status == OrderVersion.Status.PENDING), None)
    review = None
    if pending is not None:
        review = order_version_reviews([pending])[0]
    return OrderHistory(
        versions=versions,
        in_force_number=max(approved) if order.production_status == Order.ProductionStatus.APPROVED else None,
        pending=review,
    )


# --- payment terms requests -------------------------------------------------------------------------


def terms_requests_of(client: Client, *, limit: int = 5) -> list[PaymentTermsRequest]:
    """The client's latest requests for payment terms, newest first."""
    return list(
        client.terms_requests.select_related("requested_by", "decided_by").order_by("-requested_at", "-pk")[
            :limit
        ]
    )


@dataclass
class HeadApprovals:
    terms_requests: list[PaymentTermsRequest]
    over_limit: list[VersionReview]


def head_approvals() -> HeadApprovals:
    """What waits for the sales head: requests for payment terms, and orders over a client's deferred
    limit that production may not approve until the head agrees."""
    requests = list(
        PaymentTermsRequest.objects.filter(status=PaymentTermsRequest.Status.PENDING)
        .select_related("client__owner", "requested_by")
        .order_by("requested_at", "pk")
    )
    versions = list(_pending_versions().filter(order__deal__client__payment_terms=PaymentTerms.DEFERRED))
    return HeadApprovals(
        terms_requests=requests,
        over_limit=[review for review in order_version_reviews(versions) if review.awaits_head],
    )


def overdue_for(deal: Deal) -> bool:
    return deal.next_contact_on is not None and deal.next_contact_on < timezone.localdate()


@dataclass(frozen=True)
class QualityClaim:
    deal_id: int
    client_name: str
    owner: str
    at: datetime
    text: str


def quality_claims(*, days: int) -> list[QualityClaim]:
    """Negative feedback on the product, routed to the sales head (SPEC §3), newest first, as plain values
    (the dashboard keeps the list drawn while they stay the same)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Feedback.objects.filter(has_quality_claims=True, at__gte=since)
        .order_by("-at", "-pk")
        .values_list(
            "deal_id",
            "deal__client__name",
            "deal__owner__full_name",
            "deal__owner__username",
            "at",
            "claims_text",
        )
    )
    return [
        QualityClaim(
            deal_id=deal_id,
            client_name=client_name,
            owner=person_name(full_name, username),
            at=at,
            text=text,
        )
        for deal_id, client_name, full_name, username, at, text in rows
    ]


@dataclass(frozen=True)
class OverduePayment:
    """An overdue deferred payment as the lists and reminders show it, in plain values (the dashboard keeps
    its table drawn while they stay the same)."""

    deal_id: int
    client_name: str
    owner_id: int
    owner: str
    owner_active: bool
    due_on: date
    outstanding: Decimal


def deferred_due_on(client: Client, received_on: date) -> date:
    """The last day to pay on deferred terms: the term runs from the client's receipt of the goods,
    in calendar days or, when the contract says so, in working days of the production calendar."""
    return _deferred_due_on(client.deferred_days, client.deferred_in_working_days, received_on)


def _deferred_due_on(days: int | None, in_working_days: bool, received_on: date) -> date:
    if in_working_days:
        return add_working_days(received_on, days or 0)
    return received_on + timedelta(days=days or 0)


def overdue_deferred_payments(
    *, today: "date | None" = None, owner: User | None = None
) -> list[OverduePayment]:
    """Deals on deferred payment whose term, counted from the client's receipt of the goods, has run out
    while the order is not paid in full (SPEC §7)."""
    today = today or timezone.localdate()
    # The clients on deferred terms (a partial index) merged with the open unpaid deals by client (a
    # partial index holding the deal's key): neither table is read row by row.
    deferred = Client.objects.filter(payment_terms=PaymentTerms.DEFERRED).order_by().values("pk")
    candidates = Deal.objects.order_by().filter(
        status=DealStatus.OPEN,
        client__in=deferred,
        shipment__received_on__isnull=False,
        paid_in_full_on__isnull=True,
        order__total__gt=0,
    )
    if owner is not None:
        candidates = candidates.filter(owner=owner)
    # Due days worked out from plain values; only the overdue deals are read further, with what the lists
    # show of them and what is paid on each.
    due = {}
    for pk, days, in_working_days, received_on in candidates.values_list(
        "pk", "client__deferred_days", "client__deferred_in_working_days", "shipment__received_on"
    ):
        due_on = _deferred_due_on(days, in_working_days, received_on)
        if due_on < today:
            due[pk] = due_on
    rows = list(
        Deal.objects.filter(pk__in=due)
        .order_by()
        .values_list(
            "pk",
            "client__name",
            "owner_id",
            "owner__full_name",
            "owner__username",
            "owner__is_active",
            "order__total",
            # Summed per overdue deal, not by grouping the joined rows of every open deal.
            Coalesce(Subquery(_paid_on_deal()), Value(ZERO)),
        )
    )
    result = [
        OverduePayment(
            deal_id=pk,
            client_name=client_name,
            owner_id=owner_id,
            owner=person_name(full_name, username),
            owner_active=owner_active,
            due_on=due[pk],
            outstanding=total - paid,
        )
        for pk, client_name, owner_id, full_name, username, owner_active, total, paid in rows
    ]
    return sorted(result, key=lambda item: (item.due_on, item.deal_id))


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


# --- the deal's story ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    """One line of «Ход сделки»: what happened, when, by whom; text only (the template escapes it)."""

    at: datetime
    kind: str  # stage, activity, call, proposal, samples, follow_up, document, order, payment, refund…
    icon: str  # a Font Awesome icon name
    title: str
    detail: str = ""
    by: str = ""
    url: str = ""  # a download, for a document
    date_only: bool = False  # known to the day only (a courier date, a receipt)


def _loaded(instance, name: str, queryset: QuerySet) -> list:
    """The deal's (or its client's) related rows as ``deal_detail`` prefetched them, else read with
    ``queryset``: the deal page shares its queries with the exit criteria and the timeline, which stay a
    fixed number of queries either way."""
    cache = getattr(instance, "_prefetched_objects_cache", {})
    return list(cache[name]) if name in cache else list(queryset)


def _loaded_one(deal: Deal, name: str, queryset: QuerySet):
    """The deal's one-to-one row (shipment, feedback, order) as ``select_related`` loaded it, else the
    first of ``queryset``."""
    if getattr(type(deal), name).is_cached(deal):
        return getattr(deal, name, None)
    return queryset.first()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _day_text(day: date | None) -> str:
    return f"{day:%d.%m.%Y}" if day else ""


def _stage_events(deal: Deal) -> Iterator[TimelineEvent]:
    for change in StageChange.objects.filter(deal=deal).select_related("by"):
        by = str(change.by) if change.by else _("портал")
        frm, to = change.get_from_stage_display(), change.get_to_stage_display()
        titles = {
            StageChange.Kind.CREATED: _("Сделка создана на этапе «%(to)s»"),
            StageChange.Kind.FORWARD: _("Этап: «%(from)s» → «%(to)s»"),
            StageChange.Kind.BACK: _("Возврат на прежний этап: «%(from)s» → «%(to)s»"),
            StageChange.Kind.LOST: _("Отказ на этапе «%(from)s»"),
            StageChange.Kind.RESTORED: _("Сделка восстановлена на этапе «%(to)s»"),
            StageChange.Kind.WON: _("Сделка успешно закрыта"),
        }
        title = titles.get(change.kind, change.get_kind_display()) % {"from": frm, "to": to}
        yield TimelineEvent(change.at, "stage", "flag", title, change.comment, by)


def _activity_events(deal: Deal) -> Iterator[TimelineEvent]:
    from kpi.models import Activity, ActivitySource

    for activity in Activity.objects.filter(deal=deal).select_related("owner"):
        title = activity.get_kind_display()
        if activity.source == ActivitySource.TELEPHONY:
            title = _("%(kind)s по АТС, %(seconds)s с") % {"kind": title, "seconds": activity.duration_s or 0}
        if activity.outcome:
            title = f"{title}: {activity.outcome}"
        detail = [activity.note] if activity.note else []
        if activity.next_contact_on:
            detail.append(_("следующий контакт %(day)s") % {"day": _day_text(activity.next_contact_on)})
        yield TimelineEvent(
            activity.at, "activity", "comment-dots", title, "; ".join(detail), str(activity.owner)
        )


def _stage_record_events(deal: Deal) -> Iterator[TimelineEvent]:
    for call in _loaded(deal, "call_results", CallResult.objects.filter(deal=deal).select_related("author")):
        detail = "; ".join(text for text in (call.call_description, call.client_description) if text)
        title = _("Звонок: %(outcome)s") % {"outcome": call.get_outcome_display()}
        yield TimelineEvent(call.at, "call", "phone", title, detail, str(call.author))
    for proposal in _loaded(deal, "proposals", Proposal.objects.filter(deal=deal).select_related("author")):
        detail = _("перезвонить %(day)s") % {"day": _day_text(proposal.callback_on)}
        if proposal.template_name:
            detail = f"{proposal.template_name}; {detail}"
        title = _("КП отправлено на %(email)s") % {"email": proposal.sent_to_email}
        yield TimelineEvent(proposal.sent_at, "proposal", "envelope", title, detail, str(proposal.author))
    for follow_up in _loaded(deal, "follow_ups", FollowUp.objects.filter(deal=deal).select_related("author")):
        detail = []
        if follow_up.objection:
            detail.append(_("возражение: %(text)s") % {"text": follow_up.objection})
        if follow_up.client_confirmed:
            detail.append(_("клиент готов купить"))
        elif follow_up.next_contact_on:
            detail.append(_("следующий контакт %(day)s") % {"day": _day_text(follow_up.next_contact_on)})
        title = _("Дожим: %(outcome)s") % {"outcome": follow_up.outcome}
        yield TimelineEvent(
            follow_up.at, "follow_up", "comments", title, "; ".join(detail), str(follow_up.author)
        )
    samples = _loaded(
        deal, "sample_requests", SampleRequest.objects.filter(deal=deal).select_related("requested_by")
    )
    for sample in samples:
        title = _("Заявка на пробники: получатель %(name)s, объём %(volume)s") % {
            "name": sample.receiver_name,
            "volume": sample.potential_volume,
        }
        yield TimelineEvent(sample.requested_at, "samples", "flask", title, by=str(sample.requested_by))
        if sample.status != SampleRequest.Status.REQUESTED:
            title = _("Пробники: %(status)s") % {"status": sample.get_status_display().lower()}
            yield TimelineEvent(
                sample.status_changed_at, "samples", "flask", title, sample.comment, _("производство")
            )
    shipment = _loaded_one(deal, "shipment", Shipment.objects.filter(deal=deal))
    if shipment is not None:
        title = _("Отгрузка: курьер %(day)s, %(address)s") % {
            "day": _day_text(shipment.courier_date),
            "address": shipment.delivery_address,
        }
        yield TimelineEvent(_day_start(shipment.courier_date), "shipment", "truck", title, date_only=True)
        if shipment.received_on:
            title = _("Клиент получил товар (%(name)s)") % {"name": shipment.receiver_name}
            yield TimelineEvent(_day_start(shipment.received_on), "shipment", "box", title, date_only=True)
    feedback = _loaded_one(deal, "feedback", Feedback.objects.filter(deal=deal).select_related("author"))
    if feedback is not None:
        claims = (
            _("претензии: %(text)s") % {"text": feedback.claims_text}
            if feedback.has_quality_claims
            else _("без претензий")
        )
        repeat = (
            _("ждём повторный заказ") if feedback.repeat_order_expected else _("повторный заказ не ожидается")
        )
        title = _("Обратная связь: %(claims)s; %(repeat)s") % {"claims": claims, "repeat": repeat}
        yield TimelineEvent(feedback.at, "feedback", "star", title, feedback.comment, str(feedback.author))


def _money_events(deal: Deal, versions: list[OrderVersion] | None) -> Iterator[TimelineEvent]:
    documents = _loaded(
        deal, "documents", DealDocument.objects.filter(deal=deal).select_related("uploaded_by")
    )
    for document in documents:
        title = f"{document.get_kind_display()}{' №' + document.number if document.number else ''}"
        yield TimelineEvent(
            document.uploaded_at,
            "document",
            "file-lines",
            title,
            document.original_name,
            str(document.uploaded_by),
            url=reverse("deals:document_download", args=[document.pk]),
        )
    if versions is None:
        versions = []
        if _loaded_one(deal, "order", Order.objects.filter(deal=deal)) is not None:
            versions = OrderVersion.objects.filter(order__deal=deal).select_related(
                "created_by", "decided_by"
            )
    for version in versions:
        title = _("Заказ, версия №%(number)s на %(total)s") % {
            "number": version.number,
            "total": rub(version.total),
        }
        by = str(version.created_by) if version.created_by else _("перенесена из прежнего учёта")
        yield TimelineEvent(version.created_at, "order", "cart-shopping", title, version.comment, by)
        if version.decided_at:
            verdict = (
                _("Производство согласовало версию №%(number)s")
                if version.status == OrderVersion.Status.APPROVED
                else _("Производство отклонило версию №%(number)s")
            ) % {"number": version.number}
            yield TimelineEvent(
                version.decided_at,
                "order",
                "industry",
                verdict,
                version.decision_comment,
                str(version.decided_by or ""),
            )
    payments = _loaded(deal, "payments", Payment.objects.filter(deal=deal).select_related("recorded_by"))
    for payment in payments:
        refund = payment.kind == Payment.Kind.REFUND
        title = (_("Возврат клиенту %(amount)s") if refund else _("Оплата %(amount)s")) % {
            "amount": rub(abs(payment.amount))
        }
        detail = [_("поступила %(day)s") % {"day": _day_text(payment.received_on)}]
        if payment.bank_document:
            detail.append(payment.bank_document)
        if payment.late:
            detail.append(_("после закрытия месяца"))
        kind = "refund" if refund else "payment"
        icon = "rotate-left" if refund else "ruble-sign"
        yield TimelineEvent(
            payment.recorded_at, kind, icon, title, ", ".join(detail), str(payment.recorded_by)
        )


def _transfer_events(transfers: list[Transfer]) -> Iterator[TimelineEvent]:
    for transfer in transfers:
        what = _("Сделка передана") if transfer.deal_id else _("Клиент передан")
        if transfer.returns_id:
            what = _("Возвращено")
        title = f"{what}: {transfer.from_owner} → {transfer.to_owner}"
        detail = [transfer.reason] if transfer.reason else []
        if transfer.return_on and not transfer.returns_id:
            detail.append(_("вернуть %(day)s") % {"day": _day_text(transfer.return_on)})
        yield TimelineEvent(transfer.at, "transfer", "right-left", title, "; ".join(detail), str(transfer.by))


# The order of kinds at the same moment, newest first: a move is shown above what led to it.
_KIND_ORDER = {"stage": 0, "transfer": 1}


def deal_timeline(
    deal: Deal, *, transfers: list[Transfer] | None = None, order_history: OrderHistory | None = None
) -> list[TimelineEvent]:
    """«Ход сделки»: the deal's whole story newest first — stage changes, activities on the deal, the
    stage records (calls, proposals, samples, follow-ups, shipment, feedback), documents, order versions
    and production's decisions, payments and refunds, transfers. A fixed number of queries (one per kind
    of record), however long the history; ``transfers`` (the deal's ``transfers_of``) and
    ``order_history`` (its ``order_history``) are not read again when the caller has them already."""
    events = [
        *_stage_events(deal),
        *_activity_events(deal),
        *_stage_record_events(deal),
        *_money_events(deal, order_history.versions if order_history is not None else None),
        *_transfer_events(transfers_of(deal=deal) if transfers is None else transfers),
    ]
    return sorted(events, key=lambda event: (event.at, -_KIND_ORDER.get(event.kind, 9)), reverse=True)


def payment_list(*, viewer: User) -> QuerySet[Payment]:
    """The payments and refunds the viewer may see, newest first, with their deal, client and hunter."""
    return (
        Payment.objects.visible_to(viewer)
        .select_related("deal__client", "credited_to")
        .order_by("-received_on", "-pk")
    )
