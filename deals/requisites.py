"""Validation of Russian company requisites (ИНН, КПП, ОГРН/ОГРНИП, БИК, р/с, к/с) for deal forms.

python-stdnum covers ИНН and the 13-digit ОГРН, and we use it for those. It does not cover КПП, БИК or
bank accounts, and its 15-digit ОГРНИП check is wrong in 2.2: it compares the whole remainder mod 13
with the last digit, so every ОГРНИП whose remainder is 10, 11 or 12 is rejected. Those checks are
written out here.

Every validator takes what a user typed or pasted, strips spaces and dashes, and returns the normalised
value or raises ValidationError with a Russian message (Russian is the msgid; LANGUAGE_CODE is "ru").
"""

import re
from itertools import cycle

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import InvalidChecksum, InvalidComponent
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

# People paste requisites from PDFs and bank letters, which group digits with (non-breaking) spaces and
# various dashes.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]")
_ASCII_DIGITS = re.compile(r"[0-9]*")  # empty input is reported as the wrong length
_KPP_FORMAT = re.compile(r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}")

LEGAL_ENTITY_INN_LENGTH = 10
INDIVIDUAL_ENTREPRENEUR_INN_LENGTH = 12
KPP_LENGTH = 9
OGRN_LENGTH = 13
OGRNIP_LENGTH = 15
BIK_LENGTH = 9
BANK_ACCOUNT_LENGTH = 20

RUSSIAN_BIK_PREFIX = "04"
CORRESPONDENT_ACCOUNT_PREFIX = "30101"
# БИК digits 7-9 are 000/001/002 for Bank of Russia divisions (РКЦ, ГРКЦ, others) and 050-999 for
# credit institutions (structure of БИК, Положение Банка России 225-П and its successors).
_BANK_OF_RUSSIA_DIVISION_SUFFIXES = frozenset({"000", "001", "002"})
_ACCOUNT_KEY_WEIGHTS = (7, 1, 3)


def _strip_separators(value: str) -> str:
    return _SEPARATORS.sub("", value)


def _require_digits(value: str, message: str | Promise, code: str) -> None:
    # Not str.isdigit(): it also accepts full-width, Arabic-Indic and superscript digits, which no bank takes.
    if not _ASCII_DIGITS.fullmatch(value):
        raise ValidationError(message, code=code)


def validate_inn(value: str) -> str:
    inn = _strip_separators(value)
    _require_digits(inn, _("ИНН должен состоять только из цифр"), "inn_not_digits")
    if len(inn) not in (LEGAL_ENTITY_INN_LENGTH, INDIVIDUAL_ENTREPRENEUR_INN_LENGTH):
        raise ValidationError(_("ИНН должен содержать 10 или 12 цифр"), code="inn_length")
    if not stdnum_inn.is_valid(inn):
        raise ValidationError(_("Неверная контрольная сумма ИНН"), code="inn_checksum")
    return inn


def is_individual_entrepreneur_inn(inn: str) -> bool:
    """True for a 12-digit ИНН (a person: ИП); a company has 10. Checks only the shape, not the checksum."""
    digits = _strip_separators(inn)
    return len(digits) == INDIVIDUAL_ENTREPRENEUR_INN_LENGTH and bool(_ASCII_DIGITS.fullmatch(digits))


def validate_kpp(value: str) -> str:
    kpp = _strip_separators(value).upper()
    if len(kpp) != KPP_LENGTH:
        raise ValidationError(_("КПП должен содержать 9 символов"), code="kpp_length")
    # Positions 5-6 are the reason code, which the tax service may write with Latin letters.
    if not _KPP_FORMAT.fullmatch(kpp):
        raise ValidationError(
            _("КПП должен состоять из 4 цифр, 2 цифр или латинских букв и 3 цифр"), code="kpp_format"
        )
    return kpp


def ogrnip_check_digit(first_14_digits: str) -> str:
    """Check digit of a 15-digit ОГРНИП: the 14-digit number mod 13, then its last digit (mod 10)."""
    return str(int(first_14_digits) % 13 % 10)


def validate_ogrn(value: str) -> str:
    """Validate a 13-digit ОГРН (company) or a 15-digit ОГРНИП (individual entrepreneur)."""
    ogrn = _strip_separators(value)
    _require_digits(ogrn, _("ОГРН должен состоять только из цифр"), "ogrn_not_digits")
    if len(ogrn) == OGRN_LENGTH:
        try:
            stdnum_ogrn.validate(ogrn)
        except InvalidChecksum:
            raise ValidationError(_("Неверная контрольная сумма ОГРН"), code="ogrn_checksum") from None
        except InvalidComponent:
            # stdnum's only other objection to 13 digits is a leading zero.
            raise ValidationError(_("ОГРН не может начинаться с 0"), code="ogrn_first_digit") from None
        return ogrn
    if len(ogrn) == OGRNIP_LENGTH:
        # 3 marks an ОГРНИП, 4 another ЕГРИП record number; stdnum allows the same two.
        if ogrn[0] not in "34":
            raise ValidationError(_("ОГРНИП должен начинаться с 3 или 4"), code="ogrnip_first_digit")
        if ogrn[-1] != ogrnip_check_digit(ogrn[:-1]):
            raise ValidationError(_("Неверная контрольная сумма ОГРНИП"), code="ogrnip_checksum")
        return ogrn
    raise ValidationError(_("ОГРН должен содержать 13 цифр, ОГРНИП — 15 цифр"), code="ogrn_length")


def validate_bik(value: str) -> str:
    bik = _strip_separators(value)
    _require_digits(bik, _("БИК должен состоять только из цифр"), "bik_not_digits")
    if len(bik) != BIK_LENGTH:
        raise ValidationError(_("БИК должен содержать 9 цифр"), code="bik_length")
    if not bik.startswith(RUSSIAN_BIK_PREFIX):
        raise ValidationError(_("БИК российского банка должен начинаться с 04"), code="bik_country")
    return bik


def _account_key_is_valid(bik_part: str, account: str) -> bool:
    # ЦБ РФ «Порядок расчета контрольного ключа в номере лицевого счета» (08.09.1997 N 515):
    # 3 digits from the БИК + 20-digit account, weights 7,1,3 repeating; valid when the sum ends in 0.
    digits = bik_part + account
    return sum(int(digit) * weight for digit, weight in zip(digits, cycle(_ACCOUNT_KEY_WEIGHTS))) % 10 == 0


def _bank_of_russia_division_number(bik: str) -> str:
    # N 515: an account held at a РКЦ is keyed with the РКЦ's number, БИК digits 5-6 padded with a 0.
    return "0" + bik[4:6]


def _clean_account(
    value: str, *, not_digits_message: str | Promise, length_message: str | Promise, code_prefix: str
) -> str:
    account = _strip_separators(value)
    _require_digits(account, not_digits_message, f"{code_prefix}_not_digits")
    if len(account) != BANK_ACCOUNT_LENGTH:
        raise ValidationError(length_message, code=f"{code_prefix}_length")
    return account


def validate_settlement_account(account: str, bik: str) -> str:
    """Validate a расчётный счёт (20 digits) against the БИК of the bank that holds it; return the account."""
    settlement_account = _clean_account(
        account,
        not_digits_message=_("Расчётный счёт должен состоять только из цифр"),
        length_message=_("Расчётный счёт должен содержать 20 цифр"),
        code_prefix="settlement_account",
    )
    bik = validate_bik(bik)
    # N 515: a credit institution's client account is keyed with БИК digits 7-9; an account held
    # directly at a Bank of Russia division (БИК ending 000/001/002) with "0" + БИК digits 5-6.
    bik_suffix = bik[-3:]
    if bik_suffix in _BANK_OF_RUSSIA_DIVISION_SUFFIXES:
        bik_part = _bank_of_russia_division_number(bik)
    else:
        bik_part = bik_suffix
    if not _account_key_is_valid(bik_part, settlement_account):
        raise ValidationError(
            _("Неверный контрольный ключ расчётного счёта для указанного БИК"),
            code="settlement_account_key",
        )
    return settlement_account


def validate_correspondent_account(account: str, bik: str) -> str:
    """Validate a bank's корреспондентский счёт (20 digits, 30101...) against its БИК; return the account."""
    correspondent_account = _clean_account(
        account,
        not_digits_message=_("Корреспондентский счёт должен состоять только из цифр"),
        length_message=_("Корреспондентский счёт должен содержать 20 цифр"),
        code_prefix="correspondent_account",
    )
    bik = validate_bik(bik)
    if not correspondent_account.startswith(CORRESPONDENT_ACCOUNT_PREFIX):
        raise ValidationError(
            _("Корреспондентский счёт должен начинаться с 30101"), code="correspondent_account_prefix"
        )
    # Bank of Russia telegram 86-97 (06.10.1997): digits 18-20 of a к/с repeat БИК digits 7-9. The key
    # alone would let a wrong bank's к/с through one time in ten.
    if correspondent_account[-3:] != bik[-3:]:
        raise ValidationError(
            _("Последние три цифры корреспондентского счёта должны совпадать с последними тремя цифрами БИК"),
            code="correspondent_account_bik_mismatch",
        )
    # A к/с is opened at a РКЦ, so it is always keyed with "0" + БИК digits 5-6 (N 515, example 1).
    if not _account_key_is_valid(_bank_of_russia_division_number(bik), correspondent_account):
        raise ValidationError(
            _("Неверный контрольный ключ корреспондентского счёта для указанного БИК"),
            code="correspondent_account_key",
        )
    return correspondent_account
