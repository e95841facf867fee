"""The production shape in docker-compose.yml (no Docker engine runs in CI, so its structure is checked)."""

from pathlib import Path

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
