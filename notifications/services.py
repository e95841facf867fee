"""Writes for notifications: the daily reminder run, notifications of events, the email digest, reading
and email preferences."""

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import DNS_NAME, EmailMessage
from django.db import transaction
from django.db.models import Count, Max, Min
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from atlanset_portal.mail import send_message
from atlanset_portal.workdays import is_working_day, reminder_days

from .models import EmailOptOut, Notification, NotificationKind, ReminderDay
from .reminders import RULES, Reminder

if TYPE_CHECKING:
    from .events import EventNotice

logger = logging.getLogger(__name__)


def notifications_create(*, reminders: Iterable[Reminder], for_day: date, queue_email: bool = True) -> int:
    """Stores the reminders not yet given today (per recipient, kind and subject) and, unless told not
    to, queues their email; returns how many are new. Repeating the call creates and sends nothing
    twice."""
    wanted = {(r.recipient_id, r.kind, r.subject_key): r for r in reminders}
    if not wanted:
        return 0
    recipients = {recipient for recipient, _kind, _subject in wanted}
    existing = set(
        Notification.objects.filter(for_day=for_day, recipient__in=recipients).values_list(
            "recipient_id", "kind", "subject_key"
        )
    )
    email_state = _email_states(recipients)
    fresh = [
        Notification(
            recipient_id=reminder.recipient_id,
            kind=reminder.kind,
            subject_key=reminder.subject_key,
            for_day=for_day,
            title=reminder.title[:200],
            body=reminder.body,
            url=reminder.url,
            email_state=email_state(reminder.recipient_id, reminder.kind),
        )
        for key, reminder in wanted.items()
        if key not in existing
    ]
    # ignore_conflicts: a concurrent run that got there first keeps its rows; nothing is doubled.
    Notification.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    if queue_email and any(n.email_state == Notification.EmailState.PENDING for n in fresh):
        _queue_emails()
    return len(fresh)


def _email_states(recipients: Iterable[int]):
    """Whether a notification of a kind goes by email to each of the recipients: only to those with an
    address who have not opted out of the kind (the bell shows it either way)."""
    recipients = set(recipients)
    opted_out = set(EmailOptOut.objects.filter(user__in=recipients).values_list("user_id", "kind"))
    with_email = set(User.objects.filter(pk__in=recipients).exclude(email="").values_list("pk", flat=True))

    def state(recipient_id: int, kind: str) -> str:
        if recipient_id in with_email and (recipient_id, kind) not in opted_out:
            return Notification.EmailState.PENDING
        return Notification.EmailState.SKIPPED

    return state


def event_notifications_create(*, notices: Iterable["EventNotice"]) -> int:
    """Stores each notice once per recipient and event (``notifications_once_per_event``), whatever the
    day and however often it is repeated; returns how many are new. Their email goes out with the next
    digest (``send-pending-notification-emails``, every ten minutes): a burst of events is one email
    per person, not one each."""
    notices = list(notices)
    if not notices:
        return 0
    email_state = _email_states(notice.recipient_id for notice in notices)
    today = timezone.localdate()
    created = 0
    for notice in notices:
        # get_or_create: a concurrent or repeated delivery of the same event finds the row, and the
        # unique constraint settles a race between two.
        _notification, new = Notification.objects.get_or_create(
            recipient_id=notice.recipient_id,
            event_key=notice.event_key,
            defaults={
                "kind": notice.kind,
                "subject_key": notice.event[:100],
                "for_day": today,
                "title": notice.title[:200],
                "body": notice.body,
                "url": notice.url[:300],
                "email_state": email_state(notice.recipient_id, notice.kind),
            },
        )
        created += new
    return created


def _queue_emails() -> None:
    from .tasks import send_notification_emails

    send_notification_emails.delay_on_commit()


@dataclass
class ReminderRun:
    day: date
    working_day: bool
    created: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# How far back a run makes the reminders of working days whose run was missed.
CATCH_UP_DAYS = 14


def daily_reminders_run(*, today: date | None = None) -> int:
    """The scheduled run (09:00, then every quarter of an hour until the day's run has finished): today's
    reminders once, after those of every working day since the last finished run that was missed (the
    database down all morning, the worker stopped), at most ``CATCH_UP_DAYS`` back. Returns how many
    reminders are new; their emails go out as one digest per person."""
    today = today or timezone.localdate()
    if not reminder_days(today) or ReminderDay.objects.filter(day=today).exists():
        return 0
    created = 0
    for day in missed_reminder_days(today):
        logger.warning("The reminder run of %s was missed: making its reminders now", day)
        created += daily_reminders_send(today=day, queue_email=False).created
    created += daily_reminders_send(today=today, queue_email=False).created
    if created:
        _queue_emails()
    return created


def missed_reminder_days(today: date) -> list[date]:
    """The working days after the last finished run and before ``today`` (none before any run finished)."""
    last = ReminderDay.objects.filter(day__lt=today).aggregate(last=Max("day"))["last"]
    if last is None:
        return []
    day = max(last + timedelta(days=1), today - timedelta(days=CATCH_UP_DAYS))
    missed = []
    while day < today:
        if is_working_day(day):
            missed.append(day)
        day += timedelta(days=1)
    return missed


def daily_reminders_send(*, today: date | None = None, queue_email: bool = True) -> ReminderRun:
    """The morning run of one day: every rule for the dates due that day (none on a day off: those wait for
    the next working day). Each rule commits on its own, so one failing rule does not hold back the
    others; a working day whose rules all ran is recorded as done (``ReminderDay``)."""
    started = time.monotonic()
    today = today or timezone.localdate()
    days = reminder_days(today)
    run = ReminderRun(day=today, working_day=bool(days))
    for rule in RULES if days else ():
        with transaction.atomic():
            created = notifications_create(reminders=rule(today, days), for_day=today, queue_email=False)
        run.by_rule[rule.__name__] = created
        run.created += created
    if days:
        ReminderDay.objects.get_or_create(day=today, defaults={"created": run.created})
    if run.created and queue_email:
        _queue_emails()  # once for the whole run: one digest per person, not one per rule
    run.seconds = time.monotonic() - started
    logger.info("Reminders for %s: %s new in %.1f s %s", today, run.created, run.seconds, run.by_rule)
    return run


def notification_emails_send(*, batch_size: int = 500) -> int:
    """Sends the pending notifications by email, one digest per person; returns how many emails went.

    The notifications are an outbox. A person's rows are claimed (pending → sending, committed at once)
    before their digest goes to the mail server and marked sent after it, so a sender that dies in
    between, even after the server accepted the digest, leaves them "sending" and a redelivered task
    does not send them again: at most once. Rows left sending longer than
    ``EMAIL_SENDING_TIMEOUT_MINUTES`` are reported in the log and sent again (that digest may arrive
    twice). A person whose email fails keeps the rows pending for the next run."""
    _release_stale_claims()
    sent, failed = 0, set()
    while True:
        batch = list(
            Notification.objects.email_pending()
            .exclude(recipient__in=failed)
            .select_related("recipient")
            .order_by("recipient_id", "pk")[:batch_size]
        )
        if not batch:
            return sent
        opted_out = set(
            EmailOptOut.objects.filter(user__in={n.recipient_id for n in batch}).values_list(
                "user_id", "kind"
            )
        )
        by_recipient: dict[User, list[Notification]] = defaultdict(list)
        unwanted = []
        for notification in batch:
            recipient = notification.recipient
            # Someone who left, lost their address or opted out since the reminder was made.
            if (
                not recipient.is_active
                or not recipient.email
                or (recipient.pk, notification.kind) in opted_out
            ):
                unwanted.append(notification.pk)
            else:
                by_recipient[recipient].append(notification)
        Notification.objects.email_pending().filter(pk__in=unwanted).update(
            email_state=Notification.EmailState.SKIPPED
        )
        for recipient, items in by_recipient.items():
            claim, claimed = _claim(items)
            if not claimed:
                continue  # another sender took them first
            try:
                _send_digest(recipient, claimed)
            except OSError:  # smtplib's errors and the socket's
                logger.warning("Email to %s failed, will retry", recipient.email, exc_info=True)
                failed.add(recipient.pk)
                Notification.objects.email_sending().filter(email_claim=claim).update(
                    email_state=Notification.EmailState.PENDING, email_claim=None, email_claimed_at=None
                )
                continue
            Notification.objects.email_sending().filter(email_claim=claim).update(
                email_state=Notification.EmailState.SENT, emailed_at=timezone.now()
            )
            sent += 1


def _claim(items: list[Notification]) -> tuple[uuid.UUID, list[Notification]]:
    """Takes the rows still pending for this sender alone (an atomic UPDATE … WHERE pending, committed
    before anything is sent); returns the claim and the rows it got."""
    claim = uuid.uuid4()
    Notification.objects.email_pending().filter(pk__in=[n.pk for n in items]).update(
        email_state=Notification.EmailState.SENDING, email_claim=claim, email_claimed_at=timezone.now()
    )
    got = set(Notification.objects.filter(email_claim=claim).values_list("pk", flat=True))
    return claim, [n for n in items if n.pk in got]


def _release_stale_claims() -> None:
    """Rows whose sender stopped between claiming and marking them: the digest may or may not have
    reached the mail server. Reported, then sent again."""
    cutoff = timezone.now() - timedelta(minutes=settings.EMAIL_SENDING_TIMEOUT_MINUTES)
    stale = Notification.objects.email_sending().filter(email_claimed_at__lt=cutoff)
    digests = (
        stale.order_by()
        .values("email_claim", "recipient__email")
        .annotate(count=Count("pk"), claimed_at=Min("email_claimed_at"))
        .values_list("email_claim", "recipient__email", "count", "claimed_at")
    )
    for claim, email, count, claimed_at in digests:
        logger.error(
            "Email digest %s to %s (%s reminder(s)) was claimed at %s by a sender that stopped before it "
            "recorded the result: it may have been delivered; sending it again",
            claim,
            email,
            count,
            claimed_at,
        )
    stale.update(email_state=Notification.EmailState.PENDING, email_claim=None, email_claimed_at=None)


def _send_digest(recipient: User, items: list[Notification]) -> None:
    subject = (
        items[0].title if len(items) == 1 else _("Уведомления портала: %(count)s") % {"count": len(items)}
    )
    body = render_to_string(
        "notifications/email_digest.txt",
        {"recipient": recipient, "items": items, "site_url": settings.PORTAL_URL.rstrip("/")},
    )
    # The same digest always has the same Message-ID, so a mail system that saw it once may drop a
    # second copy sent after a stale claim.
    digest = hashlib.sha256(
        ",".join(str(n.pk) for n in sorted(items, key=lambda n: n.pk)).encode()
    ).hexdigest()
    headers = {"Message-ID": f"<digest.{recipient.pk}.{digest[:32]}@{DNS_NAME}>"}
    message = EmailMessage(subject=subject, body=body, to=[recipient.email], headers=headers)
    send_message(message, what=f"the digest to {recipient.email}")


def notifications_mark_read(*, acting_user: User, ids: Iterable[int] | None = None) -> int:
    """Marks the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.unread().filter(recipient=acting_user)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


@transaction.atomic
def email_preferences_save(*, acting_user: User, email_kinds: Iterable[str]) -> None:
    """Keeps email on for the kinds given and off for the rest."""
    wanted = set(email_kinds)
    unknown = wanted - set(NotificationKind.values)
    if unknown:
        raise ValueError(f"unknown notification kinds: {sorted(unknown)}")
    EmailOptOut.objects.filter(user=acting_user).delete()
    EmailOptOut.objects.bulk_create(
        [EmailOptOut(user=acting_user, kind=kind) for kind in NotificationKind.values if kind not in wanted]
    )
