"""Reads about statements: which months are locked and where a new payment accrues."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Max

from atlanset_portal.keyset import KeysetPage, keyset_page
from atlanset_portal.money import round_kopecks
from deals.models import Payment
from kpi.months import month_start, next_month, quarter_months

from . import rules
from .models import PaySchemeVersion, Statement

ZERO = Decimal("0")
LOCKED_STATUSES = (Statement.Status.LOCKED, Statement.Status.PAID)


def first_open_month(since: date) -> date:
    """The first month from ``since`` on with no locked statement at or after it: the earliest a new
    version of the pay scheme may take effect, so that it never changes what a locked month paid."""
    since = month_start(since)
    latest_locked = Statement.objects.filter(month__gte=since, status__in=LOCKED_STATUSES).aggregate(
        latest=Max("month")
    )["latest"]
    return since if latest_locked is None else next_month(latest_locked)


def scheme_start_default(today: date) -> date:
    """The effective date the scheme form offers: the first open month from next month on."""
    return first_open_month(next_month(month_start(today)))


def scheme_change_ahead(today: date) -> PaySchemeVersion | None:
    """The next version of the pay scheme already saved for a later month, if any: the pay pages announce
    it before it takes effect."""
    later = PaySchemeVersion.objects.filter(effective_from__gt=month_start(today))
    return later.order_by("effective_from").first()


@dataclass
class BestEmployee:
    hunter_id: int
    margin: Decimal
    revenue: Decimal


def best_employee_of_quarter(quarter: date) -> BestEmployee | None:
    """SPEC §5.7: the most margin recognised in the quarter; ties go to more revenue, then to who got
    there earlier (the earlier last payment).

    Each payment's margin is worked out in Decimal by the statement's rule (``rules.payment_margin``)
    over the quarter's payments read as values: a database that keeps money as floating point (SQLite)
    never does the division. One query.
    """
    from deals.models import Payment

    rows = Payment.objects.filter(accrual_month__in=quarter_months(quarter)).values_list(
        "credited_to", "amount", "deal__order__total", "deal__order__cost_total", "received_on"
    )
    totals: dict[int, list] = {}
    for hunter_id, amount, order_total, order_cost, received_on in rows:
        margin = rules.payment_margin(amount, order_total=order_total, order_cost=order_cost)
        figures = totals.setdefault(hunter_id, [ZERO, ZERO, received_on])
        figures[0] += margin
        figures[1] += amount
        figures[2] = max(figures[2], received_on)
    best = None
    for hunter_id, (margin, revenue, last) in totals.items():
        key = (margin, revenue, -last.toordinal())
        if margin > 0 and (best is None or key > best[0]):
            best = (key, hunter_id, margin, revenue)
    if best is None:
        return None
    _key, hunter_id, margin, revenue = best
    return BestEmployee(hunter_id=hunter_id, margin=round_kopecks(margin), revenue=round_kopecks(revenue))


@dataclass
class AccountantHome:
    """What the accountant has to do today (SPEC §8), each item a link to where it is done."""

    receivables: list
    by_hunter: object
    by_client: object
    invoices_to_upload: list
    statements_to_lock: list
    bank_lines: list

    @property
    def overdue_total(self) -> Decimal:
        return self.by_hunter.total.overdue


def statements_awaiting_lock(*, today: date) -> list[Statement]:
    """Approved statements of months that have ended: the accountant locks them. One query."""
    return list(
        Statement.objects.filter(status=Statement.Status.APPROVED, month__lt=month_start(today))
        .select_related("hunter")
        .order_by("month", "hunter__full_name")
    )


def invoices_to_upload(*, viewer) -> list:
    """Open deals the viewer sees, from «Сделка» on, whose order production approved and that have no invoice
    yet: the accountant uploads it (the stage's last criterion). One query."""
    from django.db.models import Exists, OuterRef

    from deals.models import Deal, DealDocument, Order
    from deals.stages import FINANCE_STAGES, DealStatus

    invoices = DealDocument.objects.filter(deal=OuterRef("pk"), kind=DealDocument.Kind.INVOICE)
    return list(
        Deal.objects.visible_to(viewer)
        .filter(
            status=DealStatus.OPEN,
            stage__in=FINANCE_STAGES,
            order__production_status=Order.ProductionStatus.APPROVED,
            order__total__gt=0,
        )
        .exclude(Exists(invoices))
        .select_related("client", "owner", "order")
        .order_by("stage_entered_at", "pk")[:200]
    )


def accountant_home(*, viewer, today: date | None = None) -> AccountantHome:
    """Receivables by age with totals per hunter and per client, deals awaiting payment, invoices to upload,
    statements to lock and bank lines on no deal, in six queries whatever their number."""
    from django.utils import timezone

    from . import receivables
    from .bank_import import unmatched_bank_lines

    today = today or timezone.localdate()
    items = receivables.receivables(viewer=viewer, today=today)
    return AccountantHome(
        receivables=items,
        by_hunter=receivables.aging_table(items, key=receivables.by_hunter),
        by_client=receivables.aging_table(items, key=receivables.by_client),
        invoices_to_upload=invoices_to_upload(viewer=viewer),
        statements_to_lock=statements_awaiting_lock(today=today),
        bank_lines=unmatched_bank_lines(viewer=viewer),
    )


PAYMENTS_PAGE = 50


def recorded_payments(*, query: dict, size: int | None = None) -> KeysetPage:
    """The accountant's recorded payments and refunds, newest first, a page at a time from the
    (recorded_at, id) index: the thousandth page costs what the first does."""
    return keyset_page(
        Payment.objects.select_related("deal__client"),
        field="recorded_at",
        query=query,
        size=size or PAYMENTS_PAGE,
    )
