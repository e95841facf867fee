"""The bank's statement in the 1C «Клиент-банк» exchange format, and which deal each payment pays.

Pure parsing and matching: nothing here touches the database. The caller reads the uploaded file,
gathers :class:`DealCandidate` rows for the clients it knows and decides what to record.

Format: «Стандарт обмена с системами "Клиент банка"» of 1C, ВерсияФормата 1.03 (what current banks and
1С:Бухгалтерия 3.0 write); older 1.02 files are read the same way, as the fields used here are in both.
The layout, as this parser reads it::

    1CClientBankExchange                      ← first line, the only sure sign of the format
    ВерсияФормата=1.03                        ← header: Key=Value until the first section
    Кодировка=Windows                         ← Windows = cp1251, DOS = cp866; some banks send UTF-8
    ДатаНачала=01.03.2026 / ДатаКонца=31.03.2026 / РасчСчет=40702810…
    СекцияРасчСчет … КонецРасчСчет            ← per-account balances; may repeat РасчСчет and dates
    СекцияДокумент=Платежное поручение        ← or Банковский ордер, Платежное требование, …
    Номер= Дата= Сумма=                       ← Дата ДД.ММ.ГГГГ, Сумма 150000.00 (some banks: 150000,00)
    ПлательщикСчет= Плательщик= Плательщик1= ПлательщикИНН= ПлательщикКПП=
    ПолучательСчет= Получатель= Получатель1= ПолучательИНН=
    ДатаСписано=                              ← filled when the money left the payer's account
    ДатаПоступило=                            ← filled when the money reached the recipient's account
    НазначениеПлатежа=                        ← some banks also (or only) write НазначениеПлатежа1…6
    КонецДокумента
    КонецФайла

Field choices: ``Плательщик=`` is often «ИНН 7719617469 ООО Ромашка», so the name comes from
``Плательщик1=`` when present and otherwise from ``Плательщик=`` without the «ИНН …» prefix (which
also serves when ``ПлательщикИНН=`` is missing). ``ПлательщикСчет=`` is the account; files of indirect
settlements put the client's own account into ``ПлательщикРасчСчет=``, used when the former is empty.
Lines inside a document that carry no «=» continue the previous field's value (some banks wrap long
purposes that way).

A document whose date or amount cannot be read is left out and reported in
:attr:`BankStatement.errors` (Russian, with the line where its section starts); the other documents
are still read. A file that is not a statement at all raises :class:`BankStatementError`.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

FORMAT_MARKER = "1CClientBankExchange"
MAX_STATEMENT_BYTES = 10 * 1024 * 1024
ZERO = Decimal("0")

UTF8_BOM = b"\xef\xbb\xbf"


class BankStatementError(ValidationError):
    """The uploaded file cannot be read as a bank statement at all."""


@dataclass(frozen=True)
class BankPayment:
    """One document of the statement (a payment order, bank order, payment request, …)."""

    document_number: str
    document_date: date
    amount: Decimal
    credited_on: date | None  # ДатаПоступило: the day the money reached the recipient
    payer_name: str
    payer_inn: str
    payer_kpp: str
    payer_account: str
    recipient_account: str
    recipient_inn: str
    purpose: str
    section_line: int  # line of «СекцияДокумент=…», 1-based, for messages
    debited_on: date | None = None  # ДатаСписано: the day the money left the payer
    kind: str = "Платежное поручение"  # the value of «СекцияДокумент=»


@dataclass
class BankStatement:
    account: str
    date_from: date | None
    date_to: date | None
    documents: list[BankPayment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    format_version: str = ""
    encoding: str = ""  # how the bytes were decoded: "utf-8", "cp1251" or "cp866"


# --- decoding -------------------------------------------------------------------------------------

_DOS_ENCODING = re.compile(r"^\s*Кодировка\s*=\s*DOS\s*$", re.MULTILINE | re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 when the file says so by a BOM or simply is valid UTF-8; else cp1251, or cp866 for DOS."""
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM) :].decode("utf-8", errors="replace"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    dos = data.decode("cp866", errors="replace")
    if _DOS_ENCODING.search(dos):
        return dos, "cp866"
    return data.decode("cp1251", errors="replace"), "cp1251"


# --- values ---------------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})$")
_AMOUNT = re.compile(r"^\d+(?:[.,]\d+)?$")
_INN_PREFIX = re.compile(r"^\s*ИНН\s*(\d{10}|\d{12})\b\s*", re.IGNORECASE)


def _parse_date(value: str) -> date | None:
    """ДД.ММ.ГГГГ (ДД.ММ.ГГ tolerated); None when it is not a real date."""
    found = _DATE.match(value.strip())
    if not found:
        return None
    day, month, year = (int(part) for part in found.groups())
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_amount(value: str) -> Decimal | None:
    """150000.00, 150000,00 or 150 000,00; None when it is not a plain non-negative number."""
    compact = re.sub(r"[\s\u00a0\u202f]", "", value)
    if not _AMOUNT.match(compact):
        return None
    try:
        return Decimal(compact.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def _account(value: str) -> str:
    return re.sub(r"\s", "", value or "")


def _party(fields: dict[str, str], role: str) -> tuple[str, str]:
    """(name, inn) of «Плательщик» or «Получатель»: name from «…1=», INN from «…ИНН=» or the prefix."""
    combined = fields.get(role, "").strip()
    prefix = _INN_PREFIX.match(combined)
    name = fields.get(f"{role}1", "").strip() or (combined[prefix.end() :] if prefix else combined).strip()
    inn = fields.get(f"{role}ИНН", "").strip() or (prefix.group(1) if prefix else "")
    return name, inn


def _purpose(fields: dict[str, str]) -> str:
    """НазначениеПлатежа, or its numbered lines joined when they say more (or it is missing)."""
    whole = " ".join(fields.get("НазначениеПлатежа", "").split())
    numbered = sorted(
        (int(key.removeprefix("НазначениеПлатежа")), value)
        for key, value in fields.items()
        if re.fullmatch(r"НазначениеПлатежа\d+", key)
    )
    joined = " ".join(" ".join(value for _, value in numbered).split())
    return joined if len(joined) > len(whole) else whole


# --- parsing --------------------------------------------------------------------------------------


@dataclass
class _Block:
    """The raw Key=Value lines of one section, with the line it starts on."""

    kind: str
    line: int
    is_document: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    last_key: str | None = None

    def add(self, line: str) -> None:
        if "=" in line:
            key, value = line.split("=", 1)
            key = key.strip()
            self.fields.setdefault(key, value.strip())
            self.last_key = key
        elif self.last_key is not None:  # a wrapped value: continues the previous field
            self.fields[self.last_key] = f"{self.fields[self.last_key]} {line.strip()}".strip()


def _document(block: _Block) -> tuple[BankPayment | None, list[str]]:
    fields = block.fields
    where = f"Документ на строке {block.line}"
    problems = []

    raw_date = fields.get("Дата", "")
    document_date = _parse_date(raw_date)
    if not raw_date:
        problems.append(f"{where}: нет даты документа (строка «Дата=»)")
    elif document_date is None:
        problems.append(f"{where}: дата «{raw_date}» не дата в формате ДД.ММ.ГГГГ")

    raw_amount = fields.get("Сумма", "")
    amount = _parse_amount(raw_amount)
    if not raw_amount:
        problems.append(f"{where}: нет суммы (строка «Сумма=»)")
    elif amount is None:
        problems.append(f"{where}: сумма «{raw_amount}» не число")

    optional_dates = {}
    for key, label in (("ДатаПоступило", "дата поступления"), ("ДатаСписано", "дата списания")):
        raw = fields.get(key, "")
        optional_dates[key] = _parse_date(raw) if raw else None
        if raw and optional_dates[key] is None:
            problems.append(f"{where}: {label} «{raw}» не дата в формате ДД.ММ.ГГГГ")

    if problems:
        return None, problems
    payer_name, payer_inn = _party(fields, "Плательщик")
    _, recipient_inn = _party(fields, "Получатель")
    return (
        BankPayment(
            document_number=fields.get("Номер", ""),
            document_date=document_date,
            amount=amount,
            credited_on=optional_dates["ДатаПоступило"],
            payer_name=payer_name,
            payer_inn=payer_inn,
            payer_kpp=fields.get("ПлательщикКПП", ""),
            payer_account=_account(fields.get("ПлательщикСчет", "") or fields.get("ПлательщикРасчСчет", "")),
            recipient_account=_account(
                fields.get("ПолучательСчет", "") or fields.get("ПолучательРасчСчет", "")
            ),
            recipient_inn=recipient_inn,
            purpose=_purpose(fields),
            section_line=block.line,
            debited_on=optional_dates["ДатаСписано"],
            kind=block.kind,
        ),
        [],
    )


def parse_bank_statement(data: bytes, *, our_account: str | None = None) -> BankStatement:
    """Read a 1CClientBankExchange file; raises :class:`BankStatementError` when it is not one.

    ``our_account`` is the company's settlement account: it becomes the statement's account when the
    file names none, picks ours among several accounts of one file, and is reported as an error when
    the file is a statement of other accounts only.
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise BankStatementError(
            "Файл выписки больше 10 МБ — выгрузите выписку за более короткий период.", code="too_large"
        )
    if not data.strip():
        raise BankStatementError("Файл выписки пустой.", code="empty")
    text, encoding = _decode(data)
    lines = _LINE_BREAK.split(text)
    first = next((number for number, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise BankStatementError("Файл выписки пустой.", code="empty")
    if lines[first].strip() != FORMAT_MARKER:
        raise BankStatementError(
            "Это не выписка в формате 1С «Клиент-банк»: первая строка файла должна быть "
            "«1CClientBankExchange». Выгрузите выписку из интернет-банка в формате 1С (.txt).",
            code="not_1c",
        )

    header: dict[str, str] = {}
    header_lines: dict[str, int] = {}
    accounts: list[_Block] = []
    documents: list[BankPayment] = []
    errors: list[str] = []
    block: _Block | None = None  # the section being read: a document, an account or another one
    finished = False

    for number, raw in enumerate(lines[first + 1 :], start=first + 2):
        line = raw.strip()
        if not line:
            continue
        folded = line.casefold()
        if folded == "конецфайла":
            finished = True
            break
        if folded.startswith("секция") and (folded.startswith("секциядокумент=") or "=" not in line):
            if block is not None:
                errors.append(_unclosed(block))
            if "=" in line:
                block = _Block(kind=line.split("=", 1)[1].strip(), line=number, is_document=True)
            else:
                block = _Block(kind=line[len("Секция") :].strip(), line=number)
            continue
        if block is not None and folded.startswith("конец") and "=" not in line:
            if block.is_document and folded == "конецдокумента":
                payment, problems = _document(block)
                errors.extend(problems)
                if payment is not None:
                    documents.append(payment)
            elif block.is_document:
                errors.append(_unclosed(block))
            elif block.kind == "РасчСчет":
                accounts.append(block)
            block = None
            continue
        if block is not None:
            block.add(line)
        elif "=" in line:
            key, value = line.split("=", 1)
            header.setdefault(key.strip(), value.strip())
            header_lines.setdefault(key.strip(), number)
    if block is not None:
        errors.append(_unclosed(block))
    if not finished:
        errors.append("В файле нет строки «КонецФайла» — возможно, выписка выгружена не полностью.")

    date_from = _header_date(header, header_lines, accounts, "ДатаНачала", errors)
    date_to = _header_date(header, header_lines, accounts, "ДатаКонца", errors)
    account = _statement_account(header, accounts, our_account, errors)
    return BankStatement(
        account=account,
        date_from=date_from,
        date_to=date_to,
        documents=documents,
        errors=errors,
        format_version=header.get("ВерсияФормата", ""),
        encoding=encoding,
    )


def _unclosed(block: _Block) -> str:
    if block.is_document:
        return (
            f"Документ на строке {block.line}: нет строки «КонецДокумента» — документ пропущен, "
            "выписка, возможно, выгружена не полностью"
        )
    return f"Секция «{block.kind}» на строке {block.line} не закрыта строкой «Конец{block.kind}»."


def _header_date(
    header: dict[str, str], header_lines: dict[str, int], accounts: list[_Block], key: str, errors: list[str]
) -> date | None:
    raw = header.get(key, "")
    if raw:
        parsed = _parse_date(raw)
        if parsed is None:
            errors.append(
                f"Заголовок, строка {header_lines[key]}: {key} «{raw}» не дата в формате ДД.ММ.ГГГГ"
            )
        return parsed
    for section in accounts:
        parsed = _parse_date(section.fields.get(key, ""))
        if parsed is not None:
            return parsed
    return None


def _statement_account(
    header: dict[str, str], accounts: list[_Block], our_account: str | None, errors: list[str]
) -> str:
    named = []
    for raw in [header.get("РасчСчет", ""), *(section.fields.get("РасчСчет", "") for section in accounts)]:
        value = _account(raw)
        if value and value not in named:
            named.append(value)
    ours = _account(our_account or "")
    if not ours:
        return named[0] if named else ""
    if not named or ours in named:
        return ours
    errors.append(f"Выписка по счёту {', '.join(named)}, а не по нашему счёту {ours}.")
    return named[0]


def incoming(
    statement: BankStatement, *, our_inn: str | None = None, our_account: str | None = None
) -> list[BankPayment]:
    """The documents credited to us: ДатаПоступило filled, and the recipient is our account or our INN.

    ``our_account`` defaults to the statement's account. Outgoing payments carry only ДатаСписано and
    our account as the payer's, so they are left out.
    """
    account = _account(our_account or "") or statement.account
    inn = (our_inn or "").strip()
    return [
        payment
        for payment in statement.documents
        if payment.credited_on is not None
        and (
            (account and payment.recipient_account == account)
            or (inn and payment.recipient_inn.strip() == inn)
        )
    ]


# --- invoice numbers in the purpose ---------------------------------------------------------------

_LETTER = r"[^\W\d_]"
_DATE_TEXT = r"\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})(?!\d)\s*(?:г(?:ода|\.)?(?!" + _LETTER + r"))?"
_NUMBER_SIGN = r"(?:№+|N(?!" + _LETTER + r")|No\.?|#)"
# «счет», «счёт», «счету», «счетам», «счет-фактуре», «счету-оферте», «сч/ф», «с/ф», «сч.-ф.», «сч.», «сч»;
# not «р/сч», «расчетный счет» (a letter or slash before), nor «счетчик» (a letter after).
_INVOICE_WORD = re.compile(
    r"(?<![\w/])(?:"
    r"сч[её]т(?:ами|ам|ах|ом|а|у|е)?(?:\s*-\s*(?:фактур|оферт|договор)" + _LETTER + r"*)?"
    r"|сч\s*/\s*ф(?:акт" + _LETTER + r"*)?\.?"
    r"|с\s*/\s*ф\.?"
    r"|сч\.?\s*-?\s*ф(?:акт" + _LETTER + r"*)?\.?"
    r"|сч\.?"
    r"|инвойс" + _LETTER + r"*"
    r"|invoice|inv\.?"
    r")(?!" + _LETTER + r")",
    re.IGNORECASE,
)
# Between the word and the number: «на оплату», «от 03.03.2026», «№».
_BEFORE_NUMBER = re.compile(
    r"[\s.:]*"
    r"(?:на\s+(?:пред)?оплату\s*)?"
    r"(?:(?:от\s*)?" + _DATE_TEXT + r"\s*,?\s*)?"
    r"(?:" + _NUMBER_SIGN + r"\s*[:.]?\s*)?",
    re.IGNORECASE,
)
# The number itself: 125, 0045, 12-А, 125/3, УТ-000125, СЧ-45; never a date or a decimal (03.03…, 1500.00).
_NUMBER = re.compile(
    r"(?:" + _LETTER + r"{1,5}-?)?\d+"
    r"(?:[-/](?:\d+|" + _LETTER + r"{1,2}(?!" + _LETTER + r")))*"
    r"(?!\.?\d)(?!\w)",
    re.IGNORECASE,
)
# After a number, another one of the same list: «12, 13», «12 и 13», «№ 12 от 01.03.2026, № 13».
_NEXT_NUMBER = re.compile(
    r"(?:\s*(?:от\s*)?" + _DATE_TEXT + r")?"
    r"\s*(?:,|;|\+|&|и(?!" + _LETTER + r"))\s*"
    r"(?:" + _NUMBER_SIGN + r"\s*)?",
    re.IGNORECASE,
)
_AMOUNT_AFTER = re.compile(r"\s*(?:%|руб|р\.|₽|коп)", re.IGNORECASE)
_RUBLES_KOPECKS = re.compile(r"^\d+-\d{2}$")  # «1500-00», the banks' way to write 1500,00
_THOUSANDS_AFTER = re.compile(r"(?:[\s\u00a0]\d{3})+(?!\d)")  # «12 500,00»
_KOPECKS_AFTER = re.compile(r",\d{2}(?!\d)")  # «2500,00»


def _number_at(text: str, position: int, *, separator: str | None = None) -> re.Match | None:
    """The invoice number at ``position``; ``separator`` is what preceded it in a list, if in one.

    In a list, a number is rather an amount when it reads as one: «1500-00», «12 500», or «2500,00»
    after a spaced separator («по счету 125, 2500,00»; but «по счетам 12,13,14» is a list).
    """
    found = _NUMBER.match(text, position)
    if found is None or len(re.sub(r"\D", "", found.group())) >= 16:  # a bank account, not an invoice
        return None
    if _AMOUNT_AFTER.match(text, found.end()):  # «20%», «1500 руб.»
        return None
    if separator is not None and (
        _RUBLES_KOPECKS.match(found.group())
        or _THOUSANDS_AFTER.match(text, found.end())
        or (_KOPECKS_AFTER.match(text, found.end()) and re.search(r"\s", separator))
    ):
        return None
    return found


def invoice_numbers(purpose: str) -> list[str]:
    """Invoice numbers mentioned in a payment purpose, as written (leading zeros kept), in order.

    Only a number right after a word for an invoice counts («счет», «счёт», «сч.», «сч/ф», «с/ф»,
    «счет-фактура», «счет на оплату», «invoice»), optionally after «№»/«N» and «от <дата>», and the
    numbers listed after it («по счетам 12, 13 и 14»). Dates, amounts («сумма 1500-00»), percentages
    («НДС 20%») and account numbers («р/сч 40702810…») are not invoice numbers. :func:`match` compares
    the numbers with leading zeros dropped, so «0045» finds the deal's invoice «45».
    """
    found: list[str] = []
    text = purpose or ""
    for word in _INVOICE_WORD.finditer(text):
        position = _BEFORE_NUMBER.match(text, word.end()).end()
        number = _number_at(text, position)
        while number is not None:
            if number.group() not in found:
                found.append(number.group())
            separator = _NEXT_NUMBER.match(text, number.end())
            if separator is None:
                break
            number = _number_at(text, separator.end(), separator=separator.group())
    return found


_LATIN_LOOKALIKES = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")


def invoice_key(number: str) -> str:
    """How two invoice numbers are compared: case, spaces, Latin look-alikes and leading zeros ignored."""
    key = re.sub(r"\s", "", number).upper().replace("Ё", "Е").translate(_LATIN_LOOKALIKES)
    return re.sub(r"(?<!\d)0+(?=\d)", "", key)


# --- matching a payment to a deal -----------------------------------------------------------------


@dataclass
class DealCandidate:
    deal_id: int
    client_inn: str
    invoice_numbers: list[str]
    outstanding: Decimal


@dataclass(frozen=True)
class MatchResult:
    deal_id: int | None
    reason: str


def usable_inn(inn: str) -> bool:
    """Individuals without an INN are written as «0» or «000000000000» — not something to match on."""
    return bool(inn) and inn.isdigit() and inn.strip("0") != ""


def match(payment: BankPayment, candidates: list[DealCandidate]) -> MatchResult:
    """The deal the payment pays: payer INN and an invoice number from the purpose, else INN alone.

    - the payer's INN and an invoice number of the purpose point at one deal → that deal (even when it
      is already paid in full: the reason says so, the accountant decides);
    - no invoice number of the purpose belongs to the client's deals, and the client has exactly one
      deal with an outstanding amount → that deal, proposed «по ИНН плательщика»;
    - several open deals of the client and no number decides → no match;
    - no client with the payer's INN → no match.
    """
    inn = payment.payer_inn.strip()
    if not usable_inn(inn):
        return MatchResult(None, "в платеже нет ИНН плательщика")
    clients_deals = [candidate for candidate in candidates if candidate.client_inn.strip() == inn]
    if not clients_deals:
        return MatchResult(None, f"плательщик с ИНН {inn} не найден среди клиентов")

    mentioned = invoice_numbers(payment.purpose)
    keys = {invoice_key(number): number for number in mentioned}
    by_invoice = [
        (candidate, next(keys[key] for key in map(invoice_key, candidate.invoice_numbers) if key in keys))
        for candidate in clients_deals
        if any(invoice_key(number) in keys for number in candidate.invoice_numbers)
    ]
    open_by_invoice = [pair for pair in by_invoice if pair[0].outstanding > ZERO]
    if len(by_invoice) == 1 or len(open_by_invoice) == 1:
        candidate, number = open_by_invoice[0] if len(open_by_invoice) == 1 else by_invoice[0]
        reason = f"по ИНН плательщика и счёту № {number}"
        if candidate.outstanding <= ZERO:
            reason += " (сделка уже оплачена полностью)"
        return MatchResult(candidate.deal_id, reason)
    if by_invoice:
        listed = ", ".join(sorted({number for _, number in by_invoice}))
        return MatchResult(None, f"счёт № {listed} есть в нескольких сделках клиента")

    open_deals = [candidate for candidate in clients_deals if candidate.outstanding > ZERO]
    unknown = f"счёт № {', '.join(mentioned)} из назначения не найден в сделках клиента" if mentioned else ""
    if len(open_deals) == 1:
        if unknown:
            return MatchResult(open_deals[0].deal_id, f"по ИНН плательщика ({unknown})")
        return MatchResult(open_deals[0].deal_id, "по ИНН плательщика (счёт в назначении не найден)")
    if not open_deals:
        return MatchResult(None, f"у клиента с ИНН {inn} нет сделок с неоплаченным остатком")
    if unknown:
        return MatchResult(None, f"несколько сделок клиента, {unknown}")
    return MatchResult(None, "несколько сделок клиента, в назначении нет номера счёта")
