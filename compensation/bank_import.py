"""The accountant's bank statement import: incoming payments matched to deals, confirmed, then recorded.

Each incoming line of the statement is shown in one of five states (:class:`LineState`): ready to record
on the deal it matched; already recorded (by hand or by an earlier import — :func:`recorded_entry` is the
one rule that recognises a document); its number already used on the deal for another amount or date
(flagged, never recorded by the import); beyond what the matched order still lacks; or matched to no deal.
The last two get a choice of deal by hand. Confirming records every chosen line or none.
"""

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability
from atlanset_portal.money import MoneySum
from atlanset_portal.templatetags.formatting import rub
from deals.documents import document_date, document_number_key
from deals.models import Deal, DealDocument, Payment
from deals.services import DealRuleError, payment_record
from deals.stages import DealStatus
from imports.models import ImportJob
from imports.services import ImportJobFailed, JobRun, import_job_create, import_job_run

from .bank_statement import (
    BankPayment,
    DealCandidate,
    MatchResult,
    incoming,
    match,
    parse_bank_statement,
    usable_inn,
)
from .models import BankLine

ZERO = Decimal("0")


def bank_document(payment: BankPayment) -> str:
    """The bank document's identity on a deal: recording it twice yields one payment."""
    return f"п/п {payment.document_number} от {payment.document_date:%d.%m.%Y}"[:50]


# --- the rule: is this bank document already recorded? ---------------------------------------------------


@dataclass(frozen=True)
class RecordedEntry:
    """A payment already on a deal under the bank line's document number."""

    payment: Payment
    same: bool  # the same document (number, date and amount); False: the number of another amount or date


def recorded_entry(line: BankPayment, entries: Iterable[Payment]) -> RecordedEntry | None:
    """Whether the bank line is already among a deal's payments: the one place this is decided.

    The same document is the same number (:func:`document_number_key`), the same date (the one written in
    the entry, else its receipt date, is the document's date or the day it was credited) and the same
    amount. The same number with another amount or date is returned with ``same=False``: the accountant
    looks at it, the import never records it. Refunds are our own documents, numbered apart.
    """
    number = document_number_key(line.document_number)
    if not number:
        return None
    dates = {line.document_date, line.credited_on}
    conflicting = None
    for entry in entries:
        if entry.kind != Payment.Kind.PAYMENT or document_number_key(entry.bank_document) != number:
            continue
        entry_date = document_date(entry.bank_document, entry.received_on)
        if entry.amount == line.amount and entry_date in dates:
            return RecordedEntry(payment=entry, same=True)
        conflicting = conflicting or RecordedEntry(payment=entry, same=False)
    return conflicting


def _entries_by_deal(deal_ids: Iterable[int]) -> dict[int, list[Payment]]:
    entries: dict[int, list[Payment]] = {}
    for payment in (
        Payment.objects.filter(deal_id__in=set(deal_ids), kind=Payment.Kind.PAYMENT)
        .exclude(bank_document="")
        .order_by("pk")
    ):
        entries.setdefault(payment.deal_id, []).append(payment)
    return entries


# --- the preview ------------------------------------------------------------------------------------------


class LineState(StrEnum):
    READY = "ready"  # matched to a deal whose order still lacks at least the amount
    RECORDED = "recorded"  # this document is already on a deal
    CONFLICT = "conflict"  # its number is on the matched deal with another amount or date
    EXCEEDS = "exceeds"  # more than the matched order still lacks
    UNMATCHED = "unmatched"  # no deal, or several and nothing decides


@dataclass(frozen=True)
class DealFigures:
    """A deal the accountant works, with its order's figures."""

    deal: Deal
    total: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid

    @property
    def awaits_payment(self) -> bool:
        """Offered for a choice by hand: not refused, and the order still lacks money."""
        return self.deal.status != DealStatus.LOST and self.outstanding > ZERO


@dataclass
class ProposedPayment:
    index: int
    payment: BankPayment
    result: MatchResult
    state: LineState
    deal: Deal | None = None  # the matched deal, or (RECORDED) the deal the document is on
    figures: DealFigures | None = None  # the matched deal's order
    recorded: Payment | None = None  # the entry already there (RECORDED, CONFLICT)
    payer_choices: list[DealFigures] = field(default_factory=list)  # the payer's deals it fits
    other_choices: list[DealFigures] = field(default_factory=list)  # every other deal it fits
    chosen_deal_id: int | None = None  # what the form has selected (a ready line: its deal)
    refusal: str = ""  # why confirming refused the line

    @property
    def checkable(self) -> bool:
        """Recorded on its matched deal when ticked."""
        return self.state == LineState.READY

    @property
    def selectable(self) -> bool:
        """Recorded on a deal the accountant picks."""
        return self.state in (LineState.EXCEEDS, LineState.UNMATCHED)


@dataclass
class _Preview:
    items: list[ProposedPayment]
    errors: list[str]
    deals: dict[int, DealFigures]


def _finance_deals(viewer: User) -> dict[int, DealFigures]:
    """The deals the viewer records payments on (SPEC §5: stage 6 on, or with a payment or an invoice)."""
    deals = (
        Deal.objects.visible_to(viewer)
        .in_finance()
        .select_related("client", "order")
        .annotate(paid=MoneySum("payments__amount"))
        .order_by("client__name", "pk")
    )
    return {
        deal.pk: DealFigures(
            deal=deal,
            total=deal.order.total if hasattr(deal, "order") else ZERO,
            paid=deal.paid or ZERO,
        )
        for deal in deals
    }


def _preview(data: bytes, *, viewer: User) -> _Preview:
    statement = parse_bank_statement(data)
    payments = incoming(statement)
    deals = _finance_deals(viewer)
    invoices: dict[int, list[str]] = {}
    for deal_id, number in DealDocument.objects.filter(
        deal_id__in=deals, kind=DealDocument.Kind.INVOICE
    ).values_list("deal_id", "number"):
        if number:
            invoices.setdefault(deal_id, []).append(number)
    candidates = [
        DealCandidate(
            deal_id=deal_id,
            client_inn=figures.deal.client.inn,
            invoice_numbers=invoices.get(deal_id, []),
            outstanding=figures.outstanding,
        )
        for deal_id, figures in deals.items()
        if figures.deal.client.inn.strip()
    ]
    matches = [match(payment, candidates) for payment in payments]
    deals_by_inn: dict[str, list[int]] = {}
    for candidate in candidates:
        deals_by_inn.setdefault(candidate.client_inn.strip(), []).append(candidate.deal_id)
    payers_deals = {
        payment.payer_inn.strip(): deals_by_inn.get(payment.payer_inn.strip(), [])
        if usable_inn(payment.payer_inn.strip())
        else []
        for payment in payments
    }
    entries = _entries_by_deal(
        [matched.deal_id for matched in matches if matched.deal_id]
        + [deal_id for ids in payers_deals.values() for deal_id in ids]
    )
    items = []
    for index, (payment, matched) in enumerate(zip(payments, matches, strict=True)):
        item = ProposedPayment(index=index, payment=payment, result=matched, state=LineState.UNMATCHED)
        _recognise(item, deals=deals, entries=entries, payers_deals=payers_deals[payment.payer_inn.strip()])
        if item.selectable:
            payers = set(payers_deals[payment.payer_inn.strip()])
            fitting = [
                figures
                for figures in deals.values()
                if figures.awaits_payment and figures.outstanding >= payment.amount
            ]
            item.payer_choices = [figures for figures in fitting if figures.deal.pk in payers]
            item.other_choices = [figures for figures in fitting if figures.deal.pk not in payers]
        items.append(item)
    return _Preview(items=items, errors=statement.errors, deals=deals)


def _recognise(
    item: ProposedPayment,
    *,
    deals: Mapping[int, DealFigures],
    entries: Mapping[int, list[Payment]],
    payers_deals: list[int],
) -> None:
    """Sets the line's state: already recorded (on its deal or another deal of the payer), flagged (its
    number on its deal for another amount or date), too much for the order, ready, or unmatched."""
    matched = deals.get(item.result.deal_id) if item.result.deal_id else None
    if matched is not None:
        item.deal, item.figures = matched.deal, matched
    searched = [matched.deal.pk] if matched is not None else []
    searched += [deal_id for deal_id in payers_deals if deal_id not in searched]
    conflict = None
    for deal_id in searched:
        found = recorded_entry(item.payment, entries.get(deal_id, []))
        if found is not None and found.same:
            item.deal, item.recorded, item.state = deals[deal_id].deal, found.payment, LineState.RECORDED
            return
        if found is not None and matched is not None and deal_id == matched.deal.pk:
            conflict = found
    if conflict is not None:
        item.recorded, item.state = conflict.payment, LineState.CONFLICT
        return
    if matched is None:
        item.state = LineState.UNMATCHED
    elif item.payment.amount > matched.outstanding:
        item.state = LineState.EXCEEDS
    else:
        item.state = LineState.READY
        item.chosen_deal_id = matched.deal.pk


def proposals(data: bytes, *, viewer: User) -> tuple[list[ProposedPayment], list[str]]:
    """Each incoming payment of the statement with its state and deal (or why none), and the file's errors."""
    preview = _preview(data, viewer=viewer)
    return preview.items, preview.errors


# --- confirming -------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    recorded: list[ProposedPayment]
    already: list[ProposedPayment]
    skipped: list[tuple[ProposedPayment, str]]


class ImportRefused(ValidationError):
    """A chosen line cannot be recorded: nothing was. ``items`` is the preview with each line's refusal."""

    def __init__(self, *, items: list[ProposedPayment], errors: list[str], general: list[str]):
        reasons = [*general, *(f"{_line_name(item)}: {item.refusal}" for item in items if item.refusal)]
        super().__init__(reasons, code="refused")
        self.items = items
        self.statement_errors = errors
        self.general = general


def _line_name(item: ProposedPayment) -> str:
    return _("№%(number)s от %(date)s") % {
        "number": item.payment.document_number or "—",
        "date": f"{item.payment.document_date:%d.%m.%Y}",
    }


def _beyond_outstanding(item: ProposedPayment, figures: DealFigures, *, taken: Decimal) -> str:
    message = _(
        "Оплата %(amount)s больше, чем осталось оплатить по заказу сделки «%(deal)s»: %(outstanding)s "
        "(сумма заказа %(total)s, оплачено %(paid)s)."
    ) % {
        "amount": rub(item.payment.amount),
        "deal": f"{figures.deal.client.name} — {figures.deal}",
        "outstanding": rub(max(figures.outstanding - taken, ZERO)),
        "total": rub(figures.total),
        "paid": rub(figures.paid),
    }
    if taken:
        message += " " + _("Из остатка уже взято %(taken)s строками выписки выше.") % {"taken": rub(taken)}
    return message


def _conflict(entry: Payment) -> str:
    return _(
        "По сделке уже внесена оплата %(amount)s от %(date)s с тем же номером документа («%(document)s»): "
        "другая сумма или дата — проверьте выписку и при необходимости внесите оплату на странице сделки."
    ) % {
        "amount": rub(entry.amount),
        "date": f"{entry.received_on:%d.%m.%Y}",
        "document": entry.bank_document,
    }


def _skip_reason(item: ProposedPayment) -> str:
    if item.state == LineState.READY:
        return _("не отмечена")
    if item.state == LineState.CONFLICT:
        return _("номер документа уже есть в оплатах сделки с другой суммой или датой")
    if item.state == LineState.EXCEEDS:
        return _("сумма больше остатка по заказу, другая сделка не выбрана")
    return _("%(reason)s, сделка не выбрана") % {"reason": item.result.reason}


def record_confirmed(*, acting_user: User, data: bytes, chosen: Mapping[int, int]) -> ImportResult:
    """Records the lines the accountant chose (line index → deal id): every one of them, or none.

    A line already recorded is counted and left alone, so confirming the same statement again records
    nothing. A chosen deal the accountant does not work, a document number already on the deal with another
    amount or date, an amount beyond what the order still lacks (after the lines above it) or a refusal of
    :func:`deals.services.payment_record` refuses the whole confirmation with :class:`ImportRefused`.
    """
    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    with transaction.atomic():
        preview = _preview(data, viewer=acting_user)
        items = preview.items
        general = []
        if set(chosen) - {item.index for item in items}:
            general.append(_("В выписке нет отмеченной строки: загрузите выписку ещё раз и проверьте её."))
        entries = _entries_by_deal(deal_id for deal_id in chosen.values() if deal_id in preview.deals)
        taken: dict[int, Decimal] = {}
        planned: dict[tuple[int, str], ProposedPayment] = {}
        for item in items:
            item.chosen_deal_id = chosen.get(item.index)
            if item.chosen_deal_id is None or item.state == LineState.RECORDED:
                continue
            item.refusal = _refusal(item, preview.deals, entries, taken, planned)
        if general or any(item.refusal for item in items):
            raise ImportRefused(items=items, errors=preview.errors, general=general)

        recorded = []
        for item in planned.values():
            try:
                payment_record(
                    acting_user=acting_user,
                    deal=preview.deals[item.chosen_deal_id].deal,
                    amount=item.payment.amount,
                    received_on=item.payment.credited_on or item.payment.document_date,
                    bank_document=bank_document(item.payment),
                )
            except (ValidationError, DealRuleError) as error:  # the deal changed since the preview was read
                item.refusal = " ".join(error.messages)
            else:
                recorded.append(item)
        if any(item.refusal for item in items):
            raise ImportRefused(items=items, errors=preview.errors, general=general)
    planned_ids = {item.index for item in planned.values()}
    return ImportResult(
        recorded=recorded,
        already=[item for item in items if item.state == LineState.RECORDED],
        skipped=[
            (item, _skip_reason(item))
            for item in items
            if item.state != LineState.RECORDED and item.index not in planned_ids
        ],
    )


def _refusal(
    item: ProposedPayment,
    deals: Mapping[int, DealFigures],
    entries: Mapping[int, list[Payment]],
    taken: dict[int, Decimal],
    planned: dict[tuple[int, str], ProposedPayment],
) -> str:
    """Why the line cannot go to its chosen deal ("" when it can; then it is planned, or found recorded)."""
    figures = deals.get(item.chosen_deal_id)
    if figures is None:
        return _("Сделка не найдена среди сделок, по которым вы вносите оплаты: выберите другую.")
    found = recorded_entry(item.payment, entries.get(figures.deal.pk, []))
    if found is not None and not found.same:
        return _conflict(found.payment)
    if found is not None:  # recorded since the preview was read: counted, not recorded again
        item.state, item.deal, item.recorded = LineState.RECORDED, figures.deal, found.payment
        return ""
    key = (figures.deal.pk, bank_document(item.payment))
    if key in planned:
        return _(
            "Документ с этим номером и датой уже отмечен для этой сделки строкой выше: по сделке он вносится "
            "один раз — снимите отметку с одной из строк."
        )
    already_taken = taken.get(figures.deal.pk, ZERO)
    if item.payment.amount > figures.outstanding - already_taken:
        return _beyond_outstanding(item, figures, taken=already_taken)
    taken[figures.deal.pk] = already_taken + item.payment.amount
    planned[key] = item
    return ""


def result_summary(result: ImportResult) -> str:
    """«Внесено оплат: N; уже были внесены: M; пропущено: K (причины)», as the accountant reads it."""
    summary = _("Внесено оплат: %(recorded)s; уже были внесены: %(already)s; пропущено: %(skipped)s") % {
        "recorded": len(result.recorded),
        "already": len(result.already),
        "skipped": len(result.skipped),
    }
    if result.skipped:
        summary += " (" + "; ".join(f"{_line_name(item)} — {reason}" for item, reason in result.skipped) + ")"
    summary += "."
    if not result.recorded:
        summary += " " + _("Ничего нового не внесено.")
    return summary


# --- in the background ------------------------------------------------------------------------------------


def bank_import_enqueue(
    *, acting_user: User, data: bytes, chosen: Mapping[int, int], file_name: str = ""
) -> ImportJob:
    """Queues the confirmation of the lines the accountant chose (SPEC §7) and returns its job."""
    from .tasks import import_bank_statement

    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    return import_job_create(
        acting_user=acting_user,
        kind=ImportJob.Kind.BANK,
        data=data,
        task=import_bank_statement,
        file_name=file_name,
        params={"chosen": {str(index): deal_id for index, deal_id in chosen.items()}},
        total=len(chosen),
    )


def job_chosen(job: ImportJob) -> dict[int, int]:
    """The lines the job was to record (line index → deal id)."""
    return {int(index): deal_id for index, deal_id in job.params.get("chosen", {}).items()}


def bank_import_run(*, job_id: int) -> None:
    """The background half of a confirmation: every chosen line or none, as record_confirmed does it."""

    def work(run: JobRun) -> None:
        try:
            with run.locked():
                result = record_confirmed(
                    acting_user=run.job.owner, data=run.input(), chosen=job_chosen(run.job)
                )
                bank_lines_keep(job=run.job, skipped=result.skipped)
                run.finish(
                    {
                        "summary": result_summary(result),
                        "recorded": len(result.recorded),
                        "already": len(result.already),
                        "skipped": len(result.skipped),
                    }
                )
        except ImportRefused as refused:
            raise ImportJobFailed(
                _(
                    "Ничего не внесено: некоторые отмеченные строки нельзя внести — причина указана "
                    "у строки. Исправьте выбор и подтвердите снова."
                ),
                result={
                    "refused": True,
                    "general": refused.general,
                    "refusals": {str(item.index): item.refusal for item in refused.items if item.refusal},
                },
            ) from None
        except PermissionDenied:
            raise ImportJobFailed(_("У вас больше нет права вносить оплаты: ничего не внесено.")) from None
        except ValidationError as error:  # the statement itself no longer reads
            raise ImportJobFailed("; ".join(error.messages)) from None

    import_job_run(job_id=job_id, work=work)


def refused_preview(job: ImportJob, *, viewer: User) -> tuple[list[ProposedPayment], list[str]]:
    """The statement's lines as the preview shows them now, with what the accountant chose and, by each
    line the refused confirmation could not record, why."""
    items, errors = proposals(zlib.decompress(job.data) if job.data else b"", viewer=viewer)
    chosen = job_chosen(job)
    refusals = job.result.get("refusals", {})
    for item in items:
        if item.index in chosen:
            item.chosen_deal_id = chosen[item.index]
        item.refusal = refusals.get(str(item.index), "")
    return items, errors


# --- lines that recorded no payment -----------------------------------------------------------------------


def bank_lines_keep(*, job: ImportJob | None, skipped: Iterable[tuple[ProposedPayment, str]]) -> int:
    """Keeps the lines a confirmed import recorded no payment for, for the accountant's home; the same
    document imported again keeps one row (its latest reason). Returns how many are new."""
    created = 0
    for item, reason in skipped:
        line = item.payment
        if line.amount <= 0:
            continue
        _row, made = BankLine.objects.update_or_create(
            document_number=line.document_number[:50],
            document_date=line.document_date,
            amount=line.amount,
            payer_inn=line.payer_inn.strip()[:12],
            defaults={
                "job": job,
                "credited_on": line.credited_on,
                "payer_name": line.payer_name[:300],
                "purpose": line.purpose,
                "reason": str(reason)[:500],
            },
        )
        created += made
    return created


def as_bank_payment(line: BankLine) -> BankPayment:
    return BankPayment(
        document_number=line.document_number,
        document_date=line.document_date,
        amount=line.amount,
        credited_on=line.credited_on,
        payer_name=line.payer_name,
        payer_inn=line.payer_inn,
        payer_kpp="",
        payer_account="",
        recipient_account="",
        recipient_inn="",
        purpose=line.purpose,
        section_line=0,
    )


def unmatched_bank_lines(*, viewer: User) -> list[BankLine]:
    """The kept lines not set aside and still not on any deal: a payment with the line's document (the one
    rule, :func:`recorded_entry`) matches it however it was recorded since. Two queries."""
    if not can(viewer, Capability.RECORD_PAYMENTS):
        return []
    lines = list(BankLine.objects.filter(dismissed_at__isnull=True).order_by("document_date", "pk"))
    if not lines:
        return []
    entries = list(
        Payment.objects.filter(kind=Payment.Kind.PAYMENT, amount__in={line.amount for line in lines}).exclude(
            bank_document=""
        )
    )
    return [line for line in lines if not _recorded(line, entries)]


def _recorded(line: BankLine, entries: list[Payment]) -> bool:
    found = recorded_entry(as_bank_payment(line), [entry for entry in entries if entry.amount == line.amount])
    return found is not None and found.same


def bank_line_choices(line: BankLine, *, viewer: User) -> tuple[list[DealFigures], list[DealFigures]]:
    """The deals the line could pay: the payer's first (by ИНН), then every other whose order still lacks at
    least the amount."""
    deals = _finance_deals(viewer)
    fitting = [
        figures for figures in deals.values() if figures.awaits_payment and figures.outstanding >= line.amount
    ]
    inn = line.payer_inn.strip()
    payer = [figures for figures in fitting if usable_inn(inn) and figures.deal.client.inn.strip() == inn]
    return payer, [figures for figures in fitting if figures not in payer]


def bank_line_record(*, acting_user: User, line: BankLine, deal: Deal) -> Payment:
    """Records the line as a payment on the deal the accountant chose, under its bank document (so the
    import recognises it later); the payment's own rules apply (the amount within what the order lacks)."""
    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    if line.dismissed_at is not None:
        raise ValidationError(_("Строка выписки отложена: её не вносят."))
    with transaction.atomic():
        return payment_record(
            acting_user=acting_user,
            deal=deal,
            amount=line.amount,
            received_on=line.credited_on or line.document_date,
            bank_document=bank_document(as_bank_payment(line)),
        )


@transaction.atomic
def bank_line_dismiss(*, acting_user: User, line: BankLine, note: str) -> BankLine:
    """Sets a line aside as no client's payment (a supplier's refund, interest), with why."""
    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Напишите, почему строка не относится к оплатам клиентов.")})
    if len(note) > 300:
        raise ValidationError({"note": _("Не длиннее 300 знаков.")})
    line = BankLine.objects.select_for_update().get(pk=line.pk)
    if line.dismissed_at is None:
        line.dismissed_at = timezone.now()
        line.dismissed_by = acting_user
        line.dismiss_note = note
        line.save(update_fields=["dismissed_at", "dismissed_by", "dismiss_note"])
    return line
