"""Unit tests for deals.lead_import: real CSV/XLSX files built in memory, no database."""

import csv
import io
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from deals.lead_import import (
    MAX_DATA_ROWS,
    MAX_FILE_SIZE,
    MAX_XLSX_UNPACKED_BYTES,
    TARGET_FIELDS,
    ColumnMapping,
    LeadImportError,
    Table,
    detect_mapping,
    parse_leads,
    read_table,
)

TWO_GIS_HEADERS = [
    "Наименование",
    "Рубрики",
    "Адрес",
    "Индекс",
    "Город",
    "Район",
    "Телефон 1",
    "Телефон 2",
    "E-mail 1",
    "E-mail 2",
    "Веб-сайт 1",
    "Часы работы",
]
# Row 2 of the file.
CAFE_ROW = [
    "Кафе «Уют»",
    "Кафе; Рестораны",
    "улица Ленина, 5",
    "628400",
    "Сургут",
    "Центральный",
    "8 (3462) 55-12-34; 8 912 345-67-89",
    "",
    "не почта",
    "uyut@example.ru; info@example.ru",
    "https://uyut.example.ru",
    "Пн-Вс 10:00-22:00",
]


def two_gis_row(name: str, address: str, phone: str, *, rubrics: str = "Автосервис") -> list[str]:
    return [name, rubrics, address, "", "Сургут", "", phone, "", "", "", "", ""]


def csv_bytes(rows: list[list[str]], *, encoding: str, delimiter: str = ";") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse(rows: list[list[str]]):
    table = read_table(csv_bytes(rows, encoding="utf-8-sig"), "leads.csv")
    mapping = detect_mapping(table.headers)
    assert mapping is not None
    return parse_leads(table, mapping)


def import_error_message(data: bytes, filename: str) -> str:
    with pytest.raises(LeadImportError) as caught:
        read_table(data, filename)
    [message] = caught.value.messages
    return message


# Reading files


def test_two_gis_csv_in_cp1251_with_semicolons_is_read_with_its_headers():
    data = csv_bytes([TWO_GIS_HEADERS, CAFE_ROW], encoding="cp1251")

    table = read_table(data, "2gis_surgut.csv")

    assert table.headers == TWO_GIS_HEADERS
    assert table.rows == [CAFE_ROW]
    assert table.row_numbers == [2]


def test_utf8_csv_with_bom_reads_the_same_as_cp1251():
    cp1251_table = read_table(csv_bytes([TWO_GIS_HEADERS, CAFE_ROW], encoding="cp1251"), "a.csv")
    utf8_table = read_table(csv_bytes([TWO_GIS_HEADERS, CAFE_ROW], encoding="utf-8-sig"), "b.csv")

    assert utf8_table == cp1251_table
    assert utf8_table.headers[0] == "Наименование"  # no BOM stuck to the first header


def test_comma_delimited_csv_is_sniffed():
    rows = [
        ["Название", "Категория", "Адрес", "Телефон"],
        ["Шиномонтаж", "Шины, диски", "ул. Мира, 1", "89123456789"],
    ]

    table = read_table(csv_bytes(rows, encoding="utf-8", delimiter=","), "yandex.csv")

    assert table.headers == rows[0]
    assert table.rows == [rows[1]]


def test_tab_delimited_text_file_is_sniffed():
    rows = [["Название", "Адрес", "Телефон"], ["Шиномонтаж", "ул. Мира, 1", "89123456789"]]

    table = read_table(csv_bytes(rows, encoding="utf-8", delimiter="\t"), "leads.txt")

    assert table.rows == [rows[1]]


def test_cells_are_stripped_and_short_rows_read_as_empty_past_their_end():
    data = "Название;Адрес;Телефон\r\n  Шиномонтаж  ;ул. Мира, 1\r\n".encode()

    table = read_table(data, "leads.csv")

    assert table.rows == [["Шиномонтаж", "ул. Мира, 1"]]  # never padded: a row costs what it holds
    parsed = parse_leads(table, ColumnMapping(name=0, address=1, phones=[2]))
    assert [row.reasons for row in parsed.rejected] == [["нет телефона"]]


def test_xlsx_first_sheet_is_read_with_integral_numbers_as_text_and_empty_rows_skipped():
    data = xlsx_bytes(
        [
            ["Наименование", "Адрес", "Город", "Телефон 1", "Рейтинг"],
            ["Кафе «Уют»", "улица Ленина, 5", "Сургут", 89123456789, 4.5],
            [None, None, None, None, None],
            ["Автомойка", "улица Мира, 7", "Сургут", 89123456780.0, None],
        ]
    )

    table = read_table(data, "2gis.xlsx")

    assert table.headers == ["Наименование", "Адрес", "Город", "Телефон 1", "Рейтинг"]
    assert table.rows == [
        ["Кафе «Уют»", "улица Ленина, 5", "Сургут", "89123456789", "4.5"],
        ["Автомойка", "улица Мира, 7", "Сургут", "89123456780"],
    ]
    assert table.row_numbers == [2, 4]  # the rep finds the row in Excel by its real number


def test_xlsx_is_recognised_by_content_whatever_the_file_is_called():
    data = xlsx_bytes([["Название", "Адрес", "Телефон"], ["Шиномонтаж", "ул. Мира, 1", "89123456789"]])

    table = read_table(data, "export")

    assert table.rows == [["Шиномонтаж", "ул. Мира, 1", "89123456789"]]


def test_empty_file_is_refused():
    assert import_error_message(b"", "leads.csv") == "Файл пуст"
    assert import_error_message(b"\xef\xbb\xbf \r\n", "leads.csv") == "Файл пуст"


def test_file_without_header_row_is_refused():
    assert import_error_message(b";;;\r\n;;\r\n", "leads.csv") == "В файле нет строки заголовков"


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(bytes(range(256)) * 8, id="with-nul-bytes"),
        pytest.param(bytes(range(1, 0x98)) * 8, id="decodable-as-cp1251"),
    ],
)
def test_binary_garbage_is_refused_with_a_russian_message(garbage: bytes):
    assert (
        import_error_message(garbage, "leads.csv") == "Не удалось прочитать файл: поддерживаются CSV и XLSX"
    )


def test_picture_uploaded_by_mistake_is_refused():
    png = b"\x89PNG\r\n\x1a\n" + b"IHDR" + b"\xff" * 64

    assert "поддерживаются CSV и XLSX" in import_error_message(png, "leads.png")


def test_damaged_xlsx_is_refused():
    assert "поддерживаются CSV и XLSX" in import_error_message(b"PK\x03\x04 not really a zip", "leads.xlsx")
    assert "поддерживаются CSV и XLSX" in import_error_message("Название;Адрес".encode(), "leads.xlsx")


def test_old_xls_is_refused_with_advice_to_save_as_xlsx():
    ole2_header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64

    assert "сохраните файл как XLSX или CSV" in import_error_message(ole2_header, "leads.xls")


def test_file_over_five_megabytes_is_refused():
    data = b"a" * (MAX_FILE_SIZE + 1)

    assert "больше 5 МБ" in import_error_message(data, "leads.csv")


def test_file_with_too_many_rows_is_refused():
    lines = ["Название;Адрес;Телефон"] + ["Кафе;Мира, 1;89123456789"] * (MAX_DATA_ROWS + 1)
    data = "\r\n".join(lines).encode()

    assert "больше 20\u00a0000 строк" in import_error_message(data, "leads.csv")


def test_file_with_exactly_the_row_limit_is_read():
    lines = ["Название;Адрес;Телефон"] + ["Кафе;Мира, 1;89123456789"] * MAX_DATA_ROWS

    table = read_table("\r\n".join(lines).encode(), "leads.csv")

    assert len(table.rows) == MAX_DATA_ROWS


# Recognising columns


def test_two_gis_layout_is_detected_with_all_numbered_columns():
    mapping = detect_mapping(TWO_GIS_HEADERS)

    assert mapping == ColumnMapping(
        name=0, address=2, city=4, segment=1, phones=[6, 7], emails=[8, 9], websites=[10]
    )


def test_yandex_maps_layout_is_detected():
    mapping = detect_mapping(["Название", "Категория", "Адрес", "Телефон", "Сайт", "Email", "Рейтинг"])

    assert mapping == ColumnMapping(
        name=0, address=2, city=None, segment=1, phones=[3], emails=[5], websites=[4]
    )


def test_headers_match_regardless_of_case_spaces_and_yo():
    mapping = detect_mapping(["  НАИМЕНОВАНИЕ ", "адрес", "Населённый  пункт", "ТЕЛЕФОН  1", "e-mail 1"])

    assert mapping == ColumnMapping(name=0, address=1, city=2, phones=[3], emails=[4])


def test_unknown_headers_need_the_mapping_step():
    assert detect_mapping(["Компания", "Где", "Тел."]) is None


def test_manually_mapped_columns_are_parsed():
    data = csv_bytes(
        [["Компания", "Где", "Тел."], ["Шиномонтаж", "Сургут, ул. Мира, 1", "8 912 345-67-89"]],
        encoding="utf-8",
    )
    table = read_table(data, "leads.csv")

    mapping = ColumnMapping.from_choices({"name": [0], "address": [1], "phones": [2], "emails": []})
    parsed = parse_leads(table, mapping)

    assert [(lead.name, lead.address, lead.phones) for lead in parsed.valid] == [
        ("Шиномонтаж", "Сургут, ул. Мира, 1", ["+79123456789"])
    ]


def test_manual_mapping_without_required_columns_names_them():
    with pytest.raises(LeadImportError) as caught:
        ColumnMapping.from_choices({"name": [0], "address": [], "emails": [2]})

    assert caught.value.messages == ["Выберите столбцы для обязательных полей: «Адрес», «Телефоны»"]


def test_target_fields_describe_the_mapping_form_in_order():
    assert [
        (field, str(label), required, multiple) for field, label, required, multiple in TARGET_FIELDS
    ] == [
        ("name", "Название", True, False),
        ("address", "Адрес", True, False),
        ("city", "Город", False, False),
        ("segment", "Сегмент / рубрика", False, False),
        ("phones", "Телефоны", True, True),
        ("emails", "Эл. почта", False, True),
        ("websites", "Сайт", False, True),
    ]


# Checking rows


def test_two_phones_in_one_cell_become_two_e164_numbers():
    parsed = parse([TWO_GIS_HEADERS, CAFE_ROW])

    [lead] = parsed.valid
    assert lead.phones == ["+73462551234", "+79123456789"]


def test_phones_from_several_columns_are_deduplicated():
    row = two_gis_row("Автомойка", "улица Мира, 7", "8 912 345-67-89, +7 (3462) 55-12-34")
    row[7] = "+7 912 345 67 89"

    [lead] = parse([TWO_GIS_HEADERS, row]).valid

    assert lead.phones == ["+79123456789", "+73462551234"]


def test_first_valid_email_is_taken_from_several():
    [lead] = parse([TWO_GIS_HEADERS, CAFE_ROW]).valid

    assert lead.email == "uyut@example.ru"


def test_two_gis_row_becomes_a_lead_with_city_segment_and_website():
    [lead] = parse([TWO_GIS_HEADERS, CAFE_ROW]).valid

    assert lead.row_number == 2
    assert lead.name == "Кафе «Уют»"
    assert lead.address == "Сургут, улица Ленина, 5"
    assert lead.city == "Сургут"
    assert lead.segment == "Кафе"
    assert lead.website == "https://uyut.example.ru"


def test_city_is_not_repeated_when_the_address_already_names_it():
    row = two_gis_row("Автомойка", "г. Сургут, улица Мира, 7", "89123456789")

    [lead] = parse([TWO_GIS_HEADERS, row]).valid

    assert lead.address == "г. Сургут, улица Мира, 7"


def test_first_of_comma_separated_rubrics_is_the_segment():
    row = two_gis_row("Автомойка", "улица Мира, 7", "89123456789", rubrics="Автомойки, Шиномонтаж")

    [lead] = parse([TWO_GIS_HEADERS, row]).valid

    assert lead.segment == "Автомойки"


def test_rows_without_name_address_or_phone_are_rejected_with_reasons_and_row_numbers():
    parsed = parse(
        [
            TWO_GIS_HEADERS,
            two_gis_row("", "улица Мира, 7", "89123456789"),
            two_gis_row("Автомойка", "", "89123456780"),
            two_gis_row("Шиномонтаж", "улица Мира, 9", ""),
            two_gis_row("Ремонт", "улица Мира, 11", "звонить после обеда; 123"),
        ]
    )

    assert parsed.valid == []
    assert [(row.row_number, row.name, row.reasons) for row in parsed.rejected] == [
        (2, "", ["нет названия"]),
        (3, "Автомойка", ["нет адреса"]),
        (4, "Шиномонтаж", ["нет телефона"]),
        (5, "Ремонт", ["телефон «звонить после обеда» не распознан", "телефон «123» не распознан"]),
    ]


def test_row_with_one_bad_and_one_good_phone_keeps_the_good_one():
    row = two_gis_row("Автомойка", "улица Мира, 7", "123; 8 912 345-67-89")

    [lead] = parse([TWO_GIS_HEADERS, row]).valid

    assert lead.phones == ["+79123456789"]
    assert lead.unrecognised_phones == ["123"]


def test_repeated_phone_in_the_file_is_rejected_as_repeat_of_the_earlier_row():
    parsed = parse(
        [
            TWO_GIS_HEADERS,
            two_gis_row("Автомойка", "улица Мира, 7", "8 912 345-67-89"),
            two_gis_row("Шиномонтаж", "улица Мира, 9", "8 (3462) 55-12-34"),
            two_gis_row("Автомойка на Мира", "улица Мира, 7а", "8 (3462) 00-00-01; +7 912 345-67-89"),
        ]
    )

    assert [lead.row_number for lead in parsed.valid] == [2, 3]
    assert [(row.row_number, row.reasons) for row in parsed.rejected] == [
        (4, ["повторяет строку 2 этого файла"])
    ]


def test_same_name_and_address_with_another_phone_is_a_repeat():
    parsed = parse(
        [
            TWO_GIS_HEADERS,
            two_gis_row("Автомойка", "улица Мира, 7", "89123456789"),
            two_gis_row("АВТОМОЙКА", "улица  Мира, 7", "89123456780"),
        ]
    )

    assert [(row.row_number, row.reasons) for row in parsed.rejected] == [
        (3, ["повторяет строку 2 этого файла"])
    ]


def test_rejected_row_does_not_make_later_rows_repeats():
    parsed = parse(
        [
            TWO_GIS_HEADERS,
            two_gis_row("", "улица Мира, 7", "89123456789"),
            two_gis_row("Автомойка", "улица Мира, 7", "89123456789"),
        ]
    )

    assert [lead.row_number for lead in parsed.valid] == [3]


def test_mapping_past_the_end_of_the_table_reads_empty_cells():
    table = Table(headers=["Название", "Адрес", "Телефон"], rows=[["Кафе", "ул. Мира, 1", "89123456789"]])
    mapping = ColumnMapping(name=0, address=1, phones=[2], emails=[7])

    [lead] = parse_leads(table, mapping).valid

    assert lead.row_number == 2  # without row_numbers, data rows follow a header in row 1
    assert lead.email == ""


# Hostile files (issue: memory exhaustion through the lead import). Each was read whole and every row padded
# to the widest one: 1.3 GB for the first, MemoryError for the second, 2.4 GB for the XLSX. Now each is
# refused in Russian after a few rows, and parsing it takes a few megabytes at most.

PEAK_BOUND = 8 * 1024 * 1024


def one_wide_row_csv() -> bytes:
    """148 KB: a list of a thousand leads with one 40 000-cell row near the top."""
    head = "Название;Адрес;Телефон\r\n"
    wide = ";".join("1" for _ in range(40_000)) + "\r\n"
    body = [f"Кафе «Уют-{n}»;ул. Мира, {n};8 912 {n:03d}-00-00\r\n" for n in range(1000)]
    return (head + "".join(body[:5]) + wide + "".join(body[5:])).encode("utf-8")  # the wide one is row 7


def four_megabytes_of_wide_rows_csv() -> bytes:
    head = "Название;Адрес;Телефон\r\n"
    wide = ";".join("ab" for _ in range(40_000)) + "\r\n"
    return (head + wide * 34).encode("utf-8")


def xlsx_of_16384_columns(rows: int = 6) -> bytes:
    """267 KB: six rows that fill every column Excel has (A…XFD), written as Excel writes them."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(column) for column in range(1, 16_385)]
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relationships = "http://schemas.openxmlformats.org/package/2006/relationships"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{relationships}"><Relationship Id="rId1" '
            f'Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{office}"><sheets>'
            '<sheet name="Лист1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{relationships}"><Relationship Id="rId1" '
            f'Type="{office}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        cells = [
            f'<row r="{row}">'
            + "".join(f'<c r="{letter}{row}"><v>{row}</v></c>' for letter in letters)
            + "</row>"
            for row in range(1, rows + 1)
        ]
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}"><sheetData>{"".join(cells)}</sheetData></worksheet>',
        )
    return buffer.getvalue()


def peak_memory_of_reading(data: bytes, filename: str) -> tuple[int, list[str]]:
    """The most memory reading the file took on top of the file itself, and the refusal's messages."""
    tracemalloc.start()
    try:
        read_table(data, filename)
    except LeadImportError as error:
        messages = error.messages
    else:
        messages = []
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, messages


@pytest.mark.parametrize(
    ("make", "filename", "size_kb", "refusal"),
    [
        pytest.param(
            one_wide_row_csv,
            "leads.csv",
            (100, 200),
            "Строка 7 длиннее 64 тысяч знаков: проверьте, что это выгрузка списка клиентов",
            id="one-40000-cell-row",
        ),
        pytest.param(
            four_megabytes_of_wide_rows_csv,
            "leads.csv",
            (3900, 4100),
            "Строка 2 длиннее 64 тысяч знаков: проверьте, что это выгрузка списка клиентов",
            id="4-mb-of-wide-rows",
        ),
        pytest.param(
            xlsx_of_16384_columns,
            "leads.xlsx",
            (200, 400),
            "В строке 1 больше 50 столбцов с данными: удалите из файла лишние столбцы (нужны название, "
            "адрес, телефоны, почта, сайт, рубрика)",
            id="16384-column-xlsx",
        ),
    ],
)
def test_a_hostile_file_is_refused_in_russian_within_a_few_megabytes(make, filename, size_kb, refusal):
    data = make()
    assert size_kb[0] * 1024 <= len(data) <= size_kb[1] * 1024

    peak, messages = peak_memory_of_reading(data, filename)

    assert messages == [refusal]
    assert peak < PEAK_BOUND, f"reading took {peak / 2**20:.1f} MB"


def test_a_row_of_many_short_cells_is_refused_by_its_cell_count():
    data = ("Название;Адрес;Телефон\r\n" + ";" * 5000 + "\r\n").encode()

    assert import_error_message(data, "leads.csv") == (
        "В строке 2 больше 1\u00a0000 ячеек: удалите из файла лишние столбцы (нужны название, адрес, "
        "телефоны, почта, сайт, рубрика)"
    )


def test_a_table_wider_than_fifty_columns_is_refused_but_trailing_empty_cells_are_not_counted():
    wide = ["Название", "Адрес", "Телефон", *(f"Доп. {n}" for n in range(48))]
    assert "В строке 1 больше 50 столбцов" in import_error_message(
        csv_bytes([wide], encoding="utf-8"), "a.csv"
    )

    padded = csv_bytes([TWO_GIS_HEADERS + [""] * 500, CAFE_ROW + [""] * 900], encoding="utf-8")
    table = read_table(padded, "leads.csv")
    assert table.headers == TWO_GIS_HEADERS and table.rows == [CAFE_ROW]


def test_xlsx_data_past_the_fiftieth_column_is_refused_but_styled_empty_cells_are_not():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Название", "Адрес", "Телефон"])
    sheet.append(["Кафе", "ул. Мира, 1", "89123456789"])
    for column in range(4, 200):
        sheet.cell(row=2, column=column).number_format = "0.00"  # formatted, empty: Excel writes these
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read_table(buffer.getvalue(), "a.xlsx").rows == [["Кафе", "ул. Мира, 1", "89123456789"]]

    sheet.cell(row=2, column=51).value = "лишнее"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert "В строке 2 больше 50 столбцов" in import_error_message(buffer.getvalue(), "a.xlsx")


def test_an_xlsx_that_unpacks_to_more_than_the_limit_is_refused_unread():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b" " * (MAX_XLSX_UNPACKED_BYTES + 1))
    data = buffer.getvalue()
    assert len(data) < 200 * 1024

    peak, messages = peak_memory_of_reading(data, "leads.xlsx")

    assert messages == [
        "Файл XLSX слишком велик в распакованном виде (больше 50 МБ): сохраните список как CSV"
    ]
    assert peak < PEAK_BOUND


def test_the_row_limit_is_a_setting(settings):
    settings.LEAD_IMPORT_MAX_ROWS = 2
    rows = [TWO_GIS_HEADERS, *(two_gis_row(f"Кафе {n}", "ул. Мира, 1", f"8912000000{n}") for n in range(3))]

    assert import_error_message(csv_bytes(rows, encoding="utf-8"), "a.csv") == (
        "В файле больше 2 строк: разделите список на несколько файлов"
    )
    assert len(read_table(csv_bytes(rows[:3], encoding="utf-8"), "a.csv").rows) == 2


def test_a_table_is_kept_as_compact_json_and_read_back_the_same():
    table = read_table(csv_bytes([TWO_GIS_HEADERS, CAFE_ROW], encoding="cp1251"), "2gis.csv")

    stored = table.dumps()

    assert Table.loads(stored) == table
    assert b": " not in stored and "Кафе «Уют»".encode() in stored  # no padding, no \u escapes
