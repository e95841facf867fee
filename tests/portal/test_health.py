"""/health/: the database, the cache and the broker, for compose's health check and a monitor."""

import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from atlanset_portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
# Errors as a real outage would word them, naming what must never reach the answer.
SECRET_DETAIL = "connection to server at 10.1.2.3 failed: password authentication failed for user atlanset"


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def silent_port():
    """A port on 127.0.0.1 that accepts connections and never answers: a server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def health(**headers):
    return Client().get(reverse("health"), headers=headers)


def test_all_parts_up_is_200_with_a_small_json(db):
    response = health()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_a_database_failure_is_503_naming_the_database(db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError(SECRET_DETAIL)

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = health()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "cache": "ok", "broker": "ok"}
    assert SECRET_DETAIL not in response.content.decode()


def test_a_cache_that_does_not_answer_is_503_naming_the_cache(db, settings):
    with silent_port() as port:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/1",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
        response = health()
        caches["default"].close()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "down", "broker": "ok"}


@pytest.mark.parametrize("broker", ["refused", "hangs"])
def test_a_broker_that_is_down_or_hangs_is_503_naming_the_broker_within_seconds(db, monkeypatch, broker):
    with silent_port() as hanging:
        port = closed_port() if broker == "refused" else hanging
        monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        response = health()

    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "ok", "broker": "down"}


def test_everyone_reaches_it_without_signing_in_and_only_by_get(db, hunter):
    assert Client().get(reverse("health")).status_code == 200
    assert Client().head(reverse("health")).status_code == 200
    assert Client().post(reverse("health")).status_code == 405
    signed_in = Client()
    signed_in.force_login(hunter)
    assert signed_in.get(reverse("health")).json()["status"] == "ok"


def test_the_answer_reveals_nothing_but_the_parts_and_sets_no_cookie(db, monkeypatch):
    monkeypatch.setitem(
        celery_app.conf, "broker_url", f"redis://user:broker-password@127.0.0.1:{closed_port()}/0"
    )
    response = health()
    text = response.content.decode()

    assert set(response.json()) == {"status", "database", "cache", "broker"}
    assert set(response.json().values()) <= {"ok", "down", "unavailable"}
    database = settings.DATABASES["default"]
    for secret in (settings.SECRET_KEY, "broker-password", "127.0.0.1", database["NAME"], "Django", "Redis"):
        assert str(secret) not in text
    assert not response.cookies


# --- the container's probe (scripts/healthcheck) ---------------------------------------------------------


def _load_probe():
    loader = SourceFileLoader("healthcheck", str(ROOT / "scripts" / "healthcheck"))
    module = module_from_spec(spec_from_loader("healthcheck", loader))
    loader.exec_module(module)
    return module


probe = _load_probe()


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("portal.atlanset.ru", "portal.atlanset.ru"),
        ("portal.atlanset.ru,localhost", "portal.atlanset.ru"),
        ("*,portal.atlanset.ru", "portal.atlanset.ru"),
        (".atlanset.ru", "atlanset.ru"),
        ("192.168.10.5", "192.168.10.5"),
        ("", "localhost"),
        ("*", "localhost"),
    ],
)
def test_the_probe_names_a_host_django_accepts(allowed_hosts, host):
    assert probe.host_header(allowed_hosts) == host


@contextmanager
def portal_answering(status: int):
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"], seen["path"] = self.headers["Host"], self.path
            body = json.dumps({"status": "ok" if status == 200 else "unavailable"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/health/", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_the_probe_passes_only_on_200(monkeypatch, capsys, status, exit_code):
    monkeypatch.setenv("ALLOWED_HOSTS", "portal.atlanset.ru")
    with portal_answering(status) as (url, seen):
        monkeypatch.setattr("sys.argv", ["healthcheck", url])
        assert probe.main() == exit_code
    assert seen == {"host": "portal.atlanset.ru", "path": "/health/"}
    assert str(status) in capsys.readouterr().out


def test_the_probe_fails_when_nothing_answers(monkeypatch):
    monkeypatch.setattr("sys.argv", ["healthcheck", f"http://127.0.0.1:{closed_port()}/health/"])
    assert probe.main() == 1
