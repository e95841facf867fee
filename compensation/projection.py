"""The hunter's pay for the month so far and what each open deal would add if paid (SPEC §8).

Gathers the month's inputs from the database and runs the one statement engine on them, so the
projection and the statement can never disagree about a rule.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from atlanset_portal.fragments import release
from atlanset_portal.money import MoneySum
from atlanset_portal.outage import cache_get, cache_set
from deals.models import Deal
from deals.stages import DealStatus
from kpi.counters import Counters
from kpi.months import month_start

from .engine import MonthInput, PaymentInput, Statement, build_statement
from .models import Statement as StoredStatement
from .sheets import SECTIONS
from .statements import MonthStatement, month_input, statement_for


@dataclass
class DealUpside:
    deal: Deal
    outstanding: Decimal
    adds: Decimal


@dataclass
class Projection:
    statement: MonthStatement
    upsides: list[DealUpside]

    @property
    def sections(self) -> list[tuple[str, Decimal]]:
        """The month so far by part of pay, in the statement's order; the lines are on the statement page."""
        totals = self.statement.totals
        return [(label, totals[kind]) for kind, label in SECTIONS if totals.get(kind)]


def projected_pay(*, hunter: User, month: date | None = None, counters: Counters | None = None) -> Projection:
    """This month's statement so far, and for each open deal with an order what paying its balance today
    would add (the accelerator and the plan bonus included); ``counters`` when the page counted the month
    already."""
    month = month_start(month or timezone.localdate())
    # The statement as its page shows it: the stored draft, worked out again first when something changed.
    statement = statement_for(hunter=hunter, month=month, counters=counters)
    open_deals = (
        Deal.objects.filter(owner=hunter, status=DealStatus.OPEN, order__total__gt=0)
        .select_related("client", "order")
        .annotate(paid=MoneySum("payments__amount"))
    )
    today = max(timezone.localdate(), month)
    unpaid = [(deal, deal.order.total - (deal.paid or Decimal("0"))) for deal in open_deals]
    unpaid = [(deal, outstanding) for deal, outstanding in unpaid if outstanding > 0]
    # What each deal would add is worked out once for the same inputs, kept under their version: a stored
    # draft's (every change of what it is computed from marks it and counts up ``change_seq``), or else a
    # digest of the month's input itself; with each deal's order and balance and the day.
    record = statement.record
    base_input = None
    if record is not None and record.status == StoredStatement.Status.DRAFT and not record.needs_check:
        version = ("stored draft", record.pk, record.change_seq, record.computed_total)
    else:
        base_input = statement.month_data or month_input(hunter=hunter, month=month, counters=counters)
        version = ("input", base_input)
    key = _upsides_key(version, unpaid, today)
    adds = cache_get(key)
    if adds is None:
        base_input = base_input or month_input(hunter=hunter, month=month, counters=counters)
        base = build_statement(base_input, explain=False)
        adds = {deal.pk: _adds(base_input, base, deal, outstanding, today) for deal, outstanding in unpaid}
        cache_set(key, adds, timeout=UPSIDES_KEPT_SECONDS)
    upsides = [
        DealUpside(deal=deal, outstanding=outstanding, adds=adds[deal.pk]) for deal, outstanding in unpaid
    ]
    upsides.sort(key=lambda upside: upside.adds, reverse=True)
    return Projection(statement=statement, upsides=upsides)


# Long enough to serve a working morning's visits to «Мой день».
UPSIDES_KEPT_SECONDS = 15 * 60


def _upsides_key(version: tuple, unpaid: list[tuple[Deal, Decimal]], today: date) -> str:
    deals = [
        (deal.pk, deal.client_id, deal.is_new_client, deal.order.total, deal.order.cost_total, outstanding)
        for deal, outstanding in unpaid
    ]
    # With the release, as the pages' kept parts: an upgraded engine never reads an earlier one's answers.
    digest = hashlib.blake2b(repr((version, deals, today, release())).encode(), digest_size=20).hexdigest()
    return f"projection:upsides:{digest}"


def _adds(
    base_input: MonthInput, statement: Statement, deal: Deal, outstanding: Decimal, today: date
) -> Decimal:
    """What paying the deal's balance today would add to the month's pay."""
    extra = PaymentInput(
        payment_id=None,
        deal_key=deal.pk,
        client_key=deal.client_id,
        amount=outstanding,
        received_on=today,
        entry_order=10**12,
        is_new_client=deal.is_new_client,
        order_total=deal.order.total,
        order_cost=deal.order.cost_total,
    )
    with_deal = build_statement(
        replace(
            base_input,
            payments=[*base_input.payments, extra],
            revenue=base_input.revenue + outstanding,
            completed_deals=base_input.completed_deals + 1,
        ),
        explain=False,  # only the total is compared
    )
    return with_deal.total - statement.total
