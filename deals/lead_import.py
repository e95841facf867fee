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

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import NamedTuple, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from deals.phones import normalize_phone

MAX_FILE_SIZE = 5 * 1024 * 1024
MAX_DATA_ROWS = 20_000  # the default of settings.LEAD_IMPORT_MAX_ROWS
# Bounds checked while the file is read, so that no file makes the reader hold more than a few rows at a
# time beyond the table it returns (at most LEAD_IMPORT_MAX_ROWS × MAX_COLUMNS cells):
MAX_COLUMNS = 50  # columns with data; 2GIS and Yandex exports have 10–40
MAX_CELLS_PER_ROW = 1_000  # cells of one row as written, empty ones included (Excel pads rows with ";")
MAX_ROW_CHARS = 64 * 1024  # characters of one CSV record
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024  # an XLSX is a zip: what it unpacks to, not what it weighs

_XLSX_SIGNATURE = b"PK\x03\x04"
_UTF8_BOM = b"\xef\xbb\xbf"
# Old binary Excel (.xls) and other office formats share the OLE2 compound file signature.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Files people pick by mistake; cp1251 decodes any byte soup, so the text check alone is not enough.
_BINARY_SIGNATURES = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
_CSV_DELIMITERS = ";,\t"
_DEFAULT_CSV_DELIMITER = ";"  # Russian Excel saves CSV with ";" because "," is the decimal separator
_SNIFF_SAMPLE_CHARS = 64 * 1024
_DECODE_CHUNK_BYTES = 256 * 1024
# Real CSV text has next to no control characters; decoded binary data is full of them.
_MAX_CONTROL_CHAR_SHARE = 0.01
_CONTROL_CHARS_DROPPED = dict.fromkeys(code for code in range(32) if chr(code) not in "\t\n\r")
_NOT_BLANK = re.compile(rb"\S")


class LeadImportError(ValidationError):
    """The uploaded file cannot be imported at all (as opposed to single rows being rejected)."""


@dataclass
class Table:
    """A sheet as strings. Rows keep their own length (trailing empty cells dropped), never more than
    ``headers``, which are as wide as the widest row (at most ``MAX_COLUMNS``); a short row's missing cells
    read as empty.

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

    def dumps(self) -> bytes:
        """The table as compact JSON: read once at upload, kept for the mapping, preview and import."""
        return json.dumps(
            [self.headers, self.rows, self.row_numbers], ensure_ascii=False, separators=(",", ":")
        ).encode()

    @classmethod
    def loads(cls, data: bytes) -> Self:
        headers, rows, row_numbers = json.loads(data)
        return cls(headers=headers, rows=rows, row_numbers=row_numbers)


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
        if not isinstance(choices, dict):
            raise ValueError(f"A mapping is a dict of lead fields, not {type(choices).__name__}")
        unknown = set(choices) - set(_TARGET_FIELDS_BY_NAME)
        if unknown:
            raise ValueError(f"Unknown lead fields: {sorted(unknown)}")
        columns: dict[str, list[int]] = {}
        for field_name, indexes in choices.items():
            if not isinstance(indexes, list | tuple) or not all(
                type(index) is int and 0 <= index < MAX_COLUMNS for index in indexes
            ):
                raise ValueError(f"Column indexes for {field_name} are not column numbers: {indexes!r}")
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


def read_table(data: bytes, filename: str, *, max_rows: int | None = None) -> Table:
    """Reads an uploaded CSV or XLSX into a Table; raises LeadImportError when the file is unusable.

    Reads row by row and refuses a file as soon as it passes a bound (size, rows, columns, cells or
    characters per row), so memory stays small whatever the file holds.
    """
    if len(data) > MAX_FILE_SIZE:
        raise LeadImportError(
            gettext("Файл больше %(limit)s МБ: разделите список на несколько файлов"),
            code="file_too_large",
            params={"limit": MAX_FILE_SIZE // (1024 * 1024)},
        )
    if not _NOT_BLANK.search(data, len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0):
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
        raw_rows = _read_csv_rows(data)
    if max_rows is None:
        max_rows = getattr(settings, "LEAD_IMPORT_MAX_ROWS", MAX_DATA_ROWS)
    return _build_table(raw_rows, max_rows=max_rows)


def _unsupported_file_error() -> LeadImportError:
    return LeadImportError(
        gettext("Не удалось прочитать файл: поддерживаются CSV и XLSX"), code="unsupported_file"
    )


def _too_many_cells_error(row_number: int) -> LeadImportError:
    return LeadImportError(
        gettext(
            "В строке %(row)s больше %(limit)s ячеек: удалите из файла лишние столбцы (нужны название, "
            "адрес, телефоны, почта, сайт, рубрика)"
        ),
        code="too_many_cells",
        params={"row": row_number, "limit": f"{MAX_CELLS_PER_ROW:,}".replace(",", "\u00a0")},
    )


def _too_many_columns_error(row_number: int) -> LeadImportError:
    return LeadImportError(
        gettext(
            "В строке %(row)s больше %(limit)s столбцов с данными: удалите из файла лишние столбцы (нужны "
            "название, адрес, телефоны, почта, сайт, рубрика)"
        ),
        code="too_many_columns",
        params={"row": row_number, "limit": MAX_COLUMNS},
    )


def _row_too_long_error(row_number: int) -> LeadImportError:
    return LeadImportError(
        gettext("Строка %(row)s длиннее %(limit)s тысяч знаков: проверьте, что это выгрузка списка клиентов"),
        code="row_too_long",
        params={"row": row_number, "limit": MAX_ROW_CHARS // 1024},
    )


# XLSX ------------------------------------------------------------------------------------------------


def _read_xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _unsupported_file_error() from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise LeadImportError(
            gettext(
                "Файл XLSX слишком велик в распакованном виде (больше %(limit)s МБ): сохраните список как CSV"
            ),
            code="xlsx_too_large",
            params={"limit": MAX_XLSX_UNPACKED_BYTES // (1024 * 1024)},
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises anything from BadZipFile to KeyError for damaged or foreign files
        raise _unsupported_file_error() from None
    return _iterate_first_sheet(workbook)


_SHEET_DATA_TAG = f"{{{SHEET_MAIN_NS}}}sheetData"
_ROW_TAG = f"{{{SHEET_MAIN_NS}}}row"
_CELL_TAG = f"{{{SHEET_MAIN_NS}}}c"


def _iterate_first_sheet(workbook: Workbook) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows (the first sheet, not the one that happened to be active on save).

    openpyxl's own row reader builds a whole row before handing it over, however many cells it has; this
    reads the sheet's XML cell by cell with openpyxl's cell parser and stops at the first row that has too
    many cells or data past the last allowed column.
    """
    try:
        if not workbook.worksheets:
            raise _unsupported_file_error()
        sheet = workbook.worksheets[0]
        parser = WorkSheetParser(
            None,
            workbook.shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        with workbook._archive.open(sheet._worksheet_path) as source:
            yield from _sheet_rows(source, parser)
    except LeadImportError:
        raise
    except Exception:
        # A damaged or foreign sheet fails lazily, row by row, in any of a dozen ways (a bad zip member, XML
        # that does not parse, a shared string index out of range, a cell reference that is no reference).
        raise _unsupported_file_error() from None
    finally:
        workbook.close()  # read-only workbooks keep the archive open until closed


def _sheet_rows(source, parser: WorkSheetParser) -> Iterator[tuple[int, list[str]]]:
    sheet_data = None
    cells: dict[int, str] = {}
    cell_count = 0
    for event, element in iterparse(source, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _CELL_TAG:
                cell_count += 1
                if cell_count > MAX_CELLS_PER_ROW:
                    raise _too_many_cells_error(parser.row_counter)
            elif tag == _ROW_TAG:
                number = element.get("r")
                parser.row_counter = int(float(number)) if number else parser.row_counter + 1
                parser.col_counter = 0
                cells, cell_count = {}, 0
            elif tag == _SHEET_DATA_TAG:
                sheet_data = element
            continue
        if tag == _CELL_TAG:
            cell = parser.parse_cell(element)
            element.clear()
            text = _cell_to_text(cell["value"])
            if text:
                if cell["column"] > MAX_COLUMNS:
                    raise _too_many_columns_error(parser.row_counter)
                cells[cell["column"]] = text
        elif tag == _ROW_TAG:
            width = max(cells, default=0)
            yield parser.row_counter, [cells.get(column, "") for column in range(1, width + 1)]
            if sheet_data is not None:
                sheet_data.clear()  # the rows read so far: nothing keeps them in memory
        elif tag == _SHEET_DATA_TAG:
            return  # what follows the data (print settings, drawings) is of no interest


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


# CSV -------------------------------------------------------------------------------------------------


def _text_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) or, failing that, cp1251 (Excel on Russian Windows); checked by
    decoding the file piece by piece, never as a whole."""
    if data.startswith(_BINARY_SIGNATURES) or b"\x00" in data:
        raise _unsupported_file_error()
    view = memoryview(data)
    for encoding in ("utf-8-sig", "cp1251"):
        decoder = codecs.getincrementaldecoder(encoding)()
        characters = control = 0
        try:
            for start in range(0, len(view), _DECODE_CHUNK_BYTES):
                end = start + _DECODE_CHUNK_BYTES
                text = decoder.decode(view[start:end], final=end >= len(view))
                characters += len(text)
                control += len(text) - len(text.translate(_CONTROL_CHARS_DROPPED))
        except UnicodeDecodeError:
            continue
        if control > characters * _MAX_CONTROL_CHAR_SHARE:
            raise _unsupported_file_error()
        return encoding
    raise _unsupported_file_error()


def _sniff_delimiter(sample: str, *, whole: bool) -> str:
    if not whole and "\n" in sample:
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


def _read_csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=_text_encoding(data), newline="")
    sample = stream.read(_SNIFF_SAMPLE_CHARS + 1)
    delimiter = _sniff_delimiter(sample[:_SNIFF_SAMPLE_CHARS], whole=len(sample) <= _SNIFF_SAMPLE_CHARS)
    del sample
    stream.seek(0)
    # The characters of the record being read: the csv module would gather a record of any length.
    record = {"number": 1, "chars": 0}

    def lines() -> Iterator[str]:
        while line := stream.readline(MAX_ROW_CHARS + 1):
            record["chars"] += len(line)
            if record["chars"] > MAX_ROW_CHARS:
                raise _row_too_long_error(record["number"])
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        # Rows are numbered by record, as Excel shows them, even if a quoted cell spans several lines.
        for values in reader:
            row_number = record["number"]
            record["number"], record["chars"] = row_number + 1, 0
            if len(values) > MAX_CELLS_PER_ROW:
                raise _too_many_cells_error(row_number)
            yield row_number, [value.strip() for value in values]
    except csv.Error:
        raise _unsupported_file_error() from None


# The table ---------------------------------------------------------------------------------------------


def _build_table(raw_rows: Iterable[tuple[int, list[str]]], *, max_rows: int) -> Table:
    header: list[str] | None = None
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    width = 0
    for row_number, values in raw_rows:
        values = _without_trailing_blanks(values)
        if not values:
            continue
        if len(values) > MAX_COLUMNS:
            raise _too_many_columns_error(row_number)
        width = max(width, len(values))
        if header is None:
            header = values
            continue
        if len(rows) >= max_rows:
            raise LeadImportError(
                gettext("В файле больше %(limit)s строк: разделите список на несколько файлов"),
                code="too_many_rows",
                params={"limit": f"{max_rows:,}".replace(",", "\u00a0")},
            )
        rows.append(values)
        row_numbers.append(row_number)
    if header is None:
        raise LeadImportError(gettext("В файле нет строки заголовков"), code="no_header")
    # Cells may stick out past the last header; keep them as unnamed columns the rep can still map.
    return Table(headers=header + [""] * (width - len(header)), rows=rows, row_numbers=row_numbers)


def _without_trailing_blanks(values: list[str]) -> list[str]:
    end = len(values)
    while end and not values[end - 1]:
        end -= 1
    return values[:end]


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
