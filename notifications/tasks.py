from celery import shared_task

from .services import daily_reminders_send, notification_emails_send


@shared_task(name="notifications.tasks.send_daily_reminders")
def send_daily_reminders() -> int:
    """The 09:00 run. Safe to repeat: a reminder already given today is not given again."""
    return daily_reminders_send().created


@shared_task(name="notifications.tasks.send_notification_emails")
def send_notification_emails() -> int:
    return notification_emails_send()
