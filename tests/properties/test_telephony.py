"""Issue 8 "Bad input": PBX call logs (CSV upload) and CDRs (the webhook), whatever the PBX or a person sends.

read_call_log gives good rows plus Russian reasons for the bad ones, or refuses the file in Russian;
parse_cdr gives a call or a CdrError in Russian; every call they return can be stored as it is; the
import page and the webhook never answer 500 and store exactly the calls they report.
"""

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from imports.models import ImportJob
from kpi.models import Activity, CallDirection, CallRecord
from kpi.services import call_records_import
from kpi.telephony import CallLogFileError, CallRow, CdrError, parse_cdr, read_call_log
from tests.properties.support import (
    assert_clear_russian,
    assert_errors_shown,
    datetime_text,
    digits,
    file_name,
    mostly,
    nasty_text,
    page_text,
    phone_text,
    production_problems,
    rolled_back,
    row_counts,
    valid_phone,
)

# Examples per property (hypothesis max_examples).
CALL_LOG_EXAMPLES = 100
CDR_EXAMPLES = 100
CALL_IMPORT_SERVICE_EXAMPLES = 40
CALL_IMPORT_PAGE_EXAMPLES = 30
WEBHOOK_EXAMPLES = 60

DB_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
CALL_TABLES = (CallRecord, Activity)
TOKEN = "pbx-secret"

ENGLISH_HEADER = [
    "call_id",
    "started_at",
    "extension",
    "other_number",
    "direction",
    "duration_s",
    "recording_url",
]
RUSSIAN_HEADER = ["ID звонка", "Начало", "Внутренний номер", "Номер", "Направление", "Длительность", "Запись"]


def record_of(row: CallRow) -> CallRecord:
    return CallRecord(**{name: getattr(row, name) for name in CallRow.__slots__})


# 23:59:59 on 31.12.9999 in Yekaterinburg: the portal takes every call's local date (KPI months).
LAST_STORABLE_MOMENT = datetime(9999, 12, 31, 18, 59, 59, tzinfo=UTC)


def assert_storable(row: CallRow) -> None:
    """What the parser promises: every row it returns can be saved as it is (kpi/telephony.py)."""
    assert row.external_id.strip() == row.external_id and row.external_id
    assert row.direction in CallDirection.values
    assert row.started_at.tzinfo is not None
    assert row.extension == "" or re.fullmatch(r"[0-9]{2,6}", row.extension)
    assert row.duration_s >= 0
    assert production_problems(record_of(row)) == []
    assert row.started_at.astimezone(UTC) <= LAST_STORABLE_MOMENT  # its local date exists


# --- strategies ------------------------------------------------------------------------------------------

extension_text = st.one_of(
    st.sampled_from(
        ["101", "102", "5555", "", "sip:101@pbx", '"Иван" <sip:101@pbx;user=phone>', "1", "1234567"]
    ),
    digits,
    nasty_text,
)
other_text = st.one_of(
    phone_text,
    phone_text.map(lambda phone: f"sip:{phone}@pbx.atlanset.ru"),
    st.sampled_from(["anonymous", "Unknown", "", "100"]),
    digits,
)
direction_text = st.one_of(
    st.sampled_from(["out", "in", "ext", "in2out", "outgoing", "Исходящий", "ВХОДЯЩИЙ", "внутренний"]),
    nasty_text,
)
duration_text = st.one_of(
    st.integers(min_value=0, max_value=7200).map(str),
    st.from_regex(r"\A[0-9]{1,3}:[0-9]{1,2}(:[0-9]{1,2})?\Z"),
    st.sampled_from(["", "0", "00:02:05", "2:05", "1:60", "::", "-5", "1.5", "１２"]),
    nasty_text,
)
started_text = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda m: m.isoformat()),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda m: m.strftime("%d.%m.%Y %H:%M")
    ),
    st.sampled_from(["2026-03-03T11:00:00+05:00", "2026-03-03 11:00", "03.03.2026 11:00:00", "2026-03-03"]),
    datetime_text,
)
call_id = st.one_of(st.integers(1, 10**6).map(lambda n: f"call-{n}"), st.just("call-1"), nasty_text)


@st.composite
def log_rows(draw) -> list[list[str]]:
    row = [
        draw(call_id),
        draw(started_text),
        draw(extension_text),
        draw(other_text),
        draw(direction_text),
        draw(duration_text),
        draw(st.one_of(st.just(""), st.just("https://pbx/rec/1.wav"), nasty_text)),
    ]
    return row[: draw(st.integers(min_value=3, max_value=len(row)))]


header = st.one_of(
    st.just(ENGLISH_HEADER),
    st.just(RUSSIAN_HEADER),
    st.permutations(ENGLISH_HEADER).map(list),
    st.lists(st.one_of(st.sampled_from(ENGLISH_HEADER + RUSSIAN_HEADER), nasty_text), max_size=9),
)


def log_bytes(head: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([head, *rows])
    return buffer.getvalue().encode(encoding, errors="replace")


call_log_file = st.builds(
    log_bytes,
    header,
    st.lists(log_rows(), max_size=8),
    st.sampled_from([";", ",", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "utf-16"]),
)
good_row = st.tuples(
    st.integers(1, 10**6).map(lambda n: f"call-{n}"),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S")
    ),
    st.sampled_from(["101", "102", "5555"]),
    valid_phone,
    st.sampled_from(["out", "in", "ext", "исходящий"]),
    st.integers(0, 7200).map(str),
    st.sampled_from(["", "https://pbx/rec/1.wav"]),
).map(list)
good_log_file = st.builds(
    log_bytes,
    st.just(ENGLISH_HEADER),
    st.lists(good_row, min_size=1, max_size=5, unique_by=lambda row: row[0]),
    st.just(";"),
    st.sampled_from(["utf-8", "cp1251"]),
)
log_file = st.one_of(
    good_log_file,
    call_log_file,
    call_log_file.flatmap(lambda data: st.integers(0, max(len(data) - 1, 0)).map(lambda cut: data[:cut])),
    st.binary(max_size=1000),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b"PK\x03\x04", b"%PDF", b"\xef\xbb\xbf"]),
        st.binary(),
    ),
)
log_name = st.one_of(
    st.sampled_from(["calls.csv", "calls.txt", "calls.xlsx", "calls.xls", "calls"]), file_name
)


# --- the CSV call log (no database) -----------------------------------------------------------------------


@settings(max_examples=CALL_LOG_EXAMPLES, deadline=None)
@given(data=log_file, filename=log_name)
def test_any_call_log_gives_storable_calls_and_russian_reasons_or_a_russian_refusal(data, filename):
    try:
        log = read_call_log(data, filename)
    except CallLogFileError as error:
        for message in error.messages:
            assert_clear_russian(message)
        return
    ids = [row.external_id for row in log.rows]
    assert len(ids) == len(set(ids)), "a repeated call id was let through"
    for row in log.rows:
        assert_storable(row)
    for error in log.errors:
        assert error.row_number >= 2
        assert_clear_russian(error.message, echoed=re.findall(r"«(.*?)»", error.message))


# --- the webhook's CDR (no database) ----------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=6,
)
unix_time = st.one_of(
    st.integers(min_value=946_684_800, max_value=4_102_444_800),  # 2000..2100
    st.integers(min_value=-(10**12), max_value=10**13),
    st.integers(min_value=946_684_800, max_value=4_102_444_800).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "0", 0, None, "1772517600.25", "завтра", True]),
)
VALID_CDR = {
    "cdr_id": "cdr-1",
    "direction": "out",
    "caller": "sip:101@pbx.atlanset.ru",
    "callee": "sip:89123456789@pbx.atlanset.ru",
    "start_time": 1_772_517_590,
    "answered_time": 1_772_517_600,
    "ended_time": 1_772_517_725,
    "end_reason": "BYE",
    "recording_url": "https://pbx/rec/cdr-1.wav",
}
CDR_FIELDS = {
    "cdr_id": st.one_of(call_id, json_value),
    "direction": st.one_of(direction_text, json_value),
    "caller": st.one_of(extension_text, other_text, json_value),
    "callee": st.one_of(extension_text, other_text, json_value),
    "start_time": unix_time,
    "answered_time": unix_time,
    "ended_time": unix_time,
    "end_reason": st.one_of(nasty_text, json_value),
    "recording_url": st.one_of(nasty_text, json_value),
    "recording_file": st.one_of(nasty_text, json_value),
}


@st.composite
def cdr_payload(draw) -> dict:
    how = draw(st.sampled_from(["one broken", "some broken", "noise"]))
    if how == "noise":
        return draw(
            st.dictionaries(
                st.one_of(st.sampled_from(sorted(CDR_FIELDS)), nasty_text), json_value, max_size=6
            )
        )
    fields = draw(
        st.sets(st.sampled_from(sorted(CDR_FIELDS)), min_size=1, max_size=1 if how == "one broken" else 5)
    )
    payload = dict(VALID_CDR)
    for name in fields:
        if draw(st.booleans()) or name not in payload:
            payload[name] = draw(CDR_FIELDS[name])
        else:
            del payload[name]
    return payload


def echoes(payload: dict) -> list[str]:
    return [str(value) for value in payload.values()] + [str(key) for key in payload]


@settings(max_examples=CDR_EXAMPLES, deadline=None)
@given(payload=cdr_payload())
@example(payload={**VALID_CDR, "ended_time": 10**20})
@example(payload={**VALID_CDR, "direction": ["out"]})
def test_any_cdr_gives_a_storable_call_or_a_russian_refusal(payload):
    try:
        row = parse_cdr(payload)
    except CdrError as error:
        assert_clear_russian(error, echoed=echoes(payload))
        return
    assert_storable(row)


# --- storing calls -----------------------------------------------------------------------------------------


@pytest.fixture
def hunter_101(hunter):
    assert hunter.extension == "101"
    return hunter


@pytest.mark.django_db
@settings(max_examples=CALL_IMPORT_SERVICE_EXAMPLES, **DB_SETTINGS)
@given(rows=st.lists(mostly(good_row, log_rows(), good_share=1), max_size=6))
def test_imported_calls_are_stored_as_parsed_and_a_repeat_import_adds_nothing(hunter_101, rows):
    # Cells without control characters, so that the file as a whole is always read.
    rows = [[re.sub(r"[\x00-\x1f\x7f]", "", value) for value in row] for row in rows]
    log = read_call_log(log_bytes(ENGLISH_HEADER, rows, ";", "utf-8"), "calls.csv")
    with rolled_back():
        before = row_counts(*CALL_TABLES)
        result = call_records_import(rows=log.rows)
        event("calls stored" if result.created else "no good row to store")

        after = row_counts(*CALL_TABLES)
        assert result.created == len(log.rows) == after["kpi.CallRecord"] - before["kpi.CallRecord"]
        matched = [row for row in log.rows if row.extension == "101"]
        assert after["kpi.Activity"] - before["kpi.Activity"] == len(matched)
        for row in log.rows:
            stored = CallRecord.objects.get(external_id=row.external_id)
            assert (stored.started_at, stored.direction, stored.extension, stored.other_number) == (
                row.started_at,
                row.direction,
                row.extension,
                row.other_number,
            )
            assert stored.duration_s == row.duration_s and stored.recording_url == row.recording_url
            assert (stored.hunter_id == hunter_101.pk) == (row.extension == "101")

        again = call_records_import(rows=log.rows)
        assert again.created == 0 and again.already_imported == len(log.rows)
        assert row_counts(*CALL_TABLES) == after


def post_call_log(client, capture, data: bytes, filename: str = "calls.csv"):
    """The upload page; its import runs as the task the upload queues (eagerly, when it commits)."""
    with capture(execute=True):
        response = client.post(reverse("kpi:call_import"), {"file": SimpleUploadedFile(filename, data)})
    if response.status_code != 302:
        return response, None
    return client.get(response["Location"]), ImportJob.objects.get(
        pk=int(response["Location"].split("/")[-2])
    )


@pytest.mark.django_db
@settings(max_examples=CALL_IMPORT_PAGE_EXAMPLES, **DB_SETTINGS)
@given(data=mostly(good_log_file, log_file, good_share=2), filename=mostly(st.just("calls.csv"), log_name))
def test_call_import_page_stores_the_good_rows_lists_the_bad_ones_or_refuses_the_file(
    client, sales_head, hunter_101, data, filename, django_capture_on_commit_callbacks
):
    client.force_login(sales_head)
    with rolled_back():
        before = row_counts(*CALL_TABLES)
        response, job = post_call_log(client, django_capture_on_commit_callbacks, data, filename)

        assert response.status_code in (200, 400)
        if response.status_code == 400:
            event("file refused")
            assert_errors_shown(response, response.context["form"], echoed=[filename])
            assert row_counts(*CALL_TABLES) == before
            return
        assert job.status == ImportJob.Status.DONE, job.error
        result = job.result
        event("calls stored" if result["created"] else "read, nothing stored")
        assert row_counts(*CALL_TABLES)["kpi.CallRecord"] - before["kpi.CallRecord"] == result["created"]
        text = page_text(response)
        assert f"Загружено звонков: {result['created']}" in text
        for error in result["errors"]:
            assert f"Строка {error['row']}:" in text


# Rows no database column could hold, once accepted by the parsers: each is a rejected row now.

HEADER_LINE = ";".join(ENGLISH_HEADER[:6])


@pytest.mark.django_db
def test_a_talk_time_too_long_for_the_column_is_a_rejected_row_not_a_500(
    client, sales_head, hunter_101, django_capture_on_commit_callbacks
):
    data = f"{HEADER_LINE}\nc-1;2026-03-03T11:00:00;101;89123456789;out;99999999999999999999999\n".encode()
    client.force_login(sales_head)
    response, job = post_call_log(client, django_capture_on_commit_callbacks, data)
    assert response.status_code == 200
    assert CallRecord.objects.count() == 0
    [error] = job.result["errors"]
    assert_clear_russian(error["message"], echoed=["99999999999999999999999"])


@pytest.mark.parametrize(
    "parse",
    [
        lambda: (
            read_call_log(
                f"{HEADER_LINE}\nc-1;2026-03-03T11:00:00;101;89123456789;out;3000000000\n".encode(), "c.csv"
            ).rows
        ),
        lambda: [parse_cdr({**VALID_CDR, "answered_time": 1, "ended_time": 253_402_300_799})],
    ],
    ids=["call log", "cdr"],
)
def test_a_talk_time_beyond_the_integer_column_is_refused(parse):
    try:
        rows = parse()
    except CdrError:
        return
    assert all(row.duration_s <= 2_147_483_647 for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "started", ["0001-01-01T03:00:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_a_start_time_no_database_can_hold_is_a_rejected_row_not_a_500(
    client, sales_head, hunter_101, started, django_capture_on_commit_callbacks
):
    data = f"{HEADER_LINE}\nc-1;{started};101;89123456789;out;5\n".encode()
    client.force_login(sales_head)
    response, job = post_call_log(client, django_capture_on_commit_callbacks, data)
    assert response.status_code == 200
    assert CallRecord.objects.count() == 0 and job.result["error_count"] == 1


# --- the webhook --------------------------------------------------------------------------------------------


def post_cdr(client, body, content_type: str, token: str | None):
    headers = {} if token is None else {"X-Portal-Token": token}
    return client.post(reverse("kpi:telephony_cdr"), body, content_type=content_type, headers=headers)


form_body = st.dictionaries(
    st.sampled_from(sorted(CDR_FIELDS)), st.one_of(nasty_text, unix_time.map(str)), max_size=9
).map(lambda fields: {**{k: str(v) for k, v in VALID_CDR.items()}, **fields})


@pytest.mark.django_db
@settings(max_examples=WEBHOOK_EXAMPLES, **DB_SETTINGS)
@given(
    sent=st.one_of(
        st.tuples(cdr_payload(), st.just("application/json")),
        st.tuples(json_value, st.just("application/json")),
        st.tuples(form_body, st.just(MULTIPART_CONTENT)),
        st.tuples(
            st.binary(max_size=300), st.sampled_from(["application/x-www-form-urlencoded", "text/plain"])
        ),
    ),
    token=st.one_of(
        st.just(TOKEN), st.just(TOKEN), st.none(), st.text(st.characters(codec="latin-1"), max_size=20)
    ),
)
def test_webhook_stores_one_call_or_refuses_in_russian_and_never_answers_500(
    client, settings, hunter_101, sent, token
):
    settings.TELEPHONY_WEBHOOK_TOKEN = TOKEN
    payload, content_type = sent
    body = json.dumps(payload) if content_type == "application/json" else payload
    with rolled_back():
        before = row_counts(*CALL_TABLES)
        response = post_cdr(client, body, content_type, token)
        answer = response.json()

        written = row_counts(*CALL_TABLES)["kpi.CallRecord"] - before["kpi.CallRecord"]
        if token != TOKEN:
            event("forbidden")
            assert response.status_code == 403 and written == 0
        elif response.status_code == 200:
            event("stored")
            assert answer["status"] in ("ok", "duplicate")
            assert written == (1 if answer["status"] == "ok" else 0)
            assert production_problems(CallRecord.objects.order_by("-pk").first()) == []
        else:
            event("refused")
            assert response.status_code == 400 and written == 0
            echoed = echoes(payload) if isinstance(payload, dict) else [str(payload)]
            assert_clear_russian(answer["error"], echoed=echoed)


@pytest.mark.django_db
def test_webhook_refuses_a_cdr_time_past_the_calendar_instead_of_a_500(client, settings, hunter_101):
    settings.TELEPHONY_WEBHOOK_TOKEN = TOKEN
    payload = {**VALID_CDR, "start_time": 0, "answered_time": 0, "ended_time": 253_402_300_799}
    response = post_cdr(client, json.dumps(payload), "application/json", TOKEN)
    assert response.status_code == 400
    assert_clear_russian(response.json()["error"])


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["cdr_id", "end_reason", "recording_url"])
def test_webhook_refuses_or_cleans_nul_characters(client, settings, hunter_101, field):
    settings.TELEPHONY_WEBHOOK_TOKEN = TOKEN
    payload = {**VALID_CDR, field: "cdr\x00-1"}
    response = post_cdr(client, json.dumps(payload), "application/json", TOKEN)
    if response.status_code == 400:
        assert_clear_russian(response.json()["error"], echoed=["cdr\x00-1"])
    else:
        assert production_problems(CallRecord.objects.get()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"cdr_id=1"])
def test_webhook_refuses_a_body_that_is_not_json_in_russian(client, settings, body):
    settings.TELEPHONY_WEBHOOK_TOKEN = TOKEN
    response = post_cdr(client, body, "application/json", TOKEN)
    assert response.status_code == 400
    assert_clear_russian(response.json()["error"])
