"""Sending a statement to its hunter by e-mail, with its PDF attached.

Each click of «Отправить хантеру» is one :class:`StatementEmail` row keyed by the form's one-time key: a
form sent twice (a double click, a retried request) finds its row and sends nothing more. The row is an
outbox entry like the reminders' (``notifications.services``): a sender claims it (``sending``, committed)
before asking the mail server and marks it ``sent`` after, so a task delivered twice sends it once. A
failed send stays ``pending`` for the next run (every 10 minutes); one left ``sending`` longer than
``EMAIL_SENDING_TIMEOUT_MINUTES`` is logged and sent again. Who sent which statement to whom and when is in
the head's audit history.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import DNS_NAME, EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability
from atlanset_portal.mail import send_message

from .models import Statement, StatementEmail
from .pdf import statement_pdf
from .sheets import statement_sheet
from .statements import statement_for

logger = logging.getLogger(__name__)


def may_send_statements(user) -> bool:
    return can(user, Capability.LOCK_STATEMENTS) or can(user, Capability.APPROVE_STATEMENTS)


def pdf_file_name(statement) -> str:
    return f"raschetny-list-{statement.hunter.username}-{statement.month:%Y-%m}.pdf"


def statement_email_request(*, acting_user: User, hunter: User, month, click_key: str) -> StatementEmail:
    """Queues the statement's e-mail to the hunter (locked or paid statements only: their figures no longer
    change). The same ``click_key`` again returns the first request and sends nothing more."""
    if not may_send_statements(acting_user):
        raise PermissionDenied
    click_key = (click_key or "").strip()[:64]
    if not click_key:
        raise ValidationError(
            _("Форма устарела: откройте расчётный лист заново и нажмите «Отправить» ещё раз.")
        )
    existing = StatementEmail.objects.filter(click_key=click_key).first()
    if existing is not None:
        return existing
    record = Statement.objects.filter(hunter=hunter, month=month).first()
    if record is None or not record.is_locked:
        raise ValidationError(
            _("Отправить можно закрытый расчётный лист: его цифры больше не меняются. Этот ещё не закрыт.")
        )
    if not hunter.email:
        raise ValidationError(
            _(
                "У сотрудника %(hunter)s не указана эл. почта: администратор добавит её в карточке "
                "пользователя."
            )
            % {"hunter": hunter.get_full_name()}
        )
    try:
        with transaction.atomic():
            email = StatementEmail.objects.create(
                statement=record,
                to_email=hunter.email,
                total=record.total,
                requested_by=acting_user,
                click_key=click_key,
            )
            transaction.on_commit(_queue_sending)
    except IntegrityError:  # the same click arrived twice at once: the other request made the row
        return StatementEmail.objects.get(click_key=click_key)
    return email


def _queue_sending() -> None:
    from .tasks import send_statement_emails

    send_statement_emails.delay()


def statement_emails_send() -> int:
    """Sends every pending statement e-mail; returns how many went. At most once per row: claimed before
    sending, marked after."""
    _release_stale_claims()
    sent = 0
    for email_id in list(
        StatementEmail.objects.filter(state=StatementEmail.State.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        claimed = StatementEmail.objects.filter(pk=email_id, state=StatementEmail.State.PENDING).update(
            state=StatementEmail.State.SENDING, claimed_at=timezone.now()
        )
        if not claimed:
            continue  # another sender took it
        email = StatementEmail.objects.select_related("statement__hunter").get(pk=email_id)
        try:
            _send(email)
        except OSError:  # smtplib's errors and the socket's
            logger.warning(
                "Statement e-mail %s to %s failed, will retry", email.pk, email.to_email, exc_info=True
            )
            StatementEmail.objects.filter(pk=email.pk, state=StatementEmail.State.SENDING).update(
                state=StatementEmail.State.PENDING, claimed_at=None
            )
            continue
        StatementEmail.objects.filter(pk=email.pk, state=StatementEmail.State.SENDING).update(
            state=StatementEmail.State.SENT, sent_at=timezone.now()
        )
        sent += 1
    return sent


def _release_stale_claims() -> None:
    cutoff = timezone.now() - timedelta(minutes=settings.EMAIL_SENDING_TIMEOUT_MINUTES)
    for email in StatementEmail.objects.filter(state=StatementEmail.State.SENDING, claimed_at__lt=cutoff):
        logger.error(
            "Statement e-mail %s to %s was claimed at %s by a sender that stopped before it recorded the "
            "result: it may have been delivered; sending it again",
            email.pk,
            email.to_email,
            email.claimed_at,
        )
    StatementEmail.objects.filter(state=StatementEmail.State.SENDING, claimed_at__lt=cutoff).update(
        state=StatementEmail.State.PENDING, claimed_at=None
    )


def _send(email: StatementEmail) -> None:
    record = email.statement
    with translation.override("ru"):
        sheet = statement_sheet(statement_for(hunter=record.hunter, month=record.month))
        body = render_to_string(
            "compensation/statement_email.txt",
            {"sheet": sheet, "site_url": settings.PORTAL_URL.rstrip("/")},
        )
        message = EmailMessage(
            subject=sheet.title,
            body=body,
            to=[email.to_email],
            # The same request always has the same Message-ID: a mail system that saw it may drop a copy
            # sent again after a stale claim.
            headers={"Message-ID": f"<statement.{email.pk}.{email.click_key[:16]}@{DNS_NAME}>"},
        )
        message.attach(pdf_file_name(record), statement_pdf(sheet), "application/pdf")
    send_message(message, what=f"statement e-mail {email.pk}")
