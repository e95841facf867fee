"""Sign-in throttling, the Content-Security-Policy and the session rules (issue: trust)."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

from tests.factories import TEST_PASSWORD

from .test_settings import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _throttling_on(settings):
    settings.AXES_ENABLED = True


def sign_in(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_lock_the_login_out_even_with_the_right_one(client, hunter):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, hunter.username, "не тот пароль")
        assert response.status_code == 200
        assert "Пожалуйста, введите правильные имя пользователя и пароль" in response.content.decode()

    locked = sign_in(client, hunter.username, "не тот пароль")
    assert locked.status_code == 429
    assert "Вход временно закрыт" in locked.content.decode()
    assert "Попробуйте снова через 15 мин." in locked.content.decode()

    right_password = sign_in(client, hunter.username, TEST_PASSWORD)
    assert right_password.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_login_and_address(client, hunter, other_hunter):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, hunter.username, "не тот пароль")

    assert sign_in(client, other_hunter.username, TEST_PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, hunter.username, TEST_PASSWORD, address="10.0.0.2").status_code == 302


def test_a_successful_sign_in_resets_the_count(client, hunter):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, hunter.username, "не тот пароль")
    assert sign_in(client, hunter.username, TEST_PASSWORD).status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, hunter.username, "не тот пароль")
    assert sign_in(client, hunter.username, TEST_PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username=hunter.username, failures_since_start__gte=5).exists()


def test_every_page_carries_a_strict_content_security_policy(client, hunter):
    client.force_login(hunter)
    for url in [reverse("login"), reverse("kpi:my_day"), reverse("deals:board"), reverse("clients:list")]:
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_pages_have_no_inline_script_or_style_the_policy_would_block(client, hunter, sales_head):
    for user, urls in [
        (hunter, ["kpi:my_day", "deals:board", "clients:list", "deals:list", "onboarding:overview"]),
        (sales_head, ["kpi:dashboard", "compensation:statements", "notifications:list"]),
    ]:
        client.force_login(user)
        for name in urls:
            page = client.get(reverse(name)).content.decode()
            assert "<script>" not in page and "<style" not in page and ' style="' not in page, name
            assert " onclick=" not in page and " onload=" not in page, name


def test_a_new_session_key_at_sign_in(client, hunter):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key

    sign_in(client, hunter.username, TEST_PASSWORD)

    assert client.session.session_key != before


def test_no_session_survives_sign_out(client, hunter):
    sign_in(client, hunter.username, TEST_PASSWORD)
    key = client.session.session_key

    client.post(reverse("logout"))

    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("kpi:my_day")).status_code == 302


def test_a_password_change_signs_out_the_other_sessions(client, hunter):
    from django.test import Client

    other_browser = Client()
    other_browser.force_login(hunter)
    client.force_login(hunter)

    hunter.set_password("новый-длинный-пароль-2026")
    hunter.save()

    assert other_browser.get(reverse("kpi:my_day")).status_code == 302


def test_a_deactivated_user_is_out_on_the_next_request(client, hunter):
    client.force_login(hunter)
    assert client.get(reverse("kpi:my_day")).status_code == 200

    hunter.is_active = False
    hunter.save(update_fields=["is_active"])

    response = client.get(reverse("kpi:my_day"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sessions_expire_when_idle_and_cookies_are_secure_in_production():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 8 * 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY is True
    script = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS >= 31536000, "
        "s.SECURE_SSL_REDIRECT, bool(s.SECURE_CSP))"
    )
    result = run_manage("shell", "--no-imports", "-c", script, env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "True"]
