"""Sign-in throttling, the Content-Security-Policy and the session rules (issue: trust)."""

import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

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
    assert 0 < settings.SESSION_RENEW_SECONDS <= 5 * 60
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


def _expiry(client) -> datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_used_session_is_renewed_at_most_once_a_minute_and_an_idle_one_ends(client, hunter):
    client.force_login(hunter)
    assert client.get(reverse("kpi:my_day")).status_code == 200
    first = _expiry(client)

    # Within the minute: the session is not written again.
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("kpi:my_day")).status_code == 200
    assert not [
        q for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "django_session" in q["sql"]
    ]
    assert _expiry(client) == first

    # A minute later the next page renews it: it ends a working day after that page, and the browser is told.
    later = time.time() + settings.SESSION_RENEW_SECONDS + 1
    with mock.patch("atlanset_portal.middleware.time.time", return_value=later):
        response = client.get(reverse("kpi:my_day"))
    assert _expiry(client) > first
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == settings.SESSION_COOKIE_AGE

    # Past its age without a visit, it is over: the next page asks to sign in.
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(reverse("kpi:my_day"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- the client's address behind the reverse proxy --------------------------------------------------------

PROXY = "172.18.0.5"


def sign_in_through_proxy(client, username: str, password: str, *, real: str, forged: str = ""):
    """A sign-in as the reverse proxy passes it on: it appends the address it was reached from to
    whatever X-Forwarded-For the client sent, and connects from its own address."""
    chain = f"{forged}, {real}" if forged else real
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=chain,
    )


def test_behind_the_proxy_five_failures_lock_that_client_but_not_another_one(client, settings, sales_head):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in_through_proxy(client, sales_head.username, "не тот пароль", real="203.0.113.7")

    locked = sign_in_through_proxy(client, sales_head.username, TEST_PASSWORD, real="203.0.113.7")
    assert locked.status_code == 429

    head_elsewhere = sign_in_through_proxy(client, sales_head.username, TEST_PASSWORD, real="198.51.100.20")
    assert head_elsewhere.status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"


def test_a_client_forging_forwarded_entries_cannot_choose_its_address(client, settings, accountant):
    settings.TRUSTED_PROXY_COUNT = 1
    forgeries = ["198.51.100.20", "10.0.0.1, 198.51.100.20", "1.1.1.1", "unknown", "198.51.100.21"]
    for forged in forgeries:
        sign_in_through_proxy(client, accountant.username, "не тот пароль", real="203.0.113.7", forged=forged)

    # Every failure counted against the attacker's own address: it is locked out …
    attacker = sign_in_through_proxy(
        client, accountant.username, TEST_PASSWORD, real="203.0.113.7", forged="198.51.100.22"
    )
    assert attacker.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.7"]
    # … and the accountant at the address the attacker named still signs in.
    at_work = sign_in_through_proxy(client, accountant.username, TEST_PASSWORD, real="198.51.100.20")
    assert at_work.status_code == 302


def test_the_proxy_address_alone_never_locks_anyone_out(client, settings, sales_head):
    """Before: every sign-in through the proxy came from its address, so five failures by anyone locked
    the head out for everybody."""
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in_through_proxy(client, sales_head.username, "не тот пароль", real=f"203.0.113.{attempt + 1}")

    head = sign_in_through_proxy(client, sales_head.username, TEST_PASSWORD, real="198.51.100.20")
    assert head.status_code == 302


def test_without_a_proxy_a_forwarded_header_is_the_client_s_say_so_and_ignored(client, settings, hunter):
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": hunter.username, "password": "не тот пароль"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt + 1}",
        )

    assert sign_in(client, hunter.username, TEST_PASSWORD, address="203.0.113.7").status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.7"]


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "remote", "expected"),
    [
        (0, "", "203.0.113.7", "203.0.113.7"),
        (0, "198.51.100.20", "203.0.113.7", "203.0.113.7"),
        (1, "203.0.113.7", PROXY, "203.0.113.7"),
        (1, "198.51.100.20, 203.0.113.7", PROXY, "203.0.113.7"),
        (1, "198.51.100.20,203.0.113.7:51234", PROXY, "203.0.113.7"),
        (1, "garbage, 2001:db8::7", PROXY, "2001:db8::7"),
        (1, "", PROXY, PROXY),
        # A CDN in front of the proxy: the CDN added the client, the proxy added the CDN.
        (2, "198.51.100.20, 203.0.113.7, 192.0.2.10", PROXY, "203.0.113.7"),
        (2, "192.0.2.10", PROXY, PROXY),
    ],
)
def test_the_client_address_is_the_entry_the_nearest_trusted_proxies_added(
    rf, settings, proxies, forwarded_for, remote, expected
):
    from atlanset_portal.client_ip import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    request = rf.get("/", REMOTE_ADDR=remote, **extra)

    assert client_ip(request) == expected
