"""The pay workflow as a state machine: random sequences of what the accountant, the head, the PBX and the
hunters do over several hunters and months, with the money invariants checked after every step.

What happens: payments (by hand and from bank statements, sometimes sent twice), refunds, transfers and
their returns, order versions production approves or declines, PBX calls, hand-entered meetings, plans,
approvals, locks, adjustments and marking paid.

Invariants:
- every payment is in exactly one statement, of the hunter it is credited to, in its accrual month;
  every refund's clawback share is in the statement of the hunter it is charged to;
- a locked statement never changes;
- an approved statement shows exactly what the head approved, or it is back in draft and marked as
  changed after approval; what a draft or an approved statement shows (stored figures) equals a fresh
  computation from the data;
- a statement's total is the sum of its lines;
- no deal's payments exceed its order, nor go below zero.
"""

import itertools
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from accounts.roles import Role
from compensation.approval import figures
from compensation.bank_import import record_confirmed
from compensation.changes import month_status
from compensation.engine import LineKind
from compensation.models import Statement
from compensation.services import (
    adjustment_add,
    statement_approve,
    statement_lock,
    statements_mark_paid,
)
from compensation.statements import compute_statement, statement_for
from deals.models import Clawback, Deal, Order, OrderLine, OrderVersion, Payment, Product, Transfer
from deals.selectors import transfer_is_returnable
from deals.services import (
    OrderLineInput,
    client_create,
    deal_import,
    deal_outstanding,
    deal_paid_total,
    deal_transfer,
    order_set_lines,
    order_version_decide,
    payment_record,
    payment_refund,
    transfer_return,
)
from kpi.models import ActivityKind, CallDirection
from kpi.services import PlanRow, activity_log, call_records_import, plans_save
from kpi.telephony import CallRow
from tests.factories import UserFactory
from tests.properties.support import RolledBackMachine
from tests.workflow import after_month

MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
HUNTERS = 3
DEALS = 4
KOPECK = Decimal("0.01")
_numbers = itertools.count(1)

hunter_index = st.integers(0, HUNTERS - 1)
deal_index = st.integers(0, DEALS - 1)
month_index = st.integers(0, len(MONTHS) - 1)
share = st.sampled_from([Decimal("0.2"), Decimal("0.5"), Decimal("1")])


def bank_statement(*, number: str, day: date, amount: Decimal) -> bytes:
    """The bank's 1CClientBankExchange file with one incoming payment from a payer who is no client."""
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        f"ДатаНачала={day:%d.%m.%Y}",
        f"ДатаКонца={day:%d.%m.%Y}",
        "РасчСчет=40702810900000000001",
        "СекцияДокумент=Платежное поручение",
        f"Номер={number}",
        f"Дата={day:%d.%m.%Y}",
        f"Сумма={amount}",
        "ПлательщикСчет=40702810938000012345",
        "Плательщик1=ИП Неизвестный",
        "ПлательщикИНН=5408131553",
        "ПолучательСчет=40702810900000000001",
        "ПолучательИНН=8602000000",
        f"ДатаПоступило={day:%d.%m.%Y}",
        "НазначениеПлатежа=Оплата за бытовую химию",
        "КонецДокумента",
        "КонецФайла",
    ]
    return "\r\n".join(lines).encode("cp1251")


def noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


class PayWorkflow(RolledBackMachine):
    """One example is one company's quarter; everything it writes is rolled back after it."""

    def __init__(self):
        super().__init__()
        self.locked: dict[tuple[int, date], tuple] = {}
        self.approved: dict[tuple[int, date], list] = {}
        self.steps = 0

    @initialize()
    def company(self):
        number = next(_numbers)
        self.head = UserFactory(role=Role.SALES_HEAD, username=f"pw_head_{number}")
        self.accountant = UserFactory(role=Role.ACCOUNTANT, username=f"pw_buh_{number}")
        self.production = UserFactory(role=Role.PRODUCTION, username=f"pw_prod_{number}")
        self.hunters = [
            UserFactory(
                role=Role.HUNTER, username=f"pw_h{index}_{number}", extension=f"7{number % 100:02d}{index}"
            )
            for index in range(HUNTERS)
        ]
        product = Product.objects.create(
            name=f"Средство {number}", list_price=Decimal("1000.00"), cost=Decimal("600.00")
        )
        self.deals = []
        for index in range(DEALS):
            owner = self.hunters[index % HUNTERS]
            client = client_create(
                acting_user=owner,
                name=f"Клиент {number}-{index}",
                address="Сургут, ул. Мира, 1",
                phones=[f"+7912{number % 1000:03d}{index:04d}"],
                created_at=noon(date(2025, 12, 1)),
            )
            self.deals.append(
                deal_import(
                    acting_user=owner,
                    client=client,
                    created_at=noon(date(2025, 12, 2)),
                    lines=[OrderLineInput(product=product, quantity=Decimal(10 + index))],
                )
            )

    def deal(self, index: int) -> Deal:
        return Deal.objects.get(pk=self.deals[index].pk)

    # --- the accountant ---------------------------------------------------------------------------

    @rule(index=deal_index, month=month_index, part=share, day=st.integers(1, 28), resubmit=st.booleans())
    def record_payment(self, index, month, part, day, resubmit):
        deal = self.deal(index)
        amount = (deal_outstanding(deal) * part).quantize(KOPECK)
        if amount <= 0:
            return
        key = f"pay-{next(_numbers)}"
        received_on = MONTHS[month].replace(day=day)
        payment = payment_record(
            acting_user=self.accountant,
            deal=deal,
            amount=amount,
            received_on=received_on,
            idempotency_key=key,
        )
        assert payment.credited_to_id == deal.owner_id
        if resubmit:  # a double tap sends the same form again
            again = payment_record(
                acting_user=self.accountant,
                deal=deal,
                amount=amount,
                received_on=received_on,
                idempotency_key=key,
            )
            assert again.pk == payment.pk

    @rule(index=deal_index, month=month_index)
    def overpay(self, index, month):
        deal = self.deal(index)
        before = Payment.objects.count()
        with pytest.raises(ValidationError):
            payment_record(
                acting_user=self.accountant,
                deal=deal,
                amount=deal_outstanding(deal) + KOPECK,
                received_on=MONTHS[month].replace(day=15),
            )
        assert Payment.objects.count() == before

    @rule(index=deal_index, month=month_index, part=share)
    def refund(self, index, month, part):
        deal = self.deal(index)
        amount = (deal_paid_total(deal) * part).quantize(KOPECK)
        if amount <= 0:
            return
        payment_refund(
            acting_user=self.accountant, deal=deal, amount=amount, recorded_on=MONTHS[month].replace(day=20)
        )

    @rule(index=deal_index, month=month_index, part=share, again=st.booleans())
    def bank_import(self, index, month, part, again):
        """A bank statement with one incoming payment from a payer who is no client, given the deal by hand;
        sometimes the same statement is confirmed again and records nothing."""
        deal = self.deal(index)
        amount = (deal_outstanding(deal) * part).quantize(KOPECK)
        if amount <= 0:
            return
        data = bank_statement(number=str(next(_numbers)), day=MONTHS[month].replace(day=12), amount=amount)
        before = Payment.objects.count()
        result = record_confirmed(acting_user=self.accountant, data=data, chosen={0: deal.pk})
        assert len(result.recorded) == 1 and Payment.objects.count() == before + 1
        if again:
            repeated = record_confirmed(acting_user=self.accountant, data=data, chosen={0: deal.pk})
            assert (len(repeated.recorded), len(repeated.already)) == (0, 1)
            assert Payment.objects.count() == before + 1

    @rule(hunter=hunter_index, month=month_index)
    def lock(self, hunter, month):
        try:
            record = statement_lock(
                acting_user=self.accountant,
                hunter=self.hunters[hunter],
                month=MONTHS[month],
                at=after_month(MONTHS[month]),
            )
        except ValidationError:
            return  # not approved: nothing is locked
        if record.is_locked:
            key = (record.hunter_id, record.month)
            shown = statement_for(hunter=self.hunters[hunter], month=MONTHS[month])
            self.locked.setdefault(key, (shown.total, figures(shown.lines)))

    @rule(month=month_index)
    def mark_paid(self, month):
        statements_mark_paid(acting_user=self.accountant, month=MONTHS[month])

    # --- the head ---------------------------------------------------------------------------------

    @rule(hunter=hunter_index, month=month_index)
    def approve(self, hunter, month):
        try:
            record = statement_approve(
                acting_user=self.head,
                hunter=self.hunters[hunter],
                month=MONTHS[month],
                at=after_month(MONTHS[month]),
            )
        except ValidationError:
            return  # already approved or locked
        self.approved[(record.hunter_id, record.month)] = figures(
            statement_for(hunter=self.hunters[hunter], month=MONTHS[month]).lines
        )

    @rule(index=deal_index, extra=st.integers(-3, 5), approve=st.booleans())
    def order_version(self, index, extra, approve):
        """The hunter changes the order (a new version once production has approved one) and production
        decides. A version below what was paid is refused; an approved one comes into force."""
        deal = self.deal(index)
        line = OrderLine.objects.filter(order__deal=deal).first()
        quantity = line.quantity + extra
        if quantity <= 0 or extra == 0:
            return
        total_after = (quantity * line.price).quantize(KOPECK)
        try:
            order_set_lines(
                acting_user=deal.owner,
                deal=deal,
                lines=[OrderLineInput(product=line.product, quantity=quantity)],
            )
        except ValidationError:
            assert total_after < deal_paid_total(deal)  # refused only below what is already paid
            return
        pending = OrderVersion.objects.filter(order__deal=deal, status=OrderVersion.Status.PENDING).first()
        if pending is not None:
            order_version_decide(
                acting_user=self.production,
                version=pending,
                approve=approve,
                comment="" if approve else "Нет сырья",
            )

    @rule(index=deal_index, to=hunter_index, temporary=st.booleans())
    def transfer(self, index, to, temporary):
        deal = self.deal(index)
        if deal.owner_id == self.hunters[to].pk:
            return
        deal_transfer(
            acting_user=self.head,
            deal=deal,
            to_owner=self.hunters[to],
            return_on=date(2027, 1, 1) if temporary else None,
            reason="Отпуск" if temporary else "Перераспределение",
        )

    @rule(index=deal_index)
    def return_now(self, index):
        for transfer in Transfer.objects.filter(deal=self.deals[index]).select_related("deal", "client"):
            if transfer_is_returnable(transfer):
                transfer_return(acting_user=self.head, transfer=transfer)
                return

    @rule(hunter=hunter_index, month=month_index, amount=st.sampled_from([Decimal("-300"), Decimal("500")]))
    def adjust(self, hunter, month, amount):
        try:
            adjustment_add(
                acting_user=self.head,
                hunter=self.hunters[hunter],
                month=MONTHS[month],
                amount=amount,
                reason="Правка",
            )
        except ValidationError:
            assert Statement.objects.get(hunter=self.hunters[hunter], month=MONTHS[month]).is_locked

    @rule(
        hunter=hunter_index,
        month=month_index,
        revenue=st.sampled_from([Decimal("0"), Decimal("5000"), Decimal("20000")]),
    )
    def set_plan(self, hunter, month, revenue):
        try:
            plans_save(
                acting_user=self.head,
                month=MONTHS[month],
                rows=[
                    PlanRow(
                        hunter=self.hunters[hunter], revenue_target=revenue, deals_target=1, calls_target=1
                    )
                ],
            )
        except ValidationError:
            assert Statement.objects.get(hunter=self.hunters[hunter], month=MONTHS[month]).is_locked

    # --- the PBX and the hunters ------------------------------------------------------------------

    @rule(hunter=hunter_index, month=month_index, day=st.integers(1, 28))
    def pbx_call(self, hunter, month, day):
        call_records_import(
            rows=[
                CallRow(
                    external_id=f"pw-call-{next(_numbers)}",
                    started_at=noon(MONTHS[month].replace(day=day)),
                    direction=CallDirection.OUTGOING,
                    extension=self.hunters[hunter].extension,
                    other_number="+79990001122",
                    duration_s=60,
                )
            ]
        )

    @rule(index=deal_index, month=month_index)
    def hand_entered_meeting(self, index, month):
        client = self.deal(index).client
        day = MONTHS[month].replace(day=25)
        status = month_status(hunter_id=client.owner_id, month=day)
        try:
            activity_log(
                acting_user=client.owner,
                kind=ActivityKind.MEETING,
                client=client,
                at=noon(day),
                entered_on=day,
            )
        except ValidationError:
            assert status != Statement.Status.DRAFT
        else:
            assert status == Statement.Status.DRAFT

    # --- what must always hold ---------------------------------------------------------------------

    @invariant()
    def money_lands_once_with_its_earner_and_approvals_hold(self):
        if not hasattr(self, "hunters"):
            return
        self.steps += 1  # checks run after every step: this counts them
        # Money, approvals, locks and adjustments all take the hunter-month's statement row first, so a
        # month without a row holds no money line.
        by_pk = {hunter.pk: hunter for hunter in self.hunters}
        shown = {
            (hunter_id, month): statement_for(hunter=by_pk[hunter_id], month=month)
            for hunter_id, month in Statement.objects.filter(hunter__in=self.hunters).values_list(
                "hunter_id", "month"
            )
        }
        for statement in shown.values():
            assert statement.total == sum((line.amount for line in statement.lines), Decimal("0"))

        for payment in Payment.objects.filter(deal__in=self.deals, kind=Payment.Kind.PAYMENT):
            holders = [
                key
                for key, statement in shown.items()
                if any(
                    line.kind == LineKind.COMMISSION and line.source_id == payment.pk
                    for line in statement.lines
                )
            ]
            assert holders == [(payment.credited_to_id, payment.accrual_month)], payment
        for clawback in Clawback.objects.filter(refund__deal__in=self.deals):
            statement = shown[(clawback.hunter_id, clawback.accrual_month)]
            assert any(line.source_id == clawback.refund_id for line in statement.lines), clawback

        for key, (total, lines) in self.locked.items():
            statement = shown[key]
            assert statement.status in (Statement.Status.LOCKED, Statement.Status.PAID)
            assert (statement.total, figures(statement.lines)) == (total, lines)

        for (hunter_id, month), statement in shown.items():
            if statement.status in (Statement.Status.DRAFT, Statement.Status.APPROVED):
                # What is stored and shown is what the data gives now.
                fresh = compute_statement(hunter=statement.hunter, month=month)
                assert figures(statement.lines) == figures(fresh.lines), (hunter_id, month)
                assert statement.total == fresh.total
            if statement.status == Statement.Status.APPROVED:
                assert figures(statement.lines) == self.approved[(hunter_id, month)]
            elif statement.status == Statement.Status.DRAFT and (hunter_id, month) in self.approved:
                assert statement.record.changed_after_approval

        for deal in Deal.objects.filter(pk__in=[deal.pk for deal in self.deals]):
            total = Order.objects.get(deal=deal).total
            assert Decimal("0") <= deal_paid_total(deal) <= total


def test_pay_workflow_keeps_money_once_with_its_earner_and_approvals_honest(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    run_state_machine_as_test(
        PayWorkflow,
        settings=settings_for_machine(),
    )


def settings_for_machine():
    return settings(
        max_examples=25,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
