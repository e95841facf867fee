"""Issue 8 "Bad input": lead lists (2GIS / Yandex Maps CSV and XLSX) whatever the rep uploads.

read_table either gives a table or refuses the file in Russian; parse_leads turns any table into clean
leads (E.164 phones) and rejected rows with Russian reasons; the import saves every new lead or none,
with the values as parsed; the upload page never answers 500.
"""

import csv
import io
import json
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from deals.lead_import import (
    ColumnMapping,
    LeadImportError,
    ParsedLeads,
    Table,
    detect_mapping,
    parse_leads,
    read_table,
)
from deals.models import Client, ClientPhone
from deals.services import leads_import, leads_plan
from imports.models import ImportJob
from tests.deals.factories import make_client
from tests.properties.support import (
    assert_clear_russian,
    assert_errors_shown,
    file_name,
    mostly,
    nasty_text,
    page_text,
    phone_is_stable,
    phone_text,
    production_problems,
    rolled_back,
    row_counts,
    valid_phone,
    words,
)

# Examples per property (hypothesis max_examples).
READ_TABLE_EXAMPLES = 100
PARSE_LEADS_EXAMPLES = 80
IMPORT_SERVICE_EXAMPLES = 50
UPLOAD_PAGE_EXAMPLES = 40
MAPPING_STEP_EXAMPLES = 15

DB_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}

TWO_GIS_HEADERS = ["Наименование", "Рубрики", "Адрес", "Город", "Телефон 1", "Телефон 2", "E-mail 1", "Сайт"]
LEAD_TABLES = (Client, ClientPhone)

# --- strategies ------------------------------------------------------------------------------------------

cell = st.one_of(nasty_text, phone_text, st.sampled_from(["ООО «Ромашка»", "ул. Ленина, 1", "Сургут"]))
email_cell = st.one_of(
    st.emails().map(str),
    st.builds(lambda user: f"{user}@example.ru", st.from_regex(r"\A[a-z]{1,300}\Z")),
    nasty_text,
)
two_gis_row = st.tuples(
    st.one_of(st.just("ООО «Ромашка»"), cell),
    st.one_of(st.just("Клининг; Уборка"), cell),
    st.one_of(st.just("ул. Ленина, 1"), cell),
    st.one_of(st.just("Сургут"), cell),
    phone_text,
    st.one_of(st.just(""), phone_text),
    st.one_of(st.just(""), email_cell),
    st.one_of(st.just(""), cell),
).map(list)
headers = st.one_of(
    st.just(TWO_GIS_HEADERS),
    st.permutations(TWO_GIS_HEADERS).map(list),
    st.lists(st.one_of(st.sampled_from(TWO_GIS_HEADERS), nasty_text), min_size=0, max_size=10),
)
rows = st.lists(st.one_of(two_gis_row, st.lists(cell, max_size=12)), max_size=12)


def csv_bytes(table_rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(table_rows)
    return buffer.getvalue().encode(encoding, errors="replace")


def xlsx_bytes(table_rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in table_rows:
        sheet.append(
            [ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value for value in row]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


csv_file = st.builds(
    lambda head, body, delimiter, encoding: csv_bytes([head, *body], delimiter, encoding),
    headers,
    rows,
    st.sampled_from([";", ",", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "koi8-r", "utf-16", "latin-1"]),
)
xlsx_cell = st.one_of(
    cell,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.datetimes(),
    st.dates(),
)
xlsx_file = st.builds(
    lambda head, body: xlsx_bytes([head, *body]),
    headers,
    st.lists(st.lists(xlsx_cell, max_size=10), max_size=8),
)


@st.composite
def damaged(draw, files: st.SearchStrategy[bytes]) -> bytes:
    """A real file cut short, with a byte changed, or with junk after it."""
    data = draw(files)
    how = draw(st.sampled_from(["cut", "flip", "append"]))
    if how == "cut":
        return data[: draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))]
    if how == "flip" and data:
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return data + draw(st.binary(min_size=1, max_size=200))


signatures = st.sampled_from(
    [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF", b"\x89PNG", b"\xef\xbb\xbf", b""]
)
good_lead = st.tuples(
    words,
    st.sampled_from(["Кафе; Рестораны", "Автосервис", ""]),
    words,
    st.sampled_from(["Сургут", "Нижневартовск", ""]),
    valid_phone,
    st.one_of(st.just(""), valid_phone),
    st.one_of(st.just(""), st.emails().map(str)),
    st.sampled_from(["", "https://example.ru"]),
).map(list)
good_lead_file = st.builds(
    lambda body, as_xlsx, encoding: (
        xlsx_bytes([TWO_GIS_HEADERS, *body])
        if as_xlsx
        else csv_bytes([TWO_GIS_HEADERS, *body], ";", encoding)
    ),
    st.lists(good_lead, min_size=1, max_size=5),
    st.booleans(),
    st.sampled_from(["utf-8-sig", "cp1251"]),
)
lead_file = st.one_of(
    good_lead_file,
    csv_file,
    xlsx_file,
    damaged(csv_file),
    damaged(xlsx_file),
    st.binary(max_size=2000),
    st.builds(lambda head, tail: head + tail, signatures, st.binary(max_size=500)),
    nasty_text.map(lambda text: text.encode("utf-8")),
)


def table_strategy() -> st.SearchStrategy[Table]:
    @st.composite
    def build(draw) -> Table:
        head = draw(headers)
        width = max([len(head), 1])
        body = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=10))
        numbers = sorted(
            draw(st.lists(st.integers(2, 10**6), min_size=len(body), max_size=len(body), unique=True))
        )
        return Table(headers=list(head) + [""] * (width - len(head)), rows=body, row_numbers=numbers)

    return build()


def mapping_for(table: Table) -> st.SearchStrategy[ColumnMapping]:
    width = len(table.headers) + 2  # a hand-made mapping may point past the last column
    index = st.integers(min_value=0, max_value=width)
    detected = detect_mapping(table.headers)
    drawn = st.builds(
        ColumnMapping,
        name=st.none() | index,
        address=st.none() | index,
        city=st.none() | index,
        segment=st.none() | index,
        phones=st.lists(index, max_size=3),
        emails=st.lists(index, max_size=2),
        websites=st.lists(index, max_size=2),
    )
    return drawn if detected is None else st.one_of(st.just(detected), drawn)


# --- reading and parsing (no database) --------------------------------------------------------------------


@settings(max_examples=READ_TABLE_EXAMPLES, deadline=None)
@given(data=lead_file, filename=file_name)
@example(data=b"\xef\xbb\xbf", filename="leads.csv")
@example(data=b"PK\x03\x04" + b"\x00" * 30, filename="leads.csv")
@example(data="Наименование;Адрес\n".encode("utf-16"), filename="leads.csv")
def test_any_uploaded_file_is_read_into_a_table_or_refused_in_russian(data, filename):
    try:
        table = read_table(data, filename)
    except LeadImportError as error:
        assert error.messages
        for message in error.messages:
            assert_clear_russian(message)
        return
    assert table.headers, "a table always has its header row"
    assert len(table.row_numbers) == len(table.rows)
    assert all(0 < len(row) <= len(table.headers) and row[-1] for row in table.rows)  # never padded
    assert table.row_numbers == sorted(set(table.row_numbers)) and all(n >= 2 for n in table.row_numbers)
    assert all(isinstance(value, str) for row in [table.headers, *table.rows] for value in row)
    assert len(table.column_labels()) == len(table.headers)


@settings(max_examples=PARSE_LEADS_EXAMPLES, deadline=None)
@given(data=st.data(), table=table_strategy())
def test_any_table_splits_into_clean_leads_and_rows_rejected_with_russian_reasons(data, table):
    mapping = data.draw(mapping_for(table))

    parsed = parse_leads(table, mapping)

    assert len(parsed.valid) + len(parsed.rejected) == len(table.rows)
    assert sorted(row.row_number for row in [*parsed.valid, *parsed.rejected]) == table.row_numbers
    seen_phones: set[str] = set()
    for lead in parsed.valid:
        assert lead.name and lead.address and lead.phones
        assert all(phone_is_stable(phone) for phone in lead.phones)
        assert len(lead.email) <= Client._meta.get_field("email").max_length
        assert lead.name == " ".join(lead.name.split())
        assert not seen_phones & set(lead.phones), "a phone repeated within the file was let through"
        seen_phones.update(lead.phones)
    cells = [value for row in table.rows for value in row]
    for rejected in parsed.rejected:
        assert rejected.reasons
        for reason in rejected.reasons:
            assert_clear_russian(reason, echoed=cells)


# --- the importing service -----------------------------------------------------------------------------


def parsed_file(table_rows: list[list[str]]) -> ParsedLeads:
    """The rows as read_table hands them over: stripped cells, no NUL (a CSV with one is refused, XML
    cannot hold one), padded to the 2GIS header."""
    width = len(TWO_GIS_HEADERS)
    cells = [[value.replace("\x00", "").strip() for value in row][:width] for row in table_rows]
    table = Table(
        headers=TWO_GIS_HEADERS,
        rows=[row + [""] * (width - len(row)) for row in cells],
        row_numbers=list(range(2, len(cells) + 2)),
    )
    mapping = detect_mapping(table.headers)
    assert mapping is not None
    return parse_leads(table, mapping)


@pytest.fixture
def lead_in_base(hunter):
    return make_client(acting_user=hunter, name="Уже в базе", phones=["+79120000000"])


@pytest.mark.django_db
@settings(max_examples=IMPORT_SERVICE_EXAMPLES, **DB_SETTINGS)
@given(table_rows=st.lists(two_gis_row, max_size=6))
def test_lead_import_saves_every_new_lead_as_parsed_or_nothing(hunter, lead_in_base, table_rows):
    parsed = parsed_file([*table_rows, ["Дубль", "", "ул. Мира, 1", "Сургут", "8 912 000-00-00", "", "", ""]])
    with rolled_back():
        before = row_counts(*LEAD_TABLES)
        plan = leads_import(acting_user=hunter, parsed=parsed, source="2gis")

        assert not any(phone == "+79120000000" for row in plan.to_create for phone in row.phones)
        after = row_counts(*LEAD_TABLES)
        assert after["deals.Client"] - before["deals.Client"] == len(plan.to_create)
        assert after["deals.ClientPhone"] - before["deals.ClientPhone"] == sum(
            len(r.phones) for r in plan.to_create
        )
        for row in plan.to_create:
            client = Client.objects.get(name=row.name[:255], address=row.address[:500])
            assert client.owner == hunter and client.source == "2gis"
            assert list(client.phones.values_list("number", flat=True)) == row.phones
            assert client.email == row.email and client.segment == row.segment[:200]
            assert production_problems(client) == []
            assert all(production_problems(phone) == [] for phone in client.phones.all())


@pytest.mark.django_db
def test_lead_with_an_email_longer_than_the_column_is_refused_not_stored(hunter):
    long_email = "a" * 260 + "@example.ru"  # EmailValidator takes up to 320 characters
    parsed = parsed_file([["Кафе", "", "ул. Мира, 1", "Сургут", "8 912 345-67-89", "", long_email, ""]])

    plan = leads_import(acting_user=hunter, parsed=parsed, source="2gis")

    if plan.to_create:  # stored: then it must fit the column (or be cut, or left out, with a notice)
        assert production_problems(Client.objects.get(name="Кафе")) == []
    else:
        assert plan.rejected and all(reason.strip() for row in plan.rejected for reason in row.reasons)


@pytest.mark.django_db
def test_a_plan_is_only_read_never_written(hunter):
    parsed = parsed_file([["Кафе", "", "ул. Мира, 1", "Сургут", "8 912 345-67-89", "", "", ""]])
    before = row_counts(*LEAD_TABLES)
    assert len(leads_plan(parsed=parsed).to_create) == 1
    assert row_counts(*LEAD_TABLES) == before


# --- the upload page -------------------------------------------------------------------------------------


def hidden(html: str, name: str) -> str | None:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    return unescape(found.group(1)) if found else None


@pytest.mark.django_db
@settings(max_examples=UPLOAD_PAGE_EXAMPLES, **DB_SETTINGS)
@given(
    data=mostly(good_lead_file, lead_file, good_share=2),
    filename=mostly(st.sampled_from(["2gis.csv", "leads.xlsx", "Лиды.CSV"]), file_name),
    source=mostly(st.sampled_from(["2gis", "yandex_maps"]), nasty_text),
)
def test_upload_page_previews_or_refuses_any_file_and_confirmation_saves_all_or_nothing(
    client, hunter, data, filename, source, django_capture_on_commit_callbacks
):
    client.force_login(hunter)
    with rolled_back():
        before = row_counts(*LEAD_TABLES)
        upload = SimpleUploadedFile(filename, data)
        response = client.post(
            reverse("clients:import"), {"step": "upload", "source": source, "file": upload}
        )

        assert response.status_code in (200, 400)
        assert row_counts(*LEAD_TABLES) == before, "the upload step wrote to the database"
        if response.status_code == 400:
            event("file refused")
            assert_errors_shown(response, response.context["form"], echoed=[filename, source])
            return
        html = response.content.decode()
        token, mapping = hidden(html, "token"), hidden(html, "mapping")
        if "plan" not in response.context:  # unknown layout: the mapping step
            event("columns to map")
            assert token and "Какие столбцы что означают" in page_text(response)
            return
        plan = response.context["plan"]
        for row in plan.rejected:
            for reason in row.reasons:
                assert_clear_russian(reason, echoed=[row.name, *re.findall(r"«(.*)»", reason)])
        if not plan.to_create:
            event("nothing new to import")
            assert "В файле нет новых лидов для импорта" in page_text(response)
            return
        planned = len(plan.to_create)
        event("imported")
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(
                reverse("clients:import"), {"step": "confirm", "token": token, "mapping": mapping}
            )
        assert done.status_code == 302
        job = ImportJob.objects.get(upload=token)
        assert job.status == ImportJob.Status.DONE
        created = Client.objects.count() - before["deals.Client"]
        assert created == planned
        assert f"Импортировано клиентов: {planned}" in page_text(client.get(done["Location"]))
        for created_client in Client.objects.order_by("-pk")[:planned]:
            assert production_problems(created_client) == []


# What a tampered mapping step may post: column numbers of every shape, and anything else.
mapping_value = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["1.5", "1e1", "NaN", "-0", "٣", " 1", "0x1", "99999999999999999999"]),
    nasty_text,
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    nasty_text,
    st.sampled_from(list(TWO_GIS_HEADERS)),
)
json_mapping = st.one_of(
    st.dictionaries(
        st.one_of(
            st.sampled_from(["name", "address", "city", "segment", "phones", "emails", "websites"]),
            nasty_text,
        ),
        st.one_of(json_scalar, st.lists(json_scalar, max_size=4), st.lists(st.integers(-5, 60), max_size=4)),
        max_size=7,
    ),
    st.recursive(
        json_scalar,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    ),
)
confirm_mapping = st.one_of(
    st.just("previewed"),  # the mapping the preview wrote: the one confirmation that imports
    nasty_text,
    json_mapping.map(lambda value: json.dumps(value, allow_nan=True)),
    st.sampled_from(["[" * 50_000, '{"name": [NaN]}', '{"name": [Infinity], "phones": [1e400]}']),
)


@pytest.mark.django_db
@settings(max_examples=MAPPING_STEP_EXAMPLES, **DB_SETTINGS)
@given(
    choices=mostly(
        st.fixed_dictionaries(
            {
                "name": st.sampled_from(["0", "1"]),
                "address": st.sampled_from(["1", "0"]),
                "phones": st.lists(st.sampled_from(["2", "3"]), min_size=1, max_size=2),
            },
            optional={"emails": st.lists(st.sampled_from(["3", "2"]), max_size=1)},
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "name": mapping_value,
                "address": mapping_value,
                "city": mapping_value,
                "segment": mapping_value,
                "phones": st.lists(mapping_value, max_size=3),
                "emails": st.lists(mapping_value, max_size=3),
                "websites": st.lists(mapping_value, max_size=3),
            },
        ),
        good_share=1,
    ),
    confirmed_mapping=mostly(st.just("previewed"), confirm_mapping, good_share=1),
)
@example(choices={"name": "0", "address": "1", "phones": ["2"]}, confirmed_mapping="previewed")
@example(
    choices={"name": "0", "address": "1", "phones": ["2"]},
    confirmed_mapping=json.dumps({"name": [1.5], "address": [1], "phones": [2]}),
)
def test_mapping_and_confirmation_steps_answer_any_posted_mapping_in_russian_never_500(
    client, hunter, choices, confirmed_mapping, django_capture_on_commit_callbacks
):
    """Whatever the mapping step and the confirmation post, the page answers 200 or 400 in Russian (or sends
    a confirmation to its job's page), never 500; nothing is half-saved; only the previewed mapping
    imports."""
    client.force_login(hunter)
    data = "Компания;Где;Тел.;Почта\nКафе;Сургут, ул. Мира, 3;89225553311;a@b.ru\n".encode("utf-8-sig")
    with rolled_back():
        first = client.post(
            reverse("clients:import"),
            {"step": "upload", "source": "2gis", "file": SimpleUploadedFile("leads.csv", data)},
        )
        token = hidden(first.content.decode(), "token")
        before = row_counts(*LEAD_TABLES)

        mapped = client.post(reverse("clients:import"), {"step": "map", "token": token, **choices})
        assert mapped.status_code in (200, 400)
        assert row_counts(*LEAD_TABLES) == before
        if mapped.status_code == 400:
            event("mapping refused")
            assert_errors_shown(mapped, mapped.context["form"], echoed=[str(v) for v in choices.values()])
        previewed = hidden(mapped.content.decode(), "mapping")
        if confirmed_mapping == "previewed":
            confirmed_mapping = previewed or "{}"
        with django_capture_on_commit_callbacks(execute=True):
            confirmed = client.post(
                reverse("clients:import"), {"step": "confirm", "token": token, "mapping": confirmed_mapping}
            )
        assert confirmed.status_code in (302, 400)
        if confirmed.status_code == 302:
            event("imported")
            assert previewed is not None and json.loads(confirmed_mapping) == json.loads(previewed)
            job = ImportJob.objects.get(upload=token)
            assert job.status == ImportJob.Status.DONE
            assert Client.objects.count() - before["deals.Client"] == job.result["created"]
            return
        event("confirmation refused")
        message = confirmed.context["error"]
        assert_clear_russian(message)
        assert message in page_text(confirmed)
        assert "повреждено" in message or "не найден" in message
        assert row_counts(*LEAD_TABLES) == before
        assert not ImportJob.objects.filter(upload=token).exists()
