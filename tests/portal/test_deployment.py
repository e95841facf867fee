"""The production shape in docker-compose.yml (no Docker engine runs in CI: docker-compose renders the file
and its structure is checked)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_database_broker_web_worker_and_beat():
    services = load_compose()["services"]
    assert {"db", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["web"]["command"][0] == "gunicorn"


def test_exactly_one_beat_scheduler_runs():
    services = load_compose()["services"]
    commands = [" ".join(service.get("command", [])) for service in services.values()]
    assert sum("beat" in command.split() or "--beat" in command.split() for command in commands) == 1


def test_app_services_use_postgres_and_redis_and_production_settings():
    services = load_compose()["services"]
    for name in ("migrate", "web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DEBUG"] == "0"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://")
        assert "SECRET_KEY" in environment
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_only_the_https_proxy_is_published_and_it_waits_for_a_healthy_web():
    services = load_compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert any(volume.startswith("caddy_data:/data") for volume in proxy["volumes"])
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert proxy["environment"]["PORTAL_DOMAIN"] == "${PORTAL_DOMAIN:-localhost}"


def test_web_runs_gunicorn_simply_with_a_health_check_and_knows_its_proxy():
    web = load_compose()["services"]["web"]
    command = web["command"]
    assert command[:4] == ["gunicorn", "--config", "gunicorn.conf.py", "atlanset_portal.wsgi:application"]
    options = dict(zip(command[4::2], command[5::2], strict=True))
    assert set(options) == {"--bind", "--workers", "--timeout"}  # the rest belongs in gunicorn.conf.py
    assert int(options["--timeout"]) >= 60
    assert web["healthcheck"]["test"] == ["CMD", "python", "scripts/healthcheck"]
    assert (ROOT / "scripts" / "healthcheck").stat().st_mode & 0o111
    assert web["environment"]["AXES_PROXY_COUNT"] == "1"
    # The portal answers to the one name Caddy serves; its links and CSRF origin are that name over HTTPS.
    assert web["environment"]["ALLOWED_HOSTS"] == "${PORTAL_DOMAIN:-localhost}"
    assert web["environment"]["PORTAL_URL"] == "https://${PORTAL_DOMAIN:-localhost}"


def test_the_backup_service_dumps_nightly_keeps_n_days_and_can_restore_into_an_empty_database():
    services = load_compose()["services"]
    backup = services["backup"]
    assert backup["command"][:3] == ["python", "manage.py", "backup"]
    assert "--daily-at" in backup["command"]
    assert backup["environment"]["BACKUP_DIR"] == "/backups"
    assert backup["environment"]["BACKUP_KEEP_DAYS"] == "${BACKUP_KEEP_DAYS:-14}"
    assert backup["environment"]["DATABASE_URL"] == services["web"]["environment"]["DATABASE_URL"]
    assert set(backup["volumes"]) == {"media:/data/media", "backups:/backups"}
    # It backs up a migrated database; restores run from it with --no-deps (README).
    assert backup["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "init" in backup  # signals reach the sleeping command, so `docker compose stop` is prompt
    assert "/backups" in backup["healthcheck"]["test"][1]


def test_every_dependency_waits_for_health_or_completion_and_every_volume_is_declared():
    compose = load_compose()
    for name, service in compose["services"].items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in compose["services"], (name, dependency)
            assert condition["condition"] in {"service_healthy", "service_completed_successfully"}, name
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in compose["services"][dependency], dependency
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in compose["volumes"], (name, volume)
    assert {"pgdata", "media", "backups", "caddy_data"} <= set(compose["volumes"])


def test_secrets_come_only_from_the_environment():
    for service in load_compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "PASSWORD", "TOKEN")):
                assert str(value).startswith("${") and str(value).endswith("}"), key
            if key in ("SECRET_KEY", "POSTGRES_PASSWORD"):
                assert ":?" in str(value), key  # no start without them
            if key.endswith("_URL") and "@" in str(value):
                assert "${POSTGRES_PASSWORD:?" in str(value), key
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_image_has_the_postgresql_client_of_the_database_major_version():
    major = load_compose()["services"]["db"]["image"].split(":")[1].split(".")[0]
    assert f"ARG POSTGRES_MAJOR={major}\n" in (ROOT / "Dockerfile").read_text()


def test_no_request_waits_for_the_database_longer_than_gunicorn_waits_for_the_request():
    """A held lock costs one request a "busy" page: the statement and lock timeouts end it first."""
    import runpy

    from django.conf import settings

    compose = load_compose()["services"]
    web = compose["web"]["command"]
    gunicorn_timeout = int(web[web.index("--timeout") + 1])
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["timeout"] == gunicorn_timeout
    assert settings.DB_LOCK_TIMEOUT_MS < settings.DB_STATEMENT_TIMEOUT_MS < gunicorn_timeout * 1000
    # Migrations run without limits; everything else keeps them.
    assert compose["migrate"]["environment"]["DB_STATEMENT_TIMEOUT_MS"] == "0"
    assert compose["migrate"]["environment"]["DATABASE_URL"] == compose["web"]["environment"]["DATABASE_URL"]
    assert "DB_STATEMENT_TIMEOUT_MS" not in compose["web"]["environment"]
    assert compose["worker"]["restart"] == "unless-stopped"  # and it survives a Redis restart by itself
    assert compose["web"]["environment"]["SENTRY_DSN"] == "${SENTRY_DSN:-}"


COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None and not os.environ.get("CI"),
    reason="docker-compose validates the file (CI installs it)",
)


@needs_compose
def test_compose_itself_accepts_the_file_with_the_env_the_readme_asks_for(tmp_path):
    env = {"PATH": os.environ["PATH"], "SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "p"}
    result = subprocess.run(
        [COMPOSE, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert rendered["services"]["web"]["environment"]["SECRET_KEY"] == "k" * 50

    # Without the secrets compose refuses to start and says which one is missing.
    result = subprocess.run(
        [COMPOSE, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set SECRET_KEY in .env" in result.stderr or "set POSTGRES_PASSWORD in .env" in result.stderr
