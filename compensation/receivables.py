"""Receivables: what clients owe on invoiced deals, and how long past its due date (SPEC §8).

A deal is a receivable from the day its invoice is uploaded until its order is paid: the outstanding
amount is the order in force less everything paid on the deal (refunds included). When it falls due
follows the client's payment terms, stated once here (:func:`due_on`):

- prepayment: on the invoice's date (the day the accountant uploaded it);
- deferred payment: the term counted from the client's receipt of the goods, in calendar or working days
  (``deals.selectors.deferred_due_on``, the rule the reminders and the deal page use); before the goods
  are received nothing is due yet;
- consignment: at the first settlement after the goods were received — a week later when settling weekly,
  the same day of the next month when monthly (the days the settlement reminder comes).

Its age is the days past that date, in buckets 0–30, 31–60, 61–90 and over 90; a debt whose date has not
come is «не наступил срок».
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from atlanset_portal.money import MoneySum
from deals.models import Client, Deal, DealDocument, Payment, PaymentTerms
from deals.selectors import deferred_due_on
from deals.stages import DealStatus

ZERO = Decimal("0")
MONEY_OUT = DecimalField(max_digits=14, decimal_places=2)

NOT_DUE = "not_due"
BUCKETS: tuple[tuple[str, object], ...] = (
    (NOT_DUE, _("срок не наступил")),
    ("0_30", _("0–30 дней")),
    ("31_60", _("31–60 дней")),
    ("61_90", _("61–90 дней")),
    ("over_90", _("более 90 дней")),
)
BUCKET_CODES = tuple(code for code, _label in BUCKETS)


def bucket_of(days_past_due: int | None) -> str:
    """The age bucket of a debt ``days_past_due`` days past its due date (None or negative: not due yet).
    The due date itself is day 0."""
    if days_past_due is None or days_past_due < 0:
        return NOT_DUE
    if days_past_due <= 30:
        return "0_30"
    if days_past_due <= 60:
        return "31_60"
    if days_past_due <= 90:
        return "61_90"
    return "over_90"


def _next_month_same_day(day: date) -> date:
    """The same day of the next month, or its last day when it is shorter (31 January → 28 February)."""
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    last_day = ((first_next + timedelta(days=32)).replace(day=1) - timedelta(days=1)).day
    return first_next.replace(day=min(day.day, last_day))


def due_on(client: Client, *, invoice_on: date, goods_received_on: date | None) -> date | None:
    """When the client must have paid the deal, by its payment terms; None while nothing is due yet."""
    if client.payment_terms == PaymentTerms.DEFERRED:
        return deferred_due_on(client, goods_received_on) if goods_received_on else None
    if client.payment_terms == PaymentTerms.CONSIGNMENT:
        if goods_received_on is None:
            return None
        if client.consignment_cadence == "weekly":
            return goods_received_on + timedelta(days=7)
        return _next_month_same_day(goods_received_on)
    return invoice_on


@dataclass(frozen=True)
class Receivable:
    deal: Deal  # with client, owner, order and shipment loaded
    invoice_on: date
    invoice_number: str
    order_total: Decimal
    paid: Decimal
    due_on: date | None
    days_past_due: int | None

    @property
    def outstanding(self) -> Decimal:
        return self.order_total - self.paid

    @property
    def bucket(self) -> str:
        return bucket_of(self.days_past_due)

    @property
    def overdue(self) -> bool:
        return self.days_past_due is not None and self.days_past_due > 0


def receivables(*, viewer: User, today: date | None = None) -> list[Receivable]:
    """Every invoiced open deal the viewer sees whose order is not paid in full, most overdue first. One
    query."""
    today = today or timezone.localdate()
    paid = (
        Payment.objects.filter(deal=OuterRef("pk"))
        .order_by()
        .values("deal")
        .annotate(total=MoneySum("amount"))
        .values("total")
    )
    invoices = DealDocument.objects.filter(deal=OuterRef("pk"), kind=DealDocument.Kind.INVOICE).order_by(
        "uploaded_at", "pk"
    )
    deals = (
        Deal.objects.visible_to(viewer)
        .filter(status=DealStatus.OPEN, order__total__gt=0)
        .annotate(
            paid_total=Coalesce(Subquery(paid, output_field=MONEY_OUT), ZERO, output_field=MONEY_OUT),
            invoice_at=Subquery(invoices.values("uploaded_at")[:1]),
            invoice_number=Subquery(invoices.values("number")[:1]),
        )
        .filter(invoice_at__isnull=False)
        .select_related("client", "owner", "order", "shipment")
    )
    result = []
    for deal in deals:
        if deal.paid_total >= deal.order.total:
            continue
        invoice_on = timezone.localtime(deal.invoice_at).date()
        shipment = getattr(deal, "shipment", None)
        due = due_on(deal.client, invoice_on=invoice_on, goods_received_on=shipment and shipment.received_on)
        result.append(
            Receivable(
                deal=deal,
                invoice_on=invoice_on,
                invoice_number=deal.invoice_number or "",
                order_total=deal.order.total,
                paid=deal.paid_total,
                due_on=due,
                days_past_due=(today - due).days if due is not None else None,
            )
        )
    # Most overdue first; debts not due yet last, the soonest due first.
    result.sort(key=lambda item: (item.due_on is None, item.due_on or today, item.deal.pk))
    return result


@dataclass
class AgingRow:
    """One line of an aging table: the debt of one hunter or client by bucket, and in all."""

    key: object
    label: str
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKET_CODES, ZERO))
    deals: int = 0

    @property
    def cells(self) -> list[Decimal]:
        return [self.amounts[code] for code in BUCKET_CODES]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.total - self.amounts[NOT_DUE]

    def add(self, item: Receivable) -> None:
        self.amounts[item.bucket] += item.outstanding
        self.deals += 1


@dataclass
class AgingTable:
    rows: list[AgingRow]
    total: AgingRow


def aging_table(
    items: Iterable[Receivable], *, key: Callable[[Receivable], tuple[object, str]]
) -> AgingTable:
    """The receivables summed by bucket per ``key`` (an id and its label), largest debt first, with the
    grand total."""
    rows: dict[object, AgingRow] = {}
    total = AgingRow(key=None, label=str(_("Итого")))
    for item in items:
        row_key, label = key(item)
        rows.setdefault(row_key, AgingRow(key=row_key, label=label)).add(item)
        total.add(item)
    return AgingTable(rows=sorted(rows.values(), key=lambda row: (-row.total, row.label)), total=total)


def by_hunter(item: Receivable) -> tuple[int, str]:
    owner = item.deal.owner
    return owner.pk, owner.full_name or owner.username


def by_client(item: Receivable) -> tuple[int, str]:
    return item.deal.client_id, item.deal.client.name
