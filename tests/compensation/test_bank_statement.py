"""Reading the bank's 1CClientBankExchange statement and matching its payments to deals (no database)."""

from datetime import date
from decimal import Decimal

import pytest

from compensation.bank_statement import (
    MAX_STATEMENT_BYTES,
    BankPayment,
    BankStatementError,
    DealCandidate,
    MatchResult,
    incoming,
    invoice_key,
    invoice_numbers,
    match,
    parse_bank_statement,
)

OUR_ACCOUNT = "40702810400000012345"
OUR_INN = "7704512345"
CLIENT_INN = "5029123456"
SOLE_TRADER_INN = "773301234567"

HEADER = [
    "1CClientBankExchange",
    "ВерсияФормата=1.03",
    "Кодировка=Windows",
    "Отправитель=СберБизнес",
    "Получатель=Бухгалтерия предприятия, редакция 3.0",
    "ДатаСоздания=12.03.2026",
    "ВремяСоздания=09:41:05",
    "ДатаНачала=01.03.2026",
    "ДатаКонца=11.03.2026",
    f"РасчСчет={OUR_ACCOUNT}",
    "Документ=Платежное поручение",
    "Документ=Банковский ордер",
    "СекцияРасчСчет",
    "ДатаНачала=01.03.2026",
    "ДатаКонца=11.03.2026",
    f"РасчСчет={OUR_ACCOUNT}",
    "НачальныйОстаток=210000.00",
    "ВсегоПоступило=198350.50",
    "ВсегоСписано=12500.00",
    "КонечныйОстаток=395850.50",
    "КонецРасчСчет",
]

CLIENT_PAYMENT = [
    "СекцияДокумент=Платежное поручение",
    "Номер=318",
    "Дата=05.03.2026",
    "Сумма=150000.00",
    "ПлательщикСчет=40702810938000054321",
    "ДатаСписано=05.03.2026",
    f'Плательщик=ИНН {CLIENT_INN} ООО "ЧИСТЫЙ ДОМ"',
    f"ПлательщикИНН={CLIENT_INN}",
    'Плательщик1=ООО "ЧИСТЫЙ ДОМ"',
    "ПлательщикРасчСчет=40702810938000054321",
    "ПлательщикБанк1=ПАО СБЕРБАНК",
    "ПлательщикБанк2=г. Москва",
    "ПлательщикБИК=044525225",
    "ПлательщикКорсчет=30101810400000000225",
    "ПлательщикКПП=502901001",
    f"ПолучательСчет={OUR_ACCOUNT}",
    "ДатаПоступило=05.03.2026",
    f'Получатель=ИНН {OUR_INN} ООО "АТЛАНСЕТ"',
    f"ПолучательИНН={OUR_INN}",
    'Получатель1=ООО "АТЛАНСЕТ"',
    f"ПолучательРасчСчет={OUR_ACCOUNT}",
    "ПолучательБИК=044525974",
    "ПолучательКПП=770401001",
    "ВидОплаты=01",
    "Очередность=5",
    "НазначениеПлатежа=Оплата по счету № 125 от 03.03.2026 за бытовую химию, в т.ч. НДС 20% 25000-00",
    "КонецДокумента",
]

OUR_RENT_PAYMENT = [
    "СекцияДокумент=Платежное поручение",
    "Номер=77",
    "Дата=06.03.2026",
    "Сумма=12500.00",
    f"ПлательщикСчет={OUR_ACCOUNT}",
    "ДатаСписано=06.03.2026",
    f'Плательщик=ИНН {OUR_INN} ООО "АТЛАНСЕТ"',
    f"ПлательщикИНН={OUR_INN}",
    'Плательщик1=ООО "АТЛАНСЕТ"',
    "ПлательщикКПП=770401001",
    "ПолучательСчет=40702810100020003344",
    "ДатаПоступило=",
    'Получатель=ООО "БИЗНЕС-ЦЕНТР ЛЕФОРТОВО"',
    "ПолучательИНН=7722998877",
    "НазначениеПлатежа=Оплата по счету 4411 от 02.03.2026 за аренду офиса за март 2026 г. Без НДС",
    "КонецДокумента",
]

SOLE_TRADER_PAYMENT = [
    "СекцияДокумент=Платежное поручение",
    "Номер=54",
    "Дата=10.03.2026",
    "Сумма=48350,50",
    "ПлательщикСчет=40802810500000098765",
    f"Плательщик=ИНН {SOLE_TRADER_INN} ИП Сидоров Петр Алексеевич",
    f"ПолучательСчет={OUR_ACCOUNT}",
    f"ПолучательИНН={OUR_INN}",
    "ДатаПоступило=11.03.2026",
    "НазначениеПлатежа1=Оплата по счету на оплату № 0045 от 06.03.2026 за моющие",
    "НазначениеПлатежа2=средства. Сумма 48350-50 без налога (НДС)",
    "КонецДокумента",
]

FOOTER = ["КонецФайла"]


def statement_lines(*documents: list[str]) -> list[str]:
    return [*HEADER, *(line for document in documents for line in document), *FOOTER]


def cp1251(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode("cp1251")


def line_of(lines: list[str], document: list[str]) -> int:
    """The 1-based line of a document's «СекцияДокумент=»: the 0-based index of its «Номер=» line after it."""
    return lines.index(document[1])


@pytest.fixture
def lines():
    return statement_lines(CLIENT_PAYMENT, OUR_RENT_PAYMENT, SOLE_TRADER_PAYMENT)


@pytest.fixture
def statement(lines):
    return parse_bank_statement(cp1251(lines))


def payment(**overrides) -> BankPayment:
    values = {
        "document_number": "318",
        "document_date": date(2026, 3, 5),
        "amount": Decimal("150000.00"),
        "credited_on": date(2026, 3, 5),
        "payer_name": 'ООО "ЧИСТЫЙ ДОМ"',
        "payer_inn": CLIENT_INN,
        "payer_kpp": "502901001",
        "payer_account": "40702810938000054321",
        "recipient_account": OUR_ACCOUNT,
        "recipient_inn": OUR_INN,
        "purpose": "Оплата по счету № 125 от 03.03.2026 за бытовую химию",
        "section_line": 22,
    }
    return BankPayment(**(values | overrides))


# --- reading the file -----------------------------------------------------------------------------


def test_cp1251_statement_gives_its_account_period_and_all_three_documents(statement):
    assert statement.account == OUR_ACCOUNT
    assert statement.date_from == date(2026, 3, 1)
    assert statement.date_to == date(2026, 3, 11)
    assert statement.format_version == "1.03"
    assert statement.encoding == "cp1251"
    assert statement.errors == []
    assert [document.document_number for document in statement.documents] == ["318", "77", "54"]


def test_incoming_payment_order_is_read_field_by_field(statement, lines):
    assert statement.documents[0] == BankPayment(
        document_number="318",
        document_date=date(2026, 3, 5),
        amount=Decimal("150000.00"),
        credited_on=date(2026, 3, 5),
        payer_name='ООО "ЧИСТЫЙ ДОМ"',
        payer_inn=CLIENT_INN,
        payer_kpp="502901001",
        payer_account="40702810938000054321",
        recipient_account=OUR_ACCOUNT,
        recipient_inn=OUR_INN,
        purpose="Оплата по счету № 125 от 03.03.2026 за бытовую химию, в т.ч. НДС 20% 25000-00",
        section_line=line_of(lines, CLIENT_PAYMENT),
        debited_on=date(2026, 3, 5),
        kind="Платежное поручение",
    )


def test_section_line_points_at_the_documents_section_start(statement, lines):
    sources = (CLIENT_PAYMENT, OUR_RENT_PAYMENT, SOLE_TRADER_PAYMENT)
    for document, source in zip(statement.documents, sources, strict=True):
        assert lines[document.section_line - 1] == "СекцияДокумент=Платежное поручение"
        assert lines[document.section_line] == source[1]


def test_outgoing_payment_has_a_debit_date_and_no_credit_date(statement):
    rent = statement.documents[1]
    assert rent.credited_on is None
    assert rent.debited_on == date(2026, 3, 6)
    assert rent.payer_account == OUR_ACCOUNT
    assert rent.recipient_inn == "7722998877"


def test_amount_written_with_a_comma_is_a_decimal_amount(statement):
    assert statement.documents[2].amount == Decimal("48350.50")


def test_payer_name_and_inn_come_from_the_combined_payer_field_when_separate_fields_are_missing(statement):
    sole_trader = statement.documents[2]
    assert sole_trader.payer_inn == SOLE_TRADER_INN
    assert sole_trader.payer_name == "ИП Сидоров Петр Алексеевич"
    assert sole_trader.payer_kpp == ""


def test_purpose_split_over_numbered_lines_is_joined_into_one(statement):
    assert statement.documents[2].purpose == (
        "Оплата по счету на оплату № 0045 от 06.03.2026 за моющие средства. Сумма 48350-50 без налога (НДС)"
    )


def test_purpose_repeated_in_a_numbered_line_is_not_doubled():
    first_part = "НазначениеПлатежа1=Оплата по счету № 125 от 03.03.2026"
    document = [*CLIENT_PAYMENT[:-1], first_part, "КонецДокумента"]
    statement = parse_bank_statement(cp1251(statement_lines(document)))
    assert statement.documents[0].purpose == CLIENT_PAYMENT[-2].removeprefix("НазначениеПлатежа=")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "with-bom"])
def test_utf8_statement_reads_the_same_as_cp1251(lines, bom):
    text = "\n".join(line.replace("Кодировка=Windows", "Кодировка=UTF-8") for line in lines)
    statement = parse_bank_statement(bom + text.encode("utf-8"))
    assert statement.encoding == "utf-8"
    assert statement.errors == []
    assert statement.documents == parse_bank_statement(cp1251(lines)).documents


def test_dos_encoded_statement_is_read_as_cp866(lines):
    text = "\r\n".join(line.replace("Кодировка=Windows", "Кодировка=DOS") for line in lines)
    statement = parse_bank_statement(text.encode("cp866"))
    assert statement.encoding == "cp866"
    assert statement.documents[0].payer_name == 'ООО "ЧИСТЫЙ ДОМ"'


@pytest.mark.parametrize(
    "data",
    [
        "Дата;Сумма;Назначение\r\n05.03.2026;150000,00;Оплата по счету 125".encode("cp1251"),
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"\x00\x01\x02\x03",
    ],
    ids=["csv", "pdf", "binary"],
)
def test_file_without_the_1c_first_line_is_refused(data):
    with pytest.raises(BankStatementError, match="1CClientBankExchange"):
        parse_bank_statement(data)


@pytest.mark.parametrize("data", [b"", b"  \r\n\r\n"], ids=["empty", "blank-lines"])
def test_empty_file_is_refused(data):
    with pytest.raises(BankStatementError, match="пустой"):
        parse_bank_statement(data)


def test_file_over_ten_megabytes_is_refused():
    data = cp1251(HEADER) + b" " * MAX_STATEMENT_BYTES
    with pytest.raises(BankStatementError, match="10 МБ"):
        parse_bank_statement(data)


def test_refusal_is_a_django_validation_error_with_a_russian_message():
    with pytest.raises(BankStatementError) as refused:
        parse_bank_statement(b"hello")
    assert refused.value.messages[0].startswith("Это не выписка в формате 1С")
    assert refused.value.code == "not_1c"


def test_bad_amount_is_reported_and_the_other_documents_still_read():
    broken = [line.replace("Сумма=12500.00", "Сумма=12,3,4") for line in OUR_RENT_PAYMENT]
    lines = statement_lines(CLIENT_PAYMENT, broken, SOLE_TRADER_PAYMENT)
    statement = parse_bank_statement(cp1251(lines))
    assert statement.errors == [f"Документ на строке {line_of(lines, broken)}: сумма «12,3,4» не число"]
    assert [document.document_number for document in statement.documents] == ["318", "54"]


def test_missing_or_impossible_document_date_is_reported():
    no_date = [line for line in CLIENT_PAYMENT if not line.startswith("Дата=")]
    bad_credit = [line.replace("=11.03.2026", "=31.02.2026") for line in SOLE_TRADER_PAYMENT]
    lines = statement_lines(no_date, OUR_RENT_PAYMENT, bad_credit)
    statement = parse_bank_statement(cp1251(lines))
    assert statement.errors == [
        f"Документ на строке {line_of(lines, no_date)}: нет даты документа (строка «Дата=»)",
        f"Документ на строке {line_of(lines, bad_credit)}: "
        "дата поступления «31.02.2026» не дата в формате ДД.ММ.ГГГГ",
    ]
    assert [document.document_number for document in statement.documents] == ["77"]


def test_truncated_file_reports_the_unfinished_document_and_keeps_the_finished_ones():
    lines = [*HEADER, *CLIENT_PAYMENT, *SOLE_TRADER_PAYMENT[:6]]
    statement = parse_bank_statement(cp1251(lines))
    assert [document.document_number for document in statement.documents] == ["318"]
    assert statement.errors == [
        f"Документ на строке {line_of(lines, SOLE_TRADER_PAYMENT)}: нет строки «КонецДокумента» — документ "
        "пропущен, выписка, возможно, выгружена не полностью",
        "В файле нет строки «КонецФайла» — возможно, выписка выгружена не полностью.",
    ]


def test_period_and_account_come_from_the_account_section_when_the_header_lacks_them():
    header = ["1CClientBankExchange", "ВерсияФормата=1.02", "Кодировка=Windows", "Отправитель=Банк"]
    account_section = [
        "СекцияРасчСчет",
        "ДатаНачала=01.03.2026",
        "ДатаКонца=11.03.2026",
        f"РасчСчет={OUR_ACCOUNT}",
        "НачальныйОстаток=0.00",
        "КонецРасчСчет",
    ]
    lines = [*header, *account_section, *CLIENT_PAYMENT, *FOOTER]
    statement = parse_bank_statement(cp1251(lines))
    assert (statement.account, statement.date_from, statement.date_to) == (
        OUR_ACCOUNT,
        date(2026, 3, 1),
        date(2026, 3, 11),
    )


def test_statement_of_another_account_is_reported_against_ours(lines):
    statement = parse_bank_statement(cp1251(lines), our_account="40702810999999999999")
    assert statement.errors == [f"Выписка по счёту {OUR_ACCOUNT}, а не по нашему счёту 40702810999999999999."]
    assert statement.account == OUR_ACCOUNT


def test_our_account_is_the_statements_account_when_the_file_names_none():
    lines = [line for line in statement_lines(CLIENT_PAYMENT) if not line.startswith("РасчСчет=")]
    statement = parse_bank_statement(cp1251(lines), our_account=OUR_ACCOUNT)
    assert statement.account == OUR_ACCOUNT
    assert statement.errors == []


# --- incoming payments ----------------------------------------------------------------------------


def test_incoming_keeps_payments_credited_to_the_statements_account(statement):
    assert [document.document_number for document in incoming(statement)] == ["318", "54"]


def test_incoming_recognises_us_by_inn_when_the_account_differs(statement):
    other_account = "40702810000000000001"
    assert [document.document_number for document in incoming(statement, our_account=other_account)] == []
    found = incoming(statement, our_account=other_account, our_inn=OUR_INN)
    assert [document.document_number for document in found] == ["318", "54"]


def test_incoming_leaves_out_a_payment_to_us_not_yet_credited(statement):
    statement.documents[0] = payment(credited_on=None)
    assert [document.document_number for document in incoming(statement, our_inn=OUR_INN)] == ["54"]


# --- invoice numbers in the purpose ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "numbers"),
    [
        ("Оплата по счету № 125 от 03.03.2026 за бытовую химию, в т.ч. НДС", ["125"]),
        ("Оплата по сч. 125 от 03.03.2026 Сумма 1500-00 Без налога (НДС)", ["125"]),
        ("Оплата по счёту №125 от 03.03.2026 г. Сумма 1500-00 В т.ч. НДС (20%) 250-00", ["125"]),
        ("Предоплата по сч.№45 от 01.03.2026г. НДС не облагается", ["45"]),
        ("Оплата по сч/ф 77 от 01.03.26, сумма 1500-00", ["77"]),
        ("Оплата по с/ф 78 за февраль", ["78"]),
        ("Опл. по сч.ф. 91 за картриджи", ["91"]),
        ("Оплата. Счет N 12-А от 01.03.2026", ["12-А"]),
        ("Оплата по счетам 12, 13 и 14 от 01.03.2026, НДС 20%", ["12", "13", "14"]),
        ("Оплата по счетам №№ 12,13", ["12", "13"]),
        ("Оплата по счету № 125 от 03.03.2026, № 126 от 04.03.2026", ["125", "126"]),
        ("Оплата по сч. № 125 от 03.03.2026; сч. № 130 от 05.03.2026", ["125", "130"]),
        ("Оплата по счету на оплату № 0045 от 05.03.2026 за моющие средства", ["0045"]),
        ("Оплата по счету от 03.03.2026 № 126 за бумагу", ["126"]),
        ("Оплата по договору поставки №15/2026 от 10.01.2026, счет 125", ["125"]),
        ("Оплата за бытовую химию по счету-оферте №УТ-000125 от 02.03.2026", ["УТ-000125"]),
        ("Оплата по счёт-фактуре 33/1", ["33/1"]),
        ("Оплата по счету №125, 1500-00 руб, в т.ч. НДС 20% 250-00", ["125"]),
        ("Оплата по счету № 125 от 03.03.2026, 2500,00 в т.ч. НДС", ["125"]),
        ("По счету 125, 12 500,00 руб. в т.ч. НДС", ["125"]),
        ("Оплата по счету 125. Счет-фактура 125 будет выставлен", ["125"]),
        ("Оплата за товар, сумма 15000-00, НДС 20% - 2500-00", []),
        ("Возврат средств на р/сч 40702810900000012345 по п/п 45 от 01.03.2026", []),
        ("Перечисление на расчетный счет 40702810900000012345 собственных средств", []),
        ("Оплата счетчика воды 12 шт по договору 7", []),
        ("Оплата по счету на сумму 1500-00", []),
        ("", []),
    ],
)
def test_invoice_numbers_are_found_after_an_invoice_word_and_nothing_else(purpose, numbers):
    assert invoice_numbers(purpose) == numbers


def test_invoice_numbers_are_compared_without_leading_zeros_case_or_latin_lookalikes():
    assert invoice_key("0045") == invoice_key("45")
    assert invoice_key("УТ-000125") == invoice_key("ут-125")
    assert invoice_key("12-A") == invoice_key("12-А")  # Latin A, Cyrillic А
    assert invoice_key("0") == "0"
    assert invoice_key("125") != invoice_key("1250")


# --- matching a payment to a deal -----------------------------------------------------------------


def deal(deal_id, *invoices, inn=CLIENT_INN, outstanding="1000.00"):
    return DealCandidate(
        deal_id=deal_id, client_inn=inn, invoice_numbers=list(invoices), outstanding=Decimal(outstanding)
    )


def test_payer_inn_and_invoice_number_pick_the_deal_among_the_clients_deals():
    candidates = [deal(1, "124"), deal(2, "125"), deal(3, "125", inn="7700000001")]
    assert match(payment(), candidates) == MatchResult(2, "по ИНН плательщика и счёту № 125")


def test_invoice_number_with_leading_zeros_matches_the_deals_invoice():
    paid = payment(purpose="Оплата по счету на оплату № 0045 от 06.03.2026")
    assert match(paid, [deal(1, "44"), deal(2, "45")]) == MatchResult(2, "по ИНН плательщика и счёту № 0045")


def test_invoice_of_an_already_paid_deal_still_matches_and_says_so():
    result = match(payment(), [deal(1, "125", outstanding="0"), deal(2, "126")])
    assert result == MatchResult(1, "по ИНН плательщика и счёту № 125 (сделка уже оплачена полностью)")


def test_single_open_deal_of_the_payer_is_proposed_when_the_purpose_names_no_invoice():
    paid = payment(purpose="Оплата за бытовую химию, в т.ч. НДС 20%")
    candidates = [deal(1, "101", outstanding="0"), deal(2, "125")]
    assert match(paid, candidates) == MatchResult(2, "по ИНН плательщика (счёт в назначении не найден)")


def test_single_open_deal_is_proposed_when_the_purposes_invoice_is_unknown_and_the_reason_names_it():
    paid = payment(purpose="Оплата по счету № 999 от 03.03.2026")
    assert match(paid, [deal(2, "125")]) == MatchResult(
        2, "по ИНН плательщика (счёт № 999 из назначения не найден в сделках клиента)"
    )


def test_several_open_deals_of_the_payer_and_no_invoice_number_give_no_match():
    paid = payment(purpose="Оплата за бытовую химию")
    assert match(paid, [deal(1, "124"), deal(2, "125")]) == MatchResult(
        None, "несколько сделок клиента, в назначении нет номера счёта"
    )


def test_unknown_payer_inn_gives_no_match():
    paid = payment(payer_inn="7812345678")
    assert match(paid, [deal(1, "125")]) == MatchResult(
        None, "плательщик с ИНН 7812345678 не найден среди клиентов"
    )


def test_payer_without_inn_gives_no_match():
    assert match(payment(payer_inn="0"), [deal(1, "125", inn="0")]) == MatchResult(
        None, "в платеже нет ИНН плательщика"
    )


def test_payer_whose_deals_are_all_paid_and_no_invoice_named_gives_no_match():
    paid = payment(purpose="Оплата за бытовую химию")
    assert match(paid, [deal(1, "125", outstanding="0")]) == MatchResult(
        None, f"у клиента с ИНН {CLIENT_INN} нет сделок с неоплаченным остатком"
    )


def test_same_invoice_number_on_two_open_deals_of_the_client_gives_no_match():
    assert match(payment(), [deal(1, "125"), deal(2, "125")]) == MatchResult(
        None, "счёт № 125 есть в нескольких сделках клиента"
    )


def test_parsed_payment_matches_end_to_end(statement):
    candidates = [deal(10, "125"), deal(11, "126"), deal(20, "45", inn=SOLE_TRADER_INN)]
    results = [match(document, candidates) for document in incoming(statement)]
    assert results == [
        MatchResult(10, "по ИНН плательщика и счёту № 125"),
        MatchResult(20, "по ИНН плательщика и счёту № 0045"),
    ]
