from django.apps import apps
from django.core.management import call_command

from accounts.access import role_of
from accounts.demo import DEMO_PASSWORD
from accounts.models import User
from accounts.roles import Role


def _snapshot():
    counts = {model._meta.label: model.objects.count() for model in apps.get_models()}
    users = list(User.objects.order_by("username").values_list("username", "password", "role", "extension"))
    memberships = list(
        User.groups.through.objects.order_by("user_id", "group_id").values_list("user_id", "group_id")
    )
    return counts, users, memberships


def test_seed_demo_creates_a_user_for_every_role(db, capsys):
    call_command("seed_demo")
    roles = {role_of(user) for user in User.objects.all()}
    assert set(Role) <= roles
    assert User.objects.filter(is_superuser=True).exists()
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD)
    printed = capsys.readouterr().out
    assert "head" in printed and DEMO_PASSWORD in printed


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo")
    before = _snapshot()
    call_command("seed_demo")
    assert _snapshot() == before


def test_seed_demo_keeps_a_password_the_user_changed(db):
    call_command("seed_demo")
    head = User.objects.get(username="head")
    head.set_password("my-own-secret-42")
    head.save()
    call_command("seed_demo")
    assert User.objects.get(username="head").check_password("my-own-secret-42")


def test_the_demo_administrator_signs_in_with_the_documented_demo_key(db, settings, capsys):
    from base64 import b32decode

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.demo import DEMO_TOTP_SECRET

    settings.OTP_REQUIRED_ROLES = ["sales_head", "accountant"]
    settings.OTP_REQUIRED_FOR_STAFF = True

    call_command("seed_demo")

    devices = TOTPDevice.objects.filter(confirmed=True).select_related("user")
    assert sorted(device.user.username for device in devices) == ["admin", "buh", "head"]
    assert {device.bin_key for device in devices} == {b32decode(DEMO_TOTP_SECRET)}
    assert (
        f"Вход кодом TOTP подтверждают admin, head, buh: ключ {DEMO_TOTP_SECRET}" in capsys.readouterr().out
    )
    call_command("totp_code", "admin")
    assert capsys.readouterr().out.strip().isdigit()
