"""Phone numbers as people write them ("8 912…", "+7 (912)…", "9123…") to one E.164 form (+7…)."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "RU"
E164_MAX_LENGTH = 16  # "+" and at most 15 digits
E164_MIN_LENGTH = 8  # "+" and at least 7 digits: the shortest numbers in use (e.g. +290 and 4 digits)


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
    e164 = _e164(number)
    # A stored number must read back as itself: some possible numbers lose a digit when formatted
    # ("+310000000" → "+31000000" → "+3100000"), and E.164 has at most 15 digits.
    if number.extension or not phonenumbers.is_possible_number(number) or not _is_stable_e164(e164):
        raise ValidationError(
            _(
                "«%(value)s» — неверный номер телефона: для России нужно 10 цифр после +7 или 8, "
                "иностранный номер пишите полностью с кодом страны."
            ),
            code="invalid",
            params={"value": text},
        )
    return e164


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_stable_e164(e164: str) -> bool:
    if not E164_MIN_LENGTH <= len(e164) <= E164_MAX_LENGTH:
        return False
    if len(e164) == 12 and e164.startswith("+7"):
        return True  # the usual Russian number (ten digits, none of them leading zeros): no second parse
    try:
        return _e164(phonenumbers.parse(e164, DEFAULT_REGION)) == e164
    except phonenumbers.NumberParseException:
        return False


def format_phone(e164: str) -> str:
    """``+79123456789`` → ``+7 912 345-67-89`` for pages."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
