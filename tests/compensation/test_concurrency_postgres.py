"""Concurrency is designed, not hoped for: the pay workflow's races run as real parallel transactions on
PostgreSQL, each side in its own thread with its own connection, many rounds with fresh data each.

On SQLite writers queue one behind the other, so these races cannot happen there: the module runs on CI's
PostgreSQL pass. Each round varies who starts first (``head_start``), so both orders of every race are
met. Deals are walked through the pipeline once per test and handed to a fresh hunter each round (a
transfer is one service call, a walk takes about a second); the hunter, the month's statement, the
payment, the key and the document are new every round.
"""

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from glob import glob
from html import unescape
from pathlib import Path

import psycopg2
import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from compensation import guards
from compensation.engine import LineKind
from compensation.models import Statement, StatementLine
from compensation.services import MonthLock, statement_approve, statement_lock, statements_lock_month
from compensation.statements import statement_for
from deals.models import Client, ClientPhone, Deal, Order, Payment, Transfer
from deals.services import (
    DuplicateClient,
    DuplicatePayment,
    client_create,
    client_transfer,
    client_update,
    client_update_requisites,
    deal_transfer,
    payment_record,
    payment_refund,
    transfer_return,
)
from deals.stages import Stage
from kpi.months import month_start, next_month, previous_month
from tests.deals.factories import Pipeline, branch_requisites, make_client, make_deal, unique_phone
from tests.factories import UserFactory
from tests.workflow import approve, close_month

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="real parallel transactions: SQLite serialises writers (CI runs these on PostgreSQL)",
    ),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = int(os.environ.get("CONCURRENCY_ROUNDS", "50"))  # more for a soak run


# --- running things at the same moment ----------------------------------------------------------------


def head_start(round_: int, sides: int) -> list[float]:
    """How long each side waits after the common start: nobody, or one side a little, varied over the
    rounds so that each side sometimes reaches the shared row first."""
    delays = [0.0] * sides
    delays[(round_ // 5) % sides] = (0.0, 0.002, 0.005, 0.01, 0.02)[round_ % 5]
    return delays


def together(*calls: Callable, delays: list[float] | None = None) -> list:
    """Runs the calls at once, each in its own thread and database connection; returns what each
    returned or raised, in the order given."""
    delays = delays or [0.0] * len(calls)
    start = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index: int) -> None:
        try:
            start.wait(timeout=10)
            time.sleep(delays[index])
            outcomes[index] = calls[index]()
        except Exception as error:
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a side never finished: a deadlock?"
    return outcomes


def of_type(outcomes: list, kind: type) -> list:
    return [outcome for outcome in outcomes if isinstance(outcome, kind)]


def one_done_one_refused(outcomes: list, done: type, refused: type) -> tuple:
    """The two outcomes of a race that one side must win: what the winner made, what the other was told."""
    made, told = of_type(outcomes, done), of_type(outcomes, refused)
    assert len(made) == 1 and len(told) == 1, outcomes
    return made[0], told[0]


def page_text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- the people and the deals -------------------------------------------------------------------------


@dataclass
class Desk:
    head: User
    accountant: User
    production: User
    hunter: User

    def deal_at_payment(self) -> Deal:
        pipeline = Pipeline(hunter=self.hunter, production=self.production, accountant=self.accountant)
        return pipeline.advance_to(make_deal(acting_user=self.hunter), Stage.PAYMENT)

    def hand_over(self, deal: Deal, hunter: User) -> None:
        deal_transfer(acting_user=self.head, deal=deal, to_owner=hunter)

    def browser(self, user: User) -> Browser:
        browser = Browser()
        browser.force_login(user)
        return browser


@pytest.fixture
def desk(migrated_data, sales_head, accountant, production, hunter, settings, tmp_path) -> Desk:
    settings.MEDIA_ROOT = tmp_path
    return Desk(head=sales_head, accountant=accountant, production=production, hunter=hunter)


@pytest.fixture(autouse=True)
def _progress_debounced_as_in_production(settings):
    """Plan progress recalculated once per month per window, as in production, not after every change as
    the other tests have it: these races are about money, and a round stays a fraction of a second."""
    settings.PLAN_PROGRESS_DEBOUNCE_SECONDS = 3600
    cache.clear()
    yield
    cache.clear()


def in_three_days() -> date:
    return timezone.localdate() + timedelta(days=3)


def ended_month() -> date:
    return previous_month(month_start(timezone.localdate()))


def new_hunter() -> User:
    return UserFactory(role=Role.HUNTER)


def pay_in(desk: Desk, deal: Deal, month: date, document: str) -> Payment:
    """Ten rubles on the deal received in the middle of ``month``, credited to the deal's hunter."""
    return payment_record(
        acting_user=desk.accountant,
        deal=deal,
        amount=Decimal("10.00"),
        received_on=month + timedelta(days=14),
        bank_document=document,
    )


def months_paying_commission_on(payment: Payment, months: list[date]) -> list[date]:
    """Those of ``months`` whose statement of the payment's hunter pays commission on it."""
    hunter = User.objects.get(pk=payment.credited_to_id)
    return [
        month
        for month in months
        if any(
            line.kind == LineKind.COMMISSION and line.source_id == payment.pk
            for line in statement_for(hunter=hunter, month=month).lines
        )
    ]


def lock_for_good(desk: Desk, hunter: User, month: date) -> Statement:
    """Locks the month if the race left it open: a lock refused before the approval, or a statement the
    payment changed after its approval (sent back to draft by its check, or by this lock when the check has
    not run yet) is approved again and locked."""
    if Statement.objects.get(hunter=hunter, month=month).status == Statement.Status.DRAFT:
        approve(hunter, month, head=desk.head)
    record = statement_lock(acting_user=desk.accountant, hunter=hunter, month=month)
    if not record.is_locked:
        assert record.status == Statement.Status.DRAFT and record.changed_after_approval
        approve(hunter, month, head=desk.head)
        record = statement_lock(acting_user=desk.accountant, hunter=hunter, month=month)
    assert record.is_locked, "the statement changed after its second approval"
    return record


def the_accountant_locks(desk: Desk, hunter: User, month: date, round_: int) -> Callable:
    """The accountant's lock of the hunter's month: the one statement from its page in odd rounds, the
    month from the list (confirming this hunter) in even ones."""
    if round_ % 2:
        return partial(statement_lock, acting_user=desk.accountant, hunter=hunter, month=month)
    return partial(statements_lock_month, acting_user=desk.accountant, month=month, hunter_ids={hunter.pk})


def lock_outcome(lock: Statement | MonthLock | Exception) -> str:
    """What the accountant's lock did: locked the statement, found it changed and sent it back to draft,
    or was refused because it was not approved (yet, or no longer: the check after a payment that
    changed its figures sent it back to draft first)."""
    if isinstance(lock, MonthLock):
        if not lock.locked + lock.reopened:
            return "закрытие отказано: не утверждён"  # the month's lock left it among the drafts
        [lock] = lock.locked + lock.reopened
    if isinstance(lock, ValidationError):
        assert lock.messages[0].endswith("не утверждён руководителем: закрыть можно только утверждённый.")
        return "закрытие отказано: не утверждён"
    assert isinstance(lock, Statement), lock
    return "закрыт" if lock.is_locked else "вернулся в черновик"


def assert_in_exactly_one_statement(payment: Payment, month: date) -> str:
    """The payment is paid on once: in the locked month's stored lines, or marked late in the next open
    month, never in none and never in both. Returns which of the two it was."""
    payment.refresh_from_db()
    stored = StatementLine.objects.filter(payment=payment)
    paying = months_paying_commission_on(payment, [month, next_month(month)])
    if payment.accrual_month == month:
        assert not payment.late
        assert list(stored.values_list("statement__hunter_id", "statement__month")) == [
            (payment.credited_to_id, month)
        ]
        assert paying == [month]
        return "в закрытом месяце"
    assert payment.accrual_month == next_month(month) and payment.late
    assert not stored.exists()
    assert paying == [next_month(month)]
    return "опоздала в следующий месяц"


def assert_approved_and_locked_once(hunter: User, month: date) -> None:
    record = Statement.objects.get(hunter=hunter, month=month)
    assert record.status == Statement.Status.LOCKED
    lines = list(StatementLine.objects.filter(statement=record).order_by("position"))
    assert [line.position for line in lines] == list(range(1, len(record.approved_lines) + 1))
    assert record.total == record.approved_total == sum((line.amount for line in lines), Decimal("0"))
    statuses = list(record.history.values_list("status", flat=True))
    assert statuses.count(Statement.Status.APPROVED) == 1 and statuses.count(Statement.Status.LOCKED) == 1
    assert not record.reopenings.exists()


# --- 1. a payment recorded while its month is locked ----------------------------------------------------


def test_a_payment_recorded_while_its_month_is_locked_lands_in_exactly_one_statement(desk):
    month = ended_month()
    deal = desk.deal_at_payment()
    seen = Counter()
    for round_ in range(ROUNDS):
        hunter = new_hunter()
        desk.hand_over(deal, hunter)
        pay_in(desk, deal, month, f"п/п {round_}01")
        approve(hunter, month, head=desk.head)

        payment, lock = together(
            partial(pay_in, desk, deal, month, f"п/п {round_}02"),
            the_accountant_locks(desk, hunter, month, round_),
            delays=head_start(round_, 2),
        )

        assert isinstance(payment, Payment), payment
        outcome = lock_outcome(lock)
        lock_for_good(desk, hunter, month)
        seen[(assert_in_exactly_one_statement(payment, month), outcome)] += 1
    print(f"\nоплата против закрытия, {ROUNDS} раундов:", dict(seen))


def test_approval_lock_and_a_payment_at_once_leave_the_payment_in_exactly_one_statement(desk):
    month = ended_month()
    deal = desk.deal_at_payment()
    seen = Counter()
    for round_ in range(ROUNDS):
        hunter = new_hunter()
        desk.hand_over(deal, hunter)
        pay_in(desk, deal, month, f"п/п {round_}03")

        approval, lock, payment = together(
            partial(statement_approve, acting_user=desk.head, hunter=hunter, month=month),
            the_accountant_locks(desk, hunter, month, round_),
            partial(pay_in, desk, deal, month, f"п/п {round_}04"),
            delays=head_start(round_, 3),
        )

        assert isinstance(approval, Statement), approval
        assert isinstance(payment, Payment), payment
        outcome = lock_outcome(lock)
        lock_for_good(desk, hunter, month)
        seen[(assert_in_exactly_one_statement(payment, month), outcome)] += 1
    print(f"\nутверждение, закрытие и оплата разом, {ROUNDS} раундов:", dict(seen))


# --- 2. transfers: while the month is locked, and at once with each other -------------------------------


def test_transferring_a_deal_while_its_month_is_locked_leaves_the_payment_with_its_earner(desk):
    month = ended_month()
    deal = desk.deal_at_payment()
    for round_ in range(ROUNDS):
        earner, successor = new_hunter(), new_hunter()
        desk.hand_over(deal, earner)
        payment = pay_in(desk, deal, month, f"п/п {round_}05")
        approve(earner, month, head=desk.head)

        transfer, lock = together(
            partial(deal_transfer, acting_user=desk.head, deal=deal, to_owner=successor),
            the_accountant_locks(desk, earner, month, round_),
            delays=head_start(round_, 2),
        )

        assert isinstance(transfer, Transfer), transfer
        assert lock_outcome(lock) == "закрыт", lock
        assert Deal.objects.get(pk=deal.pk).owner_id == successor.pk
        payment.refresh_from_db()
        assert (payment.credited_to_id, payment.accrual_month, payment.late) == (earner.pk, month, False)
        stored = StatementLine.objects.filter(payment=payment)
        assert list(stored.values_list("statement__hunter_id", "statement__month")) == [(earner.pk, month)]
        assert months_paying_commission_on(payment, [month, next_month(month)]) == [month]
        for later in (month, next_month(month)):
            lines = statement_for(hunter=successor, month=later).lines
            assert not [line for line in lines if line.source_id == payment.pk]
        assert not Payment.objects.filter(credited_to=successor).exists()


def test_a_client_and_its_deal_transferred_at_once_both_go_through(desk, other_hunter):
    stand_in = new_hunter()
    for round_ in range(ROUNDS):
        deal = make_deal(acting_user=desk.hunter)

        outcomes = together(
            partial(client_transfer, acting_user=desk.head, client=deal.client, to_owner=other_hunter),
            partial(deal_transfer, acting_user=desk.head, deal=deal, to_owner=stand_in),
            delays=head_start(round_, 2),
        )

        assert all(isinstance(outcome, Transfer) for outcome in outcomes), outcomes
        # Whichever went first, the deal ends with the stand-in: the client's transfer moves only the
        # deals still with the client's hunter.
        assert Client.objects.get(pk=deal.client_id).owner_id == other_hunter.pk
        assert Deal.objects.get(pk=deal.pk).owner_id == stand_in.pk


def test_a_temporary_transfer_returned_twice_at_once_is_returned_once(desk, other_hunter):
    for round_ in range(ROUNDS):
        deal = make_deal(acting_user=desk.hunter)
        lent = (
            deal_transfer(acting_user=desk.head, deal=deal, to_owner=other_hunter, return_on=in_three_days())
            if round_ % 2
            else client_transfer(
                acting_user=desk.head, client=deal.client, to_owner=other_hunter, return_on=in_three_days()
            )
        )
        give_back = partial(transfer_return, acting_user=desk.head, transfer=lent)

        returned, refused = one_done_one_refused(
            together(give_back, give_back, delays=head_start(round_, 2)), Transfer, ValidationError
        )

        assert returned.returns_id == lent.pk
        assert refused.messages == ["Эта передача уже завершена или не была временной."]
        assert Transfer.objects.filter(returns=lent).count() == 1
        assert Deal.objects.get(pk=deal.pk).owner_id == desk.hunter.pk


# --- 3. a refund sent twice -----------------------------------------------------------------------------


@pytest.fixture
def paid_deal(desk) -> Deal:
    deal = desk.deal_at_payment()
    payment_record(
        acting_user=desk.accountant,
        deal=deal,
        amount=Order.objects.get(deal=deal).total,
        received_on=timezone.localdate(),
        bank_document="п/п оплата",
    )
    return deal


def test_a_refund_sent_twice_at_once_with_the_same_key_is_recorded_once(desk, paid_deal):
    for round_ in range(ROUNDS):
        key = uuid.uuid4().hex
        refund = partial(
            payment_refund,
            acting_user=desk.accountant,
            deal=paid_deal,
            amount=Decimal("1.00"),
            recorded_on=timezone.localdate(),
            idempotency_key=key,
        )

        first, second = together(refund, refund, delays=head_start(round_, 2))

        assert isinstance(first, Payment) and isinstance(second, Payment), (first, second)
        assert first.pk == second.pk
        assert Payment.objects.filter(idempotency_key=key).count() == 1
        assert first.clawbacks.count() == 1


def test_a_refund_sent_twice_at_once_with_the_same_document_is_recorded_once(desk, paid_deal):
    for round_ in range(ROUNDS):
        document = f"возврат {round_}"
        refund = partial(
            payment_refund,
            acting_user=desk.accountant,
            deal=paid_deal,
            amount=Decimal("1.00"),
            recorded_on=timezone.localdate(),
            bank_document=document,
        )

        outcomes = together(refund, refund, delays=head_start(round_, 2))

        recorded, duplicate = one_done_one_refused(outcomes, Payment, DuplicatePayment)
        assert duplicate.existing.pk == recorded.pk
        assert f"Документ №{document} уже внесён: возврат" in duplicate.message_dict["bank_document"][0]
        assert paid_deal.payments.filter(bank_document=document).count() == 1


def test_a_refund_form_sent_twice_at_once_is_recorded_once_and_never_answers_500(desk, paid_deal):
    url = reverse("deals:refund", args=[paid_deal.pk])
    browsers = [desk.browser(desk.accountant) for _ in range(2)]
    statuses = Counter()
    for round_ in range(ROUNDS):
        form = {
            "amount": "1.00",
            "recorded_on": timezone.localdate().isoformat(),
            "bank_document": f"возврат с формы {round_}",
            "idempotency_key": uuid.uuid4().hex,
        }

        responses = together(*(partial(b.post, url, form) for b in browsers), delays=head_start(round_, 2))

        for response in responses:
            assert not isinstance(response, Exception), response
            assert response.status_code in (302, 400), response.status_code
            if response.status_code == 400:
                assert "уже внесён" in page_text(response)
            statuses[response.status_code] += 1
        assert paid_deal.payments.filter(bank_document=form["bank_document"]).count() == 1
        assert Payment.objects.filter(idempotency_key=form["idempotency_key"]).count() == 1
    print(f"\nформа возврата дважды, {ROUNDS} раундов, ответы:", dict(statuses))


# --- 4. the same client created twice -------------------------------------------------------------------


def test_the_same_phone_entered_by_two_hunters_at_once_makes_one_card(desk, other_hunter):
    for round_ in range(ROUNDS):
        phone = unique_phone()
        names = [f"Салон «Лотос-{round_}»", f"Студия «Лилия-{round_}»"]
        outcomes = together(
            *(
                partial(client_create, acting_user=author, name=name, address="г. Сургут", phones=[phone])
                for author, name in zip((desk.hunter, other_hunter), names, strict=True)
            ),
            delays=head_start(round_, 2),
        )

        card, duplicate = one_done_one_refused(outcomes, Client, DuplicateClient)
        assert duplicate.existing.pk == card.pk
        assert f"Телефон {phone} уже есть в базе у клиента «{card.name}»." in duplicate.messages[0]
        assert ClientPhone.objects.filter(number=phone).count() == 1
        assert Client.objects.filter(name__in=names).count() == 1


def test_the_same_phone_added_to_two_cards_at_once_stays_on_one(desk, other_hunter):
    for round_ in range(ROUNDS):
        cards = [make_client(acting_user=desk.hunter), make_client(acting_user=other_hunter)]
        phone = unique_phone()
        outcomes = together(
            *(
                partial(
                    client_update,
                    acting_user=card.owner,
                    client=card,
                    phones=[*card.phones.values_list("number", flat=True), phone],
                )
                for card in cards
            ),
            delays=head_start(round_, 2),
        )

        card, duplicate = one_done_one_refused(outcomes, Client, DuplicateClient)
        assert duplicate.existing.pk == card.pk
        assert f"Телефон {phone} уже есть в базе у клиента «{card.name}»." in duplicate.messages[0]
        assert list(ClientPhone.objects.filter(number=phone).values_list("client_id", flat=True)) == [card.pk]


def test_the_same_inn_and_kpp_entered_on_two_cards_at_once_stays_on_one(desk, other_hunter):
    for round_ in range(ROUNDS):
        cards = [make_client(acting_user=desk.hunter), make_client(acting_user=other_hunter)]
        requisites = branch_requisites()
        outcomes = together(
            *(
                partial(client_update_requisites, acting_user=author, client=card, requisites=requisites)
                for author, card in zip((desk.hunter, other_hunter), cards, strict=True)
            ),
            delays=head_start(round_, 2),
        )

        card, duplicate = one_done_one_refused(outcomes, Client, DuplicateClient)
        assert duplicate.existing.pk == card.pk
        assert f"Клиент с такими ИНН и КПП уже есть в базе: «{card.name}»." in duplicate.messages[0]
        assert Client.objects.filter(inn=requisites.inn, kpp=requisites.kpp).count() == 1


def test_client_pages_sent_at_once_with_the_same_phone_or_requisites_never_answer_500(desk, other_hunter):
    authors = (desk.hunter, other_hunter)
    browsers = [desk.browser(author) for author in authors]
    statuses = Counter()
    for round_ in range(ROUNDS):
        phone = unique_phone()
        card_form = {"address": "г. Сургут", "phones_text": phone, "source": "2gis"}
        created = together(
            *(
                partial(b.post, reverse("clients:create"), {**card_form, "name": f"Салон №{round_}-{side}"})
                for side, b in enumerate(browsers)
            ),
            delays=head_start(round_, 2),
        )
        cards = [make_client(acting_user=author) for author in authors]
        requisites = asdict(branch_requisites())
        saved = together(
            *(
                partial(b.post, reverse("clients:requisites", args=[card.pk]), requisites)
                for b, card in zip(browsers, cards, strict=True)
            ),
            delays=head_start(round_, 2),
        )

        for responses, told in ((created, "уже есть в базе у клиента"), (saved, "ИНН и КПП уже есть")):
            assert not of_type(responses, Exception), responses
            assert sorted(r.status_code for r in responses) == [302, 400]
            [refused] = [r for r in responses if r.status_code == 400]
            assert told in page_text(refused)
            statuses[told] += 1
        assert ClientPhone.objects.filter(number=phone).count() == 1
        assert Client.objects.filter(inn=requisites["inn"], kpp=requisites["kpp"]).count() == 1
    assert statuses == {"уже есть в базе у клиента": ROUNDS, "ИНН и КПП уже есть": ROUNDS}


# --- 5. two approvals, two locks ------------------------------------------------------------------------


def test_two_approvals_and_two_locks_at_once_approve_and_lock_the_statement_once(desk):
    month = ended_month()
    deal = desk.deal_at_payment()
    for round_ in range(ROUNDS):
        hunter = new_hunter()
        if round_ % 2 == 0:  # a month with money in it; otherwise the statement row does not exist yet
            desk.hand_over(deal, hunter)
            pay_in(desk, deal, month, f"п/п {round_}06")
        approval = partial(statement_approve, acting_user=desk.head, hunter=hunter, month=month)
        lock = partial(statement_lock, acting_user=desk.accountant, hunter=hunter, month=month)

        approvals = together(approval, approval, delays=head_start(round_, 2))
        locks = together(lock, lock, delays=head_start(round_, 2))

        _approved, refused = one_done_one_refused(approvals, Statement, ValidationError)
        assert refused.messages == [f"Расчётный лист: {hunter.full_name} — уже утверждён или закрыт."]
        assert all(isinstance(record, Statement) and record.is_locked for record in locks), locks
        assert_approved_and_locked_once(hunter, month)


def test_the_statements_page_sent_twice_at_once_approves_and_locks_once_without_an_error_page(desk):
    month = ended_month()
    deal = desk.deal_at_payment()
    url = reverse("compensation:statements") + f"?month={month:%Y-%m}"
    for round_ in range(ROUNDS):
        # New sessions each round: the messages of the round before are not carried over.
        heads = [desk.browser(desk.head) for _ in range(2)]
        accountants = [desk.browser(desk.accountant) for _ in range(2)]
        hunter = new_hunter()
        desk.hand_over(deal, hunter)
        pay_in(desk, deal, month, f"п/п {round_}07")

        approvals = together(
            *(partial(b.post, url, {"action": "approve", "hunter": hunter.pk}) for b in heads),
            delays=head_start(round_, 2),
        )
        locks = together(
            *(partial(b.post, url, {"action": "lock", "hunter": hunter.pk}) for b in accountants),
            delays=head_start(round_, 2),
        )

        for response in (*approvals, *locks):
            assert not isinstance(response, Exception), response
            assert response.status_code == 302, response.status_code
        said = sorted(message for response in approvals for message in flashed(response))
        assert said == [
            f"Расчётный лист: {hunter.full_name} — уже утверждён или закрыт.",
            f"Расчётный лист: {hunter.full_name} — утверждён.",
        ]
        assert_approved_and_locked_once(hunter, month)


# --- 6. the guards after pg_dump and pg_restore ---------------------------------------------------------


def postgres_program(name: str) -> str | None:
    """CI's PostgreSQL binaries, else the newest Debian cluster's, else the PATH's."""
    folders = [os.environ["CI_POSTGRES_BIN"]] if os.environ.get("CI_POSTGRES_BIN") else []
    folders += sorted(
        glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name), reverse=True
    )
    for folder in folders:
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    return shutil.which(name)


def refusal(db, *statements: tuple[str, list]) -> psycopg2.Error:
    """Runs the statements in one transaction, expects the database to refuse, rolls back."""
    with pytest.raises(psycopg2.Error) as refused, db.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
    db.rollback()
    assert refused.value.pgcode == "23000", refused.value  # integrity_constraint_violation
    return refused.value


def test_the_money_guards_hold_in_a_database_restored_from_a_dump(desk, tmp_path):
    pg_dump = postgres_program("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    programs = {name: str(Path(pg_dump).with_name(name)) for name in ("pg_restore", "createdb", "dropdb")}
    month = ended_month()
    deal = desk.deal_at_payment()
    payment = payment_record(
        acting_user=desk.accountant,
        deal=deal,
        amount=Decimal("1000.00"),
        received_on=month + timedelta(days=14),
        bank_document="п/п до выгрузки",
    )
    record = close_month(desk.hunter, month, head=desk.head, accountant=desk.accountant)
    assert record.is_locked

    settings = connection.settings_dict
    server = [
        *(["-h", settings["HOST"]] if settings["HOST"] else []),
        *(["-p", str(settings["PORT"])] if settings["PORT"] else []),
        *(["-U", settings["USER"]] if settings["USER"] else []),
    ]
    env = {**os.environ, **({"PGPASSWORD": settings["PASSWORD"]} if settings["PASSWORD"] else {})}

    def run(*command: str) -> None:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    dump = tmp_path / "atlanset.dump"
    run(pg_dump, *server, "-Fc", "-f", str(dump), settings["NAME"])
    restored = f"atlanset_restored_{uuid.uuid4().hex[:12]}"
    run(programs["createdb"], *server, "-T", "template0", restored)
    try:
        run(programs["pg_restore"], *server, "--no-owner", "-d", restored, str(dump))
        db = psycopg2.connect(
            dbname=restored,
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"] or None,
            password=settings["PASSWORD"] or None,
        )
        try:
            for search_path in ("''", None):
                check_guards(db, search_path=search_path, payment=payment, record=record)
        finally:
            db.close()
    finally:
        run(programs["dropdb"], *server, "--if-exists", restored)


def check_guards(db, *, search_path: str | None, payment: Payment, record: Statement) -> None:
    db.autocommit = True
    with db.cursor() as cursor:
        cursor.execute(f"SET search_path = {search_path}" if search_path else "RESET search_path")
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0] == ('""' if search_path else '"$user", public')
    db.autocommit = False
    # With an empty search_path nothing is found unqualified: the statements name the schema as well.
    t = '"public".' if search_path else ""
    month = record.month

    deleted = refusal(db, (f"DELETE FROM {t}deals_payment WHERE id = %s", [payment.pk]))
    assert deleted.diag.message_primary == guards.PAYMENT_FROZEN

    with_its_deal = refusal(
        db,
        (f"DELETE FROM {t}deals_deal WHERE id = %s", [payment.deal_id]),
        (f"DELETE FROM {t}deals_payment WHERE deal_id = %s", [payment.deal_id]),
    )
    assert with_its_deal.diag.message_primary == guards.PAYMENT_FROZEN

    insert_payment = (
        f"INSERT INTO {t}deals_payment (deal_id, kind, amount, received_on, bank_document, credited_to_id,"
        " recorded_by_id, recorded_at, accrual_month, late, idempotency_key)"
        " VALUES (%s, 'payment', 5, %s, %s, %s, %s, now(), %s, %s, '')"
    )
    entered = refusal(
        db,
        (
            insert_payment,
            [payment.deal_id, month, "в обход", record.hunter_id, payment.recorded_by_id, month, False],
        ),
    )
    assert entered.diag.message_primary == guards.PAYMENT_LOCKED_MONTH

    retotalled = refusal(
        db, (f"UPDATE {t}compensation_statement SET total = total + 1 WHERE id = %s", [record.pk])
    )
    assert retotalled.diag.message_primary == guards.STATEMENT_FROZEN

    # What the guards allow still works under this search_path: marking the locked statement paid (the
    # guard sums its lines) and money entering the next, open month.
    with db.cursor() as cursor:
        paid = f"UPDATE {t}compensation_statement SET status = 'paid', paid_at = now() WHERE id = %s"
        cursor.execute(paid, [record.pk])
        late = [payment.deal_id, month, "после выгрузки", record.hunter_id, payment.recorded_by_id]
        cursor.execute(insert_payment, [*late, next_month(month), True])
    db.rollback()
