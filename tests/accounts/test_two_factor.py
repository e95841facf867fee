"""Two-factor sign-in (TOTP) for the sales head and the accountant."""

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _second_factor_required(settings):
    settings.OTP_REQUIRED_ROLES = ["sales_head", "accountant"]


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


def test_the_head_sets_up_the_app_on_first_sign_in_and_then_reaches_the_dashboard(client, sales_head):
    client.force_login(sales_head)

    response = client.get(reverse("kpi:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor"))

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Отсканируйте QR-код" in html and "<svg" in html
    device = TOTPDevice.objects.get(user=sales_head, confirmed=False)

    confirmed = client.post(
        reverse("two_factor"), {"token": code_for(device), "next": reverse("kpi:dashboard")}
    )

    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("kpi:dashboard")
    assert client.get(reverse("kpi:dashboard")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_a_wrong_code_is_refused_in_russian_and_the_pages_stay_closed(client, accountant):
    client.force_login(accountant)
    client.get(reverse("two_factor"))

    response = client.post(reverse("two_factor"), {"token": "000000"})

    assert response.status_code == 400
    assert "Код не подошёл" in response.content.decode()
    assert client.get(reverse("compensation:payments")).status_code == 302
    assert not TOTPDevice.objects.filter(user=accountant, confirmed=True).exists()


def test_a_later_sign_in_asks_for_the_code_only(client, sales_head):
    device = TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)
    client.force_login(sales_head)

    html = client.get(reverse("two_factor")).content.decode()
    assert "QR" not in html and "Введите шестизначный код" in html

    client.post(reverse("two_factor"), {"token": code_for(device)})
    assert client.get(reverse("kpi:dashboard")).status_code == 200


def test_each_new_session_asks_again(client, sales_head):
    device = TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)
    client.force_login(sales_head)
    client.post(reverse("two_factor"), {"token": code_for(device)})
    assert client.get(reverse("kpi:dashboard")).status_code == 200

    other_browser = Client()
    other_browser.force_login(sales_head)
    assert other_browser.get(reverse("kpi:dashboard")).status_code == 302


def test_hunters_and_production_sign_in_with_the_password_alone(client, hunter, production):
    client.force_login(hunter)
    assert client.get(reverse("kpi:my_day")).status_code == 200
    client.force_login(production)
    assert client.get(reverse("deals:production_queue")).status_code == 200


def test_signing_out_is_possible_before_the_code(client, sales_head):
    client.force_login(sales_head)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_code_page_never_sends_to_another_site(client, sales_head):
    device = TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)
    client.force_login(sales_head)
    response = client.post(
        reverse("two_factor"), {"token": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("kpi:dashboard")
