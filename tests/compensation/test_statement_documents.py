"""Statements people can read and send: the page in sections, the printable page, the PDF, the e-mail to
the hunter, the spreadsheets and the payroll file for 1C:ЗУП. The worked example's March (38 000,00 ₽),
with bank documents on its payments, locked on 2 April."""

import copy
import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import User
from compensation.models import Statement, StatementEmail
from compensation.scenario import import_scenario
from compensation.services import statements_mark_paid

SCENARIO = json.loads(
    (Path(__file__).parent / "scenarios" / "worked_example.json").read_text(encoding="utf-8")
)
MARCH = date(2026, 3, 1)
DOCUMENTS = {"d1": "п/п 318 от 05.03.2026", "d2": "п/п 412 от 20.03.2026"}


def plain(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture
def people(db):
    scenario = copy.deepcopy(SCENARIO)
    for payment in scenario["payments"]:
        if payment["deal"] in DOCUMENTS:
            payment["bank_document"] = DOCUMENTS[payment["deal"]]
    scenario["statement_locks"] = [{"month": "2026-03", "locked_on": "2026-04-02"}]
    import_scenario(scenario)
    User.objects.filter(username="ivanov").update(email="ivanov@atlanset.example", personnel_number="0042")
    return {user.username: user for user in User.objects.all()}


def url(name: str, **query) -> str:
    path = reverse(f"compensation:{name}", args=["ivanov", "2026-03"])
    return path + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def page(client, path: str) -> str:
    return plain(re.sub(r"<[^>]+>", " ", client.get(path).content.decode()))


# --- the page --------------------------------------------------------------------------------------------


def test_the_statement_reads_in_sections_with_subtotals_payment_dates_and_documents(client, people):
    client.force_login(people["ivanov"])
    text = page(client, url("statement"))
    assert "Расчётный лист за март 2026" in text
    assert "Расчётный лист: Иван Иванов — закрыт" in text
    assert "Итого по разделу «Процент с оплат» 15 000,00 ₽" in text
    assert "Итого по разделу «Доп. процент с маржи» 13 000,00 ₽" in text
    assert "Итого по разделу «Фиксированная часть» 10 000,00 ₽" in text
    assert "05.03.2026 п/п 318 от 05.03.2026" in text and "п/п 412 от 20.03.2026" in text
    assert "Итого к выплате 38 000,00 ₽" in text


def test_a_paid_statement_says_paid_out_not_to_be_paid(client, people):
    statements_mark_paid(acting_user=people["buh"], month=MARCH)
    client.force_login(people["ivanov"])
    text = page(client, url("statement"))
    assert "Выплачено 38 000,00 ₽" in text and "Итого к выплате" not in text
    assert "Расчётный лист: Иван Иванов — выплачен" in text


def test_the_printable_page_has_the_lines_and_totals_without_the_portals_frame(client, people):
    client.force_login(people["buh"])
    response = client.get(url("statement_print"))
    html = response.content.decode()
    assert "css/statement-print.css" in html and "navbar" not in html
    text = plain(re.sub(r"<[^>]+>", " ", html))
    assert "Расчётный лист за март 2026" in text
    assert "Итого по разделу «Процент с оплат» 15 000,00 ₽" in text
    assert "Итого к выплате: 38 000,00 ₽" in text


# --- the PDF ---------------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, plain("\n".join(p.extract_text() for p in reader.pages))


def test_the_pdf_has_cyrillic_text_and_the_totals_of_the_page(client, people):
    client.force_login(people["ivanov"])
    response = client.get(url("statement_pdf"))
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="raschetny-list-ivanov-2026-03.pdf"' in response["Content-Disposition"]
    _reader, text = pdf_text(response.content)
    assert "Расчётный лист за март 2026" in text
    assert "Расчётный лист: Иван Иванов — закрыт" in text
    assert "ООО «Ромашка»" in text and "п/п 318 от 05.03.2026" in text and "05.03.2026" in text
    assert "Итого по разделу «Процент с оплат» 15 000,00 ₽" in text

    # The total printed is the total the page shows.
    shown = re.search(r'id="statement-total">([^<]+)<', client.get(url("statement")).content.decode())[1]
    assert plain(shown) == "38 000,00 ₽"
    assert f"Итого к выплате: {plain(shown)}" in text


def test_the_pdf_embeds_its_fonts(client, people):
    client.force_login(people["buh"])
    reader, _text = pdf_text(client.get(url("statement_pdf")).content)
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]  # the TrueType program is in the file
        assert "PTSans" in font["/BaseFont"]


# --- the e-mail ------------------------------------------------------------------------------------------


def test_the_accountant_sends_the_statement_once_per_click_with_the_pdf(
    client, people, django_capture_on_commit_callbacks
):
    client.force_login(people["buh"])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url("statement_send"), {"key": "click-1"})
        again = client.post(url("statement_send"), {"key": "click-1"})  # the same form sent twice
    assert first.status_code == again.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ivanov@atlanset.example"]
    assert message.subject == "Расчётный лист за март 2026"
    assert "Итого к выплате: 38 000,00 ₽" in plain(message.body)
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == ("raschetny-list-ivanov-2026-03.pdf", "application/pdf")
    assert "Итого к выплате: 38 000,00 ₽" in pdf_text(content)[1]
    email = StatementEmail.objects.get()
    assert (email.state, email.requested_by, email.total) == ("sent", people["buh"], Decimal("38000.00"))

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("statement_send"), {"key": "click-2"})  # another click: another e-mail
    assert len(mail.outbox) == 2


def test_the_sending_is_in_the_heads_audit_history(client, people, django_capture_on_commit_callbacks):
    client.force_login(people["buh"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("statement_send"), {"key": "click-audit"})
    client.force_login(people["head"])
    text = page(client, reverse("audit") + "?kind=statement_email")
    assert "Евгения Шибанова" in text and "Иван Иванов, март 2026" in text
    assert "ivanov@atlanset.example" in text


def test_a_statement_not_yet_locked_or_a_hunter_without_email_is_not_sent(
    client, people, django_capture_on_commit_callbacks
):
    client.force_login(people["buh"])
    april = reverse("compensation:statement", args=["ivanov", "2026-04"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(april + "send/", {"key": "draft"}, follow=True)
    assert "Отправить можно закрытый расчётный лист" in plain(response.content.decode())

    User.objects.filter(username="ivanov").update(email="")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("statement_send"), {"key": "no-email"}, follow=True)
    assert "не указана эл. почта" in plain(response.content.decode())
    assert mail.outbox == [] and not StatementEmail.objects.exists()


def test_a_failed_send_waits_in_the_outbox_and_goes_out_once_on_the_next_run(people, monkeypatch):
    from compensation import mailing

    def refuse(_email):
        raise OSError("SMTP down")

    monkeypatch.setattr(mailing, "_send", refuse)
    mailing.statement_email_request(
        acting_user=people["buh"], hunter=people["ivanov"], month=MARCH, click_key="k"
    )
    assert StatementEmail.objects.get().state == "pending"
    monkeypatch.undo()
    assert mailing.statement_emails_send() == 1
    assert mailing.statement_emails_send() == 0
    assert len(mail.outbox) == 1


def test_a_hunter_cannot_send_statements(client, people):
    client.force_login(people["ivanov"])
    assert client.post(url("statement_send"), {"key": "mine"}).status_code == 403


# --- spreadsheets ----------------------------------------------------------------------------------------

LINE_COLUMNS = [
    "Хантер", "Месяц", "Статус", "Раздел", "Сделка", "Клиент", "Дата оплаты", "Документ", "Пояснение",
    "База, ₽", "Ставка", "Сумма, ₽", "Ускоритель", "После закрытия месяца",
]  # fmt: skip


def test_one_statement_as_xlsx_has_deals_clients_dates_statuses_one_rate_format_and_its_total(client, people):
    client.force_login(people["buh"])
    response = client.get(url("statement_export", format="xlsx"))
    assert 'filename="raschetny-list-ivanov-2026-03.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == LINE_COLUMNS
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:N{len(rows)}"

    lines = [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows[1:]]
    first = lines[0]
    assert first["Статус"] == "Закрыт бухгалтерией"
    assert first["Месяц"] == "Март 2026"
    assert (first["Раздел"], first["Клиент"]) == ("Процент с оплат", "ООО «Ромашка»")
    assert first["Дата оплаты"] == datetime(2026, 3, 5) and first["Документ"] == "п/п 318 от 05.03.2026"
    assert first["Ставка"] == pytest.approx(0.05) and first["Сумма, ₽"] == 10000
    rate_cells = [row[10] for row in sheet.iter_rows(min_row=2) if row[10].value is not None]
    assert rate_cells and {cell.number_format for cell in rate_cells} == {"0.00%"}
    assert {line["Статус"] for line in lines} == {"Закрыт бухгалтерией"}

    total = lines[-1]
    assert (total["Раздел"], total["Сумма, ₽"]) == ("Итого к выплате", 38000)
    assert sum(line["Сумма, ₽"] for line in lines[:-1]) == 38000


def test_one_statement_as_csv_has_russian_statuses_percent_rates_and_dates(client, people):
    statements_mark_paid(acting_user=people["buh"], month=MARCH)
    client.force_login(people["ivanov"])
    response = client.get(url("statement_export", format="csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == LINE_COLUMNS
    lines = [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert {line["Статус"] for line in lines} == {"Выплачен"}
    assert lines[0]["Ставка"] == "5 %" and lines[0]["Дата оплаты"] == "05.03.2026"
    assert {line["Ставка"] for line in lines if line["Ставка"]} <= {"5 %", "2,5 %", "10 %"}
    assert (lines[-1]["Раздел"], lines[-1]["Сумма, ₽"]) == ("Выплачено", "38000,00")
    assert "paid" not in response.content.decode("utf-8-sig")


def test_the_months_xlsx_has_a_summary_by_section_and_a_grand_total_outside_the_filter(client, people):
    client.force_login(people["head"])
    response = client.get(reverse("compensation:statements"), {"month": "2026-03", "export": "xlsx"})
    workbook = load_workbook(io.BytesIO(response.content))
    lines, summary = workbook["Расчётные листы"], workbook["Итоги"]
    last = lines.max_row
    assert lines.auto_filter.ref == f"A1:N{last - 1}"  # the grand total stays visible whatever is filtered
    assert lines.cell(row=last, column=1).value == "Итого по всем листам"
    assert lines.cell(row=last, column=12).value == 38000

    header = [cell.value for cell in summary[1]]
    assert header[:2] == ["Хантер", "Статус"] and header[-1] == "Итого, ₽"
    ivanov = dict(zip(header, [cell.value for cell in summary[2]], strict=True))
    assert ivanov["Процент с оплат, ₽"] == 15000 and ivanov["Доп. процент с маржи, ₽"] == 13000
    assert ivanov["Фиксированная часть, ₽"] == 10000 and ivanov["Итого, ₽"] == 38000
    assert summary.freeze_panes == "A2"


# --- 1C:ЗУП ----------------------------------------------------------------------------------------------

PAYROLL_COLUMNS = [
    "Табельный номер", "Сотрудник", "Вид начисления", "Месяц начисления", "Дата начала", "Дата окончания",
    "Сумма", "Основание",
]  # fmt: skip


def test_the_payroll_file_lists_each_kind_of_accrual_of_the_locked_statements(client, people):
    client.force_login(people["buh"])
    response = client.get(reverse("compensation:payroll_export"), {"month": "2026-03", "format": "xlsx"})
    assert 'filename="nachisleniya-1c-zup-2026-03.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == PAYROLL_COLUMNS
    accruals = [dict(zip(PAYROLL_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert {(row["Табельный номер"], row["Сотрудник"]) for row in accruals} == {("0042", "Иван Иванов")}
    assert {row["Вид начисления"]: row["Сумма"] for row in accruals} == {
        "Процент с оплат (продажи)": 15000,
        "Премия за выполнение плана продаж": 13000,
        "Фиксированная часть за выполнение KPI": 10000,
    }
    assert {(row["Месяц начисления"], row["Дата начала"], row["Дата окончания"]) for row in accruals} == {
        (datetime(2026, 3, 1), datetime(2026, 3, 1), datetime(2026, 3, 31))
    }

    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("compensation:payroll_export"), {"month": "2026-03", "format": "csv"}
                ).content.decode("utf-8-sig")
            ),
            delimiter=";",
        )
    )
    assert csv_rows[0] == PAYROLL_COLUMNS
    assert csv_rows[1][:7] == [
        "0042",
        "Иван Иванов",
        "Процент с оплат (продажи)",
        "01.03.2026",
        "01.03.2026",
        "31.03.2026",
        "15000,00",
    ]


def test_a_month_with_nothing_locked_gives_no_payroll_file_but_says_why(client, people):
    client.force_login(people["buh"])
    response = client.get(reverse("compensation:payroll_export"), {"month": "2026-04"}, follow=True)
    assert "За апрель 2026 нет закрытых расчётных листов" in plain(response.content.decode())


def test_the_statement_list_names_the_month_in_its_case(client, people):
    client.force_login(people["buh"])
    text = page(client, reverse("compensation:statements") + "?month=2026-03")
    assert "Расчётные листы за март 2026" in text
    assert Statement.objects.get(month=MARCH).status == "locked"
