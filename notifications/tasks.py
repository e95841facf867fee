from datetime import date

from celery import shared_task

from .services import daily_reminders_send, notification_emails_send


@shared_task(name="notifications.tasks.send_daily_reminders")
def send_daily_reminders(day: str | None = None) -> int:
    """The 09:00 run (for today, or the ISO ``day`` given). Safe to repeat: a reminder already given
    that day is not given again."""
    return daily_reminders_send(today=date.fromisoformat(day) if day else None).created


@shared_task(name="notifications.tasks.send_notification_emails")
def send_notification_emails() -> int:
    return notification_emails_send()
