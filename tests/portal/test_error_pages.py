"""Refusals and missing pages answer in Russian, in the portal's frame with its menu; a favicon is served."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_russian_with_the_menu(client, hunter):
    client.force_login(hunter)
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Страница не найдена" in page and "На главную" in page
    assert "Мой день" in page  # the menu stays, so the way on is one tap
    assert "Not Found" not in page


def test_a_forbidden_page_is_russian_with_the_menu(client, hunter):
    client.force_login(hunter)
    response = client.get(reverse("compensation:statements"))
    page = response.content.decode()
    assert response.status_code == 403
    assert "Нет доступа" in page and "Мой день" in page
    assert "Forbidden" not in page


def test_a_stale_form_says_so_in_russian_and_nothing_is_saved(hunter):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(hunter)
    response = browser.post(reverse("kpi:activity_create"), {"kind": "meeting"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "Форма устарела" in page and "ничего не сохранено" in page
    assert "CSRF verification failed" not in page


def test_a_server_error_page_is_russian_and_needs_no_request(settings):
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "Ошибка на сервере" in page and 'href="/"' in page


def test_the_favicon_is_served_and_linked(client, hunter):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    client.force_login(hunter)
    assert 'rel="icon"' in client.get(reverse("kpi:my_day")).content.decode()
