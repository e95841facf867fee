"""Two-factor sign-in (TOTP) for the sales head, the accountant, superusers and staff; the admin never
shows a key; a superuser's reset of someone's app is on record."""

from base64 import b32encode

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecondFactorReset
from accounts.two_factor import second_factor_reset
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _second_factor_required(settings):
    settings.OTP_REQUIRED_ROLES = ["sales_head", "accountant"]
    settings.OTP_REQUIRED_FOR_STAFF = True


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


# --- superusers and staff -----------------------------------------------------------------------------------


def signed_in_with_code(user) -> Client:
    """A browser of ``user`` past the code page, with an app set up beforehand."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="app", confirmed=True
    )
    browser = Client()
    browser.force_login(user)
    assert browser.post(reverse("two_factor"), {"token": code_for(device)}).status_code == 302
    return browser


def test_the_superuser_confirms_a_code_before_reaching_the_admin(client, superuser):
    client.force_login(superuser)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor"))
    assert "Отсканируйте QR-код" in client.get(response["Location"]).content.decode()

    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    confirmed = client.post(reverse("two_factor"), {"token": code_for(device), "next": "/admin/"})
    assert confirmed["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_staff_user_confirms_a_code_whatever_the_role(client, hunter):
    hunter.is_staff = True
    hunter.save(update_fields=["is_staff"])
    client.force_login(hunter)

    assert client.get(reverse("kpi:my_day"))["Location"].startswith(reverse("two_factor"))
    assert client.get("/admin/")["Location"].startswith(reverse("two_factor"))


def test_the_admin_lists_authenticator_apps_without_their_keys_or_qr_codes(superuser, sales_head):
    device = TOTPDevice.objects.create(user=sales_head, name="Телефон Ольги", confirmed=True)
    admin = signed_in_with_code(superuser)
    base32_key = b32encode(device.bin_key).decode()
    secrets = (device.key, base32_key, device.config_url, "otpauth://")

    listing = admin.get(reverse("admin:otp_totp_totpdevice_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Ольга Петрова" in page and "Телефон Ольги" in page
    assert not [secret for secret in secrets if secret in page]
    assert "qrcode" not in page.lower()

    detail = admin.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]), follow=True)
    assert detail.status_code == 200
    assert not [secret for secret in secrets if secret in detail.content.decode()]
    assert 'name="key"' not in detail.content.decode()

    for name in ("admin:otp_totp_totpdevice_config", "admin:otp_totp_totpdevice_qrcode"):
        with pytest.raises(NoReverseMatch):
            reverse(name, args=[device.pk])
    for suffix in ("config/", "qrcode/"):
        answer = admin.get(f"/admin/otp_totp/totpdevice/{device.pk}/{suffix}", follow=True)
        assert not [secret for secret in secrets if secret in answer.content.decode()]
        assert answer["Content-Type"].startswith("text/html")  # the admin's page, not a QR image
    assert admin.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403


def test_the_admin_cannot_change_or_delete_an_app_except_by_the_reset(superuser, sales_head):
    device = TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)
    admin = signed_in_with_code(superuser)
    change_url = reverse("admin:otp_totp_totpdevice_change", args=[device.pk])

    admin.post(change_url, {"user": sales_head.pk, "name": "app", "key": "00" * 20, "confirmed": "on"})
    admin.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})

    device.refresh_from_db()
    assert device.key != "00" * 20


def test_a_superuser_resets_the_head_s_app_and_she_sets_a_new_one_up_at_the_next_sign_in(
    superuser, sales_head
):
    head_browser = signed_in_with_code(sales_head)
    assert head_browser.get(reverse("kpi:dashboard")).status_code == 200
    admin = signed_in_with_code(superuser)

    response = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [sales_head.pk]},
        follow=True,
    )

    assert "Приложение-аутентификатор сброшено у 1 пользователя" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=sales_head).exists()
    reset = SecondFactorReset.objects.get()
    assert (reset.user, reset.by, reset.devices) == (sales_head, superuser, 1)
    # Her open session is over: the next page asks for the password, not for a new app.
    assert head_browser.get(reverse("kpi:dashboard"))["Location"].startswith(reverse("login"))
    head_browser.force_login(sales_head)
    assert "Отсканируйте QR-код" in head_browser.get(reverse("two_factor")).content.decode()
    # The admin's own session is untouched.
    assert admin.get("/admin/").status_code == 200


def test_the_reset_from_the_app_list_resets_the_owner(superuser, accountant):
    device = TOTPDevice.objects.create(user=accountant, name="app", confirmed=True)
    admin = signed_in_with_code(superuser)

    admin.post(
        reverse("admin:otp_totp_totpdevice_changelist"),
        {"action": "reset_second_factor", "_selected_action": [device.pk]},
    )

    assert not TOTPDevice.objects.filter(user=accountant).exists()
    assert SecondFactorReset.objects.get().user == accountant


def test_only_a_superuser_resets_an_app(sales_head, hunter):
    staff = UserFactory(username="staff", role="")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)
    browser = signed_in_with_code(type(staff).objects.get(pk=staff.pk))

    listing = browser.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "reset_second_factor" not in listing
    browser.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [sales_head.pk]},
    )
    with pytest.raises(PermissionDenied):
        second_factor_reset(user=sales_head, acting_user=hunter)

    assert TOTPDevice.objects.filter(user=sales_head).exists()
    assert not SecondFactorReset.objects.exists()


def test_the_reset_is_in_the_head_s_audit_history(client, superuser, accountant, sales_head):
    second_factor_reset(user=accountant, acting_user=superuser)
    client.force_login(sales_head)
    client.post(
        reverse("two_factor"),
        {"token": code_for(TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True))},
    )

    page = client.get(reverse("audit") + "?kind=second_factor").content.decode()

    assert "Приложение-аутентификатор: Евгения Шибанова" in page
    assert "Администратор" in page and "настроит заново при следующем входе" in page


def test_a_superuser_locked_out_of_the_admin_is_reset_from_the_command_line(superuser, capsys):
    TOTPDevice.objects.create(user=superuser, name="потерянный телефон", confirmed=True)

    call_command("reset_second_factor", superuser.username, "--by", superuser.username)

    assert not TOTPDevice.objects.filter(user=superuser).exists()
    assert SecondFactorReset.objects.get().by == superuser
    assert "сброшено" in capsys.readouterr().out


def test_the_command_refuses_a_reset_by_someone_who_is_not_a_superuser(sales_head, hunter):
    TOTPDevice.objects.create(user=sales_head, name="app", confirmed=True)

    with pytest.raises(CommandError, match="не суперпользователь"):
        call_command("reset_second_factor", sales_head.username, "--by", hunter.username)

    assert TOTPDevice.objects.filter(user=sales_head).exists()
