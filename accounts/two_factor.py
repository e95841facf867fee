"""Two-factor sign-in with a TOTP authenticator app (django-otp): who needs it, setting the app up,
confirming a code after the password, and a superuser's reset of someone's app."""

from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SecondFactorReset, User

DEVICE_NAME = "Приложение-аутентификатор"


def second_factor_required(user) -> bool:
    """Whether the user confirms a code after the password: the roles in ``OTP_REQUIRED_ROLES``, and anyone
    who can reach the admin (staff or superuser), whatever their role."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role and user.role in settings.OTP_REQUIRED_ROLES:
        return True
    return settings.OTP_REQUIRED_FOR_STAFF and (user.is_staff or user.is_superuser)


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@transaction.atomic
def pending_device(user: User) -> TOTPDevice:
    """The device being set up: kept across page loads, so the QR code does not change under the user."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// link as an inline SVG QR code (no image request, nothing external)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def secret_for_manual_entry(device: TOTPDevice) -> str:
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def second_factor_confirm(*, request, token: str) -> bool:
    """Checks the code against the confirmed device, or the one being set up (which it then confirms);
    marks the session verified. django-otp slows down repeated wrong codes itself."""
    user = request.user
    device = confirmed_device(user) or TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip().replace(" ", "")):
        return False
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    otp_login(request, device)
    return True


@transaction.atomic
def second_factor_reset(*, user: User, acting_user: User) -> SecondFactorReset:
    """Removes the user's authenticator app (set up or half set up) and signs them out everywhere, so the
    next sign-in takes the password and sets a new app up. Only a superuser may; every reset is on record."""
    if not (acting_user.is_active and acting_user.is_superuser):
        raise PermissionDenied
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
    _end_sessions(user)
    return SecondFactorReset.objects.create(user=user, by=acting_user, devices=removed)


def _end_sessions(user: User) -> None:
    """A session verified with the removed app must not stay open, nor one that could set a new app up
    without the password."""
    user_id = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == user_id:
            session.delete()
