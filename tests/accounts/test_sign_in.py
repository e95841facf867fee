import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.roles import Role
from tests.factories import TEST_PASSWORD, UserFactory

LANDING = {
    Role.HUNTER: ("/kpi/my/", "Мой день"),
    Role.SALES_HEAD: ("/kpi/", "Показатели отдела"),
    Role.ACCOUNTANT: ("/compensation/", "Бухгалтерия: что сделать сегодня"),
    Role.PRODUCTION: ("/deals/production/", "Очередь производства"),
}


def sign_in(client, username, password=TEST_PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password}, follow=True)


def test_sign_in_page_is_in_russian(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    content = response.content.decode()
    assert '<html lang="ru">' in content
    assert "Войти" in content
    assert "Имя пользователя" in content


@pytest.mark.parametrize("role", list(LANDING))
def test_each_role_lands_on_its_own_home_page(client, db, role):
    user = UserFactory(role=role)
    response = sign_in(client, user.username)
    path, heading = LANDING[role]
    assert response.redirect_chain[-1][0] == path
    assert response.status_code == 200
    assert heading in response.content.decode()
    assert str(role.label) in response.content.decode()


def test_superuser_lands_on_administration(client, superuser):
    response = sign_in(client, superuser.username)
    assert response.redirect_chain[-1][0] == "/admin/"


def test_user_without_role_is_told_to_ask_the_administrator(client, db):
    user = UserFactory(role="")
    response = sign_in(client, user.username)
    assert response.redirect_chain[-1][0] == reverse("no_role")
    assert "Обратитесь к администратору" in response.content.decode()


def test_wrong_password_is_refused_with_a_russian_message(client, hunter):
    response = sign_in(client, hunter.username, "not-the-password")
    assert response.status_code == 200
    assert "правильные имя пользователя и пароль" in response.content.decode()
    assert "_auth_user_id" not in client.session


def _paths_without_arguments(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/"):  # the admin has its own sign-in page
                continue
            yield from _paths_without_arguments(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not pattern.pattern.regex.groups and "<" not in route:
            yield "/" + route.lstrip("^").rstrip("$")


# The PBX's webhook authenticates by its own token, not a session (tested with the telephony views); the
# health check answers the compose healthcheck and shows nothing of anyone's (tests/portal/test_health.py).
PUBLIC_PATHS = {"/accounts/login/", "/i18n/setlang/", "/kpi/telephony/cdr/", "/health/", "/favicon.ico"}


@pytest.mark.parametrize("path", sorted(set(_paths_without_arguments()) - PUBLIC_PATHS))
def test_anonymous_user_is_sent_to_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


def test_sign_out_ends_the_session(client, hunter):
    sign_in(client, hunter.username)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(LANDING[Role.HUNTER][0]).status_code == 302


def test_password_change_replaces_the_old_password(client, hunter):
    sign_in(client, hunter.username)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": "Surgut-new-pass-42",
            "new_password2": "Surgut-new-pass-42",
        },
    )
    assert response.status_code == 302
    client.logout()
    assert "_auth_user_id" not in sign_in(client, hunter.username).wsgi_request.session
    assert sign_in(client, hunter.username, "Surgut-new-pass-42").redirect_chain[-1][0] == "/kpi/my/"


def test_password_change_refuses_a_short_password_in_russian(client, hunter):
    sign_in(client, hunter.username)
    response = client.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": "abc12", "new_password2": "abc12"},
    )
    assert response.status_code == 200
    assert "слишком короткий" in response.content.decode()


def test_hunter_is_refused_the_heads_dashboard(client, hunter):
    sign_in(client, hunter.username)
    assert client.get(reverse("kpi:dashboard")).status_code == 403
