"""The hunter's pay for the month so far and what each open deal would add if paid (SPEC §8).

Gathers the month's inputs from the database and runs the one statement engine on them, so the
projection and the statement can never disagree about a rule.
"""

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from deals.models import Deal, Payment
from deals.stages import DealStatus
from kpi.counters import Counters, kpi_plan_met, month_counters
from kpi.models import MonthlyPlan
from kpi.months import month_start, next_month

from .engine import MonthInput, PaymentInput, Statement, build_statement
from .rules import DEFAULT_SCHEME, PayScheme


def current_scheme(on: date) -> PayScheme:
    """The pay scheme in force on a date (the default scheme until schemes are kept in the portal)."""
    return DEFAULT_SCHEME


def month_input(*, hunter: User, month: date, counters: Counters | None = None) -> MonthInput:
    month = month_start(month)
    counters = counters or month_counters(month=month, hunter_ids=[hunter.pk])[hunter.pk]
    plan = MonthlyPlan.objects.filter(hunter=hunter, month=month).first()
    payments = (
        Payment.objects.filter(
            deal__owner=hunter,
            kind=Payment.Kind.PAYMENT,
            received_on__gte=month,
            received_on__lt=next_month(month),
        )
        .select_related("deal__order")
        .order_by("received_on", "pk")
    )
    return MonthInput(
        month=month,
        scheme=current_scheme(month),
        sales_plan_target_revenue=plan.revenue_target if plan else None,
        sales_plan_target_deals=plan.deals_target if plan else None,
        revenue=counters.revenue,
        completed_deals=counters.deals,
        kpi_met=kpi_plan_met(counters, plan),
        kpi_counters={
            "leads": counters.leads,
            "calls": counters.calls,
            "meetings": counters.meetings,
            "messages": counters.messages,
        },
        payments=[_payment_input(payment) for payment in payments],
    )


def _payment_input(payment: Payment) -> PaymentInput:
    order = getattr(payment.deal, "order", None)
    return PaymentInput(
        payment_id=payment.pk,
        deal_key=payment.deal_id,
        client_key=payment.deal.client_id,
        amount=payment.amount,
        received_on=payment.received_on,
        entry_order=payment.pk,
        is_new_client=payment.deal.is_new_client,
        order_total=order.total if order else payment.amount,
        order_cost=order.cost_total if order else Decimal("0"),
    )


@dataclass
class DealUpside:
    deal: Deal
    outstanding: Decimal
    adds: Decimal


@dataclass
class Projection:
    statement: Statement
    upsides: list[DealUpside]


def projected_pay(*, hunter: User, month: date | None = None) -> Projection:
    """This month's statement so far, and for each open deal with an order what paying its balance today
    would add (the accelerator and the plan bonus included)."""
    month = month_start(month or timezone.localdate())
    base_input = month_input(hunter=hunter, month=month)
    statement = build_statement(base_input)
    open_deals = (
        Deal.objects.filter(owner=hunter, status=DealStatus.OPEN, order__total__gt=0)
        .select_related("client", "order")
        .annotate(paid=Sum("payments__amount"))
    )
    today = max(timezone.localdate(), month)
    upsides = []
    for deal in open_deals:
        outstanding = deal.order.total - (deal.paid or Decimal("0"))
        if outstanding <= 0:
            continue
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
            )
        )
        upsides.append(DealUpside(deal=deal, outstanding=outstanding, adds=with_deal.total - statement.total))
    upsides.sort(key=lambda upside: upside.adds, reverse=True)
    return Projection(statement=statement, upsides=upsides)
