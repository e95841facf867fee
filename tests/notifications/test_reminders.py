"""The morning reminders (SPEC §7), rule by rule, as the people who get them notice them: who gets what,
on which day, with the client's name in the title, once a day, nothing on a day off and the days off
caught up on the next working day.

Every run names its day with ``today=``; the data is dated explicitly, so the tests do not depend on
when they run. Data made "now" by the factories lies after the chosen days and so is never due.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from compensation.services import statement_approve, statement_lock
from deals.models import ClientHoliday, Deal, LostReason
from deals.services import (
    client_set_payment_terms,
    client_transfer,
    contact_add,
    deal_mark_lost,
    deal_move,
    deal_transfer,
    payment_record,
    shipment_record,
)
from deals.stages import Stage
from kpi import services as kpi_services
from kpi.models import ActivityKind
from kpi.services import task_schedule
from notifications.models import Notification, NotificationKind
from notifications.reminders import RULES, idle_limit
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory
from tests.kpi.factories import local, paid_deal, set_plan

from .conftest import TUESDAY, follow_up_agreed, titles

SATURDAY = date(2026, 11, 21)
SUNDAY = date(2026, 11, 22)
MONDAY = date(2026, 11, 23)
OCTOBER = date(2026, 10, 1)


def activity_log(**kwargs):
    """A hand-entered activity, entered on the day it is dated (these tests replay past weeks)."""
    kwargs.setdefault("entered_on", timezone.localdate(kwargs["at"]))
    return kpi_services.activity_log(**kwargs)


def deal_url(deal) -> str:
    return reverse("deals:detail", args=[deal.pk])


def client_url(client) -> str:
    return reverse("clients:detail", args=[client.pk])


def deactivate(user: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def of_kind(kind: str):
    return Notification.objects.filter(kind=kind)


def recipients(kind: str) -> set[str]:
    return set(of_kind(kind).values_list("recipient__username", flat=True))


def emails_to(user: User) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [user.email]]


def deferred_deal(
    pipeline: Pipeline, *, name: str, received_on: date, days: int = 10, working: bool = False
) -> Deal:
    """A repeat order of a client on deferred terms (granted after a first, paid deal), invoiced at
    5 000 ₽ and received by the client on ``received_on``."""
    hunter = pipeline.hunter
    client = make_client(acting_user=hunter, name=name)
    paid_deal(pipeline, ("5000", date(2026, 9, 15)), client=client)
    client_set_payment_terms(
        acting_user=pipeline.accountant,  # terms are the head's and the accountant's
        client=client,
        payment_terms="deferred",
        deferred_days=days,
        deferred_limit=Decimal("100000"),
        deferred_in_working_days=working,
    )
    deal = make_deal(acting_user=hunter, client=client, start_stage=Stage.DEAL)
    pipeline.record_deal(deal)
    receive(deal, received_on)
    return Deal.objects.get(pk=deal.pk)


def receive(deal: Deal, received_on: date) -> None:
    shipment_record(
        acting_user=deal.owner,
        deal=deal,
        receiver_name="Мария Соколова",
        receiver_phone="+79505550101",
        delivery_address="г. Сургут, ул. Ленина, д. 1",
        courier_date=received_on,
        received_on=received_on,
    )


def terms_keeper() -> User:
    """Who sets payment terms: the sales head (of the test, or one made for it)."""
    head = User.objects.filter(role=Role.SALES_HEAD, is_active=True).first()
    return head or UserFactory(username="terms_head", full_name="Руководитель", role=Role.SALES_HEAD)


def consignment_deal(hunter: User, *, name: str, received_on: date, cadence: str) -> Deal:
    client = make_client(acting_user=hunter, name=name)
    client_set_payment_terms(
        acting_user=terms_keeper(), client=client, payment_terms="consignment", consignment_cadence=cadence
    )
    deal = make_deal(acting_user=hunter, client=client)
    receive(deal, received_on)
    return deal


def lose(deal: Deal) -> None:
    deal_mark_lost(acting_user=deal.owner, deal=deal, reason=LostReason.objects.get(code="competitor"))


# --- every rule: reminded once a day, by bell and email, and never on a day off ----------------------


@dataclass
class World:
    hunter: User
    other_hunter: User
    head: User
    accountant: User
    pipeline: Pipeline


@pytest.fixture
def world(hunter, other_hunter, sales_head, accountant, pipeline):
    return World(hunter, other_hunter, sales_head, accountant, pipeline)


def scenario_follow_up(world: World):
    deal = make_deal(
        acting_user=world.hunter, client=make_client(acting_user=world.hunter, name="Кафе «Дожим»")
    )
    follow_up_agreed(
        acting_user=world.hunter, deal=deal, outcome="Просил перезвонить во вторник", next_contact_on=TUESDAY
    )
    return "Сегодня связаться с «Кафе «Дожим»»", [world.hunter]


def scenario_deferred(world: World):
    deferred_deal(world.pipeline, name="Салон «Отсрочка»", received_on=date(2026, 11, 6))  # due 16 Nov
    return "Просрочена оплата «Салон «Отсрочка»»: срок был 16 ноября", [world.hunter, world.accountant]


def scenario_consignment(world: World):
    consignment_deal(
        world.hunter, name="Магазин «Реализация»", received_on=date(2026, 11, 10), cadence="weekly"
    )
    return "Расчёт по реализации с «Магазин «Реализация»»", [world.hunter]


def scenario_idle(world: World):
    client = make_client(acting_user=world.hunter, name="Автомойка «Тишина»")
    make_deal(acting_user=world.hunter, client=client, created_at=local(2026, 11, 2))
    return "Сделка с «Автомойка «Тишина»» без движения", [world.hunter]


def scenario_celebration(world: World):
    client = make_client(acting_user=world.hunter, name="Салон «Именинник»")
    contact_add(acting_user=world.hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))
    return "День рождения: Мария Соколова («Салон «Именинник»»)", [world.hunter]


def scenario_statements(world: World):
    set_plan(world.head, world.hunter, OCTOBER, revenue_target=Decimal("100000"))
    return "Расчётные листы за октябрь 2026 ждут утверждения: 1", [world.head]


def scenario_transfer(world: World):
    client = make_client(acting_user=world.hunter, name="Кафе «Отпуск»")
    client_transfer(acting_user=world.head, client=client, to_owner=world.other_hunter, return_on=TUESDAY)
    return "Пора вернуть «Кафе «Отпуск»» от Анна Смирнова (срок 17 ноября)", [world.head, world.other_hunter]


SCENARIOS = {
    "follow_ups_due": (NotificationKind.FOLLOW_UP_DUE, scenario_follow_up),
    "deferred_payments_overdue": (NotificationKind.PAYMENT_OVERDUE, scenario_deferred),
    "consignment_settlements_due": (NotificationKind.CONSIGNMENT_DUE, scenario_consignment),
    "deals_idle": (NotificationKind.DEAL_IDLE, scenario_idle),
    "celebrations": (NotificationKind.CELEBRATION, scenario_celebration),
    "statements_pending": (NotificationKind.STATEMENTS_PENDING, scenario_statements),
    "transfers_due": (NotificationKind.TRANSFER_RETURN, scenario_transfer),
}


def test_every_rule_has_a_scenario_here():
    assert set(SCENARIOS) == {rule.__name__ for rule in RULES}


@pytest.mark.parametrize("rule", [rule.__name__ for rule in RULES])
def test_each_rule_reminds_by_bell_and_email_once_a_day(rule, world, run_reminders):
    kind, build = SCENARIOS[rule]
    title, people = build(world)

    first = run_reminders(TUESDAY)

    assert first.working_day
    assert first.by_rule[rule] == len(people)
    for person in people:
        assert [text for text in titles(person, kind) if title in text], (person, titles(person))
        [email] = emails_to(person)
        assert title in email.body
    assert recipients(kind) == {person.username for person in people}
    sent, stored = len(mail.outbox), Notification.objects.count()

    again = run_reminders(TUESDAY)

    assert again.created == 0
    assert set(again.by_rule.values()) == {0}
    assert Notification.objects.count() == stored
    assert len(mail.outbox) == sent


def test_nothing_is_reminded_on_a_day_off(world, run_reminders):
    for _kind, build in SCENARIOS.values():
        build(world)

    for day_off in (SATURDAY, SUNDAY):
        run = run_reminders(day_off)
        assert not run.working_day
        assert run.created == 0 and run.by_rule == {}
    assert not Notification.objects.exists()
    assert mail.outbox == []

    # The same world on a working day: every rule that looks back (overdue, idle, pending) speaks up.
    monday = run_reminders(MONDAY)
    assert {rule for rule, created in monday.by_rule.items() if created} == {
        "follow_ups_due",
        "deferred_payments_overdue",
        "deals_idle",
        "statements_pending",
        "transfers_due",
    }


# --- follow_ups_due ------------------------------------------------------------------------------


def deal_due_on(hunter: User, name: str, next_contact_on: date) -> Deal:
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=name))
    follow_up_agreed(
        acting_user=hunter, deal=deal, outcome="Договорились созвониться", next_contact_on=next_contact_on
    )
    return deal


def test_follow_up_due_today_overdue_and_not_yet_due(hunter, run_reminders):
    today = deal_due_on(hunter, "Кафе «Сегодня»", TUESDAY)
    overdue = deal_due_on(hunter, "Кафе «Вчера»", date(2026, 11, 10))
    deal_due_on(hunter, "Кафе «Завтра»", TUESDAY + timedelta(days=1))

    run_reminders(TUESDAY)

    assert sorted(titles(hunter)) == [
        "Просрочен контакт с «Кафе «Вчера»» (с 10 ноября)",
        "Сегодня связаться с «Кафе «Сегодня»»",
    ]
    urls = set(Notification.objects.values_list("url", flat=True))
    assert urls == {deal_url(today), deal_url(overdue)}


def test_overdue_follow_up_is_reminded_again_each_working_day(hunter, run_reminders):
    deal_due_on(hunter, "Кафе «Забытое»", date(2026, 11, 10))

    run_reminders(TUESDAY)
    run_reminders(TUESDAY + timedelta(days=1))

    assert list(
        of_kind(NotificationKind.FOLLOW_UP_DUE).order_by("for_day").values_list("for_day", flat=True)
    ) == [
        TUESDAY,
        TUESDAY + timedelta(days=1),
    ]


def test_a_follow_up_agreed_for_the_weekend_is_due_on_monday_not_overdue(hunter, run_reminders):
    deal_due_on(hunter, "Кафе «Суббота»", SATURDAY)

    run_reminders(SATURDAY)
    assert titles(hunter) == []
    run_reminders(MONDAY)

    assert titles(hunter) == ["Сегодня связаться с «Кафе «Суббота»»"]


def test_closed_deals_and_inactive_owners_get_no_follow_up(hunter, other_hunter, run_reminders):
    lose(deal_due_on(hunter, "Кафе «Отказ»", TUESDAY))
    deal_due_on(other_hunter, "Кафе «Уволенного»", TUESDAY)
    deactivate(other_hunter)

    run = run_reminders(TUESDAY)

    assert run.by_rule["follow_ups_due"] == 0
    assert not of_kind(NotificationKind.FOLLOW_UP_DUE).exists()


def test_follow_up_of_a_transferred_deal_goes_to_its_current_owner(
    hunter, other_hunter, sales_head, run_reminders
):
    deal = deal_due_on(hunter, "Кафе «Передано»", TUESDAY)
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter)

    run_reminders(TUESDAY)

    assert titles(other_hunter, NotificationKind.FOLLOW_UP_DUE) == ["Сегодня связаться с «Кафе «Передано»»"]
    assert titles(hunter, NotificationKind.FOLLOW_UP_DUE) == []


def test_follow_up_agreed_with_a_client_outside_a_deal(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Без сделки»")
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.FOLLOW_UP,
        client=client,
        at=local(2026, 11, 10),
        next_contact_on=TUESDAY,
    )

    run_reminders(TUESDAY - timedelta(days=1))
    assert titles(hunter) == []
    run_reminders(TUESDAY)

    [notification] = of_kind(NotificationKind.FOLLOW_UP_DUE)
    assert notification.recipient == hunter
    assert notification.title == "Сегодня связаться с «Салон «Без сделки»»"
    assert notification.url == client_url(client)


def test_client_follow_up_due_on_sunday_is_reminded_on_monday(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Воскресенье»")
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.FOLLOW_UP,
        client=client,
        at=local(2026, 11, 16),
        next_contact_on=SUNDAY,
    )

    run_reminders(MONDAY)

    assert titles(hunter) == ["Сегодня связаться с «Салон «Воскресенье»»"]


def test_client_follow_up_goes_to_the_clients_current_owner(hunter, other_hunter, sales_head, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Сменил хантера»")
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.FOLLOW_UP,
        client=client,
        at=local(2026, 11, 10),
        next_contact_on=TUESDAY,
    )
    client_transfer(acting_user=sales_head, client=client, to_owner=other_hunter)

    run_reminders(TUESDAY)

    assert titles(other_hunter) == ["Сегодня связаться с «Салон «Сменил хантера»»"]
    assert titles(hunter) == []


def test_client_follow_up_rescheduled_later_is_not_reminded_on_the_old_date(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Перенесли»")
    for at, next_contact_on in ((local(2026, 11, 10), TUESDAY), (local(2026, 11, 12), date(2026, 11, 24))):
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.FOLLOW_UP,
            client=client,
            at=at,
            next_contact_on=next_contact_on,
        )

    run_reminders(TUESDAY)

    assert titles(hunter) == []


def test_a_meetings_next_contact_outside_a_deal_is_reminded_on_its_day_and_after(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Гостиница «После встречи»")
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.MEETING,
        client=client,
        at=local(2026, 11, 13),
        outcome="Ждут прайс",
        next_contact_on=TUESDAY,
        next_contact_time=time(16, 30),
    )

    run_reminders(TUESDAY)
    run_reminders(TUESDAY + timedelta(days=1))

    assert titles(hunter) == [
        "Сегодня связаться с «Гостиница «После встречи»» в 16:30",
        "Просрочен контакт с «Гостиница «После встречи»» (с 17 ноября)",
    ]
    assert set(of_kind(NotificationKind.FOLLOW_UP_DUE).values_list("url", flat=True)) == {client_url(client)}


def test_a_task_done_is_not_reminded_and_a_moved_one_on_its_new_day_only(hunter, run_reminders):
    from kpi.models import Task
    from kpi.services import task_done, task_move

    done = deal_due_on(hunter, "Кафе «Сделано»", TUESDAY)
    moved = deal_due_on(hunter, "Кафе «Перенесено»", TUESDAY)
    task_done(acting_user=hunter, task=Task.objects.get(deal=done, status=Task.Status.OPEN))
    task_move(
        acting_user=hunter,
        task=Task.objects.get(deal=moved, status=Task.Status.OPEN),
        due_on=date(2026, 11, 19),  # a Thursday: put off on Monday, before it was due
        today=TUESDAY - timedelta(days=1),
    )

    run_reminders(TUESDAY)
    assert titles(hunter) == []
    run_reminders(date(2026, 11, 19))

    assert titles(hunter) == ["Сегодня связаться с «Кафе «Перенесено»»"]
    assert Deal.objects.get(pk=moved.pk).next_contact_on == date(2026, 11, 19)
    assert Deal.objects.get(pk=done.pk).next_contact_on is None


# --- deferred_payments_overdue -------------------------------------------------------------------


def test_deferred_payment_is_reminded_the_day_after_its_term(pipeline, run_reminders):
    hunter = pipeline.hunter
    deferred_deal(pipeline, name="Салон «Срок сегодня»", received_on=date(2026, 11, 7))  # due 17 Nov
    deferred_deal(pipeline, name="Салон «Срок завтра»", received_on=date(2026, 11, 8))  # due 18 Nov

    run_reminders(TUESDAY)
    assert titles(hunter, NotificationKind.PAYMENT_OVERDUE) == []

    run_reminders(TUESDAY + timedelta(days=1))
    assert titles(hunter, NotificationKind.PAYMENT_OVERDUE) == [
        "Просрочена оплата «Салон «Срок сегодня»»: срок был 17 ноября"
    ]

    run_reminders(TUESDAY + timedelta(days=2))
    assert sorted(
        of_kind(NotificationKind.PAYMENT_OVERDUE).filter(recipient=hunter).values_list("title", "for_day")
    ) == [
        ("Просрочена оплата «Салон «Срок завтра»»: срок был 18 ноября", TUESDAY + timedelta(days=2)),
        ("Просрочена оплата «Салон «Срок сегодня»»: срок был 17 ноября", TUESDAY + timedelta(days=1)),
        ("Просрочена оплата «Салон «Срок сегодня»»: срок был 17 ноября", TUESDAY + timedelta(days=2)),
    ]


def test_deferred_payment_goes_to_the_owner_and_every_active_accountant(
    pipeline, accountant, sales_head, run_reminders
):
    second = UserFactory(
        username="buh2", full_name="Нина Белова", role=Role.ACCOUNTANT, email="belova@atlanset.example"
    )
    retired = UserFactory(
        username="buh3", full_name="Пётр Серов", role=Role.ACCOUNTANT, email="serov@atlanset.example"
    )
    deactivate(retired)
    deal = deferred_deal(pipeline, name="Салон «Должник»", received_on=date(2026, 11, 2))  # due 12 Nov

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.PAYMENT_OVERDUE) == {pipeline.hunter.username, "buh", "buh2"}
    for notification in of_kind(NotificationKind.PAYMENT_OVERDUE):
        assert notification.title == "Просрочена оплата «Салон «Должник»»: срок был 12 ноября"
        assert notification.body == "Не оплачено: 5\u00a0000,00\u00a0₽."
        assert notification.url == deal_url(deal)
    assert len(emails_to(second)) == 1 and emails_to(retired) == [] and emails_to(sales_head) == []


def test_deferred_payment_reminder_shows_what_is_still_unpaid(pipeline, accountant, run_reminders):
    deal = deferred_deal(pipeline, name="Салон «Частично»", received_on=date(2026, 11, 2))
    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("2000"),
        received_on=date(2026, 11, 5),
        bank_document="п/п 77",
    )

    run_reminders(TUESDAY)

    assert set(of_kind(NotificationKind.PAYMENT_OVERDUE).values_list("body", flat=True)) == {
        "Не оплачено: 3\u00a0000,00\u00a0₽."
    }


def test_paid_deferred_deal_is_not_reminded(pipeline, accountant, run_reminders):
    deal = deferred_deal(pipeline, name="Салон «Оплатил»", received_on=date(2026, 11, 2))
    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("5000"),
        received_on=date(2026, 11, 16),
        bank_document="п/п 78",
    )

    run = run_reminders(TUESDAY)

    assert run.by_rule["deferred_payments_overdue"] == 0


def test_deferred_term_in_working_days_is_counted_by_the_production_calendar(pipeline, run_reminders):
    # Received on Tuesday 3 November 2026: ten calendar days end on 13 November, ten working days
    # (without 4 November and two weekends) on 18 November.
    deferred_deal(pipeline, name="Салон «Календарные»", received_on=date(2026, 11, 3))
    deferred_deal(pipeline, name="Салон «Рабочие»", received_on=date(2026, 11, 3), working=True)

    run_reminders(TUESDAY)
    assert titles(pipeline.hunter, NotificationKind.PAYMENT_OVERDUE) == [
        "Просрочена оплата «Салон «Календарные»»: срок был 13 ноября"
    ]

    run_reminders(date(2026, 11, 19))
    assert titles(pipeline.hunter, NotificationKind.PAYMENT_OVERDUE)[-1] == (
        "Просрочена оплата «Салон «Рабочие»»: срок был 18 ноября"
    )


def test_inactive_owner_gets_no_deferred_payment_reminder_but_the_accountant_does(pipeline, run_reminders):
    deferred_deal(pipeline, name="Салон «Ушедшего»", received_on=date(2026, 11, 2))
    deactivate(pipeline.hunter)

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.PAYMENT_OVERDUE) == {pipeline.accountant.username}


# --- consignment_settlements_due -----------------------------------------------------------------


def test_weekly_consignment_settlement_every_seventh_day(hunter, run_reminders):
    deal = consignment_deal(hunter, name="Магазин «Неделя»", received_on=date(2026, 11, 10), cadence="weekly")
    consignment_deal(hunter, name="Магазин «Шесть дней»", received_on=date(2026, 11, 11), cadence="weekly")
    consignment_deal(hunter, name="Магазин «Только что»", received_on=TUESDAY, cadence="weekly")

    run_reminders(TUESDAY)

    [notification] = of_kind(NotificationKind.CONSIGNMENT_DUE)
    assert notification.recipient == hunter
    assert notification.title == "Расчёт по реализации с «Магазин «Неделя»»: узнайте, что продано"
    assert notification.url == deal_url(deal)

    run_reminders(TUESDAY + timedelta(days=1))  # the next day: «Шесть дней» is due, «Неделя» is not
    assert titles(hunter, NotificationKind.CONSIGNMENT_DUE)[1:] == [
        "Расчёт по реализации с «Магазин «Шесть дней»»: узнайте, что продано"
    ]

    run_reminders(date(2026, 11, 24))  # two weeks after receipt: again, and the newest one's first week
    assert sorted(
        of_kind(NotificationKind.CONSIGNMENT_DUE)
        .filter(for_day=date(2026, 11, 24))
        .values_list("title", flat=True)
    ) == [
        "Расчёт по реализации с «Магазин «Неделя»»: узнайте, что продано",
        "Расчёт по реализации с «Магазин «Только что»»: узнайте, что продано",
    ]


def test_weekly_settlement_falling_on_saturday_is_reminded_on_monday(hunter, run_reminders):
    consignment_deal(hunter, name="Магазин «Выходной»", received_on=date(2026, 11, 14), cadence="weekly")

    run_reminders(date(2026, 11, 20))
    run_reminders(SATURDAY)
    assert titles(hunter) == []
    run_reminders(MONDAY)

    assert titles(hunter) == ["Расчёт по реализации с «Магазин «Выходной»»: узнайте, что продано"]


def test_monthly_consignment_settlement_on_the_day_of_receipt(hunter, run_reminders):
    consignment_deal(hunter, name="Магазин «Месяц»", received_on=date(2026, 10, 17), cadence="monthly")

    run_reminders(TUESDAY - timedelta(days=1))
    assert titles(hunter) == []
    run_reminders(TUESDAY)
    assert titles(hunter) == ["Расчёт по реализации с «Магазин «Месяц»»: узнайте, что продано"]
    run_reminders(TUESDAY + timedelta(days=1))
    assert len(titles(hunter)) == 1


def test_monthly_settlement_in_a_shorter_month_is_on_its_last_day(hunter, run_reminders):
    consignment_deal(
        hunter, name="Магазин «Тридцать первое»", received_on=date(2026, 8, 31), cadence="monthly"
    )

    run_reminders(date(2026, 9, 29))
    assert titles(hunter) == []
    run_reminders(date(2026, 9, 30))
    assert titles(hunter) == ["Расчёт по реализации с «Магазин «Тридцать первое»»: узнайте, что продано"]


def test_monthly_settlement_on_28_february_saturday_is_reminded_on_monday(hunter, run_reminders):
    consignment_deal(hunter, name="Магазин «Февраль»", received_on=date(2026, 1, 31), cadence="monthly")

    run_reminders(date(2026, 2, 27))
    assert titles(hunter) == []
    run_reminders(date(2026, 3, 2))  # covers Saturday 28 February, the month's last day

    assert titles(hunter) == ["Расчёт по реализации с «Магазин «Февраль»»: узнайте, что продано"]


def test_settled_or_closed_consignment_deals_are_not_reminded(pipeline, accountant, run_reminders):
    hunter = pipeline.hunter
    lose(consignment_deal(hunter, name="Магазин «Отказ»", received_on=date(2026, 11, 10), cadence="weekly"))
    paid = consignment_deal(
        hunter, name="Магазин «Оплачено»", received_on=date(2026, 11, 10), cadence="weekly"
    )
    paid = pipeline.advance_to(paid, Stage.PAYMENT)
    receive(paid, date(2026, 11, 10))
    payment_record(
        acting_user=accountant,
        deal=paid,
        amount=Decimal("5000"),
        received_on=date(2026, 11, 16),
        bank_document="п/п 1",
    )
    # A client on prepayment terms: nothing to settle.
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Магазин «Предоплата»"))

    run = run_reminders(TUESDAY)

    assert run.by_rule["consignment_settlements_due"] == 0


def test_inactive_owner_gets_no_consignment_reminder(hunter, run_reminders):
    consignment_deal(hunter, name="Магазин «Ушедшего»", received_on=date(2026, 11, 10), cadence="weekly")
    deactivate(hunter)

    run_reminders(TUESDAY)

    assert titles(hunter) == []


# --- deals_idle ----------------------------------------------------------------------------------


def moment(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def test_deal_idle_beyond_its_stages_limit_is_reminded(hunter, run_reminders):
    limit = idle_limit(Stage.LEAD)
    idle = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Автомойка «Стоит»"),
        created_at=moment(TUESDAY - timedelta(days=limit + 1)),
    )
    make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Автомойка «Свежая»"),
        created_at=moment(TUESDAY - timedelta(days=limit)),
    )

    run_reminders(TUESDAY)

    [notification] = of_kind(NotificationKind.DEAL_IDLE)
    assert notification.recipient == hunter
    assert notification.title == (
        "Сделка с «Автомойка «Стоит»» без движения на этапе «Выборка потенциальных клиентов»"
    )
    assert notification.url == deal_url(idle)


def test_idle_limit_is_per_stage_and_a_stage_change_resets_it(hunter, run_reminders):
    limit = idle_limit(Stage.CALL)
    assert limit < idle_limit(Stage.LEAD)  # the call stage is checked sooner than the lead one
    long_ago = moment(date(2026, 10, 1))
    idle = make_deal(
        acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Звонок»"), created_at=long_ago
    )
    deal_move(
        acting_user=hunter, deal=idle, to_stage=Stage.CALL, at=moment(TUESDAY - timedelta(days=limit + 1))
    )
    moved = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Кафе «Сдвинулось»"),
        created_at=long_ago,
    )
    deal_move(acting_user=hunter, deal=moved, to_stage=Stage.CALL, at=moment(TUESDAY - timedelta(days=limit)))

    run_reminders(TUESDAY)

    assert titles(hunter, NotificationKind.DEAL_IDLE) == [
        "Сделка с «Кафе «Звонок»» без движения на этапе «Звонок»"
    ]


def test_a_next_contact_agreed_for_later_holds_the_idle_reminder_back(hunter, run_reminders):
    limit = idle_limit(Stage.LEAD)
    waiting = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Склад «Ждёт звонка»"),
        created_at=moment(TUESDAY - timedelta(days=limit + 5)),
    )
    task_schedule(agreed_by=hunter, client=waiting.client, deal=waiting, due_on=TUESDAY + timedelta(days=3))

    run_reminders(TUESDAY)

    assert titles(hunter, NotificationKind.DEAL_IDLE) == []


def test_recent_activity_on_the_deal_resets_idleness(hunter, run_reminders):
    long_ago = moment(date(2026, 10, 1))
    worked = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Салон «В работе»"),
        created_at=long_ago,
    )
    activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=worked.client, deal=worked, at=local(2026, 11, 16)
    )
    stale = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Салон «Давно звонили»"),
        created_at=long_ago,
    )
    activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=stale.client, deal=stale, at=local(2026, 11, 2)
    )
    # An activity with the client but not on the deal does not count for the deal.
    other = make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Салон «Мимо сделки»"),
        created_at=long_ago,
    )
    activity_log(acting_user=hunter, kind=ActivityKind.MEETING, client=other.client, at=local(2026, 11, 16))

    run_reminders(TUESDAY)

    assert sorted(titles(hunter, NotificationKind.DEAL_IDLE)) == [
        "Сделка с «Салон «Давно звонили»» без движения на этапе «Выборка потенциальных клиентов»",
        "Сделка с «Салон «Мимо сделки»» без движения на этапе «Выборка потенциальных клиентов»",
    ]


def test_idle_limits_come_from_settings(hunter, settings, run_reminders):
    make_deal(
        acting_user=hunter,
        client=make_client(acting_user=hunter, name="Кафе «Терпение»"),
        created_at=moment(date(2026, 11, 2)),
    )
    settings.STAGE_IDLE_DAYS = {**settings.STAGE_IDLE_DAYS, Stage.LEAD: 30}

    run = run_reminders(TUESDAY)

    assert run.by_rule["deals_idle"] == 0


def test_closed_deals_and_inactive_owners_get_no_idle_reminder(hunter, other_hunter, run_reminders):
    long_ago = moment(date(2026, 10, 1))
    lose(
        make_deal(
            acting_user=hunter,
            client=make_client(acting_user=hunter, name="Кафе «Отказ»"),
            created_at=long_ago,
        )
    )
    make_deal(
        acting_user=other_hunter,
        client=make_client(acting_user=other_hunter, name="Кафе «Уволен»"),
        created_at=long_ago,
    )
    deactivate(other_hunter)

    run = run_reminders(TUESDAY)

    assert run.by_rule["deals_idle"] == 0


# --- celebrations --------------------------------------------------------------------------------


def test_birthday_and_client_holiday_today_are_reminded_to_the_owner(hunter, other_hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Праздник»")
    contact_add(acting_user=hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))
    contact_add(acting_user=hunter, client=client, name="Олег Завтрашний", birthday=date(1990, 11, 18))
    contact_add(acting_user=hunter, client=client, name="Пётр Вчерашний", birthday=date(1990, 11, 16))
    contact_add(acting_user=hunter, client=client, name="Без даты")
    ClientHoliday.objects.create(client=client, name="День компании", month=11, day=17)
    ClientHoliday.objects.create(client=client, name="День парикмахера", month=11, day=18)

    run_reminders(TUESDAY)

    assert sorted(titles(hunter)) == [
        "День рождения: Мария Соколова («Салон «Праздник»»)",
        "Праздник у «Салон «Праздник»»: День компании",
    ]
    assert set(Notification.objects.values_list("url", flat=True)) == {client_url(client)}
    assert titles(other_hunter) == []


def test_weekend_birthdays_and_holidays_are_reminded_on_monday(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Выходные»")
    contact_add(acting_user=hunter, client=client, name="Суббота Иванова", birthday=date(1980, 11, 21))
    contact_add(acting_user=hunter, client=client, name="Воскресенье Петров", birthday=date(1981, 11, 22))
    contact_add(acting_user=hunter, client=client, name="Пятница Сидоров", birthday=date(1982, 11, 20))
    contact_add(acting_user=hunter, client=client, name="Вторник Орлов", birthday=date(1983, 11, 24))
    ClientHoliday.objects.create(client=client, name="День основания", month=11, day=22)

    for day_off in (SATURDAY, SUNDAY):
        run_reminders(day_off)
    assert titles(hunter) == []

    run_reminders(MONDAY)

    assert sorted(titles(hunter)) == [
        "День рождения: Воскресенье Петров («Салон «Выходные»»)",
        "День рождения: Суббота Иванова («Салон «Выходные»»)",
        "Праздник у «Салон «Выходные»»: День основания",
    ]
    assert set(Notification.objects.values_list("for_day", flat=True)) == {MONDAY}
    [email] = emails_to(hunter)
    assert "Суббота Иванова" in email.body and "Воскресенье Петров" in email.body


def test_birthdays_of_the_new_year_break_are_reminded_on_12_january(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Каникулы»")
    contact_add(acting_user=hunter, client=client, name="Новогодняя", birthday=date(1980, 12, 31))
    contact_add(acting_user=hunter, client=client, name="Рождественский", birthday=date(1980, 1, 7))
    contact_add(acting_user=hunter, client=client, name="Перенесённая", birthday=date(1980, 1, 9))
    contact_add(acting_user=hunter, client=client, name="Рабочий", birthday=date(1980, 1, 13))

    for day in (date(2026, 1, 5), date(2026, 1, 9)):
        assert not run_reminders(day).working_day
    run_reminders(date(2026, 1, 12))

    assert sorted(titles(hunter)) == [
        "День рождения: Новогодняя («Салон «Каникулы»»)",
        "День рождения: Перенесённая («Салон «Каникулы»»)",
        "День рождения: Рождественский («Салон «Каникулы»»)",
    ]


def test_29_february_is_celebrated_on_28_february_in_other_years(hunter, run_reminders):
    client = make_client(acting_user=hunter, name="Салон «Високосный»")
    contact_add(acting_user=hunter, client=client, name="Касьян Високосный", birthday=date(1988, 2, 29))
    ClientHoliday.objects.create(client=client, name="День основания", month=2, day=29)
    expected = [
        "День рождения: Касьян Високосный («Салон «Високосный»»)",
        "Праздник у «Салон «Високосный»»: День основания",
    ]

    def celebrated_on(day: date) -> list[str]:
        run_reminders(day)
        return sorted(
            of_kind(NotificationKind.CELEBRATION).filter(for_day=day).values_list("title", flat=True)
        )

    assert celebrated_on(date(2025, 2, 27)) == []
    assert celebrated_on(date(2025, 2, 28)) == expected  # 2025 has no 29 February
    assert celebrated_on(date(2026, 3, 2)) == expected  # 28 February 2026 is a Saturday
    assert celebrated_on(date(2028, 2, 28)) == []  # 2028 is a leap year: on the day itself
    assert celebrated_on(date(2028, 2, 29)) == expected


def test_celebrations_go_to_the_clients_current_active_owner(hunter, other_hunter, sales_head, run_reminders):
    moved = make_client(acting_user=hunter, name="Салон «Переданный»")
    contact_add(acting_user=hunter, client=moved, name="Мария Соколова", birthday=date(1985, 11, 17))
    client_transfer(acting_user=sales_head, client=moved, to_owner=other_hunter)
    orphan = make_client(acting_user=hunter, name="Салон «Без хантера»")
    contact_add(acting_user=hunter, client=orphan, name="Анна Забытая", birthday=date(1985, 11, 17))
    ClientHoliday.objects.create(client=orphan, name="День компании", month=11, day=17)
    stand_in = UserFactory(role=Role.HUNTER, email="stand-in@atlanset.example")
    client_transfer(acting_user=sales_head, client=orphan, to_owner=stand_in)
    deactivate(stand_in)

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.CELEBRATION) == {other_hunter.username}
    assert titles(other_hunter) == ["День рождения: Мария Соколова («Салон «Переданный»»)"]


# --- statements_pending --------------------------------------------------------------------------


@pytest.fixture
def october_plans(sales_head, hunter, other_hunter):
    for person in (hunter, other_hunter):
        set_plan(sales_head, person, OCTOBER, revenue_target=Decimal("100000"))


def test_head_is_asked_to_approve_last_months_drafts(
    october_plans, sales_head, accountant, hunter, run_reminders
):
    run_reminders(TUESDAY)

    [notification] = of_kind(NotificationKind.STATEMENTS_PENDING)
    assert notification.recipient == sales_head
    assert notification.title == "Расчётные листы за октябрь 2026 ждут утверждения: 2"
    assert notification.url == reverse("compensation:statements") + "?month=2026-10"
    assert titles(accountant) == [] and titles(hunter) == []


def test_accountant_is_asked_to_lock_approved_statements(
    october_plans, sales_head, accountant, hunter, other_hunter, run_reminders
):
    statement_approve(acting_user=sales_head, hunter=hunter, month=OCTOBER)

    run_reminders(TUESDAY)

    assert titles(sales_head) == ["Расчётные листы за октябрь 2026 ждут утверждения: 1"]
    assert titles(accountant) == ["Утверждённые расчётные листы за октябрь 2026 ждут закрытия: 1"]

    statement_approve(acting_user=sales_head, hunter=other_hunter, month=OCTOBER)
    run_reminders(TUESDAY + timedelta(days=1))

    assert titles(sales_head) == ["Расчётные листы за октябрь 2026 ждут утверждения: 1"]
    assert titles(accountant)[-1] == "Утверждённые расчётные листы за октябрь 2026 ждут закрытия: 2"


def test_locked_month_needs_nobody(
    october_plans, sales_head, accountant, hunter, other_hunter, run_reminders
):
    for person in (hunter, other_hunter):
        statement_approve(acting_user=sales_head, hunter=person, month=OCTOBER)
        statement_lock(acting_user=accountant, hunter=person, month=OCTOBER)

    run = run_reminders(TUESDAY)

    assert run.by_rule["statements_pending"] == 0


def test_only_the_previous_month_and_only_active_heads_are_reminded(sales_head, hunter, run_reminders):
    retired_head = UserFactory(username="head2", role=Role.SALES_HEAD, email="old-head@atlanset.example")
    set_plan(sales_head, hunter, OCTOBER)
    set_plan(sales_head, hunter, date(2026, 11, 1))  # the current month is not over yet
    deactivate(retired_head)

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.STATEMENTS_PENDING) == {sales_head.username}
    assert titles(sales_head) == ["Расчётные листы за октябрь 2026 ждут утверждения: 1"]


def test_a_month_without_hunters_needs_no_statements(sales_head, accountant, run_reminders):
    run = run_reminders(TUESDAY)

    assert run.by_rule["statements_pending"] == 0


# --- transfers_due -------------------------------------------------------------------------------


def test_temporary_transfer_due_back_reminds_the_head_and_the_stand_in(
    hunter, other_hunter, sales_head, run_reminders
):
    due = make_client(acting_user=hunter, name="Кафе «Отпуск»")
    client_transfer(acting_user=sales_head, client=due, to_owner=other_hunter, return_on=TUESDAY)
    overdue = make_client(acting_user=hunter, name="Кафе «Больничный»")
    client_transfer(
        acting_user=sales_head, client=overdue, to_owner=other_hunter, return_on=date(2026, 11, 10)
    )
    later = make_client(acting_user=hunter, name="Кафе «Командировка»")
    client_transfer(
        acting_user=sales_head, client=later, to_owner=other_hunter, return_on=TUESDAY + timedelta(days=1)
    )
    forever = make_client(acting_user=hunter, name="Кафе «Навсегда»")
    client_transfer(acting_user=sales_head, client=forever, to_owner=other_hunter)

    run_reminders(TUESDAY)

    expected = [
        "Пора вернуть «Кафе «Больничный»» от Анна Смирнова (срок 10 ноября)",
        "Пора вернуть «Кафе «Отпуск»» от Анна Смирнова (срок 17 ноября)",
    ]
    assert sorted(titles(sales_head)) == expected
    assert sorted(titles(other_hunter)) == expected
    assert titles(hunter) == []
    assert set(Notification.objects.values_list("url", flat=True)) == {client_url(due), client_url(overdue)}


def test_returned_client_is_not_reminded(hunter, other_hunter, sales_head, run_reminders):
    client = make_client(acting_user=hunter, name="Кафе «Вернули»")
    client_transfer(acting_user=sales_head, client=client, to_owner=other_hunter, return_on=TUESDAY)
    client_transfer(acting_user=sales_head, client=client, to_owner=hunter)

    run = run_reminders(TUESDAY)

    assert run.by_rule["transfers_due"] == 0


def test_temporary_deal_transfer_links_to_the_deal(hunter, other_hunter, sales_head, run_reminders):
    deal = make_deal(
        acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Сделка на время»")
    )
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter, return_on=TUESDAY)

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.TRANSFER_RETURN) == {sales_head.username, other_hunter.username}
    assert set(of_kind(NotificationKind.TRANSFER_RETURN).values_list("url", flat=True)) == {deal_url(deal)}

    # Once the deal is back with its hunter, nobody is reminded any more.
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=hunter)
    assert run_reminders(TUESDAY + timedelta(days=1)).by_rule["transfers_due"] == 0


def test_inactive_stand_in_gets_no_transfer_reminder_but_the_head_does(
    hunter, other_hunter, sales_head, run_reminders
):
    client = make_client(acting_user=hunter, name="Кафе «Уволенный сменщик»")
    client_transfer(acting_user=sales_head, client=client, to_owner=other_hunter, return_on=TUESDAY)
    deactivate(other_hunter)

    run_reminders(TUESDAY)

    assert recipients(NotificationKind.TRANSFER_RETURN) == {sales_head.username}


def test_a_later_permanent_transfer_supersedes_an_earlier_temporary_one(
    hunter, other_hunter, sales_head, run_reminders
):
    client = make_client(acting_user=hunter, name="Кафе «Насовсем»")
    client_transfer(
        acting_user=sales_head, client=client, to_owner=other_hunter, return_on=date(2026, 11, 10)
    )
    client_transfer(acting_user=sales_head, client=client, to_owner=hunter)  # returned in time
    client_transfer(acting_user=sales_head, client=client, to_owner=other_hunter)  # later: for good

    run = run_reminders(TUESDAY)

    assert run.by_rule["transfers_due"] == 0
