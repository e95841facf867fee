"""Phone numbers as people write them ("8 912…", "+7 (912)…", "9123…") to one E.164 form (+7…), with the
extension kept apart ("доб. 123", "ext. 123", ",123"), and back to the form a Russian reader expects."""

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "RU"
E164_MAX_LENGTH = 16  # "+" and at most 15 digits
E164_MIN_LENGTH = 8  # "+" and at least 7 digits: the shortest numbers in use (e.g. +290 and 4 digits)
EXTENSION_MAX_LENGTH = 6  # the longest extension an office PBX dials

# An extension at the end of a number: «доб. 123», «добавочный 123», «ext. 123», «x123», «#123», «,123»
# (the phone's pause key) or RFC 3966's «;ext=123».
_EXTENSION = re.compile(
    r"\s*(?:,|;\s*ext=|#|(?<![^\W\d_])(?:доб(?:авочный)?|ext(?:ension)?|x)\.?)\s*(?P<digits>\d+)\s*$",
    re.IGNORECASE,
)
# Several numbers in one field: one per line or separated by «;» (but not RFC 3966's «;ext=»).
_NUMBER_SEPARATORS = re.compile(r"[\r\n]+|;(?!\s*ext=)", re.IGNORECASE)
# A comma followed by a short group of digits is the pause before an extension, not the next number.
_COMMA_EXTENSION = re.compile(rf"^\s*\d{{1,{EXTENSION_MAX_LENGTH}}}\s*$")


@dataclass(frozen=True)
class Phone:
    number: str  # E.164
    extension: str = ""  # digits only; "" for none


def _invalid(text: str) -> ValidationError:
    return ValidationError(
        _(
            "«%(value)s» — неверный номер телефона: для России нужно 10 цифр после +7 или 8, "
            "иностранный номер пишите полностью с кодом страны."
        ),
        code="invalid",
        params={"value": text},
    )


def normalize_phone(raw: str) -> str:
    """Returns the number as E.164 (``+79123456789``) or raises ValidationError in Russian. A number with
    an extension is refused: where one is allowed, use ``parse_phone``."""
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
        raise _invalid(text)
    return e164


def parse_phone(raw: str) -> Phone:
    """A number with an optional extension («+7 3462 55-12-34 доб. 123» → +73462551234 and 123), or a
    ValidationError in Russian."""
    text = (raw or "").strip()
    extension = ""
    found = _EXTENSION.search(text)
    if found and found.start() > 0:
        extension = found.group("digits")
        if len(extension) > EXTENSION_MAX_LENGTH:
            raise ValidationError(
                _("«%(value)s»: добавочный номер — не длиннее %(max)s цифр."),
                code="invalid",
                params={"value": text, "max": EXTENSION_MAX_LENGTH},
            )
        text = text[: found.start()].strip()
    return Phone(number=normalize_phone(text), extension=extension)


def split_phones(text: str) -> list[str]:
    """The numbers of a field that holds several, as typed: one per line, or separated by «;» or «,».
    A comma followed by a few digits only («+7 3462 55-12-34,123») is an extension and stays with its
    number."""
    numbers: list[str] = []
    for line in _NUMBER_SEPARATORS.split(text or ""):
        for piece in line.split(","):
            if numbers and _COMMA_EXTENSION.match(piece) and not _EXTENSION.search(numbers[-1]):
                numbers[-1] = f"{numbers[-1]},{piece.strip()}"
            elif piece.strip():
                numbers.append(piece.strip())
    return numbers


def with_extension(phone: Phone) -> str:
    """The number as a form shows it back for editing: E.164, then « доб. 123»."""
    return f"{phone.number} доб. {phone.extension}" if phone.extension else phone.number


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


# Russian area codes longer than the three digits phonenumbers groups by (its metadata knows no others):
# the towns of Yugra and its neighbours, where the portal's clients are, and the regional centres whose
# numbers are six digits long. A landline is shown by its code («+7 3462 55-12-34» in Surgut).
RU_AREA_CODES = frozenset(
    {
        # Khanty-Mansi Autonomous Okrug — Yugra
        "3462",  # Сургут
        "3463",  # Нефтеюганск, Пыть-Ях
        "3466",  # Нижневартовск
        "3467",  # Ханты-Мансийск
        "34638",  # Лянтор
        "34643",  # Мегион
        "34667",  # Когалым
        "34668",  # Радужный
        "34669",  # Лангепас, Покачи
        "34670",  # Белоярский
        "34672",  # Нягань
        "34674",  # Берёзово
        "34675",  # Советский, Югорск
        "34676",  # Урай
        "34677",  # Междуреченский
        "34678",  # Октябрьское
        # Yamalo-Nenets Autonomous Okrug
        "3494",  # Новый Уренгой
        "3496",  # Ноябрьск
        "3499",  # Надым
        "34922",  # Салехард
        "34936",  # Губкинский
        "34938",  # Муравленко
        "34992",  # Лабытнанги
        "34997",  # Тарко-Сале
        # Tyumen region
        "3452",  # Тюмень
        "3456",  # Тобольск
        "34535",  # Ялуторовск
        "34542",  # Заводоуковск
        "34551",  # Ишим
        # Regional centres with six-digit numbers
        "3012",  # Улан-Удэ
        "3022",  # Чита
        "3412",  # Ижевск
        "3522",  # Курган
        "3532",  # Оренбург
        "3812",  # Омск
        "3822",  # Томск
        "3842",  # Кемерово
        "3852",  # Барнаул
        "3902",  # Абакан
        "3952",  # Иркутск
        "4012",  # Калининград
        "4112",  # Якутск
        "4152",  # Петропавловск-Камчатский
        "4162",  # Благовещенск
        "4212",  # Хабаровск
        "4242",  # Южно-Сахалинск
        "4712",  # Курск
        "4722",  # Белгород
        "4742",  # Липецк
        "4752",  # Тамбов
        "4812",  # Смоленск
        "4822",  # Тверь
        "4832",  # Брянск
        "4842",  # Калуга
        "4852",  # Ярославль
        "4862",  # Орёл
        "4872",  # Тула
        "4912",  # Рязань
        "4922",  # Владимир
        "4932",  # Иваново
        "8142",  # Петрозаводск
        "8152",  # Мурманск
        "8172",  # Вологда
        "8182",  # Архангельск
        "8212",  # Сыктывкар
        "8332",  # Киров
        "8342",  # Саранск
        "8352",  # Чебоксары
        "8362",  # Йошкар-Ола
        "8412",  # Пенза
        "8422",  # Ульяновск
        "8442",  # Волгоград
        "8452",  # Саратов
        "8512",  # Астрахань
        "8652",  # Ставрополь
        "8722",  # Махачкала
    }
)


def _ru_landline(national: str) -> str | None:
    """A ten-digit Russian number under one of RU_AREA_CODES, grouped by its code, else None."""
    for length in (5, 4):
        code, local = national[:length], national[length:]
        if code in RU_AREA_CODES:
            if len(local) == 6:
                return f"+7 {code} {local[:2]}-{local[2:4]}-{local[4:]}"
            return f"+7 {code} {local[:1]}-{local[1:3]}-{local[3:]}"
    return None


def format_phone(e164: str, extension: str = "") -> str:
    """``+79123456789`` → ``+7 912 345-67-89``; a Surgut landline ``+73462551234`` → ``+7 3462 55-12-34``;
    an extension follows as « доб. 123»."""
    text = _grouped(e164)
    return f"{text} {gettext('доб.')} {extension}" if extension else text


# A board or a day's tasks show hundreds of phones; parsing one with phonenumbers costs ~0.3 ms, and the
# same numbers come back on every page, so each process remembers the ones it grouped.
@lru_cache(maxsize=20_000)
def _grouped(e164: str) -> str:
    if len(e164) == 12 and e164.startswith("+7"):
        text = _ru_landline(e164[2:])
        if text is not None:
            return text
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_digits(e164: str) -> str:
    """``+79123456789`` → ``79123456789``: what the search matches typed digits against."""
    return "".join(ch for ch in e164 if ch.isdigit())


def is_russian_mobile(e164: str) -> bool:
    """+79… numbers: the ones WhatsApp and Telegram reach."""
    return len(e164) == 12 and e164.startswith("+79")
