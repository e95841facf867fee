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
