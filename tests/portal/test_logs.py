"""Logs as JSON lines with the request id, the id through the response and the tasks a request queues,
and error tracking only when SENTRY_DSN is set."""

import json
import logging

import pytest
from django.urls import reverse

from atlanset_portal.celery import app
from atlanset_portal.logs import JsonFormatter, RequestIdFilter, request_id_var

from .test_settings import run_manage


def test_every_response_carries_a_request_id_and_a_sensible_incoming_one_is_kept(client, db):
    made = client.get(reverse("login"))
    assert len(made["X-Request-ID"]) == 32

    kept = client.get(reverse("login"), headers={"x-request-id": "caddy-4f1c9b2e.7"})
    assert kept["X-Request-ID"] == "caddy-4f1c9b2e.7"

    forged = client.get(reverse("login"), headers={"x-request-id": 'x\\n{"level": "ERROR"}'})
    assert forged["X-Request-ID"] != 'x\\n{"level": "ERROR"}' and len(forged["X-Request-ID"]) == 32


def test_log_lines_written_during_a_request_carry_its_id(client, hunter, caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    client.force_login(hunter)

    response = client.get("/no-such-page/", headers={"x-request-id": "req-42"})

    assert response.status_code == 404
    [line] = [record for record in caplog.records if record.name == "django.request"]
    assert line.request_id == "req-42"
    client.get("/no-such-page/")
    assert caplog.records[-1].request_id not in {"req-42", "-"}  # the next request has its own


def test_a_json_line_has_the_time_level_logger_message_request_id_and_traceback():
    record = logging.LogRecord("kpi.progress", logging.ERROR, __file__, 1, "Пересчёт %s", ("12.2026",), None)
    token = request_id_var.set("req-7")
    try:
        RequestIdFilter().filter(record)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            record.exc_info = sys.exc_info()
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "kpi.progress"
    assert entry["message"] == "Пересчёт 12.2026" and entry["request_id"] == "req-7"
    assert "RuntimeError: boom" in entry["exception"] and entry["time"].endswith("+00:00")


def test_a_task_queued_by_a_request_logs_under_the_requests_id():

    from atlanset_portal.logs import forget_request_id_of_task, take_request_id_of_task
    from kpi.tasks import recalculate_plan_progress

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    token = request_id_var.set("req-99")
    try:
        with app.connection_for_write("memory://") as connection:
            queue = connection.SimpleQueue("celery")
            recalculate_plan_progress.apply_async(args=["2026-12-01"], connection=connection)
            message = queue.get(timeout=5)
            queue.close()
    finally:
        request_id_var.reset(token)
        app.conf.task_always_eager = saved
    assert message.headers["request_id"] == "req-99"

    # In the worker: the task's log lines carry the request's id, or the task's own without one.
    task = recalculate_plan_progress
    task.push_request(request_id="req-99", id="task-1")
    try:
        take_request_id_of_task(task=task, task_id="task-1")
        assert request_id_var.get() == "req-99"
    finally:
        task.pop_request()
    task.push_request(id="task-2")
    try:
        take_request_id_of_task(task=task, task_id="task-2")
        assert request_id_var.get() == "task-2"
    finally:
        task.pop_request()
        forget_request_id_of_task()
    assert request_id_var.get() == "-"


PRODUCTION_LOGGING = """
import json, logging
from django.conf import settings
import sentry_sdk
logging.getLogger("atlanset_portal.test").warning("Проверка журнала")
print(json.dumps({"sentry": sentry_sdk.get_client().is_active(),
                  "formatter": settings.LOGGING["handlers"]["console"]["formatter"],
                  "hijack": settings.CELERY_WORKER_HIJACK_ROOT_LOGGER}))
"""


def production_logging(tmp_path, **env):
    result = run_manage(
        "shell",
        "-c",
        PRODUCTION_LOGGING,
        env_overrides={
            "DEBUG": "0",
            "SECRET_KEY": "k8#Fq2!vZr7@pLw4$Xn9^Tb1&Hm6*Jc3(Ys5)Ud0_Ge8+Ai2=Ko7",
            "ALLOWED_HOSTS": "portal.atlanset.ru",
            "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "VAR_DIR": str(tmp_path),
            "SENTRY_DSN": "",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_production_logs_json_lines_and_tracks_no_errors_without_a_dsn(tmp_path):
    facts, errors = production_logging(tmp_path)
    assert facts == {"sentry": False, "formatter": "json", "hijack": False}
    [line] = [json.loads(line) for line in errors.splitlines() if "Проверка журнала" in line]
    assert line["level"] == "WARNING" and line["request_id"] == "-"


def test_error_tracking_starts_only_with_a_dsn(tmp_path):
    facts, _errors = production_logging(tmp_path, SENTRY_DSN="https://public@127.0.0.1:9/1")
    assert facts["sentry"] is True


@pytest.mark.parametrize("value", ["xml", ""])
def test_an_unknown_log_format_is_refused(tmp_path, value):
    result = run_manage(
        "check", env_overrides={"LOG_FORMAT": value, "DATABASE_URL": f"sqlite:///{tmp_path}/x"}
    )
    if value:
        assert result.returncode != 0 and "LOG_FORMAT is plain or json" in result.stderr
