"""Writes for notifications: the daily reminder run, the email digest, reading and email preferences."""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from atlanset_portal.workdays import reminder_days

from .models import EmailOptOut, Notification, NotificationKind
from .reminders import RULES, Reminder

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
    opted_out = set(EmailOptOut.objects.filter(user__in=recipients).values_list("user_id", "kind"))
    with_email = set(User.objects.filter(pk__in=recipients).exclude(email="").values_list("pk", flat=True))
    fresh = [
        Notification(
            recipient_id=reminder.recipient_id,
            kind=reminder.kind,
            subject_key=reminder.subject_key,
            for_day=for_day,
            title=reminder.title[:200],
            body=reminder.body,
            url=reminder.url,
            email_state=(
                Notification.EmailState.PENDING
                if reminder.recipient_id in with_email
                and (reminder.recipient_id, reminder.kind) not in opted_out
                else Notification.EmailState.SKIPPED
            ),
        )
        for key, reminder in wanted.items()
        if key not in existing
    ]
    # ignore_conflicts: a concurrent run that got there first keeps its rows; nothing is doubled.
    Notification.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    if queue_email and any(n.email_state == Notification.EmailState.PENDING for n in fresh):
        _queue_emails()
    return len(fresh)


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


def daily_reminders_send(*, today: date | None = None) -> ReminderRun:
    """The morning run: every rule for the dates due today (none on a day off: those wait for the next
    working day). Each rule commits on its own, so one failing rule does not hold back the others."""
    started = time.monotonic()
    today = today or timezone.localdate()
    days = reminder_days(today)
    run = ReminderRun(day=today, working_day=bool(days))
    for rule in RULES if days else ():
        with transaction.atomic():
            created = notifications_create(reminders=rule(today, days), for_day=today, queue_email=False)
        run.by_rule[rule.__name__] = created
        run.created += created
    if run.created:
        _queue_emails()  # once for the whole run: one digest per person, not one per rule
    run.seconds = time.monotonic() - started
    logger.info("Reminders for %s: %s new in %.1f s %s", today, run.created, run.seconds, run.by_rule)
    return run


def notification_emails_send(*, batch_size: int = 500) -> int:
    """Sends the pending notifications by email, one digest per person; returns how many emails went.
    Rows are locked while sent, so two workers never send the same one; a person whose email fails
    keeps the rows pending for the next run."""
    sent, failed = 0, set()
    while True:
        with transaction.atomic():
            batch = list(
                Notification.objects.email_pending()
                .exclude(recipient__in=failed)
                .select_for_update(skip_locked=True, of=("self",))
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
            Notification.objects.filter(pk__in=unwanted).update(email_state=Notification.EmailState.SKIPPED)
            for recipient, items in by_recipient.items():
                try:
                    _send_digest(recipient, items)
                except OSError:
                    logger.warning("Email to %s failed, will retry", recipient.email, exc_info=True)
                    failed.add(recipient.pk)
                    continue
                Notification.objects.filter(pk__in=[n.pk for n in items]).update(
                    email_state=Notification.EmailState.SENT, emailed_at=timezone.now()
                )
                sent += 1


def _send_digest(recipient: User, items: list[Notification]) -> None:
    subject = (
        items[0].title if len(items) == 1 else _("Напоминания портала: %(count)s") % {"count": len(items)}
    )
    body = render_to_string(
        "notifications/email_digest.txt",
        {"recipient": recipient, "items": items, "site_url": settings.PORTAL_URL.rstrip("/")},
    )
    EmailMessage(subject=subject, body=body, to=[recipient.email]).send()


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
