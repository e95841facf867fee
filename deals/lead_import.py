"""Reading a lead list that a rep uploads (a 2GIS or Yandex Maps export, CSV or XLSX) into clean lead rows.

This is the parsing half of the lead import and touches no database:

1. ``read_table`` turns the uploaded bytes into a ``Table`` of stripped strings (header + data rows).
2. ``detect_mapping`` recognises the usual export layouts and says which columns hold the name, address,
   city, segment, phones, e-mails and websites; when it cannot (``None``), the page asks the rep to map
   the columns by hand, using ``TARGET_FIELDS`` for the form and ``ColumnMapping.from_choices`` for
   the answer.
3. ``parse_leads`` checks every row and splits the table into valid ``LeadRow`` s (phones in E.164) and
   ``RejectedRow`` s with reasons in Russian.

Duplicates against leads already in the database are the importing service's job; every ``LeadRow``
carries all its normalised phones so that the service can look them up.

All messages are Russian msgids (LANGUAGE_CODE is "ru").
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import NamedTuple, Self
from xml.etree import ElementTree

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from deals.phones import normalize_phone

MAX_FILE_SIZE = 5 * 1024 * 1024
MAX_DATA_ROWS = 20_000

_XLSX_SIGNATURE = b"PK\x03\x04"
_UTF8_BOM = b"\xef\xbb\xbf"
# Old binary Excel (.xls) and other office formats share the OLE2 compound file signature.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Files people pick by mistake; cp1251 decodes any byte soup, so the text check alone is not enough.
_BINARY_SIGNATURES = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
_CSV_DELIMITERS = ";,\t"
_DEFAULT_CSV_DELIMITER = ";"  # Russian Excel saves CSV with ";" because "," is the decimal separator
_SNIFF_SAMPLE_CHARS = 64 * 1024
# Real CSV text has next to no control characters; decoded binary data is full of them.
_MAX_CONTROL_CHAR_SHARE = 0.01
_ALLOWED_CONTROL_CHARS = frozenset("\t\n\r")


class LeadImportError(ValidationError):
    """The uploaded file cannot be imported at all (as opposed to single rows being rejected)."""


@dataclass
class Table:
    """A sheet as strings: ``rows`` are padded to the width of ``headers``.

    ``row_numbers[i]`` is the row of ``rows[i]`` in the file (the header row counts), so that the rep
    can find a rejected row in Excel even when empty rows were skipped.
    """

    headers: list[str]
    rows: list[list[str]]
    row_numbers: list[int] = field(default_factory=list)

    def column_labels(self) -> list[str]:
        """Headers for the column-mapping form; columns without a header get «Столбец N»."""
        return [
            header or gettext("Столбец %(number)s") % {"number": index + 1}
            for index, header in enumerate(self.headers)
        ]


class TargetField(NamedTuple):
    field: str
    label: str | Promise
    required: bool
    multiple: bool


# Order of the column-mapping form. Labels are lazy: the module is imported before any language is active.
TARGET_FIELDS: list[TargetField] = [
    TargetField("name", gettext_lazy("Название"), required=True, multiple=False),
    TargetField("address", gettext_lazy("Адрес"), required=True, multiple=False),
    TargetField("city", gettext_lazy("Город"), required=False, multiple=False),
    TargetField("segment", gettext_lazy("Сегмент / рубрика"), required=False, multiple=False),
    TargetField("phones", gettext_lazy("Телефоны"), required=True, multiple=True),
    TargetField("emails", gettext_lazy("Эл. почта"), required=False, multiple=True),
    TargetField("websites", gettext_lazy("Сайт"), required=False, multiple=True),
]
_TARGET_FIELDS_BY_NAME = {target.field: target for target in TARGET_FIELDS}


@dataclass
class ColumnMapping:
    """Which column indexes (0-based, as in ``Table.headers``) feed each lead field."""

    name: int | None = None
    address: int | None = None
    city: int | None = None
    segment: int | None = None
    phones: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)
    websites: list[int] = field(default_factory=list)

    @classmethod
    def from_choices(cls, choices: dict[str, list[int]]) -> Self:
        """Builds the mapping from the manual mapping form: target field → chosen column indexes.

        Raises LeadImportError naming the required fields left without a column.
        """
        unknown = set(choices) - set(_TARGET_FIELDS_BY_NAME)
        if unknown:
            raise ValueError(f"Unknown lead fields: {sorted(unknown)}")
        columns: dict[str, list[int]] = {}
        for field_name, indexes in choices.items():
            if any(index < 0 for index in indexes):
                raise ValueError(f"Negative column index for {field_name}: {indexes}")
            columns[field_name] = list(dict.fromkeys(indexes))  # the same column picked twice counts once
        mapping = cls._from_columns(columns)
        missing = mapping.missing_required_labels()
        if missing:
            raise LeadImportError(
                gettext("Выберите столбцы для обязательных полей: %(fields)s"),
                code="mapping_incomplete",
                params={"fields": ", ".join(f"«{label}»" for label in missing)},
            )
        return mapping

    @classmethod
    def _from_columns(cls, columns: dict[str, list[int]]) -> Self:
        def first(field_name: str) -> int | None:
            # A single-value field takes one column; extra picks for it are ignored.
            indexes = columns.get(field_name) or []
            return indexes[0] if indexes else None

        return cls(
            name=first("name"),
            address=first("address"),
            city=first("city"),
            segment=first("segment"),
            phones=list(columns.get("phones") or []),
            emails=list(columns.get("emails") or []),
            websites=list(columns.get("websites") or []),
        )

    def missing_required_labels(self) -> list[str]:
        """Labels of the required fields that have no column, in form order."""
        return [
            str(target.label)
            for target in TARGET_FIELDS
            if target.required and not self.columns_for(target.field)
        ]

    def columns_for(self, field_name: str) -> list[int]:
        value = getattr(self, field_name)
        if isinstance(value, list):
            return list(value)
        return [] if value is None else [value]

    def as_choices(self) -> dict[str, list[int]]:
        """The mapping in the form's shape, e.g. to pre-fill the manual mapping step."""
        return {target.field: self.columns_for(target.field) for target in TARGET_FIELDS}


@dataclass
class LeadRow:
    row_number: int
    name: str
    address: str
    city: str
    segment: str
    phones: list[str]  # E.164, de-duplicated, in file order; the first is the main number
    email: str
    website: str
    # Pieces of phone cells that were not numbers, skipped because the row had other, valid phones.
    unrecognised_phones: list[str] = field(default_factory=list)


@dataclass
class RejectedRow:
    row_number: int
    name: str
    reasons: list[str]


@dataclass
class ParsedLeads:
    valid: list[LeadRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Reading files


def read_table(data: bytes, filename: str) -> Table:
    """Reads an uploaded CSV or XLSX into a Table; raises LeadImportError when the file is unusable."""
    if len(data) > MAX_FILE_SIZE:
        raise LeadImportError(
            gettext("Файл больше %(limit)s МБ: разделите список на несколько файлов"),
            code="file_too_large",
            params={"limit": MAX_FILE_SIZE // (1024 * 1024)},
        )
    if not data.removeprefix(_UTF8_BOM).strip():
        raise LeadImportError(gettext("Файл пуст"), code="empty_file")

    extension = PurePath(filename or "").suffix.lower()
    if extension == ".xls" or data.startswith(_OLE2_SIGNATURE):
        raise LeadImportError(
            gettext("Старый формат Excel (.xls) не поддерживается: сохраните файл как XLSX или CSV"),
            code="xls_not_supported",
        )
    if extension == ".xlsx" or data.startswith(_XLSX_SIGNATURE):
        raw_rows = _read_xlsx_rows(data)
    else:
        raw_rows = _read_csv_rows(_decode_text(data))
    return _build_table(raw_rows)


def _unsupported_file_error() -> LeadImportError:
    return LeadImportError(
        gettext("Не удалось прочитать файл: поддерживаются CSV и XLSX"), code="unsupported_file"
    )


def _read_xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises anything from BadZipFile to KeyError for damaged or foreign files
        raise _unsupported_file_error() from None
    return _iterate_first_sheet(workbook)


def _iterate_first_sheet(workbook: Workbook) -> Iterator[tuple[int, list[str]]]:
    try:
        if not workbook.worksheets:
            raise _unsupported_file_error()
        sheet = workbook.worksheets[0]  # the first sheet, not the one that happened to be active on save
        # Exports often carry a wrong or missing <dimension>; without this read-only mode trusts it.
        sheet.reset_dimensions()
        for row_number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield row_number, [_cell_to_text(value) for value in values]
    except LeadImportError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, ElementTree.ParseError):
        # a damaged sheet's XML is read lazily, row by row
        raise _unsupported_file_error() from None
    finally:
        workbook.close()  # read-only workbooks keep the archive open until closed


def _cell_to_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        # Phones and ИНН typed into Excel become floats: 89123456789.0 must read as "89123456789".
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time.min:
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _decode_text(data: bytes) -> str:
    if data.startswith(_BINARY_SIGNATURES) or b"\x00" in data:
        raise _unsupported_file_error()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Russian Windows saves "CSV" in cp1251.
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            raise _unsupported_file_error() from None
    control_chars = sum(1 for char in text if ord(char) < 32 and char not in _ALLOWED_CONTROL_CHARS)
    if control_chars > len(text) * _MAX_CONTROL_CHAR_SHARE:
        raise _unsupported_file_error()
    return text


def _sniff_delimiter(text: str) -> str:
    sample = text[:_SNIFF_SAMPLE_CHARS]
    if len(text) > _SNIFF_SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # a cut-off last line confuses the sniffer
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    # The sniffer can be fooled by commas inside cells; a real delimiter also separates the headers.
    first_line = next((line for line in sample.splitlines() if line.strip()), "")
    if delimiter and delimiter in first_line:
        return delimiter
    counts = {candidate: first_line.count(candidate) for candidate in _CSV_DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else _DEFAULT_CSV_DELIMITER


def _read_csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        # Rows are numbered by record, as Excel shows them, even if a quoted cell spans several lines.
        for row_number, values in enumerate(reader, start=1):
            yield row_number, [value.strip() for value in values]
    except csv.Error:
        raise _unsupported_file_error() from None


def _build_table(raw_rows: Iterable[tuple[int, list[str]]]) -> Table:
    header: list[str] | None = None
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    for row_number, values in raw_rows:
        values = _without_trailing_blanks(values)
        if not values:
            continue
        if header is None:
            header = values
            continue
        if len(rows) >= MAX_DATA_ROWS:
            raise LeadImportError(
                gettext("В файле больше %(limit)s строк: разделите список на несколько файлов"),
                code="too_many_rows",
                params={"limit": f"{MAX_DATA_ROWS:,}".replace(",", "\u00a0")},
            )
        rows.append(values)
        row_numbers.append(row_number)
    if header is None:
        raise LeadImportError(gettext("В файле нет строки заголовков"), code="no_header")

    # Cells may stick out past the last header; keep them as unnamed columns the rep can still map.
    width = max([len(header), *(len(row) for row in rows)])
    return Table(
        headers=_padded(header, width),
        rows=[_padded(row, width) for row in rows],
        row_numbers=row_numbers,
    )


def _without_trailing_blanks(values: list[str]) -> list[str]:
    end = len(values)
    while end and not values[end - 1]:
        end -= 1
    return values[:end]


def _padded(values: list[str], width: int) -> list[str]:
    return values + [""] * (width - len(values))


# ---------------------------------------------------------------------------------------------------------
# Recognising columns

# Header keys (see _header_key) each target field answers to. 2GIS numbers repeated columns
# ("Телефон 1", "E-mail 2"), which _header_key strips, so every field can take several columns.
_HEADER_SYNONYMS: dict[str, frozenset[str]] = {
    "name": frozenset(
        {
            "наименование",
            "название",
            "полноенаименование",
            "краткоенаименование",
            "наименованиеорганизации",
            "названиеорганизации",
            "наименованиекомпании",
            "названиекомпании",
            "организация",
            "компания",
            "фирма",
            "name",
            "title",
            "company",
            "companyname",
            "organization",
            "organisation",
        }
    ),
    "address": frozenset(
        {
            "адрес",
            "адресорганизации",
            "адресфилиала",
            "полныйадрес",
            "фактическийадрес",
            "address",
            "fulladdress",
            "streetaddress",
        }
    ),
    "city": frozenset({"город", "населенныйпункт", "city", "town", "locality"}),
    "segment": frozenset(
        {
            "рубрика",
            "рубрики",
            "категория",
            "категории",
            "сегмент",
            "отрасль",
            "сфера",
            "сферадеятельности",
            "виддеятельности",
            "типорганизации",
            "category",
            "categories",
            "rubric",
            "rubrics",
            "industry",
            "segment",
        }
    ),
    "phones": frozenset(
        {
            "телефон",
            "телефоны",
            "тел",
            "номертелефона",
            "контактныйтелефон",
            "мобильный",
            "мобильныйтелефон",
            "phone",
            "phones",
            "telephone",
            "tel",
            "phonenumber",
            "mobile",
        }
    ),
    "emails": frozenset(
        {
            "email",
            "emails",
            "mail",
            "элпочта",
            "электроннаяпочта",
            "почта",
            "емейл",
            "емэйл",
            "имейл",
            "емайл",
        }
    ),
    "websites": frozenset(
        {"вебсайт", "вебсайты", "сайт", "сайты", "website", "websites", "site", "web", "url", "www"}
    ),
}
_FIELD_BY_HEADER_KEY = {key: field_name for field_name, keys in _HEADER_SYNONYMS.items() for key in keys}
_TRAILING_COLUMN_NUMBER = re.compile(r"[\s№#_.\-]*\d+$")
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def _header_key(header: str) -> str:
    """«  Телефон 2 » → "телефон", «E-mail 1» → "email", «Эл. почта» → "элпочта"."""
    text = _folded(header).strip()
    text = _TRAILING_COLUMN_NUMBER.sub("", text)
    return _NOT_LETTER_OR_DIGIT.sub("", text)


def suggest_choices(headers: list[str]) -> dict[str, list[int]]:
    """Columns whose headers look like each target field; also usable to pre-fill the mapping form."""
    choices: dict[str, list[int]] = {target.field: [] for target in TARGET_FIELDS}
    for index, header in enumerate(headers):
        field_name = _FIELD_BY_HEADER_KEY.get(_header_key(header))
        if field_name is not None:
            choices[field_name].append(index)
    return choices


def detect_mapping(headers: list[str]) -> ColumnMapping | None:
    """The mapping for a recognised export layout, or None when the rep has to map columns by hand."""
    mapping = ColumnMapping._from_columns(suggest_choices(headers))
    if mapping.missing_required_labels():
        return None
    return mapping


# ---------------------------------------------------------------------------------------------------------
# Checking rows

# 2GIS joins several values in one cell with "; ", other exports with ", "; Excel cells may hold line breaks.
_PHONE_SEPARATORS = re.compile(r"[;,\n]+")
_EMAIL_OR_WEBSITE_SEPARATORS = re.compile(r"[;,\s]+")
_SEGMENT_SEPARATORS = re.compile(r"[;,]")
_validate_email = EmailValidator()


def parse_leads(table: Table, mapping: ColumnMapping) -> ParsedLeads:
    """Splits the table into valid leads and rejected rows with reasons."""
    result = ParsedLeads()
    # Earlier valid rows by phone and by (name, address): a repeat within the file is rejected.
    row_by_phone: dict[str, int] = {}
    row_by_name_and_address: dict[tuple[str, str], int] = {}

    for index, values in enumerate(table.rows):
        row_number = table.row_numbers[index] if index < len(table.row_numbers) else index + 2

        name = _text_cell(values, mapping.name)
        city = _text_cell(values, mapping.city)
        address = _address_with_city(_text_cell(values, mapping.address), city)
        phone_texts = [_cell(values, column) for column in mapping.phones]
        phones, unrecognised_phones = _normalised_phones(phone_texts)

        reasons: list[str] = []
        if not name:
            reasons.append(gettext("нет названия"))
        if not address:
            reasons.append(gettext("нет адреса"))
        if not phones:
            if unrecognised_phones:
                reasons.extend(
                    gettext("телефон «%(phone)s» не распознан") % {"phone": text}
                    for text in unrecognised_phones
                )
            else:
                reasons.append(gettext("нет телефона"))

        name_and_address = (_folded(name), _folded(address))
        earlier_row = next((row_by_phone[phone] for phone in phones if phone in row_by_phone), None)
        if earlier_row is None and name and address:
            earlier_row = row_by_name_and_address.get(name_and_address)
        if earlier_row is not None:
            reasons.append(gettext("повторяет строку %(row)s этого файла") % {"row": earlier_row})

        if reasons:
            result.rejected.append(RejectedRow(row_number=row_number, name=name, reasons=reasons))
            continue

        for phone in phones:
            row_by_phone[phone] = row_number
        row_by_name_and_address[name_and_address] = row_number
        result.valid.append(
            LeadRow(
                row_number=row_number,
                name=name,
                address=address,
                city=city,
                segment=_first_segment(_text_cell(values, mapping.segment)),
                phones=phones,
                email=_first_valid_email([_cell(values, column) for column in mapping.emails]),
                website=_first_website([_cell(values, column) for column in mapping.websites]),
                unrecognised_phones=unrecognised_phones,
            )
        )
    return result


def _cell(values: list[str], column: int | None) -> str:
    # A hand-made mapping may point past the end of a short row.
    if column is None or column >= len(values):
        return ""
    return values[column]


def _text_cell(values: list[str], column: int | None) -> str:
    # Exports pad and double spaces (and Excel cells may hold line breaks); store and compare one form.
    return " ".join(_cell(values, column).split())


def _folded(text: str) -> str:
    """Case- and ё-insensitive form for comparing names, addresses and cities."""
    return text.casefold().replace("ё", "е")


def _address_with_city(address: str, city: str) -> str:
    """2GIS keeps the city in its own column; a lead's address must still say which city it is in."""
    if not address or not city:
        return address
    # Whole-word match, so that the city «Мир» is not found in «ул. Мира».
    city_pattern = r"(?<!\w)" + re.escape(_folded(city)) + r"(?!\w)"
    if re.search(city_pattern, _folded(address)):
        return address
    return f"{city}, {address}"


def _normalised_phones(cells: list[str]) -> tuple[list[str], list[str]]:
    """(E.164 numbers without repeats, pieces that are not phone numbers)."""
    phones: dict[str, None] = {}  # a dict keeps file order while de-duplicating
    unrecognised: list[str] = []
    for cell_text in cells:
        for piece in _PHONE_SEPARATORS.split(cell_text):
            piece = piece.strip()
            if not piece:
                continue
            try:
                phones[normalize_phone(piece)] = None
            except ValidationError:
                unrecognised.append(piece)
    return list(phones), unrecognised


def _first_valid_email(cells: list[str]) -> str:
    for cell_text in cells:
        for piece in _EMAIL_OR_WEBSITE_SEPARATORS.split(cell_text):
            candidate = piece.removeprefix("mailto:")
            if not candidate or len(candidate) > 254:  # the longest address the base keeps
                continue
            try:
                _validate_email(candidate)
            except ValidationError:
                continue
            return candidate
    return ""


def _first_website(cells: list[str]) -> str:
    for cell_text in cells:
        for piece in _EMAIL_OR_WEBSITE_SEPARATORS.split(cell_text):
            if piece:
                return piece
    return ""


def _first_segment(rubrics: str) -> str:
    """2GIS lists every rubric of a company («Кафе; Рестораны»); the first is the main one."""
    for piece in _SEGMENT_SEPARATORS.split(rubrics):
        if piece.strip():
            return piece.strip()
    return ""
