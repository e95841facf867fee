"""Reads about statements: which months are locked and where a new payment accrues."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, Max, Sum

from kpi.months import month_start, next_month, quarter_months

from . import rules
from .models import Statement

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


@dataclass
class BestEmployee:
    hunter_id: int
    margin: Decimal
    revenue: Decimal


def best_employee_of_quarter(quarter: date) -> BestEmployee | None:
    """SPEC §5.7: the most margin recognised in the quarter; ties go to more revenue, then to who got
    there earlier (the earlier last payment)."""
    from deals.models import Payment

    months = quarter_months(quarter)
    rows = (
        Payment.objects.filter(accrual_month__in=months, deal__order__total__gt=0)
        .values("credited_to")
        .annotate(
            margin=Sum(
                F("amount")
                * (F("deal__order__total") - F("deal__order__cost_total"))
                / F("deal__order__total"),
                output_field=DecimalField(max_digits=20, decimal_places=6),
            ),
            revenue=Sum("amount"),
            last=Max("received_on"),
        )
    )
    best = None
    for row in rows:
        key = (row["margin"] or 0, row["revenue"] or 0, -row["last"].toordinal())
        if row["margin"] and row["margin"] > 0 and (best is None or key > best[0]):
            best = (key, row)
    if best is None:
        return None
    row = best[1]
    return BestEmployee(
        hunter_id=row["credited_to"],
        margin=rules.round_kopecks(row["margin"]),
        revenue=rules.round_kopecks(row["revenue"]),
    )


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
