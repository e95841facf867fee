"""Turning PortSIP call records into ``CallRow`` s: the parsing half of the telephony import.

Hunters call from a PortSIP softphone through the PortSIP PBX, and their calls reach the portal two ways:

* ``parse_cdr`` reads the CDR that the PBX posts to the portal's webhook when a call ends (JSON or form
  fields) and raises ``CdrError`` when the record is unusable;
* ``read_call_log`` reads a CSV call log uploaded for history (columns in ``CSV_COLUMNS``) into a
  ``CallLog``: the good rows plus a Russian reason for every rejected row; it raises ``CallLogFileError``
  when the file as a whole cannot be read.

Nothing here touches the database: the importing service stores the rows (``kpi.models.CallRecord``),
matches extensions to hunters and numbers to clients. Every ``CallRow`` has an aware ``started_at``, a
``direction`` from ``CallDirection``, the hunter's extension as digits and the other party in E.164
when it is a phone number.

All messages are Russian msgids (LANGUAGE_CODE is "ru").
"""

import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import PurePath
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from deals.phones import normalize_phone
from kpi.models import CallDirection, CallRecord

# Call logs carry the PBX's local wall-clock time; the PBX stands in Yekaterinburg (UTC+5, no DST).
PBX_TIME_ZONE = ZoneInfo("Asia/Yekaterinburg")
MAX_FILE_SIZE = 20 * 1024 * 1024

# Lengths of the CallRecord columns, so that every row the parser returns can be saved as it is.
_EXTERNAL_ID_MAX_LENGTH: int = CallRecord._meta.get_field("external_id").max_length
_OTHER_NUMBER_MAX_LENGTH: int = CallRecord._meta.get_field("other_number").max_length
_RECORDING_URL_MAX_LENGTH: int = CallRecord._meta.get_field("recording_url").max_length
_END_REASON_MAX_LENGTH: int = CallRecord._meta.get_field("end_reason").max_length

_EXTENSION_LENGTHS = range(2, 7)  # PortSIP extensions are 2–6 digits: "101", "1001"
# Calls are from this century: later "times" are garbage (and beyond what the database stores).
_LATEST_UNIX_TIME = 4_102_444_799  # 2099-12-31 23:59:59 UTC
_LONGEST_CALL_SECONDS = 24 * 60 * 60


class CdrError(ValueError):
    """The webhook's CDR cannot be turned into a call (the message is for the log and the PBX admin)."""


class CallLogFileError(ValidationError):
    """The uploaded call log cannot be read at all (as opposed to single rows being rejected)."""


@dataclass(frozen=True, slots=True)
class CallRow:
    """One call, ready to be stored as a ``CallRecord``."""

    external_id: str
    started_at: datetime  # aware
    direction: str  # a CallDirection value
    extension: str  # the hunter's internal number, digits only; "" when no extension took part
    other_number: str  # E.164 for phone numbers, otherwise the digits as dialled; "" when unknown
    duration_s: int  # talk time; 0 when nobody answered
    recording_url: str = ""
    end_reason: str = ""


@dataclass(frozen=True, slots=True)
class CallLogError:
    row_number: int  # the row in the file as Excel shows it: the header is row 1
    message: str  # all reasons for rejecting the row, joined by "; "


@dataclass
class CallLog:
    rows: list[CallRow] = field(default_factory=list)
    errors: list[CallLogError] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Numbers and SIP addresses

_SIP_SCHEMES = ("sip:", "sips:", "tel:")
# Characters people and PBXes put into phone numbers around the digits: "+7 (912) 345-67-89".
_PHONE_PUNCTUATION = str.maketrans("", "", " ()-.\u00a0")
# First digits of Russian area and mobile codes. Numbers of these shapes skip the (slow) phonenumbers
# parser; tests check that the shortcut gives exactly what normalize_phone gives.
_RUSSIAN_CODE_FIRST_DIGITS = frozenset("3489")
_RUSSIAN_TEN_DIGIT_FIRST_DIGITS = frozenset("349")  # a bare "8…" of ten digits may be a national prefix


def _address_user(value: Any) -> str:
    """The user part of a SIP address: ``"Иван" <sip:101@pbx;user=phone>`` → "101"; plain numbers as is."""
    if value is None:
        return ""
    text = str(value).strip()
    if ":" not in text and "@" not in text and "<" not in text and ";" not in text:
        return text  # a plain number, by far the most common case in call logs
    start = text.rfind("<")  # the display name before "<" may itself hold anything, even "<"
    if start != -1:
        end = text.find(">", start)
        text = text[start + 1 : end] if end != -1 else text[start + 1 :]
    lowered = text[:5].lower()
    for scheme in _SIP_SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0].strip()


def _extension(user: str) -> str:
    """The user part as an extension (2–6 ASCII digits), or "" when it is something else."""
    if user.isascii() and user.isdigit() and len(user) in _EXTENSION_LENGTHS:
        return user
    return ""


@lru_cache(maxsize=65_536)  # a call log repeats the same clients' numbers over and over
def _other_number(user: str) -> str:
    """The other party: E.164 for phone numbers, the bare digits for extensions and anything else."""
    if user.isascii() and user.isdigit():
        compact = digits = user
    else:
        compact = user.translate(_PHONE_PUNCTUATION)
        digits = compact.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        # "anonymous", "Unknown", or letters mixed in: keep whatever digits there are.
        return "".join(char for char in user if char.isascii() and char.isdigit())
    if not compact.startswith("+") and len(digits) <= max(_EXTENSION_LENGTHS):
        return digits  # an extension or a short service number, not a phone to put into E.164
    fast = _russian_e164(compact, digits)
    if fast:
        return fast
    try:
        return normalize_phone(compact)
    except ValidationError:
        return digits


def _russian_e164(compact: str, digits: str) -> str:
    """E.164 for the everyday Russian shapes (+7…, 8…, 7…, 10 digits), "" for anything else."""
    if compact.startswith("+"):
        if len(digits) == 11 and digits[0] == "7" and digits[1] in _RUSSIAN_CODE_FIRST_DIGITS:
            return compact
        return ""
    if len(digits) == 11 and digits[0] in "78" and digits[1] in _RUSSIAN_CODE_FIRST_DIGITS:
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] in _RUSSIAN_TEN_DIGIT_FIRST_DIGITS:
        return "+7" + digits
    return ""


def _recording_url(value: Any) -> str:
    url = _text(value)
    # A cut-off link leads nowhere; keeping the call matters more than keeping a link that does not fit.
    return url if len(url) <= _RECORDING_URL_MAX_LENGTH else ""


def _text(value: Any) -> str:
    # A NUL character cannot be stored (PostgreSQL refuses it) and never means anything in a CDR.
    return "" if value is None else str(value).replace("\x00", "").strip()


# ---------------------------------------------------------------------------------------------------------
# Webhook


class _CdrParties(NamedTuple):
    direction: str
    extension: str
    other_number: str


def parse_cdr(payload: Mapping[str, Any]) -> CallRow:
    """Reads the CDR that PortSIP posts when a call ends; raises CdrError with a Russian message.

    Understands ``cdr_id``, ``direction`` (ext / in / out / in2out), ``caller`` and ``callee`` (SIP
    addresses or numbers), ``answered_time``, ``ended_time`` and the optional ``start_time`` (Unix times,
    0 meaning "never"), ``end_reason`` and ``recording_url`` (or ``recording_file``).
    """
    external_id = _text(payload.get("cdr_id"))
    if not external_id:
        raise CdrError(gettext("В CDR нет ID звонка (cdr_id)"))
    if len(external_id) > _EXTERNAL_ID_MAX_LENGTH:
        raise CdrError(gettext("cdr_id длиннее %(limit)s символов") % {"limit": _EXTERNAL_ID_MAX_LENGTH})

    parties = _cdr_parties(payload)

    ended = _cdr_unix_time(payload, "ended_time")
    if not ended:
        raise CdrError(gettext("В CDR нет времени окончания звонка (ended_time)"))
    answered = _cdr_unix_time(payload, "answered_time")
    started = _cdr_unix_time(payload, "start_time")
    if not started:
        started = answered or ended
    # Clocks of the PBX's legs can disagree by a second; talk time is never negative.
    duration = max(ended - answered, 0) if answered else 0
    if duration > _LONGEST_CALL_SECONDS:
        raise CdrError(gettext("Разговор длиннее суток: проверьте answered_time и ended_time"))

    return CallRow(
        external_id=external_id,
        started_at=datetime.fromtimestamp(started, tz=UTC),
        direction=parties.direction,
        extension=parties.extension,
        other_number=parties.other_number,
        duration_s=duration,
        recording_url=_recording_url(payload.get("recording_url") or payload.get("recording_file")),
        end_reason=_text(payload.get("end_reason"))[:_END_REASON_MAX_LENGTH],
    )


def _cdr_parties(payload: Mapping[str, Any]) -> _CdrParties:
    """Which side is the hunter depends on the direction: the caller on outgoing calls, else the callee."""
    caller = _address_user(payload.get("caller"))
    callee = _address_user(payload.get("callee"))
    raw_direction = _text(payload.get("direction"))
    match raw_direction.lower():
        case "out":
            parties = _CdrParties(CallDirection.OUTGOING.value, _extension(caller), _other_number(callee))
        case "in":
            parties = _CdrParties(CallDirection.INCOMING.value, _extension(callee), _other_number(caller))
        case "ext":
            parties = _CdrParties(
                CallDirection.INTERNAL.value, _extension(caller), _extension(callee) or _other_number(callee)
            )
        case "in2out":
            # An incoming call the PBX forwarded outside: the client called us, it is no hunter's own
            # outgoing call. The callee is usually the outside number, so it is an extension only rarely.
            parties = _CdrParties(CallDirection.INCOMING.value, _extension(callee), _other_number(caller))
        case _:
            raise CdrError(
                gettext("Неизвестное направление звонка «%(value)s»: ожидается ext, in, out или in2out")
                % {"value": raw_direction}
            )
    if len(parties.other_number) > _OTHER_NUMBER_MAX_LENGTH:
        raise CdrError(
            gettext("Слишком длинный номер собеседника «%(value)s»") % {"value": parties.other_number}
        )
    return parties


def _cdr_unix_time(payload: Mapping[str, Any], key: str) -> int:
    """A Unix time from the CDR; 0 when absent or zero ("never"); CdrError when it is not a time."""
    value = payload.get(key)
    if value is None or value == "":
        return 0
    seconds = _unix_seconds(value)
    if seconds is None:
        raise CdrError(gettext("%(field)s «%(value)s» — не время Unix") % {"field": key, "value": value})
    return seconds


def _unix_seconds(value: Any) -> int | None:
    if isinstance(value, bool):  # JSON true/false would otherwise pass as 1/0
        return None
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        seconds = int(value)
    else:
        text = str(value).strip()
        try:
            seconds = int(text)
        except ValueError:
            try:
                number = float(text)  # "1772517600.25" from PBXes that keep fractions of a second
            except ValueError:
                return None
            if not math.isfinite(number):
                return None
            seconds = int(number)
    if not 0 <= seconds <= _LATEST_UNIX_TIME:
        return None
    return seconds


# ---------------------------------------------------------------------------------------------------------
# CSV call log


class _Column(NamedTuple):
    name: str
    russian_header: str
    required: bool
    description: str | Promise


_COLUMNS: list[_Column] = [
    _Column("call_id", "ID звонка", True, gettext_lazy("ID звонка — уникальный номер звонка в АТС")),
    _Column(
        "started_at",
        "начало",
        True,
        gettext_lazy(
            "начало — дата и время начала звонка: 2026-03-03T11:00:00 (можно со смещением, например "
            "+05:00) или 03.03.2026 11:00; время без смещения считается екатеринбургским"
        ),
    ),
    _Column(
        "extension",
        "внутренний номер",
        True,
        gettext_lazy("внутренний номер — номер хантера в АТС, например 101"),
    ),
    _Column("other_number", "номер", True, gettext_lazy("номер — телефон собеседника")),
    _Column(
        "direction",
        "направление",
        True,
        gettext_lazy("направление — outgoing, incoming или internal (или исходящий, входящий, внутренний)"),
    ),
    _Column(
        "duration_s",
        "длительность",
        True,
        gettext_lazy(
            "длительность — время разговора в секундах (125) или в виде ЧЧ:ММ:СС (00:02:05); "
            "0, если не ответили"
        ),
    ),
    _Column(
        "recording_url", "запись", False, gettext_lazy("запись — ссылка на запись разговора, необязательно")
    ),
]

# For the upload page's help text, in the documented column order.
CSV_COLUMNS: list[tuple[str, str | Promise]] = [(column.name, column.description) for column in _COLUMNS]


def _header_key(header: str) -> str:
    """«  Внутренний  Номер » → "внутренний номер", «Call_ID» → "call_id"."""
    return " ".join(header.casefold().replace("ё", "е").split())


_REQUIRED_COLUMNS = [column for column in _COLUMNS if column.required]
_COLUMN_BY_HEADER_KEY: dict[str, str] = {}
for _column in _COLUMNS:
    _COLUMN_BY_HEADER_KEY[_header_key(_column.name)] = _column.name
    _COLUMN_BY_HEADER_KEY[_header_key(_column.russian_header)] = _column.name
del _column

_DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(("outgoing", "out", "исходящий"), CallDirection.OUTGOING.value),
    **dict.fromkeys(("incoming", "in", "in2out", "входящий"), CallDirection.INCOMING.value),
    **dict.fromkeys(("internal", "ext", "внутренний"), CallDirection.INTERNAL.value),
}

_UTF8_BOM = b"\xef\xbb\xbf"
_XLSX_SIGNATURE = b"PK\x03\x04"
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls and other office files
# Files people pick by mistake; cp1251 decodes any byte soup, so decoding alone does not catch them.
_BINARY_SIGNATURES = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
_EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls"})
_CSV_DELIMITERS = ";,\t"  # in order of preference: Russian Excel saves CSV with ";"
_SAMPLE_CHARS = 64 * 1024
_MAX_CONTROL_CHAR_SHARE = 0.01  # real CSV text has next to no control characters
_ALLOWED_CONTROL_CHARS = frozenset("\t\n\r")


def read_call_log(data: bytes, filename: str) -> CallLog:
    """Reads an uploaded CSV call log; raises CallLogFileError when the file as a whole is unusable."""
    text = _decode(data, filename)
    sample = text[:_SAMPLE_CHARS]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_pick_delimiter(sample))
    try:
        return _read_rows(_numbered_records(reader))
    except csv.Error:
        raise _not_csv_error() from None


def check_call_log(data: bytes, filename: str) -> None:
    """What can be told of a call log before reading its rows: raises CallLogFileError, as read_call_log
    would, when the file is no CSV or lacks a required column. The upload page refuses such a file at
    once; the rows are read by the import in the background."""
    sample = _decode(data, filename)[:_SAMPLE_CHARS]
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=_pick_delimiter(sample))
    try:
        header = next(_numbered_records(reader), None)
    except csv.Error:
        raise _not_csv_error() from None
    if header is None:
        raise CallLogFileError(gettext("Файл пуст"), code="empty_file")
    _column_indexes(header[1])


def _not_csv_error() -> CallLogFileError:
    return CallLogFileError(
        gettext("Не удалось прочитать файл: нужен журнал звонков в формате CSV"), code="not_csv"
    )


def _decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_FILE_SIZE:
        raise CallLogFileError(
            gettext("Файл больше %(limit)s МБ: разделите журнал на несколько файлов"),
            code="file_too_large",
            params={"limit": MAX_FILE_SIZE // (1024 * 1024)},
        )
    if not data.removeprefix(_UTF8_BOM).strip():
        raise CallLogFileError(gettext("Файл пуст"), code="empty_file")
    if (
        PurePath(filename or "").suffix.lower() in _EXCEL_EXTENSIONS
        or data.startswith(_XLSX_SIGNATURE)
        or data.startswith(_OLE2_SIGNATURE)
    ):
        raise CallLogFileError(
            gettext("Это файл Excel: сохраните журнал звонков как CSV и загрузите его"), code="excel_file"
        )
    if data.startswith(_BINARY_SIGNATURES) or b"\x00" in data:
        raise _not_csv_error()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1251")  # Excel on Russian Windows saves "CSV" in cp1251
        except UnicodeDecodeError:
            raise _not_csv_error() from None
    sample = text[:_SAMPLE_CHARS]  # counting over the whole 20 MB would cost more than the parsing
    control_chars = sum(1 for char in sample if char < " " and char not in _ALLOWED_CONTROL_CHARS)
    if control_chars > len(sample) * _MAX_CONTROL_CHAR_SHARE:
        raise _not_csv_error()
    return text


def _pick_delimiter(sample: str) -> str:
    """The delimiter under which the header names the most known columns (then splits into most cells).

    csv.Sniffer is misled by commas inside quoted cells; the header row is what has to make sense.
    """
    first_line = next((line for line in sample.splitlines() if line.strip()), "")

    def score(delimiter: str) -> tuple[int, int]:
        try:
            headers = next(csv.reader([first_line], delimiter=delimiter), [])
        except csv.Error:
            return (0, 0)
        return (sum(_header_key(header) in _COLUMN_BY_HEADER_KEY for header in headers), len(headers))

    return max(_CSV_DELIMITERS, key=score)  # max keeps the first of equals, i.e. ";"


def _numbered_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    # Rows are numbered by record, as Excel shows them, even if a quoted cell spans several lines.
    for row_number, values in enumerate(reader, start=1):
        if "".join(values).strip():  # skips empty lines and lines of bare delimiters
            yield row_number, values


def _read_rows(records: Iterator[tuple[int, list[str]]]) -> CallLog:
    header = next(records, None)
    if header is None:
        raise CallLogFileError(gettext("Файл пуст"), code="empty_file")
    indexes = _column_indexes(header[1])

    call_id_at = indexes["call_id"]
    started_at_at = indexes["started_at"]
    extension_at = indexes["extension"]
    other_number_at = indexes["other_number"]
    direction_at = indexes["direction"]
    duration_at = indexes["duration_s"]
    recording_at = indexes.get("recording_url")

    row_width = max(indexes.values()) + 1
    log = CallLog()
    row_by_call_id: dict[str, int] = {}  # accepted rows only: a rejected row may come back corrected
    for row_number, values in records:
        if len(values) < row_width:  # Excel drops trailing empty cells
            values = values + [""] * (row_width - len(values))
        reasons: list[str] = []

        external_id = values[call_id_at].strip()
        if not external_id:
            reasons.append(gettext("нет ID звонка"))
        elif len(external_id) > _EXTERNAL_ID_MAX_LENGTH:
            reasons.append(
                gettext("ID звонка длиннее %(limit)s символов") % {"limit": _EXTERNAL_ID_MAX_LENGTH}
            )
        elif external_id in row_by_call_id:
            reasons.append(gettext("повторяет строку %(row)s") % {"row": row_by_call_id[external_id]})

        started_text = values[started_at_at].strip()
        started_at = _local_datetime(started_text)
        if started_at is None:
            if started_text:
                reasons.append(gettext("не распознано время начала «%(value)s»") % {"value": started_text})
            else:
                reasons.append(gettext("нет времени начала"))

        direction_text = values[direction_at].strip()
        direction = _DIRECTIONS.get(direction_text) or _DIRECTIONS.get(_header_key(direction_text))
        if direction is None:
            if direction_text:
                reasons.append(gettext("неизвестное направление «%(value)s»") % {"value": direction_text})
            else:
                reasons.append(gettext("нет направления"))

        extension_text = values[extension_at].strip()
        extension = _extension(_address_user(extension_text))
        if extension_text and not extension:
            reasons.append(
                gettext("внутренний номер «%(value)s» не распознан: нужно от 2 до 6 цифр")
                % {"value": extension_text}
            )

        other_text = values[other_number_at].strip()
        other_number = _other_number(_address_user(other_text))
        if len(other_number) > _OTHER_NUMBER_MAX_LENGTH:
            reasons.append(gettext("слишком длинный номер «%(value)s»") % {"value": other_text})

        duration_text = values[duration_at].strip()
        duration = _duration_seconds(duration_text)
        if duration is None:
            reasons.append(gettext("длительность «%(value)s» не число") % {"value": duration_text})

        if reasons or started_at is None or direction is None or duration is None:
            log.errors.append(CallLogError(row_number=row_number, message="; ".join(reasons)))
            continue
        row_by_call_id[external_id] = row_number
        log.rows.append(
            CallRow(
                external_id=external_id,
                started_at=started_at,
                direction=direction,
                extension=extension,
                other_number=other_number,
                duration_s=duration,
                recording_url=_recording_url(values[recording_at] if recording_at is not None else ""),
            )
        )
    return log


def _column_indexes(headers: list[str]) -> dict[str, int]:
    indexes: dict[str, int] = {}
    for index, header in enumerate(headers):
        column = _COLUMN_BY_HEADER_KEY.get(_header_key(header))
        if column is not None:
            indexes.setdefault(column, index)  # a repeated column: the first one counts
    missing = [column for column in _REQUIRED_COLUMNS if column.name not in indexes]
    if missing:
        raise CallLogFileError(
            gettext("В файле нет обязательных столбцов: %(columns)s"),
            code="missing_columns",
            params={"columns": ", ".join(f"{column.name} ({column.russian_header})" for column in missing)},
        )
    return indexes


def _local_datetime(text: str) -> datetime | None:
    """ISO 8601 (with or without offset) or «03.03.2026 11:00[:00]»; times without offset are the PBX's."""
    if not text:
        return None
    try:
        if "." in text[1:3]:  # «3.03.2026» or «03.03.2026»; ISO starts with a four-digit year
            moment = _dotted_datetime(text)
        elif "T" in text or " " in text:
            moment = datetime.fromisoformat(text)
        else:
            return None  # a bare date says nothing about when the call was
    except ValueError:
        return None
    if not 2000 <= moment.year <= 2099:
        return None  # not a call of this century
    if moment.tzinfo is None:
        # Yekaterinburg has had no DST since 2014, so every wall-clock time there is unambiguous.
        moment = moment.replace(tzinfo=PBX_TIME_ZONE)
    return moment


def _dotted_datetime(text: str) -> datetime:
    """«03.03.2026 11:00» or «03.03.2026 11:00:00» → naive datetime; ValueError otherwise.

    Split by hand: strptime costs several times more, which shows on a 100 000-row log.
    """
    date_part, _, time_part = text.partition(" ")
    day, month, year = date_part.split(".")
    time_fields = time_part.strip().split(":")
    if len(year) != 4 or len(time_fields) not in (2, 3):
        raise ValueError(text)
    numbers = [day, month, year, *time_fields]
    if not all(number.isascii() and number.isdigit() for number in numbers):
        raise ValueError(text)
    hour, minute, second = (int(number) for number in (*time_fields, "0")[:3])
    return datetime(int(year), int(month), int(day), hour, minute, second)


def _duration_seconds(text: str) -> int | None:
    """«125» or «00:02:05» / «2:05» → seconds; "" (nobody answered) → 0; None when it is not a duration."""
    if not text:
        return 0
    if not (text.isascii() and text.replace(":", "").isdigit()):
        return None
    if ":" not in text:
        seconds = int(text)
        return seconds if seconds <= _LONGEST_CALL_SECONDS else None
    fields = text.split(":")
    if len(fields) > 3 or "" in fields:
        return None
    seconds = 0
    for position, part in enumerate(fields):
        value = int(part)
        if position and value >= 60:  # minutes and seconds after a colon stay below 60
            return None
        seconds = seconds * 60 + value
    return seconds if seconds <= _LONGEST_CALL_SECONDS else None
