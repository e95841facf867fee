"""Bank statements imported and re-imported in any order, any lines confirmed on any deal, payments keyed in
by hand in between: each bank document is on a deal at most once, no deal is paid beyond its order, and a
confirmation records every chosen line or none.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compensation.bank_import import ImportRefused, bank_document, proposals, record_confirmed
from deals.models import Deal, Order, Payment
from deals.services import client_update_requisites, payment_record
from deals.stages import Stage
from tests.deals.factories import ENTREPRENEUR_REQUISITES, make_client, make_deal
from tests.properties.support import assert_clear_russian, rolled_back

# Examples per property (hypothesis max_examples).
IMPORT_EXAMPLES = 40

UNKNOWN_INN = "5408131553"


@dataclass(frozen=True)
class Document:
    """A bank document the statements may carry; payer and invoice are indexes into the test's deals."""

    number: str
    day: int  # of March 2026
    credited_day: int
    amount: Decimal
    payer: int | None  # None: a payer who is no client
    invoice: int | None  # None: no invoice in the purpose

    @property
    def document_date(self) -> date:
        return date(2026, 3, self.day)

    @property
    def credited_on(self) -> date:
        return date(2026, 3, self.credited_day)


# Orders are 5 000,00 each. The deals 0 and 1 are of one client, the deal 2 of another.
POOL = [
    Document("101", 5, 5, Decimal("1000.00"), payer=0, invoice=0),
    Document("102", 6, 7, Decimal("2500.00"), payer=0, invoice=None),
    Document("101", 5, 5, Decimal("1500.00"), payer=0, invoice=0),  # the number of the first, another sum
    Document("0103", 9, 9, Decimal("5000.00"), payer=2, invoice=2),
    Document("104", 10, 11, Decimal("4000.00"), payer=None, invoice=None),
    Document("105", 12, 12, Decimal("6000.00"), payer=2, invoice=2),  # more than any order
    Document("106", 12, 13, Decimal("2500.00"), payer=0, invoice=1),
]


def statement(documents: list[Document], deals: list[Deal]) -> bytes:
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "ДатаНачала=01.03.2026",
        "ДатаКонца=31.03.2026",
        "РасчСчет=40702810900000000001",
    ]
    for document in documents:
        inn = UNKNOWN_INN if document.payer is None else deals[document.payer].client.inn
        purpose = "Оплата за бытовую химию"
        if document.invoice is not None:
            purpose = f"Оплата по счету № {deals[document.invoice].pk} от 03.03.2026 за бытовую химию"
        lines += [
            "СекцияДокумент=Платежное поручение",
            f"Номер={document.number}",
            f"Дата={document.document_date:%d.%m.%Y}",
            f"Сумма={document.amount}",
            "ПлательщикСчет=40702810938000012345",
            "Плательщик1=ООО «Ромашка»",
            f"ПлательщикИНН={inn}",
            "ПолучательСчет=40702810900000000001",
            "ПолучательИНН=8602000000",
            f"ДатаПоступило={document.credited_on:%d.%m.%Y}",
            f"НазначениеПлатежа={purpose}",
            "КонецДокумента",
        ]
    return "\r\n".join([*lines, "КонецФайла"]).encode("cp1251")


@dataclass(frozen=True)
class Import:
    documents: list[int]
    picks: list[object]  # per line: None, "proposed", "foreign" or the index of a deal


@dataclass(frozen=True)
class ByHand:
    document: int
    deal: int


# Mostly what the preview proposes, sometimes a deal by hand, now and then a deal the accountant doesn't work.
pick = st.sampled_from([None, "proposed", "proposed", "proposed", 0, 1, 2, "foreign"])
imports = st.integers(min_value=1, max_value=4).flatmap(
    lambda size: st.builds(
        Import,
        documents=st.lists(st.integers(min_value=0, max_value=len(POOL) - 1), min_size=size, max_size=size),
        picks=st.lists(pick, min_size=size, max_size=size),
    )
)
hand_entries = st.builds(
    ByHand,
    document=st.integers(min_value=0, max_value=len(POOL) - 1),
    deal=st.integers(min_value=0, max_value=2),
)
actions = st.lists(st.one_of(imports, imports, hand_entries), min_size=1, max_size=5)


@pytest.fixture
def deals(pipeline, hunter):
    first = pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    second = pipeline.advance_to(make_deal(acting_user=hunter, client=first.client), Stage.PAYMENT)
    client = make_client(acting_user=hunter, name="ИП Соколова")
    client_update_requisites(acting_user=hunter, client=client, requisites=ENTREPRENEUR_REQUISITES)
    third = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    return [Deal.objects.select_related("client").get(pk=deal.pk) for deal in (first, second, third)]


@pytest.fixture
def foreign_deal(hunter):
    """A deal the accountant does not work yet (stage 1, no payment, no invoice)."""
    return make_deal(acting_user=hunter)


def documents_on_deals(by_hand: dict[int, int]) -> Counter:
    """(deal id, pool index) of every payment: a hand entry as the test keyed it, an imported one by its
    bank document and amount."""
    found = Counter()
    for payment in Payment.objects.all():
        if payment.pk in by_hand:
            found[payment.deal_id, by_hand[payment.pk]] += 1
            continue
        [index] = [
            index
            for index, document in enumerate(POOL)
            if bank_document(_as_line(document)) == payment.bank_document
            and document.amount == payment.amount
        ]
        found[payment.deal_id, index] += 1
    return found


def _as_line(document: Document):
    from compensation.bank_statement import BankPayment

    return BankPayment(
        document_number=document.number,
        document_date=document.document_date,
        amount=document.amount,
        credited_on=document.credited_on,
        payer_name="",
        payer_inn="",
        payer_kpp="",
        payer_account="",
        recipient_account="",
        recipient_inn="",
        purpose="",
        section_line=0,
    )


def confirmed(accountant, data: bytes, chosen: dict[int, int]):
    """Confirms; checks that a refusal recorded nothing and says why in Russian, and that a confirmation
    counts each line once and records exactly what it reports."""
    before = Payment.objects.count()
    items, _errors = proposals(data, viewer=accountant)
    try:
        result = record_confirmed(acting_user=accountant, data=data, chosen=chosen)
    except ImportRefused as refused:
        assert Payment.objects.count() == before
        reasons = [item.refusal for item in refused.items if item.refusal] + refused.general
        assert reasons
        for reason in reasons:
            assert_clear_russian(reason)
        return None
    assert Payment.objects.count() == before + len(result.recorded)
    assert len(result.recorded) + len(result.already) + len(result.skipped) == len(items)
    return result


@pytest.mark.django_db
@settings(
    max_examples=IMPORT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions)
def test_any_imports_and_reimports_keep_each_document_once_per_deal_and_no_deal_overpaid(
    accountant, deals, foreign_deal, steps
):
    with rolled_back():
        by_hand: dict[int, int] = {}  # payment id → pool index, for the entries keyed in by hand
        for step in steps:
            if isinstance(step, ByHand):
                document, deal = POOL[step.document], deals[step.deal]
                if documents_on_deals(by_hand)[deal.pk, step.document]:
                    continue  # the accountant sees it on the deal and does not key it in again
                try:
                    payment = payment_record(
                        acting_user=accountant,
                        deal=deal,
                        amount=document.amount,
                        received_on=document.credited_on,
                        bank_document=document.number,
                    )
                except ValidationError:
                    event("keyed in: refused")
                else:
                    by_hand[payment.pk] = step.document
                    event("keyed in")
            else:
                data = statement([POOL[index] for index in step.documents], deals)
                items, _errors = proposals(data, viewer=accountant)
                chosen = {}
                for item, choice in zip(items, step.picks, strict=True):
                    if choice == "proposed" and item.chosen_deal_id:
                        chosen[item.index] = item.chosen_deal_id
                    elif choice == "foreign":
                        chosen[item.index] = foreign_deal.pk
                    elif isinstance(choice, int):
                        chosen[item.index] = deals[choice].pk
                result = confirmed(accountant, data, chosen)
                event("import: refused" if result is None else f"import: recorded {len(result.recorded)}")
                if result is not None:
                    again = confirmed(accountant, data, chosen)
                    assert again is not None and again.recorded == []

            assert max(documents_on_deals(by_hand).values(), default=0) <= 1
            for deal in deals:
                paid = sum((payment.amount for payment in Payment.objects.filter(deal=deal)), Decimal("0"))
                assert paid <= Order.objects.get(deal=deal).total
