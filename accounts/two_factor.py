"""Two-factor sign-in with a TOTP authenticator app (django-otp): setting the app up and confirming
a code after the password."""

from io import BytesIO

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User

DEVICE_NAME = "Приложение-аутентификатор"


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
