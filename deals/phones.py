"""Phone numbers as people write them ("8 912…", "+7 (912)…", "9123…") to one E.164 form (+7…)."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "RU"


def normalize_phone(raw: str) -> str:
    """Returns the number as E.164 (``+79123456789``) or raises ValidationError in Russian."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Укажите номер телефона."), code="required")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("«%(value)s» — не номер телефона."), code="invalid", params={"value": text}
        ) from None
    if number.extension or not phonenumbers.is_possible_number(number):
        raise ValidationError(
            _("«%(value)s» — неверный номер телефона: нужен номер из 10 цифр после +7 или 8."),
            code="invalid",
            params={"value": text},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """``+79123456789`` → ``+7 912 345-67-89`` for pages."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
