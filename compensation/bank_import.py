"""The accountant's bank statement import: incoming payments matched to deals, confirmed, then recorded."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from accounts.models import User
from deals.models import Deal, DealDocument
from deals.services import payment_record
from deals.stages import FINANCE_STAGES

from .bank_statement import BankPayment, DealCandidate, MatchResult, incoming, match, parse_bank_statement


@dataclass
class ProposedPayment:
    index: int
    payment: BankPayment
    result: MatchResult
    deal: Deal | None


def bank_document(payment: BankPayment) -> str:
    """The bank document's identity on a deal: recording it twice yields one payment."""
    return f"п/п {payment.document_number} от {payment.document_date:%d.%m.%Y}"[:50]


def proposals(data: bytes, *, viewer: User) -> tuple[list[ProposedPayment], list[str]]:
    """Each incoming payment of the statement with the deal it matches (or why none), and the errors."""
    statement = parse_bank_statement(data)
    payments = incoming(statement)
    deals = list(
        Deal.objects.visible_to(viewer)
        .filter(stage__in=FINANCE_STAGES)
        .exclude(client__inn="")
        .select_related("client", "order")
        .annotate(paid=Sum("payments__amount"))
    )
    invoices: dict[int, list[str]] = {}
    for deal_id, number in DealDocument.objects.filter(
        deal__in=deals, kind=DealDocument.Kind.INVOICE
    ).values_list("deal_id", "number"):
        if number:
            invoices.setdefault(deal_id, []).append(number)
    candidates = [
        DealCandidate(
            deal_id=deal.pk,
            client_inn=deal.client.inn,
            invoice_numbers=invoices.get(deal.pk, []),
            outstanding=(deal.order.total if hasattr(deal, "order") else Decimal("0"))
            - (deal.paid or Decimal("0")),
        )
        for deal in deals
    ]
    by_id = {deal.pk: deal for deal in deals}
    result = []
    for index, payment in enumerate(payments):
        matched = match(payment, candidates)
        result.append(
            ProposedPayment(index=index, payment=payment, result=matched, deal=by_id.get(matched.deal_id))
        )
    return result, statement.errors


@transaction.atomic
def record_confirmed(*, acting_user: User, data: bytes, chosen: dict[int, int]) -> int:
    """Records the payments the accountant confirmed (index → deal id), all in one transaction."""
    items, _errors = proposals(data, viewer=acting_user)
    visible = {item.index: item for item in items}
    deals = {deal.pk: deal for deal in Deal.objects.visible_to(acting_user).filter(pk__in=chosen.values())}
    recorded = 0
    for index, deal_id in chosen.items():
        item, deal = visible.get(index), deals.get(deal_id)
        if item is None or deal is None:
            continue
        payment_record(
            acting_user=acting_user,
            deal=deal,
            amount=item.payment.amount,
            received_on=item.payment.credited_on or item.payment.document_date,
            bank_document=bank_document(item.payment),
        )
        recorded += 1
    return recorded
