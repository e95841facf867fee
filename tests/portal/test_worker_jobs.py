"""The background jobs through a real Celery worker process: on Redis when REDIS_URL is set (CI's
PostgreSQL pass), else on the embedded filesystem broker; against the test's own database."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from deals.stages import Stage
from kpi.models import ActivityKind, MonthlyProgress
from kpi.services import task_schedule
from notifications.models import Notification, NotificationKind
from tests.deals.factories import make_client, make_deal
from tests.kpi.factories import log_activity, make_hunter

ROOT = Path(__file__).resolve().parents[2]
REMINDER_DAY = date(2026, 11, 17)  # a Tuesday, a working day


def database_url() -> str:
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@pytest.fixture
def worker(tmp_path, migrated_data):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base",
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "atlanset_portal", "worker", "--concurrency=1",
             "--loglevel=INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def send(task: str, *args) -> str:
        client = (
            "import sys; from atlanset_portal.celery import app; "
            # The portal's tasks keep no result unless asked (CELERY_TASK_IGNORE_RESULT).
            f"print(app.send_task({task!r}, args={list(args)!r}, ignore_result=False).get(timeout=90))"
        )
        result = subprocess.run(
            [sys.executable, "-c", client], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr + log_path.read_text()
        return result.stdout.strip()

    try:
        yield send
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_recalculates_progress_and_sends_the_days_reminders(worker):
    hunter = make_hunter(email="hunter@atlanset.test")
    client = make_client(acting_user=hunter, name="ООО «Чистый дом»")
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now(), client=client)
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now(), client=client)
    deal = make_deal(acting_user=hunter, client=client)
    # The next contact agreed with the client: a task due that day (kpi.Task).
    task_schedule(agreed_by=hunter, client=deal.client, deal=deal, due_on=REMINDER_DAY)
    assert deal.stage == Stage.LEAD
    MonthlyProgress.objects.all().delete()  # whatever the eager test settings stored on the way
    month = timezone.localdate().replace(day=1)

    assert worker("kpi.tasks.recalculate_plan_progress", month.isoformat()) == "1"
    assert MonthlyProgress.objects.get(hunter=hunter, month=month).meetings == 2

    assert int(worker("notifications.tasks.send_daily_reminders", REMINDER_DAY.isoformat())) >= 1
    reminder = Notification.objects.get(recipient=hunter, kind=NotificationKind.FOLLOW_UP_DUE)
    assert "Чистый дом" in reminder.title
    assert reminder.for_day == REMINDER_DAY

    # The same run again (a retry, a second beat) gives nothing twice.
    assert worker("notifications.tasks.send_daily_reminders", REMINDER_DAY.isoformat()) == "0"
    assert Notification.objects.filter(recipient=hunter).count() == 1
