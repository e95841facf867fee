import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_expired_sessions
from atlanset_portal.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_every_scheduled_task_is_registered(db):  # importing the tasks runs model checks (JSON support)
    from django.conf import settings

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_expired_sessions_are_cleared_and_live_ones_kept(db):
    live = SessionStore()
    live.create()
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )

    assert clear_expired_sessions.delay().get() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


@pytest.mark.worker
def test_real_worker_with_its_beat_consumes_the_queue(tmp_path):
    """The worker as `make run` and compose start it: on Redis when REDIS_URL is set, else on the
    embedded filesystem broker."""
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base"}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "atlanset_portal", "worker", "--beat", "--concurrency=1",
             "--loglevel=INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        client = (
            "from atlanset_portal.celery import app; "
            "print(app.send_task('atlanset_portal.ping').get(timeout=90))"
        )
        send = subprocess.run(
            [sys.executable, "-c", client], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert send.returncode == 0, send.stderr + log_path.read_text()
        assert send.stdout.strip() == "pong"
        deadline = time.monotonic() + 30
        while "beat: Starting" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "beat: Starting" in log_path.read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_every_task_is_bounded_in_time_and_imports_and_the_reminder_run_get_longer(settings, db):
    """No task may hang a worker for ever: each has a soft limit (SoftTimeLimitExceeded, its transaction
    rolls back) and a hard one a minute later; all are below the broker's visibility timeout."""
    app.loader.import_default_modules()
    assert app.conf.task_soft_time_limit == settings.TASK_SOFT_TIME_LIMIT == 300
    assert app.conf.task_time_limit == 360
    reminders = app.tasks["notifications.tasks.send_daily_reminders"]
    assert (reminders.soft_time_limit, reminders.time_limit) == (1800, 1860)
    assert app.tasks["kpi.tasks.recalculate_plan_progress"].soft_time_limit == 300

    from atlanset_portal.background import TaskTimeLimits

    class ImportTask:
        name = "deals.tasks.import_leads"

    assert TaskTimeLimits().annotate(ImportTask()) == {"soft_time_limit": 1800, "time_limit": 1860}
    longest = max(1860, app.conf.task_time_limit)
    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest
