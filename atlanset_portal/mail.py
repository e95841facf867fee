"""Sending one prepared e-mail through the configured connection."""

import logging

from django.core import mail
from django.core.mail import EmailMessage

logger = logging.getLogger(__name__)


def send_message(message: EmailMessage, *, what: str) -> None:
    """Sends ``message``; an error while sending raises. A server that took the message and then did not
    answer QUIT has sent it: that is logged, not raised (raising would put it back in its outbox and send
    it twice). ``what`` names the message in the log."""
    mailer = mail.mailers.default
    mailer.open()
    try:
        mailer.send_messages([message])
    finally:
        try:
            mailer.close()
        except OSError as error:
            logger.info("Closing the mail connection after %s failed: %r", what, error)
