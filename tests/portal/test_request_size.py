"""Request bodies are capped per page from their declared size, before the body is read: an upload page
takes its largest file and the form around it, every other page a megabyte; larger is 413 in Russian."""

import socket
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse

from atlanset_portal.uploads import FORM_ALLOWANCE_BYTES, upload_file_limits
from deals.models import DealDocument
from tests.deals.factories import make_deal

from .gunicorn_server import running_gunicorn

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
MULTIPART = "multipart/form-data; boundary=----atlanset-test-boundary"


class UnreadBody:
    """A request body that counts every attempt to read it and holds next to nothing."""

    def __init__(self):
        self.reads = 0

    def read(self, *args, **kwargs) -> bytes:
        self.reads += 1
        return b""

    readline = read


def post_declaring(browser: Client, url: str, size: int, content_type: str = MULTIPART):
    """A POST whose Content-Length says ``size`` bytes while the body itself is empty."""
    body = UnreadBody()
    response = browser.generic(
        "POST", url, CONTENT_TYPE=content_type, CONTENT_LENGTH=str(size), **{"wsgi.input": body}
    )
    return response, body


def url_for(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return reverse(name, args=[1])


def test_a_150_mb_pdf_is_refused_in_russian_before_its_body_is_read(hunter):
    deal = make_deal(acting_user=hunter)
    browser = Client(enforce_csrf_checks=True)  # as in production: the CSRF check reads the form
    browser.force_login(hunter)

    response, body = post_declaring(browser, reverse("deals:document", args=[deal.pk]), 150 * MB)

    assert response.status_code == 413
    page = response.content.decode()
    assert "Файл слишком большой: здесь можно загрузить файл до 10 МБ." in page
    assert '<html lang="ru">' in page
    assert body.reads == 0
    assert not DealDocument.objects.exists()


@pytest.mark.parametrize("name", sorted(upload_file_limits()))
def test_each_upload_page_refuses_a_body_over_its_file_and_form_unread(client, name):
    limit = upload_file_limits()[name] + FORM_ALLOWANCE_BYTES

    response, body = post_declaring(client, url_for(name), limit + 1)

    assert response.status_code == 413
    assert "Файл слишком большой" in response.content.decode()
    assert body.reads == 0


@pytest.mark.parametrize(
    "name", ["login", "deals:advance", "compensation:statements", "onboarding:questions"]
)
def test_any_other_page_refuses_a_body_over_a_megabyte_unread(client, name):
    response, body = post_declaring(client, url_for(name), MB + 1, "application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert "Запрос слишком большой: страница принимает не больше 1 МБ." in response.content.decode()
    assert body.reads == 0


def test_the_pbx_is_answered_in_json(client, settings):
    settings.TELEPHONY_WEBHOOK_TOKEN = "secret"

    response, body = post_declaring(client, reverse("kpi:telephony_cdr"), 50 * MB, "application/json")

    assert response.status_code == 413
    assert "Запрос слишком большой" in response.json()["error"]
    assert body.reads == 0


def test_a_file_a_little_over_its_limit_gets_the_form_s_own_message_and_a_small_one_is_stored(client, hunter):
    deal = make_deal(acting_user=hunter)
    client.force_login(hunter)
    url = reverse("deals:document", args=[deal.pk])

    over = SimpleUploadedFile("kp.pdf", b"%PDF-1.4 " + b"0" * (10 * MB), content_type="application/pdf")
    response = client.post(url, {"kind": "other", "file": over})
    assert response.status_code == 400
    assert "Файл больше 10 МБ." in response.content.decode()
    assert not DealDocument.objects.exists()

    small = SimpleUploadedFile("kp.pdf", b"%PDF-1.4 proposal", content_type="application/pdf")
    client.post(url, {"kind": "other", "file": small})
    assert DealDocument.objects.get().original_name == "kp.pdf"


def test_other_requests_are_limited_to_a_megabyte_by_default():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == MB
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 5 * MB


def test_the_real_gunicorn_answers_413_at_once_without_waiting_for_the_body(tmp_path):
    with running_gunicorn(tmp_path) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 157286400\r\n\r\n--x\r\n"
        )
        sock.settimeout(10)
        answer = sock.recv(65536)
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert elapsed < 5  # 150 MB were declared and 5 bytes sent: nothing waited for the rest
