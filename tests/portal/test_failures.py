"""Failure behaviour with the real servers: a worker killed in the middle of a task or right after the mail
server accepted a digest, PostgreSQL restarted or down longer than a task's retries, a row or table
locked by another session, Redis stopped, frozen or restarted. Nothing is lost and nothing is doubled.

The tests that stop, freeze or restart a server run only against the servers .ci/run starts
(CI_POSTGRES_DATA, CI_POSTGRES_BIN, CI_REDIS_PORT with REDIS_URL)."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from atlanset_portal.celery import app
from atlanset_portal.outage import BROKER_OUTAGE, CACHE_OUTAGE
from deals.models import Payment
from deals.services import contact_add
from deals.stages import Stage
from kpi.models import Activity, ActivityKind, DirtyMonth, MonthlyProgress
from kpi.progress import progress_recalculate_marked
from kpi.services import task_schedule
from notifications.models import Notification, NotificationKind, ReminderDay
from notifications.reminders import Reminder
from notifications.services import notifications_create
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import TEST_PASSWORD
from tests.kpi.factories import ORDER_TOTAL, make_hunter

from .smtp_server import running_mail_server
from .test_worker_jobs import ROOT, database_url

REMINDER_DAY = date(2026, 11, 17)  # a working Tuesday


def start_worker(tmp_path, *extra, environment: dict[str, str] | None = None):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base",
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        **(environment or {}),
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
        f"print(app.send_task({task!r}, args={list(args)!r}, ignore_result=False).get(timeout={timeout}))"
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
        # The next contact agreed with the client: a task due that day (kpi.Task).
        task_schedule(agreed_by=hunter, client=deal.client, deal=deal, due_on=REMINDER_DAY)
    (tmp_path / "pause-once").write_text("")
    worker, env = start_worker(tmp_path, "-I", "tests.portal.worker_hooks")
    try:
        task = (
            f"app.send_task('notifications.tasks.send_daily_reminders', args=['{REMINDER_DAY}'], "
            "ignore_result=False)"
        )
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


# --- helpers for the servers ------------------------------------------------------------------------------


def wait_for(condition, seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}\n" + (log.read_text() if log and log.exists() else "")
        time.sleep(0.2)


def pool_processes(worker: subprocess.Popen) -> list[int]:
    """The pool processes of a worker this test started (its children)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def publish(env, task: str, *args, countdown: int) -> str:
    """Queues a task from another process, as the portal would, and returns its id."""
    client = (
        "from atlanset_portal.celery import app; "
        f"print(app.send_task({task!r}, args={list(args)!r}, countdown={countdown}).id)"
    )
    result = subprocess.run(
        [sys.executable, "-c", client], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def postgres_control(action: str) -> None:
    """Stops or starts the PostgreSQL server of .ci/run, with the options it was started with."""
    log = str(Path(POSTGRES_DATA).parent / "postgres-restart.log")
    command = [f"{POSTGRES_BIN}/pg_ctl", "-D", POSTGRES_DATA, "-l", log, "-w"]
    if action == "stop":
        command += ["-m", "fast", "stop"]
    else:
        # postmaster.opts holds the command line the server last ran with: the binary, -D and its options.
        options = shlex.split(Path(POSTGRES_DATA, "postmaster.opts").read_text())[1:]
        if "-D" in options:
            at = options.index("-D")
            del options[at : at + 2]
        command += ["-o", shlex.join(options), "start"]
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )


REDIS_PORT = os.environ.get("CI_REDIS_PORT")

needs_ci_redis = pytest.mark.skipif(
    not (REDIS_PORT and os.environ.get("REDIS_URL")),
    reason="stops, freezes and restarts the Redis server that .ci/run starts (CI_REDIS_PORT, REDIS_URL)",
)


def redis_cli(*args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", REDIS_PORT, *args], capture_output=True, text=True, timeout=10, check=True
    )
    return result.stdout.strip()


def redis_config(name: str) -> str:
    """One setting of the running Redis; "" when it is empty (redis-cli then prints the name alone)."""
    return [*redis_cli("config", "get", name).splitlines(), ""][1]


def redis_answers() -> bool:
    try:
        return redis_cli("ping") == "PONG"
    except subprocess.SubprocessError:
        return False


@contextmanager
def redis_stopped() -> Iterator[None]:
    """Redis shut down and started again on the same port and folder. It saves its data on the way down,
    as compose's Redis (appendonly) keeps its own: a restart, not a loss of the queues."""
    folder = redis_config("dir")
    logfile = redis_config("logfile")
    redis_cli("shutdown", "save")
    wait_for(lambda: not redis_answers(), 10, "Redis did not stop")
    try:
        yield
    finally:
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", REDIS_PORT, "--dir", folder, "--save", "",
             "--appendonly", "no", "--daemonize", "yes", "--logfile", logfile or "redis.log"],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=30,
        )  # fmt: skip
        wait_for(redis_answers, 30, "Redis did not start again")


@contextmanager
def redis_frozen() -> Iterator[None]:
    """Redis stopped with SIGSTOP: it still accepts connections (the kernel does) and never answers."""
    pid = int(
        next(
            line for line in redis_cli("info", "server").splitlines() if line.startswith("process_id:")
        ).split(":")[1]
    )
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        wait_for(redis_answers, 10, "Redis did not wake up")


@pytest.fixture
def real_broker():
    """The portal's Celery app queueing on Redis for real instead of running tasks eagerly."""
    saved = app.conf.task_always_eager
    app.conf.update(task_always_eager=False)
    app._pool = None
    app.amqp._producer_pool = None
    cache.clear()
    yield
    app.conf.update(task_always_eager=saved)
    app.control.purge()  # nothing this test queued waits for the workers of later tests
    app._pool = None
    app.amqp._producer_pool = None
    cache.clear()
    CACHE_OUTAGE.clear()
    BROKER_OUTAGE.clear()


def activity_form(card) -> dict:
    return {"kind": "meeting", "client": card.pk, "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}


# --- Redis stopped, frozen, restarted ---------------------------------------------------------------------


@needs_ci_redis
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_a_write_page_answers_and_its_progress_is_counted_once(
    client, migrated_data, real_broker
):
    """The page answered 500 although the activity was saved (the debounce's cache.add raised in the
    on-commit hook), so people submitted again and activities were doubled."""
    hunter = make_hunter()
    card = make_client(acting_user=hunter)
    client.force_login(hunter)
    month = timezone.localdate().replace(day=1)

    with redis_stopped():
        for _ in range(2):  # two different meetings, each entered once
            started = time.monotonic()
            response = client.post(reverse("kpi:activity_create"), activity_form(card))
            assert response.status_code == 302
            assert time.monotonic() - started < 10
        # No broker: recalculated inline, nothing left marked.
        assert MonthlyProgress.objects.get(hunter=hunter, month=month).meetings == 2
        assert not DirtyMonth.objects.filter(hunter=hunter, month=month).exists()

    CACHE_OUTAGE.clear()
    BROKER_OUTAGE.clear()
    # Redis is back: the next change is queued again (no worker runs here); the safety net counts it.
    assert client.post(reverse("kpi:activity_create"), activity_form(card)).status_code == 302
    assert DirtyMonth.objects.filter(hunter=hunter, month=month).exists()
    progress_recalculate_marked()
    assert Activity.objects.filter(owner=hunter, kind=ActivityKind.MEETING).count() == 3
    assert MonthlyProgress.objects.get(hunter=hunter, month=month).meetings == 3
    assert not DirtyMonth.objects.filter(hunter=hunter).exists()


@needs_ci_redis
@pytest.mark.django_db(transaction=True)
def test_with_redis_frozen_a_write_page_answers_within_seconds_and_nothing_is_lost(
    client, migrated_data, real_broker, caplog
):
    """A frozen Redis accepts connections and never answers: every socket timeout counts."""
    hunter = make_hunter()
    card = make_client(acting_user=hunter)
    client.force_login(hunter)
    month = timezone.localdate().replace(day=1)

    with redis_frozen():
        started = time.monotonic()
        assert client.post(reverse("kpi:activity_create"), activity_form(card)).status_code == 302
        first = time.monotonic() - started
        started = time.monotonic()
        assert client.post(reverse("kpi:activity_create"), activity_form(card)).status_code == 302
        second = time.monotonic() - started

    assert first < 10  # the cache's 1 s and the broker's 2 × 2 s socket timeouts, not a hang
    assert second < 2  # the outage is remembered: the next page does not wait again
    assert "Cache unavailable" in caplog.text and "Broker unavailable" in caplog.text
    assert Activity.objects.filter(owner=hunter, kind=ActivityKind.MEETING).count() == 2
    assert MonthlyProgress.objects.get(hunter=hunter, month=month).meetings == 2
    assert not DirtyMonth.objects.filter(hunter=hunter, month=month).exists()


@needs_ci_redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_survives_a_redis_restart_and_runs_the_countdown_task_it_held_once(
    tmp_path, migrated_data
):
    """The worker exited ("Unrecoverable error … 'NoneType' object has no attribute 'hostname'") on every
    Redis restart while it held a countdown task, and the task waited for the hour's visibility timeout."""
    hunter = make_hunter()
    make_client(acting_user=hunter)  # a lead this month
    MonthlyProgress.objects.all().delete()
    month = timezone.localdate().replace(day=1)
    log = tmp_path / "worker.log"
    worker, env = start_worker(tmp_path)
    try:
        wait_for(lambda: log.exists() and " ready." in log.read_text(), 60, "the worker did not start", log)
        task_id = publish(env, "kpi.tasks.recalculate_plan_progress", month.isoformat(), countdown=12)
        wait_for(lambda: f"{task_id}] received" in log.read_text(), 30, "the task did not arrive", log)

        with redis_stopped():
            time.sleep(2)

        wait_for(lambda: f"{task_id}] succeeded" in log.read_text(), 90, "the held task never ran", log)
        assert worker.poll() is None, log.read_text()
        assert "Unrecoverable error" not in log.read_text()
        time.sleep(3)
        assert log.read_text().count(f"{task_id}] succeeded") == 1
        assert redis_cli("hlen", "unacked") == "0"  # nothing left to come back after the visibility timeout
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert MonthlyProgress.objects.get(hunter=hunter, month=month).leads == 1


# --- the mail server accepted, then the worker died -------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_mail_server_accepted_a_digest_does_not_send_it_again(
    tmp_path, migrated_data
):
    hunter = make_hunter(email="ivanov@atlanset.test")
    notifications_create(
        reminders=[
            Reminder(hunter.pk, NotificationKind.FOLLOW_UP_DUE, "deal:1", "Сегодня связаться с «Кафе «Обь»»"),
            Reminder(
                hunter.pk, NotificationKind.DEAL_IDLE, "deal:2", "Сделка с «Салон «Лотос»» без движения"
            ),
        ],
        for_day=REMINDER_DAY,
        queue_email=False,
    )
    with running_mail_server() as mail_server:
        mail_server.hold_after_accepting = True
        worker, env = start_worker(
            tmp_path, environment={"EMAIL_URL": f"smtp://127.0.0.1:{mail_server.port}"}
        )
        try:
            script = (
                "from atlanset_portal.celery import app; "
                "print(app.send_task('notifications.tasks.send_notification_emails', ignore_result=False)"
                ".get(timeout=150))"
            )
            sender = subprocess.Popen(
                [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert mail_server.accepted.wait(timeout=90), (tmp_path / "worker.log").read_text()
            # The digest is accepted; the worker waits for the answer to QUIT and dies there.
            for pid in pool_processes(worker):
                os.kill(pid, signal.SIGKILL)

            output, errors = sender.communicate(timeout=180)
            assert sender.returncode == 0, errors + (tmp_path / "worker.log").read_text()
            assert output.strip() == "0"  # the task came back and found the digest claimed
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    assert "WorkerLostError" in (tmp_path / "worker.log").read_text()
    [message] = mail_server.messages
    assert message.recipients == [hunter.email]
    assert set(Notification.objects.values_list("email_state", flat=True)) == {
        Notification.EmailState.SENDING
    }


# --- PostgreSQL down longer than the retries ------------------------------------------------------------


@needs_ci_postgres
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_reminder_run_lost_to_postgresql_being_down_is_made_by_the_next_run_once(tmp_path, migrated_data):
    """The daily run was dropped for good when PostgreSQL was down longer than its retries."""
    wednesday = REMINDER_DAY + timedelta(days=1)
    hunter = make_hunter(email="ivanov@atlanset.test")
    client = make_client(acting_user=hunter, name="Кафе «Берёзка»")
    contact_add(acting_user=hunter, client=client, name="Мария Соколова", birthday=date(1985, 11, 17))
    ReminderDay.objects.create(day=REMINDER_DAY - timedelta(days=1))  # Monday's run finished
    worker, env = start_worker(tmp_path, "-I", "tests.portal.worker_fast_retries")
    try:
        connection.close()
        postgres_control("stop")
        try:
            attempt = subprocess.run(
                [sys.executable, "-c", "from atlanset_portal.celery import app; print(app.send_task("
                 f"'notifications.tasks.send_daily_reminders', args=['{REMINDER_DAY}'], ignore_result=False)"
                 ".get(timeout=120))"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
            )  # fmt: skip
        finally:
            postgres_control("start")
        assert attempt.returncode != 0 and "OperationalError" in attempt.stderr  # retried, then given up
        assert "Retry in" in (tmp_path / "worker.log").read_text()
        assert not Notification.objects.exists()

        # Wednesday's run makes Tuesday's reminders first, then its own.
        assert int(send(env, "notifications.tasks.send_daily_reminders", wednesday.isoformat())) >= 1
        assert send(env, "notifications.tasks.send_daily_reminders", wednesday.isoformat()) == "0"
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    [birthday] = Notification.objects.filter(kind=NotificationKind.CELEBRATION)
    assert (birthday.recipient, birthday.for_day) == (hunter, REMINDER_DAY)
    assert set(ReminderDay.objects.values_list("day", flat=True)) >= {REMINDER_DAY, wednesday}


# --- a lock held by another session -------------------------------------------------------------------


needs_postgresql = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="holds row and table locks from a second PostgreSQL session",
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lock_held_by_another_session_costs_one_request_a_russian_503_not_the_portal(
    client, migrated_data, accountant, production
):
    """One held row lock hung a payment for 61 s, and a table lock stopped the whole portal, sign-in
    included."""
    import psycopg2

    hunter = make_hunter()
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    form = {
        "amount": str(ORDER_TOTAL),
        "received_on": timezone.localdate().isoformat(),
        "bank_document": "77",
    }
    client.force_login(accountant)
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "10s"  # DB_LOCK_TIMEOUT_MS on every connection of the portal
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"
        cursor.execute("SET lock_timeout = '2s'")  # the same, shorter, so the test is quick

    holder = psycopg2.connect(database_url())
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM deals_deal WHERE id = %s FOR UPDATE", [deal.pk])
        started = time.monotonic()
        response = client.post(reverse("deals:payment", args=[deal.pk]), form)
        assert response.status_code == 503 and time.monotonic() - started < 8
        assert "Портал сейчас занят" in response.content.decode()
        # The rest of the portal answers meanwhile.
        assert client.get(reverse("compensation:payments")).status_code == 200
        holder.rollback()

        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE deals_deal IN ACCESS EXCLUSIVE MODE")
        other = Client()
        started = time.monotonic()
        assert other.get(reverse("login")).status_code == 200
        signed_in = other.post(reverse("login"), {"username": hunter.username, "password": TEST_PASSWORD})
        assert signed_in.status_code == 302 and time.monotonic() - started < 5
        started = time.monotonic()
        assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 503
        assert time.monotonic() - started < 8
        holder.rollback()
    finally:
        holder.close()

    # The lock is gone: the accountant submits again, and the payment is recorded once.
    assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 302
    assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 302
    assert Payment.objects.filter(deal=deal).count() == 1
