"""Every write about clients and deals. Keyword-only, one transaction each, rules checked here."""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability, Role
from atlanset_portal.money import MoneySum, round_kopecks
from atlanset_portal.numbers import format_decimal
from atlanset_portal.templatetags.formatting import rub
from compensation.changes import accrual_month_for_update, pay_changed
from imports.models import ImportJob
from imports.services import ImportJobFailed, JobRun, import_job_create, import_job_run
from kpi.months import month_start
from kpi.progress import progress_schedule
from kpi.services import deal_tasks_done, task_schedule
from notifications import events
from onboarding.selectors import onboarding_complete

from . import dates, stages
from .documents import document_date, document_number_key
from .lead_import import ColumnMapping, LeadRow, ParsedLeads, RejectedRow, Table, parse_leads
from .models import (
    CallResult,
    Clawback,
    Client,
    ClientPhone,
    Contact,
    Deal,
    DealDocument,
    Feedback,
    FollowUp,
    LeadImportUpload,
    LostReason,
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
from .phones import Phone, normalize_phone, parse_phone
from .requisites import (
    validate_bik,
    validate_correspondent_account,
    validate_inn,
    validate_kpp,
    validate_ogrn,
    validate_settlement_account,
)
from .search import client_search_text, contact_search_text
from .selectors import DeferredLimitCheck, order_version_limit_check
from .stages import DealStatus, Stage

# What the numeric columns hold: money numeric(14,2), order quantities numeric(12,3).
MONEY_LIMIT = Decimal(10) ** 12
QUANTITY_LIMIT = Decimal(10) ** 9


class DealRuleError(Exception):
    """A request the pipeline's rules refuse; ``messages`` say why, in Russian."""

    def __init__(self, *messages: str):
        super().__init__("; ".join(str(message) for message in messages))
        self.messages = [str(message) for message in messages]


class StageCriteriaNotMet(DealRuleError):
    def __init__(self, stage: str, missing: Sequence[stages.Criterion]):
        self.stage = stage
        self.missing = list(missing)
        super().__init__(*[criterion.label for criterion in missing])


class DuplicatePayment(ValidationError):
    """The deal already has a payment or refund with this bank document; ``existing`` is that entry."""

    def __init__(self, message: str, existing: Payment):
        super().__init__({"bank_document": message}, code="duplicate")
        self.existing = existing


class DuplicateClient(ValidationError):
    """A client with the same ИНН+КПП or phone exists; ``existing`` is that card."""

    def __init__(self, message: str, existing: Client):
        super().__init__(message, code="duplicate")
        self.existing = existing


# --- who may do what to which object ------------------------------------------------------------


def _ensure_works_client(user: User, client: Client) -> None:
    if can(user, Capability.VIEW_ALL_HUNTERS):
        return
    if can(user, Capability.WORK_PIPELINE) and client.owner_id == user.pk:
        return
    raise PermissionDenied


def works_deal(user: User, deal: Deal) -> bool:
    """The deal's hunter and the sales head work a deal; others may at most look at it."""
    return can(user, Capability.VIEW_ALL_HUNTERS) or (
        can(user, Capability.WORK_PIPELINE) and deal.owner_id == user.pk
    )


def _ensure_works_deal(user: User, deal: Deal) -> None:
    if not works_deal(user, deal):
        raise PermissionDenied


# Clients and deals are locked FOR NO KEY UPDATE: that serialises their writers just the same, and lets
# rows written elsewhere that name them (a transfer, a statement line) take their key-share lock at
# commit. FOR UPDATE would make two writers that each hold one and name the other wait for each other:
# a payment waiting for its month's statement and the lock of that month, or a client's transfer and a
# transfer of one of its deals.


def _locked_client(client: Client) -> Client:
    return Client.objects.select_for_update(no_key=True).get(pk=client.pk)


def _locked_deal(deal: Deal) -> Deal:
    return Deal.objects.select_for_update(no_key=True).get(pk=deal.pk)


def _open_locked_deal(deal: Deal) -> Deal:
    """The deal, locked, for a stage action: won and lost deals take no more stage records."""
    deal = _locked_deal(deal)
    if deal.status != DealStatus.OPEN:
        raise DealRuleError(_("Сделка закрыта: сначала восстановите её."))
    return deal


def _fits(value: Decimal, *, limit: Decimal, places: int) -> bool:
    """The value is a finite number below the column's limit with no more decimal places than it keeps."""
    return value.is_finite() and abs(value) < limit and value == value.quantize(Decimal(1).scaleb(-places))


def _checked_amount(amount: Decimal | None, *, not_positive: str) -> Decimal:
    """A payment or refund sum: more than zero, whole kopecks, within what the books hold."""
    amount = None if amount is None else Decimal(amount)
    if amount is None or not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": not_positive})
    if not _fits(amount, limit=MONEY_LIMIT, places=2):
        raise ValidationError(
            {"amount": _("Сумма — в рублях и копейках (не больше двух знаков после запятой), до триллиона.")}
        )
    return amount


def _checked_bank_document(bank_document: str) -> str:
    bank_document = bank_document.strip()
    limit = Payment._meta.get_field("bank_document").max_length
    if len(bank_document) > limit:
        raise ValidationError(
            {"bank_document": _("Номер документа — не длиннее %(limit)s символов.") % {"limit": limit}}
        )
    return bank_document


# --- clients ----------------------------------------------------------------------------------


def _normalized_phones(phones: Iterable[str]) -> list[Phone]:
    """Each number once (E.164), with its extension if one was typed («доб. 123», «,123»)."""
    parsed: dict[str, Phone] = {}
    for raw in phones:
        if raw and raw.strip():
            phone = parse_phone(raw)
            if phone.number not in parsed or (phone.extension and not parsed[phone.number].extension):
                parsed[phone.number] = phone
    return list(parsed.values())


def client_search_text_refresh(*, client: Client) -> None:
    """Stores the client's search text (deals.search) as its card, phones and contacts now are. Every
    service that changes one of them calls it last, in its own transaction."""
    text = client_search_text(
        client,
        phones=ClientPhone.objects.filter(client=client).values_list("number", flat=True),
        contacts=Contact.objects.filter(client=client).only("name", "email", "phone"),
    )
    if text != client.search_text:
        Client.objects.filter(pk=client.pk).update(search_text=text)
        client.search_text = text


@transaction.atomic
def client_search_texts_rebuild(*, client: Client) -> None:
    """The search texts of a client and its contacts made again from what is stored: after a change that
    did not come through these services (the admin's card)."""
    client = _locked_client(client)
    contacts = list(Contact.objects.filter(client=client))
    for contact in contacts:
        contact.search_text = contact_search_text(contact)
    Contact.objects.bulk_update(contacts, ["search_text"])
    client_search_text_refresh(client=client)


def find_duplicate_client(
    *, inn: str = "", kpp: str = "", phones: Iterable[str] = (), exclude: Client | None = None
) -> tuple[Client, str] | None:
    """The existing card that a new one with these requisites or phones would duplicate."""
    candidates = Client.objects.all()
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    if inn:
        same = candidates.filter(inn=inn, kpp=kpp).first()
        if same is not None:
            return same, "inn"
    numbers = list(phones)
    if numbers:
        phone = (
            ClientPhone.objects.filter(number__in=numbers, client__in=candidates)
            .select_related("client")
            .first()
        )
        if phone is not None:
            return phone.client, phone.number
    return None


def duplicate_message(existing: Client, reason: str, viewer: User) -> str:
    # SPEC §2: the existing card's owner is named to the sales head only.
    if reason == "inn":
        text = _("Клиент с такими ИНН и КПП уже есть в базе: «%(name)s».") % {"name": existing.name}
    else:
        text = _("Телефон %(phone)s уже есть в базе у клиента «%(name)s».") % {
            "phone": reason,
            "name": existing.name,
        }
    if can(viewer, Capability.VIEW_ALL_HUNTERS):
        text += " " + _("Хантер: %(owner)s.") % {"owner": existing.owner}
    return text


@contextmanager
def _no_concurrent_duplicate(
    *,
    acting_user: User,
    inn: str = "",
    kpp: str = "",
    phones: Iterable[str] = (),
    exclude: Client | None = None,
) -> Iterator[None]:
    """The card's write, in a savepoint. The duplicate check before it cannot see a card that a
    concurrent request is writing; the unique index makes this write wait for that one and then refuses
    it, and the user is told of the card that won, as if it had been there first (not a server error)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        duplicate = find_duplicate_client(inn=inn, kpp=kpp, phones=phones, exclude=exclude)
        if duplicate is None:
            raise
        raise DuplicateClient(duplicate_message(*duplicate, acting_user), duplicate[0]) from None


CLIENT_CARD_FIELDS = (
    "name",
    "address",
    "city",
    "email",
    "website",
    "segment",
    "source",
    "decision_maker_name",
    "decision_maker_email",
    "notes",
)


@transaction.atomic
def client_create(
    *,
    acting_user: User,
    name: str,
    phones: Sequence[str],
    owner: User | None = None,
    address: str = "",
    created_at: datetime | None = None,
    **card: str,
) -> Client:
    """Creates a client card owned by ``owner`` (the acting hunter by default)."""
    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    owner = owner or acting_user
    if owner.pk != acting_user.pk and not can(acting_user, Capability.VIEW_ALL_HUNTERS):
        raise PermissionDenied
    if owner.role != Role.HUNTER and owner.pk != acting_user.pk:
        raise ValidationError(_("Владельцем клиента может быть только хантер."))
    unknown = set(card) - set(CLIENT_CARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    parsed = _normalized_phones(phones)
    numbers = [phone.number for phone in parsed]
    duplicate = find_duplicate_client(phones=numbers)
    if duplicate:
        raise DuplicateClient(duplicate_message(*duplicate, acting_user), duplicate[0])
    client = Client(
        name=name.strip(),
        address=address.strip(),
        owner=owner,
        created_by=acting_user,
        created_at=created_at or timezone.now(),
        **card,
    )
    client.full_clean(exclude=["owner", "created_by"])
    client.search_text = client_search_text(client, phones=numbers, contacts=())
    with _no_concurrent_duplicate(acting_user=acting_user, phones=numbers):
        client.save()
        ClientPhone.objects.bulk_create(
            [ClientPhone(client=client, number=phone.number, extension=phone.extension) for phone in parsed]
        )
    progress_schedule(months=[timezone.localdate(client.created_at)], hunter_ids=[client.created_by_id])
    return client


@transaction.atomic
def client_update(
    *, acting_user: User, client: Client, phones: Sequence[str] | None = None, **card
) -> Client:
    _ensure_works_client(acting_user, client)
    unknown = set(card) - set(CLIENT_CARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    client = _locked_client(client)
    for field_name, value in card.items():
        setattr(client, field_name, value.strip() if isinstance(value, str) else value)
    client.full_clean(exclude=["owner", "created_by"])
    client.save()
    if phones is not None:
        parsed = _normalized_phones(phones)
        numbers = [phone.number for phone in parsed]
        duplicate = find_duplicate_client(phones=numbers, exclude=client)
        if duplicate:
            raise DuplicateClient(duplicate_message(*duplicate, acting_user), duplicate[0])
        client.phones.exclude(number__in=numbers).delete()
        existing = {phone.number: phone for phone in client.phones.all()}
        wanted = {phone.number: phone.extension for phone in parsed}
        changed = [stored for stored in existing.values() if stored.extension != wanted[stored.number]]
        for stored in changed:  # the same number with another extension
            stored.extension = wanted[stored.number]
        ClientPhone.objects.bulk_update(changed, ["extension"])
        with _no_concurrent_duplicate(acting_user=acting_user, phones=numbers, exclude=client):
            ClientPhone.objects.bulk_create(
                [
                    ClientPhone(client=client, number=phone.number, extension=phone.extension)
                    for phone in parsed
                    if phone.number not in existing
                ]
            )
    client_search_text_refresh(client=client)
    # A card that gains its name, address or phone becomes a lead of the month it was created in, for
    # whoever created it.
    progress_schedule(months=[timezone.localdate(client.created_at)], hunter_ids=[client.created_by_id])
    return client


@dataclass(frozen=True)
class Requisites:
    legal_name: str = ""
    inn: str = ""
    kpp: str = ""
    ogrn: str = ""
    legal_address: str = ""
    bank_name: str = ""
    bik: str = ""
    settlement_account: str = ""
    correspondent_account: str = ""


def clean_requisites(requisites: Requisites) -> Requisites:
    """Validates the filled fields (checksums included); raises ValidationError keyed by field."""
    errors: dict[str, list] = {}
    cleaned = dict(requisites.__dict__)

    def check(field_name: str, validator, *args) -> None:
        value = cleaned[field_name].strip()
        if not value:
            cleaned[field_name] = ""
            return
        try:
            cleaned[field_name] = validator(value, *args)
        except ValidationError as error:
            errors.setdefault(field_name, []).extend(error.messages)

    check("inn", validate_inn)
    check("kpp", validate_kpp)
    check("ogrn", validate_ogrn)
    check("bik", validate_bik)
    if cleaned["bik"] and "bik" not in errors:
        check("settlement_account", validate_settlement_account, cleaned["bik"])
        check("correspondent_account", validate_correspondent_account, cleaned["bik"])
    elif not cleaned["bik"]:
        # An account's check digit depends on the bank: without a БИК it cannot be checked.
        for name in ("settlement_account", "correspondent_account"):
            if cleaned[name]:
                errors.setdefault(name, []).append(_("Укажите БИК банка: без него счёт не проверить."))
    if cleaned["inn"] and len(cleaned["inn"]) == 12 and cleaned["kpp"]:
        errors.setdefault("kpp", []).append(_("У индивидуального предпринимателя нет КПП."))
    if errors:
        raise ValidationError(errors)
    return Requisites(**{key: value.strip() for key, value in cleaned.items()})


@transaction.atomic
def client_update_requisites(*, acting_user: User, client: Client, requisites: Requisites) -> Client:
    _ensure_works_client(acting_user, client)
    cleaned = clean_requisites(requisites)
    if cleaned.inn:
        duplicate = find_duplicate_client(inn=cleaned.inn, kpp=cleaned.kpp, exclude=client)
        if duplicate:
            raise DuplicateClient(duplicate_message(*duplicate, acting_user), duplicate[0])
    client = _locked_client(client)
    for field_name, value in cleaned.__dict__.items():
        setattr(client, field_name, value)
    with _no_concurrent_duplicate(acting_user=acting_user, inn=cleaned.inn, kpp=cleaned.kpp, exclude=client):
        client.save()
    client_search_text_refresh(client=client)
    return client


def may_set_payment_terms(user: User) -> bool:
    """Payment terms are the sales head's and the accountant's (SPEC §5); a hunter requests them."""
    return can(user, Capability.VIEW_ALL_HUNTERS) or can(user, Capability.RECORD_PAYMENTS)


def _checked_terms(
    *,
    client: Client,
    payment_terms: str,
    deferred_days: int | None = None,
    deferred_limit: Decimal | None = None,
    consignment_cadence: str = "",
    deferred_in_working_days: bool = False,
) -> dict:
    """The client's payment-terms fields for these terms, or a ValidationError in Russian: deferred
    payment needs days and a limit and is offered from the client's second deal (SPEC §2)."""
    if payment_terms not in PaymentTerms.values:
        raise ValidationError({"payment_terms": _("Выберите условия оплаты из списка.")})
    deferred = payment_terms == PaymentTerms.DEFERRED
    consignment = payment_terms == PaymentTerms.CONSIGNMENT
    if deferred:
        if deferred_days is None or deferred_limit is None:
            raise ValidationError(_("Для отсрочки укажите число дней и лимит."))
        if not client_has_paid_deal(client):
            raise ValidationError(
                _("Отсрочка предоставляется со второй сделки: у клиента ещё нет оплаченных сделок.")
            )
    return {
        "payment_terms": payment_terms,
        "deferred_days": deferred_days if deferred else None,
        "deferred_limit": deferred_limit if deferred else None,
        "deferred_in_working_days": deferred and deferred_in_working_days,
        "consignment_cadence": consignment_cadence if consignment else "",
    }


@transaction.atomic
def client_set_payment_terms(
    *,
    acting_user: User,
    client: Client,
    payment_terms: str,
    deferred_days: int | None = None,
    deferred_limit: Decimal | None = None,
    consignment_cadence: str = "",
    deferred_in_working_days: bool = False,
) -> Client:
    """Sets prepayment, deferred payment (from the client's second deal) or consignment: the head or the
    accountant only."""
    if not may_set_payment_terms(acting_user):
        raise PermissionDenied
    client = _locked_client(client)
    terms = _checked_terms(
        client=client,
        payment_terms=payment_terms,
        deferred_days=deferred_days,
        deferred_limit=deferred_limit,
        consignment_cadence=consignment_cadence,
        deferred_in_working_days=deferred_in_working_days,
    )
    for field_name, value in terms.items():
        setattr(client, field_name, value)
    client.full_clean(exclude=["owner", "created_by"])
    client.save()
    return client


@transaction.atomic
def payment_terms_request_create(
    *,
    acting_user: User,
    client: Client,
    payment_terms: str,
    comment: str,
    deferred_days: int | None = None,
    deferred_limit: Decimal | None = None,
    consignment_cadence: str = "",
    deferred_in_working_days: bool = False,
) -> PaymentTermsRequest:
    """The client's hunter asks the head for payment terms, saying why. The terms are checked as they
    would be when set; one request per client waits at a time."""
    _ensure_works_client(acting_user, client)
    client = _locked_client(client)
    if not comment.strip():
        raise ValidationError({"comment": _("Напишите, почему клиенту нужны такие условия.")})
    terms = _checked_terms(
        client=client,
        payment_terms=payment_terms,
        deferred_days=deferred_days,
        deferred_limit=deferred_limit,
        consignment_cadence=consignment_cadence,
        deferred_in_working_days=deferred_in_working_days,
    )
    if all(getattr(client, field_name) == value for field_name, value in terms.items()):
        raise ValidationError(_("Такие условия у клиента уже действуют."))
    if client.terms_requests.filter(status=PaymentTermsRequest.Status.PENDING).exists():
        raise ValidationError(_("По клиенту уже есть запрос условий оплаты, ждущий решения руководителя."))
    request = PaymentTermsRequest(client=client, comment=comment.strip(), requested_by=acting_user, **terms)
    request.full_clean(exclude=["client", "requested_by"])
    request.save()
    events.payment_terms_requested(request=request, acting_user=acting_user)
    return request


@transaction.atomic
def payment_terms_request_decide(
    *, acting_user: User, request: PaymentTermsRequest, approve: bool, comment: str = ""
) -> PaymentTermsRequest:
    """The head approves a request, which sets the terms through ``client_set_payment_terms`` (checked
    again as of now), or declines it with the reason."""
    if not can(acting_user, Capability.VIEW_ALL_HUNTERS):
        raise PermissionDenied
    request = PaymentTermsRequest.objects.select_for_update().select_related("client").get(pk=request.pk)
    if request.status != PaymentTermsRequest.Status.PENDING:
        raise ValidationError(
            _("Запрос уже рассмотрен: %(status)s.") % {"status": request.get_status_display().lower()}
        )
    comment = comment.strip()
    if not approve and not comment:
        raise ValidationError({"comment": _("Напишите, почему запрос отклонён.")})
    if approve:
        client_set_payment_terms(
            acting_user=acting_user,
            client=request.client,
            payment_terms=request.payment_terms,
            deferred_days=request.deferred_days,
            deferred_limit=request.deferred_limit,
            consignment_cadence=request.consignment_cadence,
            deferred_in_working_days=request.deferred_in_working_days,
        )
    request.status = PaymentTermsRequest.Status.APPROVED if approve else PaymentTermsRequest.Status.DECLINED
    request.decided_by = acting_user
    request.decided_at = timezone.now()
    request.decision_comment = comment
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    return request


@transaction.atomic
def contact_add(
    *,
    acting_user: User,
    client: Client,
    name: str,
    position: str = "",
    phone: str = "",
    email: str = "",
    birthday: date | None = None,
) -> Contact:
    _ensure_works_client(acting_user, client)
    # Locked, so that two contacts added at once both reach the client's search text.
    client = _locked_client(client)
    parsed = parse_phone(phone) if phone.strip() else Phone(number="")
    contact = Contact(
        client=client,
        name=name.strip(),
        position=position.strip(),
        phone=parsed.number,
        phone_extension=parsed.extension,
        email=email.strip(),
        birthday=birthday,
    )
    contact.full_clean()
    contact.search_text = contact_search_text(contact)
    contact.save()
    client_search_text_refresh(client=client)
    return contact


# --- deals ------------------------------------------------------------------------------------


def client_has_paid_deal(client: Client) -> bool:
    return Payment.objects.filter(deal__client=client, kind=Payment.Kind.PAYMENT).exists()


@transaction.atomic
def deal_create(
    *,
    acting_user: User,
    client: Client,
    title: str = "",
    start_stage: Stage = Stage.LEAD,
    created_at: datetime | None = None,
) -> Deal:
    """Opens a deal for the client's owner. The new-client flag is fixed now (SPEC §2)."""
    _ensure_works_client(acting_user, client)
    if (
        settings.ONBOARDING_REQUIRED_FOR_DEALS
        and acting_user.role == Role.HUNTER
        and not onboarding_complete(acting_user)
    ):
        raise DealRuleError(_("Сначала пройдите обучение: прочитайте все разделы регламента и сдайте тест."))
    client = _locked_client(client)
    is_new_client = not client_has_paid_deal(client)
    if start_stage not in (Stage.LEAD, stages.REPEAT_ORDER_START):
        raise DealRuleError(_("Сделка начинается с первого этапа (повторный заказ — с этапа «Сделка»)."))
    if start_stage == stages.REPEAT_ORDER_START and is_new_client:
        raise DealRuleError(
            _("С этапа «Сделка» начинается только повторный заказ клиента, который уже платил.")
        )
    now = created_at or timezone.now()
    deal = Deal.objects.create(
        client=client,
        owner=client.owner,
        title=title.strip(),
        stage=start_stage,
        is_new_client=is_new_client,
        created_by=acting_user,
        created_at=now,
        stage_entered_at=now,
    )
    StageChange.objects.create(
        deal=deal, kind=StageChange.Kind.CREATED, to_stage=start_stage, by=acting_user, at=now
    )
    return deal


@transaction.atomic
def deal_import(
    *,
    acting_user: User,
    client: Client,
    created_at: datetime,
    lines: Sequence["OrderLineInput"] = (),
    external_key: str = "",
    title: str = "",
) -> Deal:
    """A deal brought over from history (a scenario file, the old CRM) at the «Сделка» stage with its
    order. Its facts of stages 1–5 happened elsewhere, so their criteria are not asked; the new-client
    flag is derived exactly as for a deal opened in the portal."""
    _ensure_works_client(acting_user, client)
    client = _locked_client(client)
    deal = Deal.objects.create(
        client=client,
        owner=client.owner,
        title=title,
        stage=Stage.DEAL,
        is_new_client=not client_has_paid_deal(client),
        created_by=acting_user,
        created_at=created_at,
        stage_entered_at=created_at,
        external_key=external_key,
    )
    StageChange.objects.create(
        deal=deal,
        kind=StageChange.Kind.CREATED,
        to_stage=Stage.DEAL,
        by=acting_user,
        at=created_at,
        comment=_("Перенесена из истории продаж"),
    )
    if lines:
        # History: its prices were agreed with the client when the deal happened.
        order_set_lines(
            acting_user=acting_user, deal=deal, lines=lines, confirmed_prices=agreed_prices(lines)
        )
        Order.objects.filter(deal=deal).update(created_at=created_at)
        OrderVersion.objects.filter(order__deal=deal).update(created_at=created_at)
    return deal


@transaction.atomic
def deal_import_settle_stage(*, deal: Deal, stage: str | None = None, at: datetime | None = None) -> Deal:
    """Puts an imported deal at the stage its history ended in: the given one, or what its payments
    imply (paid in full: closing; partly paid: awaiting payment)."""
    deal = _locked_deal(deal)
    if stage is None:
        paid = deal_paid_total(deal)
        stage = Stage.CLOSED if deal.paid_in_full_on else (Stage.PAYMENT if paid > 0 else deal.stage)
    if stage != deal.stage:
        _record_stage_change(
            deal,
            kind=StageChange.Kind.FORWARD,
            to_stage=stage,
            by=None,
            comment=_("Перенесена из истории продаж"),
            at=at,
        )
        deal.save(update_fields=["stage", "stage_entered_at"])
    return deal


def _record_stage_change(
    deal: Deal, *, kind: str, to_stage: str, by: User | None, comment: str = "", at: datetime | None = None
) -> None:
    at = at or timezone.now()
    StageChange.objects.create(
        deal=deal, kind=kind, from_stage=deal.stage, to_stage=to_stage, by=by, at=at, comment=comment
    )
    deal.stage = to_stage
    deal.stage_entered_at = at


def _has_money_papers(deal: Deal) -> bool:
    return deal.payments.exists() or deal.documents.filter(kind=DealDocument.Kind.INVOICE).exists()


@transaction.atomic
def deal_move(
    *, acting_user: User, deal: Deal, to_stage: str, comment: str = "", at: datetime | None = None
) -> Deal:
    """Forward one stage when the current stage's exit criteria hold; back to any stage with a comment."""
    from .selectors import deal_facts

    _ensure_works_deal(acting_user, deal)
    deal = _locked_deal(deal)
    if deal.status != DealStatus.OPEN:
        raise DealRuleError(_("Сделка закрыта: сначала восстановите её."))
    if to_stage not in stages.ORDER:
        raise DealRuleError(_("Неизвестный этап."))
    if to_stage == deal.stage:
        raise DealRuleError(_("Сделка уже на этом этапе."))
    if stages.is_before(to_stage, deal.stage):
        if not comment.strip():
            raise DealRuleError(_("Чтобы вернуть сделку на прежний этап, напишите комментарий."))
        if (
            stages.is_before(to_stage, Stage.PAYMENT)
            and not can(acting_user, Capability.VIEW_ALL_HUNTERS)
            and _has_money_papers(deal)
        ):
            raise DealRuleError(
                _(
                    "По сделке уже есть оплата или счёт: вернуть её раньше этапа «Получение оплаты» "
                    "может только руководитель."
                )
            )
        _record_stage_change(
            deal, kind=StageChange.Kind.BACK, to_stage=to_stage, by=acting_user, comment=comment, at=at
        )
    else:
        if to_stage != stages.next_stage(deal.stage):
            raise DealRuleError(_("Сделка переходит вперёд только на следующий этап."))
        missing = stages.missing_criteria(deal.stage, deal_facts(deal))
        if missing:
            raise StageCriteriaNotMet(deal.stage, missing)
        _record_stage_change(
            deal, kind=StageChange.Kind.FORWARD, to_stage=to_stage, by=acting_user, comment=comment, at=at
        )
    deal.save(update_fields=["stage", "stage_entered_at"])
    return deal


@transaction.atomic
def deal_win(*, acting_user: User, deal: Deal, at: datetime | None = None) -> Deal:
    """Closes a deal at stage 9 as won once its feedback is recorded."""
    from .selectors import deal_facts

    _ensure_works_deal(acting_user, deal)
    deal = _locked_deal(deal)
    if deal.status != DealStatus.OPEN or deal.stage != Stage.CLOSED:
        raise DealRuleError(_("Успешно закрыть можно только открытую сделку на этапе «Закрытие сделки»."))
    missing = stages.missing_criteria(deal.stage, deal_facts(deal))
    if missing:
        raise StageCriteriaNotMet(deal.stage, missing)
    at = at or timezone.now()
    StageChange.objects.create(
        deal=deal,
        kind=StageChange.Kind.WON,
        from_stage=deal.stage,
        to_stage=deal.stage,
        by=acting_user,
        at=at,
    )
    deal.status = DealStatus.WON
    deal.closed_at = at
    deal.save(update_fields=["status", "closed_at"])
    return deal


def deal_advance(*, acting_user: User, deal: Deal) -> Deal:
    """The "next stage" button: the next stage, or a won deal after the last one."""
    following = stages.next_stage(deal.stage)
    if following is None:
        return deal_win(acting_user=acting_user, deal=deal)
    return deal_move(acting_user=acting_user, deal=deal, to_stage=following)


def _mark_lost(
    deal: Deal, *, reason: LostReason, note: str, by: User | None, at: datetime | None = None
) -> None:
    at = at or timezone.now()
    StageChange.objects.create(
        deal=deal,
        kind=StageChange.Kind.LOST,
        from_stage=deal.stage,
        to_stage=deal.stage,
        by=by,
        at=at,
        comment=note,
    )
    deal.status = DealStatus.LOST
    deal.lost_reason = reason
    deal.lost_note = note
    deal.closed_at = at
    deal.save(update_fields=["status", "lost_reason", "lost_note", "closed_at"])


@transaction.atomic
def deal_mark_lost(*, acting_user: User, deal: Deal, reason: LostReason, note: str = "") -> Deal:
    _ensure_works_deal(acting_user, deal)
    deal = _locked_deal(deal)
    if deal.status != DealStatus.OPEN:
        raise DealRuleError(_("Сделка уже закрыта."))
    if deal.stage not in stages.LOSABLE_STAGES:
        raise DealRuleError(_("Отказ возможен только на этапах 1–7."))
    if reason.requires_note and not note.strip():
        raise DealRuleError(_("Для причины «%(reason)s» нужен комментарий.") % {"reason": reason.name})
    _mark_lost(deal, reason=reason, note=note.strip(), by=acting_user)
    events.deal_lost(deal=deal, acting_user=acting_user)
    return deal


@transaction.atomic
def deal_restore(*, acting_user: User, deal: Deal, comment: str = "") -> Deal:
    """Returns a lost deal to work at the stage where it was lost."""
    _ensure_works_deal(acting_user, deal)
    deal = _locked_deal(deal)
    if deal.status != DealStatus.LOST:
        raise DealRuleError(_("Восстановить можно только сделку с отказом."))
    StageChange.objects.create(
        deal=deal,
        kind=StageChange.Kind.RESTORED,
        from_stage=deal.stage,
        to_stage=deal.stage,
        by=acting_user,
        comment=comment,
    )
    deal.status = DealStatus.OPEN
    deal.lost_reason = None
    deal.lost_note = ""
    deal.closed_at = None
    deal.save(update_fields=["status", "lost_reason", "lost_note", "closed_at"])
    return deal


# --- stage actions ------------------------------------------------------------------------------


def _unsuccessful_attempt_days(deal: Deal) -> int:
    since = (
        deal.stage_changes.filter(to_stage=Stage.CALL)
        .exclude(kind=StageChange.Kind.LOST)
        .order_by("-at")
        .first()
    )
    attempts = deal.call_results.filter(outcome__in=stages.UNSUCCESSFUL_CALL_OUTCOMES)
    if since is not None:
        attempts = attempts.filter(at__gte=since.at)
    return len({timezone.localdate(at) for at in attempts.values_list("at", flat=True)})


@transaction.atomic
def call_result_record(
    *,
    acting_user: User,
    deal: Deal,
    outcome: str,
    call_description: str = "",
    client_description: str = "",
    decision_maker_email: str = "",
    at: datetime | None = None,
) -> CallResult:
    """Records a call's result; a fifth unsuccessful attempt on another day in stage 2 loses the deal."""
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    result = CallResult(
        deal=deal,
        outcome=outcome,
        call_description=call_description.strip(),
        client_description=client_description.strip(),
        decision_maker_email=decision_maker_email.strip(),
        author=acting_user,
        at=at or timezone.now(),
    )
    result.full_clean()
    result.save()
    if result.decision_maker_email and not deal.client.decision_maker_email:
        Client.objects.filter(pk=deal.client_id).update(decision_maker_email=result.decision_maker_email)
        client_search_text_refresh(client=_locked_client(deal.client))
    if (
        deal.stage == Stage.CALL
        and outcome in stages.UNSUCCESSFUL_CALL_OUTCOMES
        and _unsuccessful_attempt_days(deal) >= stages.NO_CONTACT_ATTEMPTS_LIMIT
    ):
        reason = LostReason.objects.get(code=LostReason.NO_CONTACT)
        note = _("Автоматически: %(count)s неудачных попыток связаться в разные дни.") % {
            "count": stages.NO_CONTACT_ATTEMPTS_LIMIT
        }
        _mark_lost(deal, reason=reason, note=note, by=None, at=result.at)
    return result


ALLOWED_UPLOADS = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Magic numbers of the allowed types: the extension alone proves nothing.
_SIGNATURES = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".doc": (b"\xd0\xcf\x11\xe0",),
    ".xls": (b"\xd0\xcf\x11\xe0",),
}


def check_upload(file: UploadedFile) -> None:
    import os

    extension = os.path.splitext(file.name or "")[1].lower()
    if extension not in ALLOWED_UPLOADS:
        raise ValidationError(_("Можно загрузить PDF, Word, Excel или изображение (JPG, PNG)."))
    if file.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("Файл больше 10 МБ."))
    head = file.read(8)
    file.seek(0)
    if not head.startswith(_SIGNATURES[extension]):
        raise ValidationError(_("Содержимое файла не соответствует его расширению."))


@transaction.atomic
def document_upload(
    *, acting_user: User, deal: Deal, kind: str, file: UploadedFile, number: str = ""
) -> DealDocument:
    """Invoices and waybills come from the accountant; proposals and others from whoever works the deal."""
    if kind in (DealDocument.Kind.INVOICE, DealDocument.Kind.WAYBILL):
        if not can(acting_user, Capability.RECORD_PAYMENTS):
            raise PermissionDenied
        if not deal_in_finance(deal):
            raise DealRuleError(_("Счёт и накладная загружаются с этапа «Сделка»."))
    else:
        _ensure_works_deal(acting_user, deal)
    check_upload(file)
    if kind == DealDocument.Kind.INVOICE and not number.strip():
        raise ValidationError(
            {"number": _("Укажите номер счёта: по нему находятся оплаты из банковской выписки.")}
        )
    document = DealDocument.objects.create(
        deal=deal,
        kind=kind,
        number=number.strip(),
        file=file,
        original_name=file.name[:255],
        uploaded_by=acting_user,
    )
    events.document_uploaded(document=document, acting_user=acting_user)
    return document


@transaction.atomic
def proposal_record(
    *,
    acting_user: User,
    deal: Deal,
    sent_to_email: str,
    sent_at: datetime,
    callback_on: date,
    template_name: str = "",
    file: UploadedFile | None = None,
) -> Proposal:
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    if file is None and not template_name.strip():
        raise ValidationError(_("Приложите файл КП или укажите шаблон."))
    today = timezone.localdate()
    sent_on = timezone.localdate(sent_at) if timezone.is_aware(sent_at) else sent_at.date()
    dates.refuse_dates(
        sent_at=dates.proposal_sent_problem(sent_on=sent_on, today=today),
        callback_on=dates.callback_problem(callback_on=callback_on, sent_on=sent_on, today=today),
    )
    document = (
        document_upload(acting_user=acting_user, deal=deal, kind=DealDocument.Kind.PROPOSAL, file=file)
        if file
        else None
    )
    proposal = Proposal(
        deal=deal,
        document=document,
        template_name=template_name.strip(),
        sent_to_email=sent_to_email.strip(),
        sent_at=sent_at,
        callback_on=callback_on,
        author=acting_user,
    )
    proposal.full_clean()
    proposal.save()
    task_schedule(
        agreed_by=acting_user,
        client=deal.client,
        deal=deal,
        due_on=callback_on,
        what=_("Перезвонить после КП (отправлено на %(email)s)") % {"email": proposal.sent_to_email},
    )
    return proposal


# The most of one product a sample request may ask for: samples, not an order.
SAMPLE_QUANTITY_LIMIT = 1000


@transaction.atomic
def sample_request_create(
    *,
    acting_user: User,
    deal: Deal,
    lines: Sequence[tuple[Product, int]],
    receiver_name: str,
    receiver_phone: str,
    potential_volume: str,
    delivery_address: str = "",
) -> SampleRequest:
    """A request to production for samples; delivered to the client's address unless another is given."""
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    if not lines:
        raise ValidationError(_("Добавьте хотя бы один товар в заявку."))
    for _product, quantity in lines:
        if quantity is None or int(quantity) != quantity or quantity <= 0:
            raise ValidationError(_("Количество пробников — целое число больше нуля."))
        if quantity > SAMPLE_QUANTITY_LIMIT:
            raise ValidationError(
                _("Пробников одного товара — не больше %(limit)s.") % {"limit": SAMPLE_QUANTITY_LIMIT}
            )
    request = SampleRequest(
        deal=deal,
        receiver_name=receiver_name.strip(),
        receiver_phone=normalize_phone(receiver_phone),
        delivery_address=delivery_address.strip() or deal.client.address,
        potential_volume=potential_volume.strip(),
        requested_by=acting_user,
    )
    request.full_clean()
    request.save()
    SampleLine.objects.bulk_create(
        [SampleLine(request=request, product=p, quantity=int(q)) for p, q in lines]
    )
    events.sample_request_created(request=request, acting_user=acting_user)
    return request


SAMPLE_TRANSITIONS = {
    SampleRequest.Status.REQUESTED: {SampleRequest.Status.PREPARED, SampleRequest.Status.DECLINED},
    SampleRequest.Status.PREPARED: {SampleRequest.Status.HANDED_OVER, SampleRequest.Status.DECLINED},
    SampleRequest.Status.HANDED_OVER: set(),
    SampleRequest.Status.DECLINED: set(),
}


@transaction.atomic
def sample_request_set_status(
    *, acting_user: User, request: SampleRequest, status: str, comment: str = ""
) -> SampleRequest:
    """Production moves a request requested → prepared → handed over, or declines it with the reason."""
    if not can(acting_user, Capability.HANDLE_PRODUCTION):
        raise PermissionDenied
    if status == SampleRequest.Status.DECLINED and not comment.strip():
        raise ValidationError({"comment": _("Напишите причину отказа: хантер передаст её клиенту.")})
    request = SampleRequest.objects.select_for_update().get(pk=request.pk)
    if status not in SAMPLE_TRANSITIONS[request.status]:
        raise DealRuleError(
            _("Заявку в статусе «%(current)s» нельзя перевести в «%(new)s».")
            % {"current": request.get_status_display(), "new": SampleRequest.Status(status).label}
        )
    request.status = status
    request.comment = comment.strip() or request.comment
    request.status_changed_at = timezone.now()
    request.save(update_fields=["status", "comment", "status_changed_at"])
    events.sample_request_status_changed(request=request, acting_user=acting_user)
    return request


@transaction.atomic
def follow_up_record(
    *,
    acting_user: User,
    deal: Deal,
    outcome: str,
    objection: str = "",
    next_contact_on: date | None = None,
    next_contact_time: time | None = None,
    client_confirmed: bool = False,
    at: datetime | None = None,
) -> FollowUp:
    """A follow-up contact with its outcome: the next contact agreed becomes the deal's task; once the
    client confirmed and nothing more was agreed, the deal's open task is done."""
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    if not outcome.strip():
        raise ValidationError({"outcome": _("Опишите итог контакта.")})
    if not client_confirmed and next_contact_on is None:
        raise ValidationError(
            {
                "next_contact_on": _(
                    "Пока клиент не подтвердил покупку, договоритесь о дате следующего контакта."
                )
            }
        )
    dates.refuse_dates(
        next_contact_on=dates.next_contact_problem(next_contact_on, today=timezone.localdate())
    )
    follow_up = FollowUp.objects.create(
        deal=deal,
        outcome=outcome.strip(),
        objection=objection.strip(),
        next_contact_on=next_contact_on,
        client_confirmed=client_confirmed,
        author=acting_user,
        at=at or timezone.now(),
    )
    if next_contact_on is not None:
        what = follow_up.outcome
        if follow_up.objection:
            what = f"{what}; {_('возражение')}: {follow_up.objection}"
        task_schedule(
            agreed_by=acting_user,
            client=deal.client,
            deal=deal,
            due_on=next_contact_on,
            due_time=next_contact_time,
            what=what,
        )
    else:
        deal_tasks_done(acting_user=acting_user, deal=deal)
    return follow_up


@dataclass(frozen=True)
class OrderLineInput:
    product: Product
    quantity: Decimal
    price: Decimal | None = None  # list price by default
    cost: Decimal | None = None  # catalogue cost by default


OrderRow = tuple[Product, Decimal, Decimal, Decimal]  # product, quantity, price, cost


def _checked_order_rows(lines: Sequence[OrderLineInput]) -> list[OrderRow]:
    """The lines as the columns keep them: at least one, positive quantities, prices in kopecks."""
    if not lines:
        raise ValidationError(_("В заказе должна быть хотя бы одна позиция."))
    rows = []
    for line in lines:
        quantity = None if line.quantity is None else Decimal(line.quantity)
        if quantity is None or not quantity.is_finite() or quantity <= 0:
            raise ValidationError(_("Количество должно быть больше нуля."))
        if not _fits(quantity, limit=QUANTITY_LIMIT, places=3):
            raise ValidationError(_("Количество — до миллиарда, не больше трёх знаков после запятой."))
        price = Decimal(line.product.list_price if line.price is None else line.price)
        cost = Decimal(line.product.cost if line.cost is None else line.cost)
        if price < 0 or cost < 0:
            raise ValidationError(_("Цена и себестоимость не могут быть отрицательными."))
        if not (_fits(price, limit=MONEY_LIMIT, places=2) and _fits(cost, limit=MONEY_LIMIT, places=2)):
            raise ValidationError(_("Цена и себестоимость — в рублях и копейках, до триллиона."))
        rows.append((line.product, quantity, price, cost))
    if sum((q * max(price, cost) for _p, q, price, cost in rows), Decimal("0")) >= MONEY_LIMIT:
        raise ValidationError(
            _("Сумма заказа не может быть больше триллиона рублей: проверьте количество и цены.")
        )
    return rows


def order_lines_total(lines: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """An order's total from its (quantity, price) pairs, rounded half up to kopecks once at the end."""
    return round_kopecks(sum((quantity * price for quantity, price in lines), Decimal("0")))


@dataclass(frozen=True)
class PriceDeviation:
    """A line priced further from the list price than PRICE_DEVIATION_CONFIRM_SHARE allows unconfirmed."""

    product: Product
    list_price: Decimal
    price: Decimal

    @property
    def difference(self) -> Decimal:
        return self.price - self.list_price

    @property
    def share(self) -> Decimal | None:
        """The difference as a share of the list price, to a tenth of a percent (None for a product
        listed at zero)."""
        if not self.list_price:
            return None
        return (self.difference / self.list_price).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)

    @property
    def key(self) -> tuple[int, Decimal]:
        return (self.product.pk, self.price)


class PricesNotConfirmed(ValidationError):
    """Lines priced far from the list price that the hunter has not confirmed; ``deviations`` lists them."""

    def __init__(self, deviations: Sequence[PriceDeviation]):
        limit = Decimal(settings.PRICE_DEVIATION_CONFIRM_SHARE) * 100
        super().__init__(
            _(
                "Цена отличается от прайса больше чем на %(limit)s %%: проверьте разницу и подтвердите "
                "цены — тогда заказ уйдёт в производство."
            )
            % {"limit": format_decimal(limit)},
            code="prices_not_confirmed",
        )
        self.deviations = list(deviations)


def price_deviations(rows: Iterable[tuple]) -> list[PriceDeviation]:
    """The rows (product, quantity, price, cost) priced further from the list price than the set share
    either way; at a zero list price, any price above zero."""
    share = Decimal(settings.PRICE_DEVIATION_CONFIRM_SHARE)
    found = []
    for product, _quantity, price, _cost in rows:
        list_price = product.list_price
        far = abs(price - list_price) > share * list_price if list_price else price != list_price
        if far:
            found.append(PriceDeviation(product=product, list_price=list_price, price=price))
    return found


def agreed_prices(lines: Iterable[OrderLineInput]) -> set[tuple[int, Decimal]]:
    """Every explicit price of ``lines`` as confirmed: for orders whose prices were agreed elsewhere (a
    sales history being imported)."""
    return {(line.product.pk, Decimal(line.price)) for line in lines if line.price is not None}


def _same_lines(rows: Iterable[tuple], stored: Iterable[OrderLine | OrderVersionLine]) -> bool:
    """Whether the rows (product, quantity, price, cost) are the stored lines, in any order."""
    ours = sorted((product.pk, quantity, price, cost) for product, quantity, price, cost in rows)
    theirs = sorted((line.product_id, line.quantity, line.price, line.cost) for line in stored)
    return ours == theirs


def _check_not_below_paid(deal: Deal, total: Decimal) -> None:
    paid = deal_paid_total(deal)
    if total < paid:
        raise ValidationError(
            _(
                "Сумма заказа %(total)s меньше того, что по сделке уже оплачено: %(paid)s. Уменьшить заказ "
                "ниже оплаченного можно только после возврата денег клиенту."
            )
            % {"total": rub(total), "paid": rub(paid)}
        )


def _pay_changed_for_order(deal: Deal, *, cause: str) -> None:
    """The order's figures feed the plan bonus of every payment on the deal (SPEC §5.4) and the clawback
    of every refund: the statements of everyone credited with them are re-checked from the earliest
    month any of them counts in."""
    counted = [
        *Payment.objects.filter(deal=deal).values_list("credited_to_id", "accrual_month"),
        *Clawback.objects.filter(refund__deal=deal).values_list("hunter_id", "accrual_month"),
    ]
    if counted:
        pay_changed(
            hunter_ids=sorted({hunter_id for hunter_id, _month in counted}),
            month=min(month for _hunter_id, month in counted),
            cause=cause,
        )


def _pay_changed_for_clawbacks(deal: Deal, *, cause: str) -> None:
    """A refund's clawback is shared by what each earner was credited with before it: money entered later
    for an earlier day changes the shares, so every clawback's statement on the deal is checked again."""
    first_month: dict[int, date] = {}
    clawbacks = Clawback.objects.filter(refund__deal=deal).values_list("hunter_id", "accrual_month")
    for hunter_id, month in clawbacks:
        first_month[hunter_id] = min(month, first_month.get(hunter_id, month))
    for hunter_id, month in sorted(first_month.items()):
        pay_changed(hunter_ids=[hunter_id], month=month, cause=cause)


def _put_in_force(order: Order, version: OrderVersion, *, deal: Deal) -> None:
    """Writes the version's lines and totals into the order; what they feed (completion, pay) follows in
    the same transaction."""
    before = (order.total, order.cost_total)
    order.lines.all().delete()
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order, product_id=line.product_id, quantity=line.quantity, price=line.price, cost=line.cost
        )
        for line in version.lines.all()
    )
    order.total, order.cost_total = version.total, version.cost_total
    order.save(update_fields=["total", "cost_total"])
    deal_update_paid_in_full(deal)
    if before != (order.total, order.cost_total):
        _pay_changed_for_order(
            deal,
            cause=_("%(deal)s: действует версия заказа №%(number)s на %(total)s")
            % {"deal": deal_label(deal), "number": version.number, "total": rub(version.total)},
        )


def _locked_order_version(version: OrderVersion) -> tuple[Deal, Order, OrderVersion]:
    """The version's deal, order and the version itself, locked in the order every order write takes."""
    deal_id = OrderVersion.objects.filter(pk=version.pk).values_list("order__deal_id", flat=True).get()
    # No key lock, as every deal write takes: a statement locked meanwhile checks its lines' deals.
    deal = Deal.objects.select_for_update(no_key=True).get(pk=deal_id)
    order = Order.objects.select_for_update(no_key=True).get(deal=deal)
    return deal, order, OrderVersion.objects.select_for_update(no_key=True).get(pk=version.pk)


def _ensure_pending(version: OrderVersion) -> None:
    if version.status != OrderVersion.Status.PENDING:
        raise DealRuleError(
            _("Версия №%(number)s заказа уже не ждёт согласования: %(status)s.")
            % {"number": version.number, "status": version.get_status_display().lower()}
        )


def _deferred_limit_refusal(check: DeferredLimitCheck) -> str:
    return _(
        "Заказ выводит клиента «%(client)s» за лимит отсрочки: неоплаченная отсрочка станет %(after)s при "
        "лимите %(limit)s (превышение %(excess)s)."
    ) % {
        "client": check.client.name,
        "after": rub(check.unpaid_after),
        "limit": rub(check.limit),
        "excess": rub(check.excess),
    }


@transaction.atomic
def order_set_lines(
    *,
    acting_user: User,
    deal: Deal,
    lines: Sequence[OrderLineInput],
    comment: str = "",
    confirmed_prices: Iterable[tuple[int, Decimal]] = (),
) -> Order:
    """Submits the order's lines as its next version. Until production first approves the order the
    version is written into it in place; from then on the approved version stays in force and this one
    waits for production (and, when it takes the client over its deferred limit, for the head). A
    version that replaces one still waiting marks it superseded; a total below what the deal has already
    been paid is refused.

    A line priced further from the list price than PRICE_DEVIATION_CONFIRM_SHARE goes to production only
    when its (product id, price) is among ``confirmed_prices`` (the hunter saw the difference and
    confirmed it) or already stands in the order in force or the version waiting; otherwise
    :class:`PricesNotConfirmed` names the lines and nothing is saved."""
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    rows = _checked_order_rows(lines)
    total = order_lines_total((q, price) for _p, q, price, _c in rows)
    cost_total = round_kopecks(sum((q * cost for _p, q, _price, cost in rows), Decimal("0")))
    _check_not_below_paid(deal, total)
    order, _created = Order.objects.select_for_update().get_or_create(deal=deal)
    in_force = order.production_status == Order.ProductionStatus.APPROVED
    pending = order.versions.filter(status=OrderVersion.Status.PENDING).first()
    if pending is not None and _same_lines(rows, pending.lines.all()):
        raise ValidationError(
            _("Такая версия заказа (№%(number)s) уже ждёт согласования производства.")
            % {"number": pending.number}
        )
    if in_force and _same_lines(rows, order.lines.all()):
        raise ValidationError(_("Позиции совпадают с действующим заказом: менять нечего."))
    standing = {(line.product_id, line.price) for line in order.lines.all()}
    if pending is not None:
        standing |= {(line.product_id, line.price) for line in pending.lines.all()}
    confirmed = {(product_id, Decimal(price)) for product_id, price in confirmed_prices} | standing
    unconfirmed = [deviation for deviation in price_deviations(rows) if deviation.key not in confirmed]
    if unconfirmed:
        raise PricesNotConfirmed(unconfirmed)
    if pending is not None:
        pending.status = OrderVersion.Status.SUPERSEDED
        pending.save(update_fields=["status"])
    number = (order.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    version = OrderVersion.objects.create(
        order=order,
        number=number,
        total=total,
        cost_total=cost_total,
        comment=comment.strip(),
        created_by=acting_user,
    )
    OrderVersionLine.objects.bulk_create(
        OrderVersionLine(version=version, product=p, quantity=q, price=price, cost=cost)
        for p, q, price, cost in rows
    )
    events.order_version_submitted(version=version, acting_user=acting_user)
    if not in_force:
        _put_in_force(order, version, deal=deal)
        order.production_status = Order.ProductionStatus.PENDING
        order.production_comment = ""
        order.production_decided_by = None
        order.production_decided_at = None
        order.save(
            update_fields=[
                "production_status",
                "production_comment",
                "production_decided_by",
                "production_decided_at",
            ]
        )
    return order


@transaction.atomic
def order_version_decide(
    *, acting_user: User, version: OrderVersion, approve: bool, comment: str = ""
) -> OrderVersion:
    """Production approves or declines a version waiting for it. An approved version comes into force at
    once: the order's lines and totals, the deal's completion and the pay of everyone credited with its
    payments follow in the same transaction. A version that takes the client over its deferred limit is
    approved only after the head has agreed to the excess."""
    if not can(acting_user, Capability.HANDLE_PRODUCTION):
        raise PermissionDenied
    comment = comment.strip()
    if not approve and not comment:
        raise ValidationError(_("Напишите, почему заказ отклонён."))
    deal, order, version = _locked_order_version(version)
    _ensure_pending(version)
    now = timezone.now()
    if approve:
        if deal.status != DealStatus.OPEN:
            raise DealRuleError(_("Сделка закрыта: согласовать заказ по ней нельзя."))
        _check_not_below_paid(deal, version.total)
        check = order_version_limit_check(version)
        if check is not None and check.exceeded and version.limit_approved_at is None:
            raise DealRuleError(
                _deferred_limit_refusal(check),
                _("Сначала превышение должен согласовать руководитель отдела продаж."),
            )
    version.status = OrderVersion.Status.APPROVED if approve else OrderVersion.Status.DECLINED
    version.decided_by = acting_user
    version.decided_at = now
    version.decision_comment = comment
    version.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    if approve:
        _put_in_force(order, version, deal=deal)
        _order_decided(order, status=Order.ProductionStatus.APPROVED, by=acting_user, at=now, comment=comment)
    else:
        _order_declined(order, by=acting_user, at=now, comment=comment)
    events.order_version_decided(version=version, acting_user=acting_user)
    return version


def _order_declined(order: Order, *, by: User, at, comment: str) -> None:
    """A declined version declines the order only while no version of it is in force; a declined change
    leaves the approved version in force as it was."""
    if order.production_status != Order.ProductionStatus.APPROVED:
        _order_decided(order, status=Order.ProductionStatus.DECLINED, by=by, at=at, comment=comment)


def _order_decided(order: Order, *, status: str, by: User, at, comment: str) -> None:
    order.production_status = status
    order.production_comment = comment
    order.production_decided_by = by
    order.production_decided_at = at
    order.save(
        update_fields=[
            "production_status",
            "production_comment",
            "production_decided_by",
            "production_decided_at",
        ]
    )


def order_decide(*, acting_user: User, order: Order, approve: bool, comment: str = "") -> Order:
    """Production's decision on the order's version waiting for approval."""
    if not can(acting_user, Capability.HANDLE_PRODUCTION):
        raise PermissionDenied
    version = OrderVersion.objects.filter(order=order, status=OrderVersion.Status.PENDING).first()
    if version is None:
        raise DealRuleError(_("У заказа нет версии, ждущей согласования."))
    order_version_decide(acting_user=acting_user, version=version, approve=approve, comment=comment)
    return Order.objects.get(pk=order.pk)


@transaction.atomic
def order_version_limit_decide(
    *, acting_user: User, version: OrderVersion, approve: bool, comment: str = ""
) -> OrderVersion:
    """The sales head's word on a version that takes the client's unpaid deferred total over its limit
    (SPEC §5): agreed, production may approve it; refused (with the reason), the version is declined."""
    if not can(acting_user, Capability.VIEW_ALL_HUNTERS):
        raise PermissionDenied
    comment = comment.strip()
    _deal, order, version = _locked_order_version(version)
    _ensure_pending(version)
    check = order_version_limit_check(version)
    if check is None or not check.exceeded:
        raise DealRuleError(
            _("Эта версия заказа не выводит клиента за лимит отсрочки: согласование руководителя не нужно.")
        )
    if version.limit_approved_at is not None:
        raise DealRuleError(_("Превышение лимита по этой версии заказа уже согласовано."))
    if not approve and not comment:
        raise ValidationError(_("Напишите, почему превышение лимита не согласовано."))
    now = timezone.now()
    version.limit_comment = comment
    if approve:
        version.limit_approved_by = acting_user
        version.limit_approved_at = now
        version.save(update_fields=["limit_approved_by", "limit_approved_at", "limit_comment"])
        return version
    version.status = OrderVersion.Status.DECLINED
    version.decided_by = acting_user
    version.decided_at = now
    version.decision_comment = comment
    version.save(update_fields=["status", "decided_by", "decided_at", "decision_comment", "limit_comment"])
    _order_declined(order, by=acting_user, at=now, comment=comment)
    events.order_version_decided(version=version, acting_user=acting_user)
    return version


@transaction.atomic
def shipment_record(
    *,
    acting_user: User,
    deal: Deal,
    receiver_name: str,
    receiver_phone: str,
    delivery_address: str,
    courier_date: date,
    received_on: date | None = None,
) -> Shipment:
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    dates.refuse_dates(
        received_on=dates.receipt_problem(
            received_on=received_on, courier_date=courier_date, today=timezone.localdate()
        )
    )
    shipment, _created = Shipment.objects.update_or_create(
        deal=deal,
        defaults={
            "receiver_name": receiver_name.strip(),
            "receiver_phone": normalize_phone(receiver_phone),
            "delivery_address": delivery_address.strip(),
            "courier_date": courier_date,
            "received_on": received_on,
        },
    )
    return shipment


def deal_label(deal: Deal) -> str:
    """A deal as people name it in messages: its client, then the deal."""
    return f"{deal.client.name} — {deal}"


def deal_in_finance(deal: Deal) -> bool:
    """The accountant works this deal (stage 6 on, or it has a payment or an invoice)."""
    return Deal.objects.in_finance().filter(pk=deal.pk).exists()


def _replayed(*, idempotency_key: str, deal: Deal, kind: str, amount: Decimal) -> Payment | None:
    """The entry a form already recorded under this key (the same submission sent again), or None."""
    if not idempotency_key:
        return None
    existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.deal_id != deal.pk or existing.kind != kind or abs(existing.amount) != amount:
        raise ValidationError(_("Эта форма уже была отправлена с другими данными: откройте сделку заново."))
    return existing


def _check_bank_document(*, deal: Deal, bank_document: str, amount: Decimal, on: date, kind: str) -> None:
    """One bank document is one entry on a deal. The same text again, or the same number with the same
    amount and date however it is written («318», «п/п 318 от 05.03.2026», «№ 0318»: the bank import's
    rule, ``deals.documents``), is refused with what was recorded; the same text with another amount or
    date is refused too, so a different sum under a used number is never taken for the old one."""
    if not bank_document:
        return
    number = document_number_key(bank_document)
    for existing in Payment.objects.filter(deal=deal, kind=kind).exclude(bank_document=""):
        if document_number_key(existing.bank_document) != number:
            continue
        same = abs(existing.amount) == amount and on in (
            existing.received_on,
            document_date(existing.bank_document, existing.received_on),
        )
        if not same and existing.bank_document != bank_document:
            continue  # the same number on another day for another sum: another document
        figures = {
            "document": existing.bank_document,
            "kind": existing.get_kind_display().lower(),
            "amount": rub(abs(existing.amount)),
            "date": f"{existing.received_on:%d.%m.%Y}",
        }
        if same:
            message = _("Документ №%(document)s уже внесён: %(kind)s %(amount)s от %(date)s.") % figures
        else:
            message = (
                _(
                    "По документу №%(document)s уже внесена %(kind)s %(amount)s от %(date)s: другая сумма "
                    "или дата под тем же номером — проверьте выписку."
                )
                % figures
            )
        raise DuplicatePayment(message, existing)


def deal_paid_total(deal: Deal) -> Decimal:
    return deal.payments.aggregate(total=MoneySum("amount"))["total"] or Decimal("0")


def deal_outstanding(deal: Deal) -> Decimal:
    """What the order still lacks: its total less what was paid (net of refunds)."""
    total = Order.objects.filter(deal=deal).values_list("total", flat=True).first() or Decimal("0")
    return total - deal_paid_total(deal)


@transaction.atomic
def payment_record(
    *,
    acting_user: User,
    deal: Deal,
    amount: Decimal,
    received_on: date,
    bank_document: str = "",
    recorded_at: datetime | None = None,
    idempotency_key: str = "",
) -> Payment:
    """Records money received on a deal, credited to the deal's hunter now; a transfer later never moves
    it. It counts in its receipt month, or the first open month when that one is locked (late). A
    payment beyond what the order still lacks, or a bank document already recorded, is refused."""
    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    amount = round_kopecks(_checked_amount(amount, not_positive=_("Сумма оплаты должна быть больше нуля.")))
    bank_document = _checked_bank_document(bank_document)
    deal = _locked_deal(deal)
    replayed = _replayed(idempotency_key=idempotency_key, deal=deal, kind=Payment.Kind.PAYMENT, amount=amount)
    if replayed is not None:
        return replayed
    if not deal_in_finance(deal):
        raise DealRuleError(_("Оплаты вносятся по сделкам с этапа «Сделка»."))
    _check_bank_document(
        deal=deal, bank_document=bank_document, amount=amount, on=received_on, kind=Payment.Kind.PAYMENT
    )
    outstanding = deal_outstanding(deal)
    if amount > outstanding:
        total = Order.objects.filter(deal=deal).values_list("total", flat=True).first() or Decimal("0")
        raise ValidationError(
            {
                "amount": _(
                    "Оплата %(amount)s больше, чем осталось оплатить по заказу: %(outstanding)s "
                    "(сумма заказа %(total)s, оплачено %(paid)s)."
                )
                % {
                    "amount": rub(amount),
                    "outstanding": rub(max(outstanding, Decimal("0"))),
                    "total": rub(total),
                    "paid": rub(total - outstanding),
                }
            }
        )
    accrual_month = accrual_month_for_update(hunter_id=deal.owner_id, month=received_on)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                deal=deal,
                amount=amount,
                received_on=received_on,
                bank_document=bank_document,
                credited_to_id=deal.owner_id,
                recorded_by=acting_user,
                recorded_at=recorded_at or timezone.now(),
                accrual_month=accrual_month,
                late=accrual_month != month_start(received_on),
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # Only a concurrent entry of the same form or document gets here (the deal row is locked).
        _replayed(idempotency_key=idempotency_key, deal=deal, kind=Payment.Kind.PAYMENT, amount=amount)
        _check_bank_document(
            deal=deal, bank_document=bank_document, amount=amount, on=received_on, kind=Payment.Kind.PAYMENT
        )
        raise
    deal_update_paid_in_full(deal)
    cause = _("внесена оплата %(amount)s: %(deal)s") % {"amount": rub(amount), "deal": deal_label(deal)}
    pay_changed(hunter_ids=[deal.owner_id], month=accrual_month, cause=cause)
    _pay_changed_for_clawbacks(deal, cause=cause)
    progress_schedule(months=[accrual_month], hunter_ids=[deal.owner_id])
    events.payment_recorded(payment=payment, acting_user=acting_user)
    return payment


@transaction.atomic
def payment_refund(
    *,
    acting_user: User,
    deal: Deal,
    amount: Decimal,
    recorded_on: date,
    bank_document: str = "",
    idempotency_key: str = "",
) -> Payment:
    """Records money returned to the client as a negative payment. It reduces the revenue and margin of
    the deal's hunter of now, in the month it is recorded in, and takes back commission from each hunter
    credited with the deal's payments, in proportion to what each earned on it (SPEC §5.8)."""
    if not can(acting_user, Capability.RECORD_PAYMENTS):
        raise PermissionDenied
    amount = round_kopecks(_checked_amount(amount, not_positive=_("Сумма возврата должна быть больше нуля.")))
    bank_document = _checked_bank_document(bank_document)
    deal = _locked_deal(deal)
    replayed = _replayed(idempotency_key=idempotency_key, deal=deal, kind=Payment.Kind.REFUND, amount=amount)
    if replayed is not None:
        return replayed
    _check_bank_document(
        deal=deal, bank_document=bank_document, amount=amount, on=recorded_on, kind=Payment.Kind.REFUND
    )
    paid = deal_paid_total(deal)
    if amount > paid:
        raise ValidationError(
            {"amount": _("Вернуть можно не больше, чем оплачено: %(paid)s.") % {"paid": rub(paid)}}
        )
    earners = sorted(
        set(deal.payments.filter(kind=Payment.Kind.PAYMENT).values_list("credited_to_id", flat=True))
    )
    months = {
        hunter_id: accrual_month_for_update(hunter_id=hunter_id, month=recorded_on)
        for hunter_id in sorted({deal.owner_id, *earners})
    }
    accrual_month = months[deal.owner_id]
    try:
        with transaction.atomic():
            refund = Payment.objects.create(
                deal=deal,
                kind=Payment.Kind.REFUND,
                amount=-amount,
                received_on=recorded_on,
                bank_document=bank_document,
                credited_to_id=deal.owner_id,
                recorded_by=acting_user,
                accrual_month=accrual_month,
                late=accrual_month != month_start(recorded_on),
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        _replayed(idempotency_key=idempotency_key, deal=deal, kind=Payment.Kind.REFUND, amount=amount)
        _check_bank_document(
            deal=deal, bank_document=bank_document, amount=amount, on=recorded_on, kind=Payment.Kind.REFUND
        )
        raise
    Clawback.objects.bulk_create(
        Clawback(
            refund=refund,
            hunter_id=hunter_id,
            accrual_month=months[hunter_id],
            late=months[hunter_id] != month_start(recorded_on),
        )
        for hunter_id in earners
    )
    deal_update_paid_in_full(deal)
    cause = _("внесён возврат %(amount)s: %(deal)s") % {"amount": rub(amount), "deal": deal_label(deal)}
    for hunter_id, month in months.items():  # the revenue of the hunter of now and each earner's clawback
        pay_changed(hunter_ids=[hunter_id], month=month, cause=cause)
    _pay_changed_for_clawbacks(deal, cause=cause)  # earlier refunds whose shares this one changes
    progress_schedule(months=set(months.values()), hunter_ids=list(months))
    events.payment_recorded(payment=refund, acting_user=acting_user)
    return refund


def deal_update_paid_in_full(deal: Deal) -> None:
    """Stores when the deal's payments first covered its order total, for whom and in which month it
    counts: a deal completed for the hunter the covering payment is credited to, in that payment's
    accrual month (SPEC §4, §5). Payments count in order of receipt (date, then entry); a later refund
    does not move the completion into another month, it reduces the revenue of its own month instead."""
    total = Order.objects.filter(deal=deal).values_list("total", flat=True).first() or Decimal("0")
    completion = (None, None, None)
    if total > 0:
        running = Decimal("0")
        payments = deal.payments.order_by("received_on", "pk").values_list(
            "amount", "received_on", "credited_to_id", "accrual_month"
        )
        for amount, received_on, credited_to_id, accrual_month in payments:
            running += amount
            if running >= total:
                completion = (received_on, credited_to_id, accrual_month)
                break
    previous = (
        Deal.objects.filter(pk=deal.pk)
        .values_list("paid_in_full_on", "completed_for_id", "completed_in")
        .first()
    )
    if previous != completion:
        Deal.objects.filter(pk=deal.pk).update(
            paid_in_full_on=completion[0], completed_for_id=completion[1], completed_in=completion[2]
        )
        for _day, hunter_id, month in (previous, completion):
            if month is not None:
                pay_changed(
                    hunter_ids=[hunter_id], month=month, cause=_("изменились завершённые сделки месяца")
                )
        changed = [
            (hunter_id, month) for _day, hunter_id, month in (previous, completion) if month is not None
        ]
        progress_schedule(
            months=[month for _hunter, month in changed], hunter_ids=[hunter for hunter, _month in changed]
        )


@transaction.atomic
def feedback_record(
    *,
    acting_user: User,
    deal: Deal,
    has_quality_claims: bool,
    repeat_order_expected: bool,
    claims_text: str = "",
    comment: str = "",
) -> Feedback:
    _ensure_works_deal(acting_user, deal)
    deal = _open_locked_deal(deal)
    if has_quality_claims and not claims_text.strip():
        raise ValidationError({"claims_text": _("Опишите претензии клиента к качеству.")})
    feedback, _created = Feedback.objects.update_or_create(
        deal=deal,
        defaults={
            "has_quality_claims": has_quality_claims,
            "claims_text": claims_text.strip(),
            "repeat_order_expected": repeat_order_expected,
            "comment": comment.strip(),
            "author": acting_user,
        },
    )
    return feedback


# --- transfers ----------------------------------------------------------------------------------


def _ensure_can_transfer(acting_user: User, to_owner: User) -> None:
    if not can(acting_user, Capability.TRANSFER_CLIENTS):
        raise PermissionDenied
    if to_owner.role != Role.HUNTER or not to_owner.is_active:
        raise ValidationError(_("Передать можно только работающему хантеру."))


@transaction.atomic
def client_transfer(
    *,
    acting_user: User,
    client: Client,
    to_owner: User,
    return_on: date | None = None,
    reason: str = "",
    returns: Transfer | None = None,
) -> Transfer:
    """Hands a client and its open deals to another hunter; the transfer is logged. Money already
    recorded stays credited to whoever earned it: only later payments count for the new hunter."""
    _ensure_can_transfer(acting_user, to_owner)
    client = _locked_client(client)
    if client.owner_id == to_owner.pk:
        raise ValidationError(_("Клиент уже у этого хантера."))
    transfer = Transfer.objects.create(
        client=client,
        from_owner=client.owner,
        to_owner=to_owner,
        by=acting_user,
        return_on=return_on,
        reason=reason.strip(),
        returns=returns,
    )
    # Deals the head handed to someone else separately stay with that hunter.
    client.deals.filter(status=DealStatus.OPEN, owner=client.owner).update(owner=to_owner)
    client.owner = to_owner
    client.save(update_fields=["owner"])
    return transfer


@transaction.atomic
def deal_transfer(
    *,
    acting_user: User,
    deal: Deal,
    to_owner: User,
    return_on: date | None = None,
    reason: str = "",
    returns: Transfer | None = None,
) -> Transfer:
    """Hands one open deal to another hunter; its recorded payments stay with whoever earned them."""
    _ensure_can_transfer(acting_user, to_owner)
    deal = _locked_deal(deal)
    if deal.owner_id == to_owner.pk:
        raise ValidationError(_("Сделка уже у этого хантера."))
    if deal.status != DealStatus.OPEN:
        raise ValidationError(_("Передать можно только открытую сделку."))
    transfer = Transfer.objects.create(
        client=deal.client,
        deal=deal,
        from_owner=deal.owner,
        to_owner=to_owner,
        by=acting_user,
        return_on=return_on,
        reason=reason.strip(),
        returns=returns,
    )
    deal.owner = to_owner
    deal.save(update_fields=["owner"])
    return transfer


@transaction.atomic
def transfer_return(*, acting_user: User, transfer: Transfer) -> Transfer:
    """Ends a temporary transfer now: the client (with the open deals the stand-in holds) or the deal goes
    back to the hunter it came from; logged as a transfer that names the one it ends."""
    if not can(acting_user, Capability.TRANSFER_CLIENTS):
        raise PermissionDenied
    from .selectors import transfer_is_returnable

    # The transfer row only: PostgreSQL cannot lock the missing deal of a client's transfer (the outer
    # join's nullable side), and the transfer below locks the client or the deal itself.
    transfer = (
        Transfer.objects.select_for_update(no_key=True, of=("self",))
        .select_related("client", "deal")
        .get(pk=transfer.pk)
    )
    if not transfer_is_returnable(transfer):
        raise ValidationError(_("Эта передача уже завершена или не была временной."))
    reason = _("Возврат после временной передачи от %(day)s") % {
        "day": f"{timezone.localtime(transfer.at):%d.%m.%Y}"
    }
    back_to = transfer.from_owner
    if transfer.deal_id:
        return deal_transfer(
            acting_user=acting_user, deal=transfer.deal, to_owner=back_to, reason=reason, returns=transfer
        )
    return client_transfer(
        acting_user=acting_user, client=transfer.client, to_owner=back_to, reason=reason, returns=transfer
    )


# --- lead import ----------------------------------------------------------------------------------

# Phones looked up per query: well under the bind-parameter limits of SQLite and PostgreSQL.
_PHONE_LOOKUP_BATCH = 2000
# Rejected rows a finished import keeps for its report (the count is kept whatever it is).
LEAD_REPORT_ROWS = 1000


@dataclass
class LeadImportPlan:
    to_create: list[LeadRow]
    rejected: list[RejectedRow]
    duplicates: int = 0  # rows refused because a phone of theirs is already in the base


class LeadUploadLimitReached(ValidationError):
    """The person has checked as many lead lists this hour as LEAD_IMPORT_UPLOADS_PER_HOUR allows."""

    def __init__(self, *, limit: int, retry_at: datetime):
        self.retry_at = retry_at
        super().__init__(
            _(
                "Списки лидов можно проверять не больше %(limit)s раз в час. Следующую проверку можно "
                "сделать в %(time)s."
            )
            % {"limit": limit, "time": f"{timezone.localtime(retry_at):%H:%M}"},
            code="lead_upload_limit",
        )


def _duplicate_reason(phone: str, *, name: str, owner_id: int, viewer: User | None, owners: dict) -> str:
    # SPEC §2: a card's owner is named to the sales head only; a hunter learns the names of their own cards
    # and of no one else's (the check would otherwise look up the whole base, name by name).
    if viewer is not None and can(viewer, Capability.VIEW_ALL_HUNTERS):
        return _("телефон %(phone)s уже есть в базе у клиента «%(name)s» (хантер: %(owner)s)") % {
            "phone": phone,
            "name": name,
            "owner": owners.get(owner_id, "—"),
        }
    if viewer is not None and owner_id == viewer.pk:
        return _("телефон %(phone)s уже есть в базе у вашего клиента «%(name)s»") % {
            "phone": phone,
            "name": name,
        }
    return _("телефон %(phone)s уже в базе") % {"phone": phone}


def leads_plan(*, parsed: ParsedLeads, viewer: User | None = None) -> LeadImportPlan:
    """The file's own rejections plus rows whose phone is already in the base. The existing card is named
    only to whoever may see it (``viewer``): its hunter and the sales head."""
    phones = sorted({phone for row in parsed.valid for phone in row.phones})
    existing: dict[str, tuple[str, int]] = {}
    for start in range(0, len(phones), _PHONE_LOOKUP_BATCH):
        batch = phones[start : start + _PHONE_LOOKUP_BATCH]
        for number, name, owner_id in ClientPhone.objects.filter(number__in=batch).values_list(
            "number", "client__name", "client__owner_id"
        ):
            existing[number] = (name, owner_id)
    owners: dict[int, str] = {}
    if existing and viewer is not None and can(viewer, Capability.VIEW_ALL_HUNTERS):
        owner_ids = {owner_id for _name, owner_id in existing.values()}
        owners = {user.pk: str(user) for user in User.objects.filter(pk__in=owner_ids)}
    to_create: list[LeadRow] = []
    rejected = list(parsed.rejected)
    duplicates = 0
    for row in parsed.valid:
        taken = [phone for phone in row.phones if phone in existing]
        if taken:
            name, owner_id = existing[taken[0]]
            reason = _duplicate_reason(taken[0], name=name, owner_id=owner_id, viewer=viewer, owners=owners)
            rejected.append(RejectedRow(row_number=row.row_number, name=row.name, reasons=[reason]))
            duplicates += 1
        else:
            to_create.append(row)
    rejected.sort(key=lambda row: row.row_number)
    return LeadImportPlan(to_create=to_create, rejected=rejected, duplicates=duplicates)


def lead_upload_quota_check(*, acting_user: User) -> None:
    """Raises LeadUploadLimitReached, saying when the next check is possible, once the person has checked
    LEAD_IMPORT_UPLOADS_PER_HOUR lists within the last hour."""
    limit = settings.LEAD_IMPORT_UPLOADS_PER_HOUR
    hour = timedelta(hours=1)
    recent = list(
        LeadImportUpload.objects.filter(by=acting_user, at__gt=timezone.now() - hour)
        .order_by("-at")
        .values_list("at", flat=True)[: max(limit, 0)]
    )
    if len(recent) >= limit:
        raise LeadUploadLimitReached(limit=limit, retry_at=(recent[-1] if recent else timezone.now()) + hour)


@transaction.atomic
def leads_preview(*, acting_user: User, parsed: ParsedLeads, file_name: str, rows: int) -> LeadImportPlan:
    """What importing the list would do. Each preview checks the list's phones against the whole base, so
    it counts against the hourly limit and is logged for the head's audit history."""
    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    # One check at a time per person, so that two at once cannot both take the last one of the hour.
    User.objects.select_for_update().filter(pk=acting_user.pk).first()
    lead_upload_quota_check(acting_user=acting_user)
    plan = leads_plan(parsed=parsed, viewer=acting_user)
    LeadImportUpload.objects.create(
        by=acting_user, file_name=file_name[:255], rows=rows, duplicates=plan.duplicates
    )
    return plan


@transaction.atomic
def leads_import(
    *, acting_user: User, parsed: ParsedLeads, source: str, owner: User | None = None
) -> LeadImportPlan:
    """Imports every valid, new lead of a parsed file in one transaction: all or nothing."""
    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    owner = owner or acting_user
    if owner.pk != acting_user.pk and not can(acting_user, Capability.VIEW_ALL_HUNTERS):
        raise PermissionDenied
    plan = leads_plan(parsed=parsed, viewer=acting_user)
    now = timezone.now()
    clients = [
        Client(
            name=row.name[:255],
            address=row.address[:500],
            city=row.city[:100],
            segment=row.segment[:200],
            email=row.email,
            website=row.website[:300],
            source=source,
            owner=owner,
            created_by=acting_user,
            created_at=now,
        )
        for row in plan.to_create
    ]
    for client, row in zip(clients, plan.to_create, strict=True):
        client.search_text = client_search_text(client, phones=row.phones, contacts=())
    clients = Client.objects.bulk_create(clients)
    ClientPhone.objects.bulk_create(
        [
            ClientPhone(client=client, number=phone)
            for client, row in zip(clients, plan.to_create, strict=True)
            for phone in row.phones
        ]
    )
    progress_schedule(months=[timezone.localdate(now)], hunter_ids=[acting_user.pk])
    return plan


def leads_import_enqueue(
    *,
    acting_user: User,
    table: Table,
    mapping: ColumnMapping,
    file_name: str,
    source: str,
    owner: User | None,
    upload: str,
) -> ImportJob:
    """Queues the import of a previewed list (SPEC §7) and returns its job; the list's upload is imported
    by one job however often it is confirmed."""
    from .tasks import import_leads

    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    if owner is not None and owner.pk != acting_user.pk and not can(acting_user, Capability.VIEW_ALL_HUNTERS):
        raise PermissionDenied
    existing = ImportJob.objects.filter(kind=ImportJob.Kind.LEADS, upload=upload).first()
    if existing is not None:
        if existing.owner_id != acting_user.pk:
            raise PermissionDenied
        return existing
    try:
        return import_job_create(
            acting_user=acting_user,
            kind=ImportJob.Kind.LEADS,
            data=table.dumps(),
            task=import_leads,
            file_name=file_name,
            params={
                "mapping": mapping.as_choices(),
                "source": source,
                "owner": owner.pk if owner is not None else None,
            },
            total=len(table.rows),
            upload=upload,
        )
    except IntegrityError:  # the same confirmation sent twice at once: the first one's job
        return ImportJob.objects.get(kind=ImportJob.Kind.LEADS, upload=upload)


def _lead_report(plan: LeadImportPlan) -> dict:
    return {
        "created": len(plan.to_create),
        "rejected_count": len(plan.rejected),
        "rejected": [
            {"row": row.row_number, "name": row.name, "reasons": row.reasons}
            for row in plan.rejected[:LEAD_REPORT_ROWS]
        ],
    }


def leads_import_run(*, job_id: int) -> None:
    """The background half of a lead import: the list as read at upload, the columns as previewed."""

    def work(run: JobRun) -> None:
        job = run.job
        table = Table.loads(run.input())
        mapping = ColumnMapping.from_choices(job.params["mapping"])
        parsed = parse_leads(table, mapping)
        owner = User.objects.filter(pk=job.params["owner"]).first() if job.params.get("owner") else None
        try:
            with run.locked():
                plan = leads_import(
                    acting_user=job.owner, parsed=parsed, source=job.params["source"], owner=owner
                )
                run.finish(_lead_report(plan))
        except PermissionDenied:
            raise ImportJobFailed(
                _("У вас больше нет права импортировать лиды: ничего не импортировано.")
            ) from None
        except IntegrityError:
            raise ImportJobFailed(
                _(
                    "Пока шёл импорт, часть телефонов из файла появилась в базе: ничего не импортировано. "
                    "Загрузите файл ещё раз — проверка покажет, что уже есть."
                )
            ) from None

    import_job_run(job_id=job_id, work=work)
