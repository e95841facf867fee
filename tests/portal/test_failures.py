"""Failure behaviour with the real servers: a worker killed in the middle of a task, PostgreSQL restarted
mid-run. Nothing is lost and nothing is doubled."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kpi.models import Activity, ActivityKind, MonthlyProgress
from notifications.models import Notification, NotificationKind
from tests.deals.factories import make_client, make_deal
from tests.kpi.factories import make_hunter

from .test_worker_jobs import ROOT, database_url

REMINDER_DAY = date(2026, 11, 17)  # a working Tuesday


def start_worker(tmp_path, *extra):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base",
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    log = (tmp_path / "worker.log").open("a")
    command = [sys.executable, "-m", "celery", "-A", "atlanset_portal", "worker", "--concurrency=1"]
    command += ["--pool=prefork", "--loglevel=INFO", "--without-mingle", "--without-gossip", *extra]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, env


def send(env, task: str, *args, timeout: int = 150) -> str:
    client = (
        "from atlanset_portal.celery import app; "
        f"print(app.send_task({task!r}, args={list(args)!r}).get(timeout={timeout}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", client],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_the_reminder_run_loses_and_doubles_nothing(tmp_path, migrated_data):
    hunters = [make_hunter(email=f"h{n}@atlanset.test") for n in range(3)]
    for hunter in hunters:
        deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter))
        deal.next_contact_on = REMINDER_DAY
        deal.save(update_fields=["next_contact_on"])
    (tmp_path / "pause-once").write_text("")
    worker, env = start_worker(tmp_path, "-I", "tests.portal.worker_hooks")
    try:
        task = f"app.send_task('notifications.tasks.send_daily_reminders', args=['{REMINDER_DAY}'])"
        script = f"from atlanset_portal.celery import app; print({task}.get(timeout=150))"
        sender = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        paused = tmp_path / "paused"
        deadline = time.monotonic() + 90
        while not paused.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert paused.exists(), (tmp_path / "worker.log").read_text()
        # The first rule has committed its reminders; the task is not finished.
        assert Notification.objects.filter(kind=NotificationKind.FOLLOW_UP_DUE).count() == 3

        os.kill(int(paused.read_text()), signal.SIGKILL)  # the pool process running the task dies

        output, errors = sender.communicate(timeout=180)
        assert sender.returncode == 0, errors + (tmp_path / "worker.log").read_text()
        assert output.strip() == "0"  # the redelivered run found every reminder already given
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    # Redelivered and run again to the end: every reminder once, none twice.
    assert Notification.objects.filter(kind=NotificationKind.FOLLOW_UP_DUE).count() == 3
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        h.pk for h in hunters
    )
    assert "WorkerLostError" in (tmp_path / "worker.log").read_text()


POSTGRES_DATA = os.environ.get("CI_POSTGRES_DATA")
POSTGRES_BIN = os.environ.get("CI_POSTGRES_BIN")


def restart_postgres() -> None:
    # The new server must not inherit this process's pipes: its log goes to a file next to the data.
    log = str(Path(POSTGRES_DATA).parent / "postgres-restart.log")
    pg_ctl = [f"{POSTGRES_BIN}/pg_ctl", "-D", POSTGRES_DATA, "-l", log, "-m", "fast", "-w", "restart"]
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *pg_ctl],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )


needs_ci_postgres = pytest.mark.skipif(
    not (POSTGRES_DATA and POSTGRES_BIN),
    reason="restarts the PostgreSQL server that .ci/run starts (CI_POSTGRES_DATA, CI_POSTGRES_BIN)",
)


@needs_ci_postgres
@pytest.mark.django_db(transaction=True)
def test_the_portal_answers_after_postgresql_restarts_and_nothing_is_doubled(client, migrated_data):
    hunter = make_hunter()
    card = make_client(acting_user=hunter)
    client.force_login(hunter)
    form = {"kind": "meeting", "client": card.pk, "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
    assert client.post(reverse("kpi:activity_create"), form).status_code == 302

    restart_postgres()
    connection.close()  # the test's own connection died with the server; the portal's requests reconnect

    assert client.get(reverse("kpi:my_day")).status_code == 200
    assert client.post(reverse("kpi:activity_create"), form).status_code == 302
    assert Activity.objects.filter(owner=hunter, kind=ActivityKind.MEETING).count() == 2


@needs_ci_postgres
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_hit_by_a_postgresql_restart_retries_and_completes(tmp_path, migrated_data):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    worker, env = start_worker(tmp_path)
    try:
        assert send(env, "kpi.tasks.recalculate_plan_progress", month.isoformat()) == "1"
        restart_postgres()
        connection.close()
        make_client(acting_user=hunter)  # a lead this month, after the restart
        # The worker reconnects, or fails on its dead connection and retries with backoff: it completes.
        assert send(env, "kpi.tasks.recalculate_plan_progress", month.isoformat()) == "1"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert MonthlyProgress.objects.get(hunter=hunter, month=month).leads == 1
