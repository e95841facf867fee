from datetime import date

from celery import shared_task

from .services import daily_reminders_run, notification_emails_send


@shared_task(name="notifications.tasks.send_daily_reminders")
def send_daily_reminders(day: str | None = None) -> int:
    """The morning run (for today, or the ISO ``day`` given), with the working days missed since the last
    finished run first. Safe to repeat: a finished day is not run again, and a reminder already given
    that day is not given again."""
    return daily_reminders_run(today=date.fromisoformat(day) if day else None)


@shared_task(name="notifications.tasks.send_notification_emails")
def send_notification_emails() -> int:
    return notification_emails_send()
