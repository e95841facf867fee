"""Unit tests for deals.requisites: pure functions, no database.

Known-good values are public: Sberbank's own requisites, the worked examples in the Bank of Russia's
«Порядок расчета контрольного ключа в номере лицевого счета» (08.09.1997 N 515), and the Federal
Treasury's well-known Moscow revenue accounts, which are held at Bank of Russia divisions.
"""

from itertools import cycle

import pytest
from django.core.exceptions import ValidationError
from stdnum.ru import ogrn as stdnum_ogrn

from deals.requisites import (
    is_individual_entrepreneur_inn,
    validate_bik,
    validate_correspondent_account,
    validate_inn,
    validate_kpp,
    validate_ogrn,
    validate_settlement_account,
)

SBERBANK_INN = "7707083893"
SBERBANK_KPP = "773601001"
SBERBANK_OGRN = "1027700132195"
SBERBANK_BIK = "044525225"
SBERBANK_CORRESPONDENT_ACCOUNT = "30101810400000000225"
# A client account at Sberbank, key computed for this test (not a real customer's account).
# 225 + 40702810938000012345, weights 7,1,3 repeating:
#   14+2+15 + 28+0+21+0+2+24+7+0+27+21+8+0+0+0+0+7+2+9+28+5 = 220, ends in 0.
SBERBANK_CLIENT_ACCOUNT = "40702810938000012345"

OGRNIP_CHECKSUM = "Неверная контрольная сумма ОГРНИП"


def assert_rejected(validator, *args: str, message: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validator(*args)
    assert caught.value.messages == [message]
    assert caught.value.code == code


def with_ogrnip_check_digit(first_14_digits: str) -> str:
    # Written out from the rule rather than imported, so the test does not trust the code it checks.
    remainder = int(first_14_digits) % 13
    return first_14_digits + str(remainder)[-1]


def account_key_sum(bik_part: str, account: str) -> int:
    return sum(int(digit) * weight for digit, weight in zip(bik_part + account, cycle((7, 1, 3))))


# --- ИНН ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SBERBANK_INN, SBERBANK_INN),
        ("7707 083893", SBERBANK_INN),
        ("7707-083-893", SBERBANK_INN),
        ("\u00a07707\u00a0083893 ", SBERBANK_INN),  # non-breaking spaces, as pasted from a PDF
        ("77 07 08 38 93", SBERBANK_INN),
        ("7707\u2013083893", SBERBANK_INN),  # en dash
        # Yandex, a second public legal-entity ИНН.
        ("7736207543", "7736207543"),
        # 12 digits (a person). Check digits for 7707123456:
        #   7,2,4,10,3,5,9,4,6,8 -> 49+14+0+70+3+10+27+16+30+48 = 267, 267 % 11 = 3;
        #   3,7,2,4,10,3,5,9,4,6,8 over 77071234563 -> 245, 245 % 11 = 3.
        ("770712345633", "770712345633"),
        ("7707 1234 5633", "770712345633"),
    ],
)
def test_inn_valid_and_normalised(raw, expected):
    assert validate_inn(raw) == expected


@pytest.mark.parametrize("raw", ["770708389", "77070838933", "7707083893000", "1", ""])
def test_inn_wrong_length(raw):
    assert_rejected(validate_inn, raw, message="ИНН должен содержать 10 или 12 цифр", code="inn_length")


@pytest.mark.parametrize(
    "raw",
    [
        "77070838A3",
        "ИНН7707083893",
        "7707.083893",
        "７７０７０８３８９３",  # full-width digits: str.isdigit() would say yes
        "٧٧٠٧٠٨٣٨٩٣",  # Arabic-Indic digits
    ],
)
def test_inn_not_digits(raw):
    assert_rejected(validate_inn, raw, message="ИНН должен состоять только из цифр", code="inn_not_digits")


@pytest.mark.parametrize("raw", ["7707083894", "7707083890", "770712345634", "770712345623"])
def test_inn_wrong_checksum(raw):
    assert_rejected(validate_inn, raw, message="Неверная контрольная сумма ИНН", code="inn_checksum")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("770712345633", True),
        ("7707 1234 5633", True),
        (SBERBANK_INN, False),
        ("", False),
        ("77071234563a", False),
        ("7707123456331", False),
    ],
)
def test_is_individual_entrepreneur_inn(raw, expected):
    assert is_individual_entrepreneur_inn(raw) is expected


# --- КПП ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SBERBANK_KPP, SBERBANK_KPP),
        ("7736 01 001", SBERBANK_KPP),
        ("7736-01-001", SBERBANK_KPP),
        ("7736AZ001", "7736AZ001"),  # positions 5-6 may be Latin letters
        ("7736az001", "7736AZ001"),
        ("77360A001", "77360A001"),
    ],
)
def test_kpp_valid_and_normalised(raw, expected):
    assert validate_kpp(raw) == expected


@pytest.mark.parametrize("raw", ["77360100", "7736010011", "", "7736 01 0011"])
def test_kpp_wrong_length(raw):
    assert_rejected(validate_kpp, raw, message="КПП должен содержать 9 символов", code="kpp_length")


@pytest.mark.parametrize(
    "raw",
    [
        "773A01001",  # letter outside positions 5-6
        "7736010A1",
        "7736АБ001",  # Cyrillic letters, which look like Latin ones
        "7736_1001",
        "７７３６０１００１",
    ],
)
def test_kpp_wrong_format(raw):
    assert_rejected(
        validate_kpp,
        raw,
        message="КПП должен состоять из 4 цифр, 2 цифр или латинских букв и 3 цифр",
        code="kpp_format",
    )


# --- ОГРН / ОГРНИП ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SBERBANK_OGRN, SBERBANK_OGRN),
        ("1 02 77 00 132195", SBERBANK_OGRN),
        ("1027700132195\n", SBERBANK_OGRN),
        ("5077746725964", "5077746725964"),  # a 5-prefixed ОГРН, public example from validator tests
        # Public ОГРНИП examples (from open-source validator tests); for these stdnum agrees with us.
        ("304500116000157", "304500116000157"),
        ("309565808600188", "309565808600188"),
        ("3095 6580 8600 188", "309565808600188"),
    ],
)
def test_ogrn_valid_and_normalised(raw, expected):
    assert validate_ogrn(raw) == expected


@pytest.mark.parametrize(
    "first_14_digits",
    [
        "32177460001234",
        "31977000012345",
        "30450011600015",  # 304500116000157 without its check digit
        "32377460009057",
    ],
)
def test_ogrnip_with_computed_check_digit_is_valid(first_14_digits):
    ogrnip = with_ogrnip_check_digit(first_14_digits)
    assert validate_ogrn(ogrnip) == ogrnip


def test_ogrnip_accepts_exactly_one_check_digit_for_each_remainder():
    # Prefixes chosen so the remainders mod 13 cover 0..12, including the two-digit ones.
    base = 32177460001000
    prefixes = [str(base + offset) for offset in range(13)]
    assert sorted(int(prefix) % 13 for prefix in prefixes) == list(range(13))
    for prefix in prefixes:
        expected = with_ogrnip_check_digit(prefix)
        for digit in "0123456789":
            candidate = prefix + digit
            if candidate == expected:
                assert validate_ogrn(candidate) == candidate
            else:
                assert_rejected(
                    validate_ogrn,
                    candidate,
                    message="Неверная контрольная сумма ОГРНИП",
                    code="ogrnip_checksum",
                )


# Real ОГРНИП published on sole traders' websites (found in public code on GitHub). The 14-digit
# prefix leaves a remainder of 10-12 mod 13, so the check digit is its last digit (e.g.
# 31723750042568 % 13 = 12 -> "2"). stdnum 2.2 compares "12" with "2" and rejects them, which is why
# validate_ogrn checks ОГРНИП itself. If this test starts failing because stdnum accepts them, stdnum
# has been fixed and validate_ogrn could use it for 15 digits too.
@pytest.mark.parametrize("ogrnip", ["317237500425682", "312091715800012", "323570000015061"])
def test_ogrnip_that_stdnum_wrongly_rejects(ogrnip):
    assert int(ogrnip[:14]) % 13 >= 10
    assert not stdnum_ogrn.is_valid(ogrnip)
    assert validate_ogrn(ogrnip) == ogrnip


@pytest.mark.parametrize("raw", ["102770013219", "10277001321950", "30956580860018", "3095658086001880", ""])
def test_ogrn_wrong_length(raw):
    assert_rejected(
        validate_ogrn, raw, message="ОГРН должен содержать 13 цифр, ОГРНИП — 15 цифр", code="ogrn_length"
    )


@pytest.mark.parametrize("raw", ["102770013219O", "ОГРН1027700132195", "１０２７７００１３２１９５"])
def test_ogrn_not_digits(raw):
    assert_rejected(validate_ogrn, raw, message="ОГРН должен состоять только из цифр", code="ogrn_not_digits")


@pytest.mark.parametrize("raw", ["1027700132196", "1027700132190", "5077746725965"])
def test_ogrn_wrong_checksum(raw):
    assert_rejected(validate_ogrn, raw, message="Неверная контрольная сумма ОГРН", code="ogrn_checksum")


def test_ogrn_leading_zero():
    assert_rejected(
        validate_ogrn, "0027700132195", message="ОГРН не может начинаться с 0", code="ogrn_first_digit"
    )


@pytest.mark.parametrize("raw", ["304500116000158", "309565808600180", "317237500425681"])
def test_ogrnip_wrong_checksum(raw):
    assert_rejected(validate_ogrn, raw, message=OGRNIP_CHECKSUM, code="ogrnip_checksum")


@pytest.mark.parametrize("first_digit", ["1", "2", "5", "9"])
def test_ogrnip_wrong_first_digit(first_digit):
    # The check digit is right, so only the first digit can be the reason.
    candidate = with_ogrnip_check_digit(first_digit + "1773600012345")
    assert_rejected(
        validate_ogrn, candidate, message="ОГРНИП должен начинаться с 3 или 4", code="ogrnip_first_digit"
    )


# --- БИК ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SBERBANK_BIK, SBERBANK_BIK),
        ("04 45 25 225", SBERBANK_BIK),
        ("044-525-225", SBERBANK_BIK),
        ("049805746", "049805746"),
    ],
)
def test_bik_valid_and_normalised(raw, expected):
    assert validate_bik(raw) == expected


@pytest.mark.parametrize("raw", ["04452522", "0445252250", ""])
def test_bik_wrong_length(raw):
    assert_rejected(validate_bik, raw, message="БИК должен содержать 9 цифр", code="bik_length")


@pytest.mark.parametrize("raw", ["04452522S", "БИК044525225"])
def test_bik_not_digits(raw):
    assert_rejected(validate_bik, raw, message="БИК должен состоять только из цифр", code="bik_not_digits")


@pytest.mark.parametrize("raw", ["144525225", "404525225", "054525225"])
def test_bik_not_russian(raw):
    assert_rejected(
        validate_bik, raw, message="БИК российского банка должен начинаться с 04", code="bik_country"
    )


# --- Расчётный счёт ---


def test_sberbank_client_account_hand_calculation():
    # The independent check of the comment on SBERBANK_CLIENT_ACCOUNT.
    assert account_key_sum("225", SBERBANK_CLIENT_ACCOUNT) == 220


@pytest.mark.parametrize(
    ("account", "bik"),
    [
        (SBERBANK_CLIENT_ACCOUNT, SBERBANK_BIK),
        # N 515, example 3: client of a credit institution with БИК 049805746, key 7.
        ("40602810700000000025", "049805746"),
        # Public example from an open-source validator (postgresql-patterns-library).
        ("40702810900000002851", "044030827"),
        # Federal Treasury (УФК по г. Москве) revenue accounts held at Bank of Russia divisions: БИК
        # ending 001 and 000, so keyed with "0" + БИК digits 5-6 ("083" and "025"), not the last three.
        ("40101810800000010041", "044583001"),
        ("40101810045250010041", "044525000"),
    ],
)
def test_settlement_account_valid(account, bik):
    assert validate_settlement_account(account, bik) == account


def test_settlement_account_normalised():
    assert validate_settlement_account("40702 810 9 3800 0012345", " 044 525 225 ") == SBERBANK_CLIENT_ACCOUNT


def test_account_at_bank_of_russia_division_uses_division_number():
    # 005 + 40101810800000010001 -> 0+0+15 + 28+0+3+0+1+24+7+0+24+0+0+0+0+0+0+7+0+0+0+1 = 110.
    # With the БИК's last three digits (000) instead the sum would be 95, so the account would fail.
    account = "40101810800000010001"
    assert account_key_sum("005", account) == 110
    assert account_key_sum("000", account) == 95
    assert validate_settlement_account(account, "049805000") == account


@pytest.mark.parametrize("wrong_key", "012345678")
def test_settlement_account_wrong_key(wrong_key):
    account = SBERBANK_CLIENT_ACCOUNT[:8] + wrong_key + SBERBANK_CLIENT_ACCOUNT[9:]
    assert_rejected(
        validate_settlement_account,
        account,
        SBERBANK_BIK,
        message="Неверный контрольный ключ расчётного счёта для указанного БИК",
        code="settlement_account_key",
    )


def test_settlement_account_checked_against_another_bank():
    # The key ties the account to its bank: the same account is wrong for a different БИК.
    assert_rejected(
        validate_settlement_account,
        SBERBANK_CLIENT_ACCOUNT,
        "044030827",
        message="Неверный контрольный ключ расчётного счёта для указанного БИК",
        code="settlement_account_key",
    )


def test_treasury_account_fails_with_credit_institution_rule():
    # Guards the РКЦ branch: keyed naively with БИК digits 7-9, this real account would not add up.
    assert account_key_sum("001", "40101810800000010041") % 10 != 0
    assert account_key_sum("083", "40101810800000010041") % 10 == 0


@pytest.mark.parametrize("raw", ["4070281093800001234", "407028109380000123456", ""])
def test_settlement_account_wrong_length(raw):
    assert_rejected(
        validate_settlement_account,
        raw,
        SBERBANK_BIK,
        message="Расчётный счёт должен содержать 20 цифр",
        code="settlement_account_length",
    )


@pytest.mark.parametrize("raw", ["4070281093800001234O", "р/с 40702810938000012345"])
def test_settlement_account_not_digits(raw):
    assert_rejected(
        validate_settlement_account,
        raw,
        SBERBANK_BIK,
        message="Расчётный счёт должен состоять только из цифр",
        code="settlement_account_not_digits",
    )


def test_settlement_account_with_invalid_bik():
    assert_rejected(
        validate_settlement_account,
        SBERBANK_CLIENT_ACCOUNT,
        "144525225",
        message="БИК российского банка должен начинаться с 04",
        code="bik_country",
    )


# --- Корреспондентский счёт ---


@pytest.mark.parametrize(
    ("account", "bik"),
    [
        (SBERBANK_CORRESPONDENT_ACCOUNT, SBERBANK_BIK),
        # N 515, example 1: key 8, computed with РКЦ number 005 (БИК digits 5-6 padded with 0).
        ("30101810800000000746", "049805746"),
        ("30101810200000000827", "044030827"),
    ],
)
def test_correspondent_account_valid(account, bik):
    assert validate_correspondent_account(account, bik) == account


def test_correspondent_account_hand_calculation():
    # 025 + 30101810400000000225, weights 7,1,3 repeating:
    #   0+2+15 + 21+0+3+0+1+24+7+0+12+0+0+0+0+0+0+0+0+6+14+5 = 110, ends in 0.
    assert account_key_sum("025", SBERBANK_CORRESPONDENT_ACCOUNT) == 110


def test_correspondent_account_normalised():
    assert (
        validate_correspondent_account("301 018 104 000 000 002 25", "044-525-225")
        == SBERBANK_CORRESPONDENT_ACCOUNT
    )


@pytest.mark.parametrize("wrong_key", "012356789")
def test_correspondent_account_wrong_key(wrong_key):
    account = SBERBANK_CORRESPONDENT_ACCOUNT[:8] + wrong_key + SBERBANK_CORRESPONDENT_ACCOUNT[9:]
    assert_rejected(
        validate_correspondent_account,
        account,
        SBERBANK_BIK,
        message="Неверный контрольный ключ корреспондентского счёта для указанного БИК",
        code="correspondent_account_key",
    )


def test_correspondent_account_of_another_bank():
    assert_rejected(
        validate_correspondent_account,
        "30101810200000000827",
        SBERBANK_BIK,
        message=(
            "Последние три цифры корреспондентского счёта должны совпадать с последними тремя цифрами БИК"
        ),
        code="correspondent_account_bik_mismatch",
    )


@pytest.mark.parametrize("raw", [SBERBANK_CLIENT_ACCOUNT, "30102810400000000225", "40101810045250010041"])
def test_correspondent_account_wrong_prefix(raw):
    assert_rejected(
        validate_correspondent_account,
        raw,
        SBERBANK_BIK,
        message="Корреспондентский счёт должен начинаться с 30101",
        code="correspondent_account_prefix",
    )


@pytest.mark.parametrize("raw", ["3010181040000000022", "301018104000000002250"])
def test_correspondent_account_wrong_length(raw):
    assert_rejected(
        validate_correspondent_account,
        raw,
        SBERBANK_BIK,
        message="Корреспондентский счёт должен содержать 20 цифр",
        code="correspondent_account_length",
    )


def test_correspondent_account_not_digits():
    assert_rejected(
        validate_correspondent_account,
        "к/с 30101810400000000225",
        SBERBANK_BIK,
        message="Корреспондентский счёт должен состоять только из цифр",
        code="correspondent_account_not_digits",
    )


def test_correspondent_account_with_invalid_bik():
    assert_rejected(
        validate_correspondent_account,
        SBERBANK_CORRESPONDENT_ACCOUNT,
        "04452522",
        message="БИК должен содержать 9 цифр",
        code="bik_length",
    )
