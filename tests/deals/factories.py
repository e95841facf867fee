"""Products, clients and deals made the way the portal makes them: through ``deals.services``.

``Pipeline`` records each stage's facts through the stage services, as the hunter, production and the
accountant would, and moves a deal forward; tests use it to bring a deal to the stage they look at.
"""

import itertools
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import User
from deals.models import Client, Deal, DealDocument, Order, Product, SampleRequest
from deals.services import (
    OrderLineInput,
    Requisites,
    call_result_record,
    client_create,
    client_update_requisites,
    deal_create,
    deal_move,
    deal_win,
    document_upload,
    feedback_record,
    follow_up_record,
    order_decide,
    order_set_lines,
    payment_record,
    proposal_record,
    sample_request_create,
    sample_request_set_status,
    shipment_record,
)
from deals.stages import CallOutcome, Stage, next_stage
from deals.units import Unit

_sequence = itertools.count(1)

# Sberbank's public requisites with a client account whose key is valid for its БИК.
VALID_REQUISITES = Requisites(
    legal_name="ООО «Лотос»",
    inn="7707083893",
    kpp="773601001",
    ogrn="1027700132195",
    legal_address="г. Москва, ул. Вавилова, д. 19",
    bank_name="ПАО Сбербанк",
    bik="044525225",
    correspondent_account="30101810400000000225",
    settlement_account="40702810938000012345",
)
# An individual entrepreneur: 12-digit ИНН, 15-digit ОГРНИП, no КПП.
ENTREPRENEUR_REQUISITES = replace(
    VALID_REQUISITES,
    legal_name="ИП Соколова Мария Ивановна",
    inn="500100732259",
    kpp="",
    ogrn="304500116000157",
)

DEFAULT_ADDRESS = "г. Сургут, ул. Ленина, д. 1"


def unique_phone() -> str:
    return f"+7950{next(_sequence):07d}"


def branch_requisites() -> Requisites:
    """The same company's requisites with a КПП of its own: a branch, so never a duplicate."""
    return replace(VALID_REQUISITES, kpp=f"77360{next(_sequence) % 10000:04d}")


def invoice_pdf(name: str = "invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 test", content_type="application/pdf")


def make_product(
    *,
    name: str | None = None,
    list_price: Decimal = Decimal("500.00"),
    cost: Decimal = Decimal("200.00"),
    unit: str = Unit.PIECE,
) -> Product:
    return Product.objects.create(
        name=name or f"Средство для мытья полов №{next(_sequence)}",
        list_price=list_price,
        cost=cost,
        unit=unit,
    )


def make_client(
    *,
    acting_user: User,
    name: str | None = None,
    address: str = DEFAULT_ADDRESS,
    phones: list[str] | None = None,
    **card,
) -> Client:
    return client_create(
        acting_user=acting_user,
        name=name or f"Салон красоты №{next(_sequence)}",
        address=address,
        phones=[unique_phone()] if phones is None else phones,
        **card,
    )


def make_deal(*, acting_user: User, client: Client | None = None, **kwargs) -> Deal:
    client = client or make_client(acting_user=acting_user)
    return deal_create(acting_user=acting_user, client=client, **kwargs)


def make_deal_due(*, hunter: User, name: str, on, at=None) -> Deal:
    """A lead for a new client named ``name`` whose next contact (a task) was agreed for ``on`` (at ``at``)
    on a call."""
    from kpi.models import ActivityKind
    from kpi.services import activity_log

    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=name))
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.CALL,
        client=deal.client,
        deal=deal,
        next_contact_on=on,
        next_contact_time=at,
    )
    return deal


class Pipeline:
    """Records what each stage's exit criteria ask for, through the services, and moves deals on."""

    def __init__(self, *, hunter: User, production: User, accountant: User):
        self.hunter = hunter
        self.production = production
        self.accountant = accountant
        self._product: Product | None = None

    @property
    def product(self) -> Product:
        if self._product is None:
            self._product = make_product()
        return self._product

    def record(self, deal: Deal, stage: str | None = None) -> None:
        """Records the facts that let ``deal`` leave ``stage`` (its current stage by default)."""
        getattr(self, f"record_{stage or deal.stage}")(Deal.objects.get(pk=deal.pk))

    def record_lead(self, deal: Deal) -> None:
        """``make_client`` fills name, address and a phone already."""

    def record_call(self, deal: Deal) -> None:
        call_result_record(
            acting_user=self.hunter,
            deal=deal,
            outcome=CallOutcome.AGREED_PROPOSAL,
            call_description="Дозвонился до директора, рассказал об ассортименте",
            client_description="Сеть из трёх салонов красоты",
            decision_maker_email="director@example.ru",
        )

    def record_proposal(self, deal: Deal) -> None:
        proposal_record(
            acting_user=self.hunter,
            deal=deal,
            template_name="КП для салонов красоты",
            sent_to_email="director@example.ru",
            sent_at=timezone.now(),
            callback_on=timezone.localdate() + timedelta(days=3),
        )

    def record_samples(self, deal: Deal) -> None:
        request = sample_request_create(
            acting_user=self.hunter,
            deal=deal,
            lines=[(self.product, 2)],
            receiver_name="Мария Соколова",
            receiver_phone=unique_phone(),
            potential_volume="40 литров в месяц",
        )
        for status in (SampleRequest.Status.PREPARED, SampleRequest.Status.HANDED_OVER):
            sample_request_set_status(acting_user=self.production, request=request, status=status)

    def record_follow_up(self, deal: Deal) -> None:
        follow_up_record(
            acting_user=self.hunter, deal=deal, outcome="Клиент готов сделать заказ", client_confirmed=True
        )

    def record_deal(self, deal: Deal) -> None:
        order = order_set_lines(
            acting_user=self.hunter,
            deal=deal,
            lines=[OrderLineInput(product=self.product, quantity=Decimal("10"))],
        )
        client = Client.objects.get(pk=deal.client_id)
        if client.missing_requisites():
            client_update_requisites(acting_user=self.hunter, client=client, requisites=branch_requisites())
        order_decide(acting_user=self.production, order=order, approve=True)
        document_upload(
            acting_user=self.accountant,
            deal=deal,
            kind=DealDocument.Kind.INVOICE,
            file=invoice_pdf(),
            number=str(deal.pk),
        )

    def record_shipment(self, deal: Deal) -> None:
        shipment_record(
            acting_user=self.hunter,
            deal=deal,
            receiver_name="Мария Соколова",
            receiver_phone=unique_phone(),
            delivery_address=DEFAULT_ADDRESS,
            courier_date=timezone.localdate(),
            received_on=timezone.localdate(),
        )

    def record_payment(self, deal: Deal) -> None:
        payment_record(
            acting_user=self.accountant,
            deal=deal,
            amount=Order.objects.get(deal=deal).total,
            received_on=timezone.localdate(),
            bank_document=f"п/п {next(_sequence)}",
        )

    def record_closed(self, deal: Deal) -> None:
        feedback_record(
            acting_user=self.hunter, deal=deal, has_quality_claims=False, repeat_order_expected=True
        )

    def advance_to(self, deal: Deal, stage: str) -> Deal:
        """Moves ``deal`` forward stage by stage until it is at ``stage``; returns it fresh."""
        deal = Deal.objects.get(pk=deal.pk)
        while deal.stage != stage:
            self.record(deal)
            deal = deal_move(acting_user=self.hunter, deal=deal, to_stage=next_stage(deal.stage))
        return Deal.objects.get(pk=deal.pk)

    def win(self, deal: Deal) -> Deal:
        deal = self.advance_to(deal, Stage.CLOSED)
        self.record(deal)
        return deal_win(acting_user=self.hunter, deal=deal)


def formset_post(prefix: str, rows: list[dict], *, initial: int = 0, **fields) -> dict:
    """A line formset as the page posts it: the management form, then each row's fields (``DELETE``
    marks a removed row); ``fields`` are the form's other fields."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "50",
        **fields,
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            if name == "DELETE":
                if value:
                    data[f"{prefix}-{index}-DELETE"] = "on"
                continue
            data[f"{prefix}-{index}-{name}"] = "" if value is None else str(getattr(value, "pk", value))
    return data


def order_post(*rows: tuple, comment: str = "", initial: int = 0, **fields) -> dict:
    """The order form posted with lines (product, quantity[, price]) as typed: order_post((soap, "10",
    "237,50"))."""
    lines = [{"product": row[0], "quantity": row[1], "price": row[2] if len(row) > 2 else ""} for row in rows]
    return formset_post("lines", lines, initial=initial, comment=comment, **fields)


def samples_post(*rows: tuple, **fields) -> dict:
    """The sample request form posted with lines (product, quantity) and the receiver's fields."""
    fields = {
        "receiver_name": "Мария Соколова",
        "receiver_phone": "+7 912 000-11-22",
        "delivery_address": DEFAULT_ADDRESS,
        "potential_volume": "40 л в месяц",
        **fields,
    }
    lines = [{"product": product, "quantity": quantity} for product, quantity in rows]
    return formset_post("sample_lines", lines, **fields)
