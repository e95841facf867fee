"""Writes of notifications.services: storing reminders once, the email digest (opt-outs, people without an
address, absolute links, a failing mail server), marking read and the email preferences."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend as MailBackend
from django.utils import timezone

from accounts.roles import Role
from deals.services import contact_add
from notifications.models import EmailOptOut, Notification, NotificationKind, ReminderDay
from notifications.reminders import RULES, Reminder
from notifications.services import (
    daily_reminders_run,
    daily_reminders_send,
    email_preferences_save,
    missed_reminder_days,
    notification_emails_send,
    notifications_create,
    notifications_mark_read,
)
from tests.deals.factories import make_client, make_deal
from tests.factories import UserFactory

from .conftest import TUESDAY, follow_up_agreed, titles

ALL_KINDS = set(NotificationKind.values)


def reminder(user, title: str, *, kind=NotificationKind.FOLLOW_UP_DUE, subject="deal:1", url="", body=""):
    return Reminder(recipient_id=user.pk, kind=kind, subject_key=subject, title=title, body=body, url=url)


def emails_to(user) -> list[EmailMessage]:
    return [message for message in mail.outbox if message.to == [user.email]]


def states(user) -> dict[str, str]:
    return dict(Notification.objects.filter(recipient=user).values_list("title", "email_state"))


# --- notifications_create ------------------------------------------------------------------------


def test_a_reminder_is_stored_once_per_recipient_kind_subject_and_day(hunter):
    reminders = [
        reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»"),
        reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»"),  # the same one twice in a run
    ]

    assert notifications_create(reminders=reminders, for_day=TUESDAY) == 1
    assert notifications_create(reminders=reminders, for_day=TUESDAY) == 0
    assert Notification.objects.count() == 1

    # The next day it is a new reminder.
    assert notifications_create(reminders=reminders, for_day=TUESDAY + timedelta(days=1)) == 1
    assert Notification.objects.count() == 2


def test_the_same_subject_for_another_person_or_kind_is_another_reminder(hunter, accountant):
    reminders = [
        reminder(hunter, "Просрочена оплата «Салон «Лотос»»", kind=NotificationKind.PAYMENT_OVERDUE),
        reminder(accountant, "Просрочена оплата «Салон «Лотос»»", kind=NotificationKind.PAYMENT_OVERDUE),
        reminder(hunter, "Сделка с «Салон «Лотос»» без движения", kind=NotificationKind.DEAL_IDLE),
    ]

    assert notifications_create(reminders=reminders, for_day=TUESDAY) == 3
    assert notifications_create(reminders=reminders[:1], for_day=TUESDAY) == 0
    assert len(titles(hunter)) == 2 and len(titles(accountant)) == 1


def test_nothing_to_remind_stores_and_queues_nothing(hunter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert notifications_create(reminders=[], for_day=TUESDAY) == 0
    assert callbacks == []
    assert not Notification.objects.exists()


def test_a_very_long_title_is_cut_to_fit(hunter):
    long_name = "Салон красоты " + "очень " * 60
    notifications_create(reminders=[reminder(hunter, f"Сегодня связаться с «{long_name}»")], for_day=TUESDAY)

    [title] = titles(hunter)
    assert len(title) == 200 and title.startswith("Сегодня связаться с «Салон красоты очень")


def test_new_reminders_are_emailed_only_after_the_run_commits(hunter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notifications_create(
            reminders=[reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»")], for_day=TUESDAY
        )
    assert mail.outbox == []
    assert states(hunter) == {"Сегодня связаться с «Кафе «Берёзка»»": Notification.EmailState.PENDING}

    for callback in callbacks:
        callback()

    [email] = mail.outbox
    assert email.to == [hunter.email]
    assert email.subject == "Сегодня связаться с «Кафе «Берёзка»»"
    assert states(hunter) == {"Сегодня связаться с «Кафе «Берёзка»»": Notification.EmailState.SENT}


# --- email: opt-outs, no address, the digest -----------------------------------------------------


def test_an_opted_out_kind_reaches_the_bell_but_not_the_mailbox(hunter, django_capture_on_commit_callbacks):
    email_preferences_save(acting_user=hunter, email_kinds=ALL_KINDS - {NotificationKind.DEAL_IDLE})

    with django_capture_on_commit_callbacks(execute=True):
        notifications_create(
            reminders=[
                reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»"),
                reminder(hunter, "Сделка с «Кафе «Ёлка»» без движения", kind=NotificationKind.DEAL_IDLE),
            ],
            for_day=TUESDAY,
        )

    assert Notification.objects.filter(recipient=hunter).unread().count() == 2
    assert states(hunter) == {
        "Сегодня связаться с «Кафе «Берёзка»»": Notification.EmailState.SENT,
        "Сделка с «Кафе «Ёлка»» без движения": Notification.EmailState.SKIPPED,
    }
    [email] = emails_to(hunter)
    assert "Кафе «Берёзка»" in email.body
    assert "Кафе «Ёлка»" not in email.body and "Кафе «Ёлка»" not in email.subject


def test_only_opted_out_reminders_send_no_email_at_all(hunter, django_capture_on_commit_callbacks):
    email_preferences_save(acting_user=hunter, email_kinds=[])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notifications_create(
            reminders=[reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»")], for_day=TUESDAY
        )

    assert callbacks == []
    assert mail.outbox == []
    assert titles(hunter) == ["Сегодня связаться с «Кафе «Берёзка»»"]


def test_a_person_without_an_email_address_gets_the_bell_only(
    hunter, production, django_capture_on_commit_callbacks
):
    assert production.email == ""

    with django_capture_on_commit_callbacks(execute=True):
        notifications_create(
            reminders=[
                reminder(production, "Пробники для «Кафе «Берёзка»»", subject="deal:7"),
                reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»", subject="deal:7"),
            ],
            for_day=TUESDAY,
        )

    assert states(production) == {"Пробники для «Кафе «Берёзка»»": Notification.EmailState.SKIPPED}
    assert [message.to for message in mail.outbox] == [[hunter.email]]


def test_one_digest_per_person_with_all_their_items_and_absolute_links(
    hunter, other_hunter, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_URL = "https://portal.atlanset.example/"
    with django_capture_on_commit_callbacks():  # sent below, explicitly
        notifications_create(
            reminders=[
                reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»", subject="deal:11", url="/deals/11/"),
                reminder(
                    hunter,
                    "Просрочена оплата «Салон «Лотос»»: срок был 12 ноября",
                    kind=NotificationKind.PAYMENT_OVERDUE,
                    subject="deal:12",
                    url="/deals/12/",
                    body="Не оплачено: 5000.00 ₽.",
                ),
                reminder(
                    hunter,
                    "День рождения: Мария Соколова («Салон «Лотос & Ко»»)",
                    kind=NotificationKind.CELEBRATION,
                    subject="contact:3",
                    url="/clients/5/",
                ),
                reminder(
                    other_hunter, "Сегодня связаться с «Кафе «Обь»»", subject="deal:13", url="/deals/13/"
                ),
            ],
            for_day=TUESDAY,
        )

    assert notification_emails_send() == 2

    [digest] = emails_to(hunter)
    assert digest.subject == "Уведомления портала: 3"
    assert "Здравствуйте, Иван Иванов!" in digest.body
    for line in (
        "— Сегодня связаться с «Кафе «Берёзка»»",
        "https://portal.atlanset.example/deals/11/",
        "— Просрочена оплата «Салон «Лотос»»: срок был 12 ноября",
        "Не оплачено: 5000.00 ₽.",
        "https://portal.atlanset.example/deals/12/",
        "— День рождения: Мария Соколова («Салон «Лотос & Ко»»)",  # plain text: "&" is not escaped
        "https://portal.atlanset.example/clients/5/",
        "https://portal.atlanset.example/notifications/",
    ):
        assert line in digest.body
    assert "Кафе «Обь»" not in digest.body

    [single] = emails_to(other_hunter)
    assert single.subject == "Сегодня связаться с «Кафе «Обь»»"
    assert "https://portal.atlanset.example/deals/13/" in single.body

    sent = Notification.objects.all()
    assert {n.email_state for n in sent} == {Notification.EmailState.SENT}
    assert all(n.emailed_at is not None for n in sent)

    # Nothing is sent twice.
    assert notification_emails_send() == 0
    assert len(mail.outbox) == 2


def test_a_failing_mail_server_leaves_the_reminders_pending_for_the_next_run(
    hunter, other_hunter, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        notifications_create(
            reminders=[
                reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»"),
                reminder(other_hunter, "Сегодня связаться с «Кафе «Обь»»", subject="deal:2"),
            ],
            for_day=TUESDAY,
        )
    real_send = MailBackend.send_messages
    attempts = []

    def send_failing_once(backend, messages):
        attempts.append(messages[0].to)
        if len(attempts) == 1:
            raise OSError("SMTP server unavailable")
        return real_send(backend, messages)

    monkeypatch.setattr(MailBackend, "send_messages", send_failing_once)

    assert notification_emails_send() == 1

    [failed_address] = attempts[0]
    failed = hunter if failed_address == hunter.email else other_hunter
    delivered = other_hunter if failed is hunter else hunter
    assert len(attempts) == 2  # the failure did not stop the other person's email
    assert [message.to for message in mail.outbox] == [[delivered.email]]
    assert set(states(failed).values()) == {Notification.EmailState.PENDING}
    assert set(states(delivered).values()) == {Notification.EmailState.SENT}

    # The server is back: the next run sends the waiting email once, and only that one.
    assert notification_emails_send() == 1
    assert notification_emails_send() == 0
    assert len(emails_to(failed)) == 1 and len(emails_to(delivered)) == 1
    assert set(states(failed).values()) == {Notification.EmailState.SENT}


# --- the morning run -----------------------------------------------------------------------------


def test_the_morning_run_reports_every_rule_on_a_working_day_and_none_on_a_day_off(db):
    working = daily_reminders_send(today=TUESDAY)
    assert working.day == TUESDAY and working.working_day
    assert set(working.by_rule) == {rule.__name__ for rule in RULES}

    day_off = daily_reminders_send(today=date(2026, 11, 22))
    assert not day_off.working_day and day_off.by_rule == {} and day_off.created == 0


@pytest.mark.django_db(transaction=True)
def test_a_person_reminded_by_two_rules_gets_one_morning_email(migrated_data, hunter):
    # Each rule commits on its own, as in production (no test transaction around the run).
    client = make_client(acting_user=hunter, name="Кафе «Берёзка»")
    deal = make_deal(acting_user=hunter, client=client)
    follow_up_agreed(acting_user=hunter, deal=deal, outcome="Перезвонить", next_contact_on=TUESDAY)
    contact_add(acting_user=hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))

    run = daily_reminders_send(today=TUESDAY)

    assert run.created == 2
    assert len(emails_to(hunter)) == 1


# --- reading -------------------------------------------------------------------------------------


def test_mark_read_the_given_notifications_or_all_own_unread(hunter, other_hunter):
    notifications_create(
        reminders=[
            reminder(hunter, f"Напоминание {number}", subject=f"deal:{number}") for number in (1, 2, 3)
        ]
        + [reminder(other_hunter, "Чужое напоминание")],
        for_day=TUESDAY,
    )
    first = Notification.objects.filter(recipient=hunter).order_by("pk").first()
    others = Notification.objects.get(recipient=other_hunter)

    assert notifications_mark_read(acting_user=hunter, ids=[first.pk, others.pk]) == 1
    first.refresh_from_db()
    read_at = first.read_at
    assert read_at is not None

    assert notifications_mark_read(acting_user=hunter) == 2
    assert not Notification.objects.filter(recipient=hunter).unread().exists()
    first.refresh_from_db()
    assert first.read_at == read_at  # already read: not stamped again
    assert Notification.objects.get(pk=others.pk).read_at is None

    assert notifications_mark_read(acting_user=hunter) == 0


def test_mark_read_stamps_the_time_of_reading(hunter):
    notifications_create(reminders=[reminder(hunter, "Напоминание")], for_day=TUESDAY)
    before = timezone.now()

    notifications_mark_read(acting_user=hunter)

    assert Notification.objects.get().read_at >= before


# --- email preferences ---------------------------------------------------------------------------


def opted_out(user) -> set[str]:
    return set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))


def test_email_preferences_keep_the_given_kinds_and_turn_off_the_rest(hunter, other_hunter):
    email_preferences_save(
        acting_user=hunter, email_kinds=[NotificationKind.FOLLOW_UP_DUE, NotificationKind.CELEBRATION]
    )
    assert opted_out(hunter) == ALL_KINDS - {NotificationKind.FOLLOW_UP_DUE, NotificationKind.CELEBRATION}

    email_preferences_save(acting_user=hunter, email_kinds=[NotificationKind.DEAL_IDLE])
    assert opted_out(hunter) == ALL_KINDS - {NotificationKind.DEAL_IDLE}

    email_preferences_save(acting_user=hunter, email_kinds=ALL_KINDS)
    assert opted_out(hunter) == set()
    assert opted_out(other_hunter) == set()


def test_unknown_kind_in_email_preferences_is_refused_and_changes_nothing(hunter):
    email_preferences_save(acting_user=hunter, email_kinds=[NotificationKind.FOLLOW_UP_DUE])

    with pytest.raises(ValueError, match="newsletter"):
        email_preferences_save(acting_user=hunter, email_kinds=[NotificationKind.CELEBRATION, "newsletter"])

    assert opted_out(hunter) == ALL_KINDS - {NotificationKind.FOLLOW_UP_DUE}


def test_email_preferences_are_per_person(hunter, accountant, django_capture_on_commit_callbacks):
    email_preferences_save(acting_user=hunter, email_kinds=[])
    with django_capture_on_commit_callbacks(execute=True):
        notifications_create(
            reminders=[
                reminder(hunter, "Просрочена оплата «Салон «Лотос»»", kind=NotificationKind.PAYMENT_OVERDUE),
                reminder(
                    accountant, "Просрочена оплата «Салон «Лотос»»", kind=NotificationKind.PAYMENT_OVERDUE
                ),
            ],
            for_day=TUESDAY,
        )

    assert [message.to for message in mail.outbox] == [[accountant.email]]


def test_a_new_user_gets_every_kind_by_email(db):
    newcomer = UserFactory(role=Role.HUNTER, email="new@atlanset.example")
    notifications_create(
        reminders=[
            reminder(newcomer, f"Напоминание {kind}", kind=kind, subject=f"x:{kind}")
            for kind in NotificationKind.values
        ],
        for_day=TUESDAY,
    )

    assert set(states(newcomer).values()) == {Notification.EmailState.PENDING}


def test_someone_who_left_or_opted_out_since_the_reminder_was_made_gets_no_email(hunter, other_hunter):
    notifications_create(reminders=[reminder(hunter, "Позвонить «Альфа»")], for_day=TUESDAY)
    notifications_create(reminders=[reminder(other_hunter, "Позвонить «Бета»")], for_day=TUESDAY)
    hunter.is_active = False
    hunter.save(update_fields=["is_active"])
    email_preferences_save(acting_user=other_hunter, email_kinds=[])

    assert notification_emails_send() == 0
    assert mail.outbox == []
    assert states(hunter) == {"Позвонить «Альфа»": Notification.EmailState.SKIPPED}
    assert states(other_hunter) == {"Позвонить «Бета»": Notification.EmailState.SKIPPED}


# --- the outbox: at most once per digest ----------------------------------------------------------


class SenderKilled(BaseException):
    """The worker process dying: nothing in the sender catches it, nothing after it runs."""


def test_a_digest_the_mail_server_accepted_before_the_sender_died_is_not_sent_again(
    hunter, monkeypatch, caplog, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        notifications_create(
            reminders=[reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»")], for_day=TUESDAY
        )
    real_send = MailBackend.send_messages

    def send_then_die(backend, messages):
        real_send(backend, messages)  # the server accepted it
        raise SenderKilled

    monkeypatch.setattr(MailBackend, "send_messages", send_then_die)
    with pytest.raises(SenderKilled):
        notification_emails_send()
    monkeypatch.setattr(MailBackend, "send_messages", real_send)
    assert len(emails_to(hunter)) == 1
    assert set(states(hunter).values()) == {Notification.EmailState.SENDING}

    # The task is redelivered (acks_late) and the ten-minute run comes: the digest is not sent again.
    assert notification_emails_send() == 0
    assert notification_emails_send() == 0
    assert len(emails_to(hunter)) == 1

    # Long after any sender could still be at it, the digest is reported and tried again.
    Notification.objects.update(
        email_claimed_at=timezone.now() - timedelta(minutes=settings.EMAIL_SENDING_TIMEOUT_MINUTES + 1)
    )
    caplog.set_level("ERROR", logger="notifications.services")
    assert notification_emails_send() == 1
    assert hunter.email in caplog.text and "may have been delivered" in caplog.text
    first, second = emails_to(hunter)
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]  # a receiver may drop it
    assert set(states(hunter).values()) == {Notification.EmailState.SENT}
    assert notification_emails_send() == 0


def test_rows_another_sender_claimed_are_left_to_it(hunter, other_hunter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        notifications_create(
            reminders=[
                reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»"),
                reminder(other_hunter, "Сегодня связаться с «Кафе «Обь»»", subject="deal:2"),
            ],
            for_day=TUESDAY,
        )
    # A concurrent sender claimed the hunter's row a moment ago and is talking to the mail server.
    Notification.objects.filter(recipient=hunter).update(
        email_state=Notification.EmailState.SENDING, email_claimed_at=timezone.now()
    )

    assert notification_emails_send() == 1
    assert emails_to(hunter) == [] and len(emails_to(other_hunter)) == 1


# --- the scheduled run: once a day, and missed days caught up ---------------------------------------


def test_the_scheduled_run_makes_the_reminders_of_a_missed_working_day_once(
    hunter, django_capture_on_commit_callbacks
):
    """The database was down on Tuesday longer than the run's retries: Tuesday's run never finished."""
    monday, tuesday, wednesday = date(2026, 11, 16), TUESDAY, date(2026, 11, 18)
    client = make_client(acting_user=hunter, name="Кафе «Берёзка»")
    contact_add(acting_user=hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))
    with django_capture_on_commit_callbacks(execute=True):
        assert daily_reminders_run(today=monday) == 0
        assert daily_reminders_run(today=monday) == 0  # every quarter of an hour: done already

        assert daily_reminders_run(today=wednesday) == 1

    [birthday] = Notification.objects.filter(recipient=hunter, kind=NotificationKind.CELEBRATION)
    assert birthday.for_day == tuesday and "Мария Соколова" in birthday.title
    assert len(emails_to(hunter)) == 1
    assert set(ReminderDay.objects.values_list("day", flat=True)) == {monday, tuesday, wednesday}
    with django_capture_on_commit_callbacks(execute=True):
        assert daily_reminders_run(today=wednesday) == 0
        assert daily_reminders_run(today=date(2026, 11, 19)) == 0
    assert Notification.objects.filter(kind=NotificationKind.CELEBRATION).count() == 1
    assert len(emails_to(hunter)) == 1


def test_a_run_that_did_not_finish_is_made_again_the_same_day(hunter, monkeypatch):
    client = make_client(acting_user=hunter, name="Кафе «Берёзка»")
    contact_add(acting_user=hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))
    from django.db import OperationalError

    from notifications import services

    def database_down(today, days):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "RULES", (*services.RULES, database_down))
    with pytest.raises(OperationalError):
        daily_reminders_run(today=TUESDAY)
    assert not ReminderDay.objects.exists()
    monkeypatch.undo()

    assert daily_reminders_run(today=TUESDAY) == 0  # the birthday was made the first time, once
    assert ReminderDay.objects.filter(day=TUESDAY).exists()
    assert Notification.objects.filter(kind=NotificationKind.CELEBRATION).count() == 1


def test_catching_up_reaches_two_weeks_back_at_most(hunter):
    ReminderDay.objects.create(day=date(2026, 10, 1))
    missed = missed_reminder_days(TUESDAY)
    assert missed[0] >= TUESDAY - timedelta(days=14) and missed[-1] == date(2026, 11, 16)
    assert date(2026, 11, 14) not in missed  # a Saturday
    assert missed_reminder_days(date(2026, 10, 2)) == []  # the day after the last run: nothing missed


def test_a_mail_server_that_took_the_digest_and_then_hung_up_badly_does_not_get_it_twice(
    hunter, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        notifications_create(
            reminders=[reminder(hunter, "Сегодня связаться с «Кафе «Берёзка»»")], for_day=TUESDAY
        )

    def quit_times_out(backend):
        raise TimeoutError("timed out")  # no answer to QUIT after the message was accepted

    monkeypatch.setattr(MailBackend, "close", quit_times_out)
    assert notification_emails_send() == 1
    assert notification_emails_send() == 0
    assert len(emails_to(hunter)) == 1
    assert set(states(hunter).values()) == {Notification.EmailState.SENT}
