"""Demo people of the sales department, for ``seed_demo`` and local trials."""

from .models import User
from .roles import Role
from .services import user_create

# One shared password keeps the README short; it satisfies the portal's password validators.
DEMO_PASSWORD = "atlanset-demo-2026"

DEMO_USERS = [
    {"username": "admin", "full_name": "Администратор портала", "role": "", "is_superuser": True},
    {
        "username": "head",
        "full_name": "Ольга Петрова",
        "role": Role.SALES_HEAD,
        "email": "rop@atlanset.local",
    },
    {
        "username": "buh",
        "full_name": "Евгения Шибанова",
        "role": Role.ACCOUNTANT,
        "email": "buh@atlanset.local",
    },
    {
        "username": "prod",
        "full_name": "Сергей Кузнецов",
        "role": Role.PRODUCTION,
        "email": "prod@atlanset.local",
    },
    {"username": "ivanov", "full_name": "Иван Иванов", "role": Role.HUNTER, "extension": "101"},
    {"username": "smirnova", "full_name": "Анна Смирнова", "role": Role.HUNTER, "extension": "102"},
    {"username": "sokolov", "full_name": "Дмитрий Соколов", "role": Role.HUNTER, "extension": "103"},
    {"username": "novikov", "full_name": "Павел Новиков", "role": Role.HUNTER, "extension": "104"},
]


def seed_demo_users() -> list[tuple[User, bool]]:
    """Creates the demo users that are missing; existing ones (and their passwords) are left alone."""
    result = []
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            user = user_create(password=DEMO_PASSWORD, **spec)
            result.append((user, True))
        else:
            result.append((user, False))
    return result


# The authenticator key (base32) of every demo user who signs in with a code (the head, the accountant and
# the administrator), printed by seed_demo and the README: add it to any TOTP app, or print the current
# code with `python manage.py totp_code head`.
DEMO_TOTP_SECRET = "ATLANSETPORTALDEMOKEYFORHEADBUHX"


def seed_demo_second_factor() -> list[str]:
    """A confirmed authenticator with the demo key for each demo user who signs in with a code; returns
    their logins."""
    from base64 import b32decode

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .two_factor import second_factor_required

    key = b32decode(DEMO_TOTP_SECRET).hex()
    logins = []
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec["username"]).first()
        if user is None or not second_factor_required(user):
            continue
        logins.append(user.username)
        if not TOTPDevice.objects.filter(user=user).exists():
            TOTPDevice.objects.create(user=user, name="Демо-ключ", key=key, confirmed=True)
    return logins
