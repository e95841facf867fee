"""Unit tests for kpi.telephony: PortSIP webhook CDRs and uploaded CSV call logs, parsed with no database."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from deals.phones import normalize_phone
from kpi.models import CallDirection
from kpi.telephony import (
    CSV_COLUMNS,
    MAX_FILE_SIZE,
    CallLogError,
    CallLogFileError,
    CdrError,
    parse_cdr,
    read_call_log,
)

# 11:00 in Yekaterinburg (UTC+5) on 3 March 2026.
ELEVEN_YEKATERINBURG = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
T0 = int(ELEVEN_YEKATERINBURG.timestamp())

ENGLISH_HEADER = "call_id;started_at;extension;other_number;direction;duration_s;recording_url"


def cdr(**fields) -> dict:
    """An answered outgoing call of 125 s from extension 101, overridable field by field."""
    payload = {
        "cdr_id": "cdr-1",
        "call_id": "sip-call-1",
        "direction": "out",
        "caller": "sip:101@pbx.atlanset.ru",
        "callee": "sip:89123456789@pbx.atlanset.ru",
        "start_time": T0 - 10,
        "answered_time": T0,
        "ended_time": T0 + 125,
        "end_reason": "Hang up by caller",
    }
    payload.update(fields)
    return {key: value for key, value in payload.items() if value is not None}


def csv_file(*lines: str, header: str = ENGLISH_HEADER, encoding: str = "utf-8-sig") -> bytes:
    return "\r\n".join([header, *lines]).encode(encoding)


def single_row(line: str) -> object:
    log = read_call_log(csv_file(line), "calls.csv")
    assert log.errors == []
    assert len(log.rows) == 1
    return log.rows[0]


def single_error(line: str) -> CallLogError:
    log = read_call_log(csv_file(line), "calls.csv")
    assert log.rows == []
    assert len(log.errors) == 1
    return log.errors[0]


# ---------------------------------------------------------------------------------------------------------
# Webhook: who is the hunter and who is the client


def test_outgoing_call_takes_hunter_from_caller_and_client_from_callee():
    row = parse_cdr(cdr())

    assert row.external_id == "cdr-1"
    assert row.direction == CallDirection.OUTGOING
    assert row.extension == "101"
    assert row.other_number == "+79123456789"
    assert row.duration_s == 125
    assert row.end_reason == "Hang up by caller"


def test_incoming_call_takes_hunter_from_callee_and_client_from_caller():
    row = parse_cdr(cdr(direction="in", caller="+79123456789", callee="sip:102@pbx.atlanset.ru"))

    assert row.direction == CallDirection.INCOMING
    assert row.extension == "102"
    assert row.other_number == "+79123456789"


def test_internal_call_keeps_both_extensions():
    row = parse_cdr(cdr(direction="ext", caller="sip:101@pbx", callee="sip:102@pbx"))

    assert row.direction == CallDirection.INTERNAL
    assert row.extension == "101"
    assert row.other_number == "102"


def test_incoming_call_forwarded_outside_counts_as_incoming_without_a_hunter():
    row = parse_cdr(cdr(direction="in2out", caller="sip:89123456789@pbx", callee="sip:+79227654321@pbx"))

    assert row.direction == CallDirection.INCOMING
    assert row.extension == ""
    assert row.other_number == "+79123456789"


def test_incoming_call_forwarded_to_an_extension_keeps_that_extension():
    row = parse_cdr(cdr(direction="in2out", caller="89123456789", callee="sip:1001@pbx"))

    assert row.direction == CallDirection.INCOMING
    assert row.extension == "1001"


def test_direction_is_case_insensitive():
    assert parse_cdr(cdr(direction=" OUT ")).direction == CallDirection.OUTGOING


@pytest.mark.parametrize(
    "caller",
    [
        "sip:101@pbx.atlanset.ru",
        '"Иван" <sip:101@pbx>',
        "Иван Иванов <sip:101@pbx.atlanset.ru;transport=tls>",
        "<sips:101@pbx.atlanset.ru:5061>",
        "SIP:101@PBX",
        "101",
        " 101 ",
    ],
)
def test_extension_is_read_from_any_sip_address_form(caller):
    assert parse_cdr(cdr(caller=caller)).extension == "101"


@pytest.mark.parametrize(
    "callee",
    [
        "sip:+79123456789@pbx.atlanset.ru;user=phone",
        '"Клиент" <sip:89123456789@pbx>',
        "<tel:+79123456789>",
        "+79123456789",
        "89123456789",
        "79123456789",
        "9123456789",
        "+7 (912) 345-67-89",
        "8 912 345-67-89",
    ],
)
def test_client_number_becomes_e164_from_any_form(callee):
    assert parse_cdr(cdr(callee=callee)).other_number == "+79123456789"


def test_foreign_numbers_are_normalised_too():
    assert parse_cdr(cdr(callee="sip:+375291234567@pbx")).other_number == "+375291234567"


@pytest.mark.parametrize(
    ("callee", "expected"),
    [
        ("sip:anonymous@pbx", ""),
        ("", ""),
        ("sip:0611@pbx", "0611"),  # a short service number stays as dialled
        ("112", "112"),
    ],
)
def test_other_party_that_is_not_a_phone_keeps_its_digits(callee, expected):
    assert parse_cdr(cdr(callee=callee)).other_number == expected


def test_caller_that_is_not_an_extension_gives_no_extension():
    assert parse_cdr(cdr(caller="sip:+79123456789@pbx")).extension == ""


@given(
    code=st.sampled_from("3489"),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    shape=st.sampled_from(["+7{}", "8{}", "7{}", "{}", "+7 ({}) {}-{}-{}", "8 {} {} {} {}"]),
)
def test_russian_numbers_match_normalize_phone_in_every_shape(code, rest, shape):
    national = code + rest
    if shape.count("{}") == 4:
        raw = shape.format(national[:3], national[3:6], national[6:8], national[8:])
    else:
        raw = shape.format(national)

    try:
        expected = normalize_phone(raw)
    except ValidationError:
        expected = "".join(char for char in raw if char.isdigit())  # not a phone: the digits as dialled

    assert parse_cdr(cdr(callee=raw)).other_number == expected


# ---------------------------------------------------------------------------------------------------------
# Webhook: times


def test_unanswered_call_has_no_talk_time():
    row = parse_cdr(cdr(answered_time=0, ended_time=T0 + 30))

    assert row.duration_s == 0


def test_unanswered_call_given_as_form_strings_has_no_talk_time():
    row = parse_cdr(cdr(start_time=None, answered_time="0", ended_time=str(T0 + 30)))

    assert row.duration_s == 0
    assert row.started_at == ELEVEN_YEKATERINBURG + timedelta(seconds=30)


def test_talk_time_is_never_negative():
    assert parse_cdr(cdr(answered_time=T0 + 2, ended_time=T0 + 1)).duration_s == 0


def test_numeric_strings_and_fractional_times_are_accepted():
    row = parse_cdr(cdr(answered_time=f"{T0}.4", ended_time=str(T0 + 125), start_time=float(T0)))

    assert row.duration_s == 125
    assert row.started_at == ELEVEN_YEKATERINBURG


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({"start_time": T0 - 10, "answered_time": T0, "ended_time": T0 + 60}, T0 - 10),
        ({"start_time": None, "answered_time": T0, "ended_time": T0 + 60}, T0),
        ({"start_time": 0, "answered_time": T0, "ended_time": T0 + 60}, T0),
        ({"start_time": None, "answered_time": 0, "ended_time": T0 + 60}, T0 + 60),
    ],
    ids=["start_time", "answered_time", "zero_start_time", "ended_time"],
)
def test_call_starts_at_start_time_else_answer_else_end(times, expected):
    row = parse_cdr(cdr(**times))

    assert row.started_at.tzinfo is not None
    assert row.started_at.utcoffset() is not None
    assert row.started_at.timestamp() == expected


def test_webhook_time_is_the_same_instant_as_yekaterinburg_wall_clock():
    row = parse_cdr(cdr(start_time=None))

    assert row.started_at == datetime.fromisoformat("2026-03-03T11:00:00+05:00")


def test_form_encoded_cdr_is_read_like_json():
    form = QueryDict(mutable=True)
    form.update(
        {
            "cdr_id": "77",
            "direction": "in",
            "caller": "89123456789",
            "callee": "sip:101@pbx",
            "answered_time": str(T0),
            "ended_time": str(T0 + 5),
        }
    )

    row = parse_cdr(form)

    assert row.external_id == "77"
    assert (row.extension, row.other_number, row.duration_s) == ("101", "+79123456789", 5)


def test_recording_link_comes_from_recording_url_or_recording_file():
    assert parse_cdr(cdr(recording_url="https://pbx/rec/1.wav")).recording_url == "https://pbx/rec/1.wav"
    assert parse_cdr(cdr(recording_file="https://pbx/rec/2.wav")).recording_url == "https://pbx/rec/2.wav"
    assert parse_cdr(cdr()).recording_url == ""


def test_recording_link_too_long_to_store_is_dropped_but_the_call_is_kept():
    row = parse_cdr(cdr(recording_url="https://pbx/" + "x" * 600))

    assert row.recording_url == ""
    assert row.duration_s == 125


# ---------------------------------------------------------------------------------------------------------
# Webhook: errors


@pytest.mark.parametrize("cdr_id", [None, "", "   "])
def test_cdr_without_id_is_refused(cdr_id):
    with pytest.raises(CdrError, match="нет ID звонка"):
        parse_cdr(cdr(cdr_id=cdr_id))


def test_cdr_with_unknown_direction_is_refused():
    with pytest.raises(CdrError, match="Неизвестное направление звонка «sideways»"):
        parse_cdr(cdr(direction="sideways"))


def test_cdr_without_direction_is_refused():
    with pytest.raises(CdrError, match="Неизвестное направление"):
        parse_cdr(cdr(direction=None))


@pytest.mark.parametrize("ended_time", [None, "", 0, "0"])
def test_cdr_without_end_time_is_refused(ended_time):
    with pytest.raises(CdrError, match="нет времени окончания звонка"):
        parse_cdr(cdr(ended_time=ended_time))


@pytest.mark.parametrize("ended_time", ["завтра", "12:00", -5, True, "nan", 10**20])
def test_cdr_with_invalid_end_time_is_refused(ended_time):
    with pytest.raises(CdrError, match=r"ended_time «.*» — не время Unix"):
        parse_cdr(cdr(ended_time=ended_time))


def test_cdr_error_is_a_value_error():
    assert issubclass(CdrError, ValueError)


# ---------------------------------------------------------------------------------------------------------
# CSV: reading files


def test_utf8_csv_with_semicolons_is_read():
    data = csv_file(
        "c-1;2026-03-03T11:00:00;101;8 912 345-67-89;outgoing;125;https://pbx/rec/c-1.wav",
        "c-2;2026-03-03T11:05:00;102;+79227654321;incoming;0;",
    )

    log = read_call_log(data, "calls.csv")

    assert log.errors == []
    first, second = log.rows
    assert first.external_id == "c-1"
    assert first.started_at == ELEVEN_YEKATERINBURG
    assert first.direction == CallDirection.OUTGOING
    assert first.extension == "101"
    assert first.other_number == "+79123456789"
    assert first.duration_s == 125
    assert first.recording_url == "https://pbx/rec/c-1.wav"
    assert first.end_reason == ""
    assert (second.direction, second.extension, second.duration_s, second.recording_url) == (
        CallDirection.INCOMING,
        "102",
        0,
        "",
    )


def test_cp1251_csv_with_russian_headers_is_read():
    data = csv_file(
        "c-1;03.03.2026 11:00;101;89123456789;Исходящий;00:02:05",
        header="ID звонка;Начало;Внутренний номер;Номер;НАПРАВЛЕНИЕ;Длительность",
        encoding="cp1251",
    )

    log = read_call_log(data, "журнал.csv")

    assert log.errors == []
    [row] = log.rows
    assert row.started_at == ELEVEN_YEKATERINBURG
    assert row.direction == CallDirection.OUTGOING
    assert row.duration_s == 125
    assert row.recording_url == ""


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_comma_and_tab_delimiters_are_recognised(delimiter):
    header = ENGLISH_HEADER.replace(";", delimiter)
    line = delimiter.join(["c-1", "2026-03-03T11:00:00", "101", "89123456789", "out", "125", ""])

    log = read_call_log(csv_file(line, header=header), "calls.txt")

    assert log.errors == []
    assert log.rows[0].other_number == "+79123456789"


def test_headers_match_in_any_case_and_order_and_unknown_columns_are_ignored():
    data = csv_file(
        "оператор Иван;125;OUT;c-1;101;2026-03-03T11:00:00;89123456789",
        header="Комментарий;Duration_S;Direction;CALL_ID;Extension;Started_At;Other_Number",
    )

    [row] = read_call_log(data, "calls.csv").rows

    assert (row.external_id, row.duration_s, row.direction, row.extension) == (
        "c-1",
        125,
        CallDirection.OUTGOING,
        "101",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-03T11:00:00", ELEVEN_YEKATERINBURG),
        ("2026-03-03 11:00:00", ELEVEN_YEKATERINBURG),
        ("2026-03-03T11:00", ELEVEN_YEKATERINBURG),
        ("2026-03-03T11:00:00+05:00", ELEVEN_YEKATERINBURG),
        ("2026-03-03T11:00:00+03:00", ELEVEN_YEKATERINBURG + timedelta(hours=2)),
        ("2026-03-03T06:00:00Z", ELEVEN_YEKATERINBURG),
        ("03.03.2026 11:00", ELEVEN_YEKATERINBURG),
        ("03.03.2026 11:00:30", ELEVEN_YEKATERINBURG + timedelta(seconds=30)),
        ("3.3.2026 11:00", ELEVEN_YEKATERINBURG),
    ],
)
def test_start_times_without_offset_are_yekaterinburg_time(text, expected):
    row = single_row(f"c-1;{text};101;89123456789;outgoing;10")

    assert row.started_at.utcoffset() is not None
    assert row.started_at == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("125", 125), ("00:02:05", 125), ("2:05", 125), ("01:00:00", 3600), ("0", 0), ("", 0)],
)
def test_talk_time_is_read_as_seconds_or_clock_time(text, seconds):
    assert single_row(f"c-1;2026-03-03T11:00:00;101;89123456789;outgoing;{text}").duration_s == seconds


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("outgoing", CallDirection.OUTGOING),
        ("out", CallDirection.OUTGOING),
        ("исходящий", CallDirection.OUTGOING),
        ("Incoming", CallDirection.INCOMING),
        ("in", CallDirection.INCOMING),
        ("Входящий", CallDirection.INCOMING),
        ("internal", CallDirection.INTERNAL),
        ("EXT", CallDirection.INTERNAL),
        ("внутренний", CallDirection.INTERNAL),
    ],
)
def test_directions_are_recognised_in_english_short_and_russian(text, direction):
    assert single_row(f"c-1;2026-03-03T11:00:00;101;89123456789;{text};10").direction == direction


def test_extension_and_number_may_be_sip_addresses_and_number_may_be_absent():
    row = single_row("c-1;2026-03-03T11:00:00;sip:101@pbx;;internal;10")

    assert (row.extension, row.other_number) == ("101", "")


def test_missed_incoming_call_to_a_queue_may_have_no_extension():
    assert single_row("c-1;2026-03-03T11:00:00;;89123456789;incoming;").extension == ""


def test_empty_lines_are_skipped_but_counted_and_short_rows_are_padded():
    data = csv_file(
        "",
        "c-1;2026-03-03T11:00:00;101;89123456789;outgoing;10",
        ";;;;;;",
        "c-2;2026-03-03T11:00:00;101;89123456789;outgoing",
        "c-3;2026-03-03T11:00:00;101",
    )

    log = read_call_log(data, "calls.csv")

    assert [row.external_id for row in log.rows] == ["c-1", "c-2"]
    assert log.errors == [CallLogError(row_number=6, message="нет направления")]


# ---------------------------------------------------------------------------------------------------------
# CSV: rejected rows


def test_bad_rows_are_reported_with_their_row_numbers_and_good_rows_kept():
    data = csv_file(
        "c-1;2026-03-03T11:00:00;101;89123456789;outgoing;125",
        ";2026-03-03T11:00:00;101;89123456789;outgoing;125",
        "c-3;вчера;101;89123456789;outgoing;125",
        "c-4;2026-03-03T11:00:00;101;89123456789;sideways;125",
        "c-5;2026-03-03T11:00:00;101;89123456789;outgoing;две минуты",
        "c-6;2026-03-03T11:00:00;Иван;89123456789;outgoing;125",
        "c-7;;101;89123456789;;00:02:75",
        "c-8;2026-03-03T11:00:00;102;89123456789;incoming;5",
    )

    log = read_call_log(data, "calls.csv")

    assert [row.external_id for row in log.rows] == ["c-1", "c-8"]
    assert log.errors == [
        CallLogError(3, "нет ID звонка"),
        CallLogError(4, "не распознано время начала «вчера»"),
        CallLogError(5, "неизвестное направление «sideways»"),
        CallLogError(6, "длительность «две минуты» не число"),
        CallLogError(7, "внутренний номер «Иван» не распознан: нужно от 2 до 6 цифр"),
        CallLogError(8, "нет времени начала; нет направления; длительность «00:02:75» не число"),
    ]


@pytest.mark.parametrize("text", ["2026-03-03", "31.02.2026 11:00", "03.03.26 11:00", "2026-03-03T25:00:00"])
def test_impossible_or_dateless_start_times_are_rejected(text):
    error = single_error(f"c-1;{text};101;89123456789;outgoing;10")

    assert error.message == f"не распознано время начала «{text}»"


@pytest.mark.parametrize("text", ["-5", "1.5", "1:2:3:4", "12:", "٣"])
def test_durations_that_are_not_whole_seconds_are_rejected(text):
    assert single_error(f"c-1;2026-03-03T11:00:00;101;89123456789;outgoing;{text}").message == (
        f"длительность «{text}» не число"
    )


def test_repeated_call_id_is_rejected_on_the_later_row():
    data = csv_file(
        "c-1;2026-03-03T11:00:00;101;89123456789;outgoing;10",
        "c-2;2026-03-03T11:01:00;101;89123456789;outgoing;10",
        "c-1;2026-03-03T11:02:00;101;89123456789;outgoing;99",
    )

    log = read_call_log(data, "calls.csv")

    assert [(row.external_id, row.duration_s) for row in log.rows] == [("c-1", 10), ("c-2", 10)]
    assert log.errors == [CallLogError(4, "повторяет строку 2")]


def test_call_id_of_a_rejected_row_may_come_back_corrected():
    data = csv_file(
        "c-1;вчера;101;89123456789;outgoing;10",
        "c-1;2026-03-03T11:00:00;101;89123456789;outgoing;10",
    )

    log = read_call_log(data, "calls.csv")

    assert [row.external_id for row in log.rows] == ["c-1"]
    assert [error.row_number for error in log.errors] == [2]


def test_call_id_too_long_to_store_is_rejected():
    error = single_error(f"{'x' * 101};2026-03-03T11:00:00;101;89123456789;outgoing;10")

    assert error.message == "ID звонка длиннее 100 символов"


# ---------------------------------------------------------------------------------------------------------
# CSV: unusable files


def test_missing_required_columns_are_named():
    data = csv_file("c-1;101;89123456789;10", header="ID звонка;extension;номер;duration_s")

    with pytest.raises(CallLogFileError) as caught:
        read_call_log(data, "calls.csv")

    assert caught.value.code == "missing_columns"
    assert caught.value.messages == [
        "В файле нет обязательных столбцов: started_at (начало), direction (направление)"
    ]


def test_table_without_any_known_column_is_refused():
    with pytest.raises(CallLogFileError, match="call_id \\(ID звонка\\)"):
        read_call_log("Имя;Телефон\r\nИван;89123456789\r\n".encode(), "leads.csv")


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "calls.csv", "empty_file"),
        (b"\xef\xbb\xbf \r\n", "calls.csv", "empty_file"),
        (b"%PDF-1.7 binary", "calls.csv", "not_csv"),
        (b"PK\x03\x04 zipped workbook", "calls.csv", "excel_file"),
        (ENGLISH_HEADER.encode(), "calls.xlsx", "excel_file"),
        (b"call_id;\x00\x01\x02", "calls.csv", "not_csv"),
    ],
    ids=["empty", "only_bom_and_blanks", "pdf", "xlsx_content", "xlsx_name", "binary"],
)
def test_files_that_are_not_csv_tables_are_refused(data, filename, code):
    with pytest.raises(CallLogFileError) as caught:
        read_call_log(data, filename)

    assert caught.value.code == code


def test_file_over_twenty_megabytes_is_refused():
    assert MAX_FILE_SIZE == 20 * 1024 * 1024
    data = csv_file("c-1;2026-03-03T11:00:00;101;89123456789;outgoing;10")
    data += b" " * (MAX_FILE_SIZE + 1 - len(data))

    with pytest.raises(CallLogFileError, match="больше 20 МБ") as caught:
        read_call_log(data, "calls.csv")

    assert caught.value.code == "file_too_large"


def test_file_error_is_a_django_validation_error():
    assert issubclass(CallLogFileError, ValidationError)


def test_csv_columns_describe_every_column_in_russian_in_export_order():
    assert [column for column, _ in CSV_COLUMNS] == [
        "call_id",
        "started_at",
        "extension",
        "other_number",
        "direction",
        "duration_s",
        "recording_url",
    ]
    descriptions = [str(description) for _, description in CSV_COLUMNS]
    assert descriptions[0].startswith("ID звонка")
    assert all(any("а" <= char <= "я" for char in description) for description in descriptions)


# ---------------------------------------------------------------------------------------------------------
# CSV: speed


def log_line(i: int) -> str:
    """Row i of a realistic log: both time formats, both duration formats, different number shapes."""
    minute = i % 60
    started_at = f"2026-03-03T11:{minute:02d}:00" if i % 2 else f"03.03.2026 11:{minute:02d}"
    other_number = f"8912{i:07d}" if i % 3 else f"+7 922 {i:07d}"
    direction = ("outgoing", "incoming", "исходящий")[i % 3]
    duration = "00:02:05" if i % 2 else str(i % 600)
    return (
        f"call-{i};{started_at};{100 + i % 40};{other_number};{direction};{duration};https://pbx/rec/{i}.wav"
    )


def test_hundred_thousand_row_log_is_parsed_in_seconds():
    count = 100_000
    data = csv_file(*(log_line(i) for i in range(count)))

    started = time.perf_counter()
    log = read_call_log(data, "calls.csv")
    elapsed = time.perf_counter() - started

    print(f"\n{count} rows ({len(data) / 1024 / 1024:.1f} MB) parsed in {elapsed:.2f} s")
    assert log.errors == []
    assert len(log.rows) == count
    assert log.rows[-1].other_number == "+79220099999"  # 99 999 is divisible by 3: the "+7 922" shape
    assert log.rows[-2].other_number == "+79120099998"
    assert elapsed < 15
