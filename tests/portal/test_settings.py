import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k8#Fq2!vZr7@pLw4$Xn9^Tb1&Hm6*Jc3(Ys5)Ud0_Ge8+Ai2=Ko7",
    "ALLOWED_HOSTS": "portal.atlanset.ru",
    "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.base",
}


def run_manage(*args, env_overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_models_and_migrations_are_in_step(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_locale_time_zone_and_user_model():
    assert settings.LANGUAGE_CODE == "ru"
    assert [code for code, _ in settings.LANGUAGES] == ["ru", "en"]
    assert settings.TIME_ZONE == "Asia/Yekaterinburg"
    assert settings.AUTH_USER_MODEL == "accounts.User"


@pytest.mark.parametrize("page", ["bootstrap/css/bootstrap.min.css", "bootstrap/js/bootstrap.bundle.min.js"])
def test_assets_are_served_by_the_portal_from_installed_packages(page):
    from django.contrib.staticfiles import finders

    assert finders.find(page), page


def test_production_contact_is_a_setting_shown_on_the_samples_pages(client, hunter, settings):
    settings.PRODUCTION_CONTACT = "Сергей, цех фасовки, доб. 300"
    client.force_login(hunter)
    from tests.deals.factories import make_deal

    deal = make_deal(acting_user=hunter)
    from deals.models import Deal

    Deal.objects.filter(pk=deal.pk).update(stage="samples")
    assert "Сергей, цех фасовки, доб. 300" in client.get(f"/deals/{deal.pk}/").content.decode()


# --- behind the compose file's Caddy ------------------------------------------------------------------------

PRODUCTION_FACTS = """
import json
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.test import Client, RequestFactory

factory = RequestFactory()
# What Caddy sends: the client's address alone in X-Forwarded-For (it trusts no incoming one), from its
# own address on the compose network.
via_proxy = factory.get("/", HTTP_X_FORWARDED_FOR="203.0.113.5", REMOTE_ADDR="172.18.0.7")
# A client talking to the portal directly and claiming another address.
direct = factory.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="203.0.113.9")
facts = {
    "via_proxy": get_client_ip_address(via_proxy),
    "direct": get_client_ip_address(direct),
    "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "database_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "broker_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
}
if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    browser = Client()
    facts["health"] = browser.get("/health/", headers={"host": "portal.atlanset.ru"}).status_code
    facts["login"] = browser.get("/accounts/login/", headers={"host": "portal.atlanset.ru"}).status_code
print(json.dumps(facts))
"""


def production_facts(**env) -> dict:
    result = run_manage("shell", "-c", PRODUCTION_FACTS, env_overrides={**PRODUCTION_ENV, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_one_proxy_the_client_is_the_address_it_wrote_and_health_answers_over_http(tmp_path):
    facts = production_facts(
        AXES_PROXY_COUNT="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", VAR_DIR=str(tmp_path)
    )
    assert facts["via_proxy"] == "203.0.113.5"
    # The container's probe asks over plain HTTP; every other page is sent to HTTPS.
    assert (facts["health"], facts["login"]) == (200, 301)


def test_without_a_proxy_a_claimed_forwarded_address_is_ignored_and_servers_time_out():
    facts = production_facts(
        DATABASE_URL="postgres://atlanset:secret@127.0.0.1:1/atlanset", REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert facts["direct"] == "203.0.113.9"
    assert facts["database_options"]["connect_timeout"] == 5
    # Every statement is bounded, and so is every wait for another session's lock; no JIT compiling;
    # random reads priced for SSD.
    assert facts["database_options"]["options"] == (
        "-c statement_timeout=30000 -c lock_timeout=10000 -c jit=off -c random_page_cost=1.1"
    )
    # A Redis that does not answer costs a page about a second (cache) and four (queueing), never a hang.
    assert facts["cache_options"] == {"socket_connect_timeout": 1, "socket_timeout": 1}
    broker = facts["broker_options"]
    assert (broker["socket_connect_timeout"], broker["socket_timeout"]) == (2, 2)
    assert broker["visibility_timeout"] > 30 * 60 + 60  # above the longest task's hard time limit


def test_database_timeouts_come_from_the_environment_and_keep_other_options():
    facts = production_facts(
        DATABASE_URL="postgres://atlanset:secret@127.0.0.1:1/atlanset?options=-c%20search_path%3Dportal",
        DB_STATEMENT_TIMEOUT_MS="0",
        DB_LOCK_TIMEOUT_MS="2500",
        DB_JIT="1",
        DB_RANDOM_PAGE_COST="",
    )
    assert facts["database_options"]["options"] == (
        "-c search_path=portal -c statement_timeout=0 -c lock_timeout=2500"
    )
