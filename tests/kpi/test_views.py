"""The KPI pages as their users see them: the plan grid, the head's dashboard, the hunter's day, quick
activity entry, the call-log import page and the PBX webhook."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from deals.models import Deal
from deals.services import deal_mark_lost
from deals.stages import Stage
from imports.models import ImportJob
from kpi.counters import month_counters
from kpi.models import Activity, ActivityKind, CallRecord, DepartmentQuarterPlan, MonthlyPlan
from kpi.months import previous_month
from kpi.progress import progress_recalculate
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import TEST_PASSWORD, UserFactory
from tests.workflow import close_month

from .factories import ORDER_TOTAL, local, log_activity, make_hunter, paid_deal, pbx_call, refund, set_plan

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)
FOLLOW_UP_NEEDS_DATE = "Для дожима укажите дату следующего контакта."


@pytest.fixture
def login(client):
    def as_user(user):
        assert client.login(username=user.username, password=TEST_PASSWORD)
        return client

    return as_user


def text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}"(.*?)</section>', html, re.S)
    assert match, f"no section #{section_id}"
    return match.group(1)


def without_changes(html: str) -> str:
    """A board cell without its changes against earlier months (``.delta``)."""
    return re.sub(r'<div class="small delta[^"]*"[^>]*>.*?</div>', "", html, flags=re.S)


def results_board(page) -> dict[str, dict[str, tuple[set[str], str]]]:
    """The dashboard's results board: {hunter: {column: (css classes of the cell, its text)}}; the text
    is the figure and its plan, without the changes against earlier months."""
    html = section(page if isinstance(page, str) else page.content.decode(), "results")
    board = {}
    for name, cells in re.findall(r'<tr>\s*<th scope="row">(.*?)</th>(.*?)</tr>', html, re.S):
        board[text(name)] = {
            column: (set(classes.split()), text(without_changes(content)))
            for classes, column, content in re.findall(
                r'<td class="([^"]*)" data-column="(\w+)">(.*?)</td>', cells, re.S
            )
        }
    return board


def marks(board, column: str) -> tuple[set[str], set[str]]:
    """Who is marked best and who worst in a column."""
    best = {hunter for hunter, cells in board.items() if "cell-best" in cells[column][0]}
    worst = {hunter for hunter, cells in board.items() if "cell-worst" in cells[column][0]}
    return best, worst


def value(board, hunter, column: str) -> str:
    return board[str(hunter)][column][1]


# --- the plan grid -----------------------------------------------------------------------------------

TARGETS = {
    "revenue_target": "150000.00",
    "deals_target": "5",
    "leads_target": "30",
    "calls_target": "400",
    "meetings_target": "10",
    "messages_target": "60",
}


def grid_data(*rows: tuple, action: str = "plans") -> dict:
    data = {"action": action}
    for hunter, targets in rows:
        data.update({f"h{hunter.pk}-{name}": value for name, value in targets.items()})
    return data


def plans_url(month: str = "2026-03") -> str:
    return reverse("kpi:plans", kwargs={"month": month})


def test_the_plan_grid_lists_every_active_hunter_and_no_one_else(login, sales_head, hunter, other_hunter):
    gone = make_hunter(full_name="Пётр Уволенный")
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    response = login(sales_head).get(plans_url())

    assert response.status_code == 200
    rows = re.findall(r'<th scope="row">(.*?)</th>', response.content.decode())
    assert rows == ["Анна Смирнова", "Иван Иванов"]
    assert "Пётр Уволенный" not in response.content.decode()


def test_the_plan_grid_names_its_month_and_quarter_as_russian_reads_them(login, sales_head, hunter):
    html = login(sales_head).get(plans_url("2027-01")).content.decode()

    assert re.search(r"<title>Планы на январь 2027 ·", html)
    assert re.search(r"<h1[^>]*>Планы на январь 2027</h1>", html)
    assert "План отдела на квартал с января 2027" in text(html)
    assert "начинающийся" not in html


def test_saved_plans_are_announced_with_the_month_in_words(login, sales_head, hunter):
    response = login(sales_head).post(plans_url("2026-12"), grid_data((hunter, TARGETS)), follow=True)

    assert "Планы на декабрь 2026 сохранены." in text(response.content.decode())


def test_the_plan_grid_shows_the_months_saved_targets(login, sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=321, revenue_target=Decimal("75000.50"))

    html = login(sales_head).get(plans_url()).content.decode()

    assert re.search(rf'name="h{hunter.pk}-calls_target"[^>]*value="321"', html)
    assert re.search(rf'name="h{hunter.pk}-revenue_target"[^>]*value="75000[.,]50"', html)


def test_posting_the_grid_saves_every_hunters_row(login, sales_head, hunter, other_hunter):
    other_targets = {**TARGETS, "calls_target": "250", "revenue_target": "90000.50"}

    response = login(sales_head).post(
        plans_url(), grid_data((hunter, TARGETS), (other_hunter, other_targets))
    )

    assert response.status_code == 302
    assert response["Location"] == plans_url()
    mine = MonthlyPlan.objects.get(hunter=hunter, month=MARCH)
    theirs = MonthlyPlan.objects.get(hunter=other_hunter, month=MARCH)
    assert (mine.revenue_target, mine.deals_target, mine.leads_target) == (Decimal("150000.00"), 5, 30)
    assert (mine.calls_target, mine.meetings_target, mine.messages_target) == (400, 10, 60)
    assert (theirs.calls_target, theirs.revenue_target) == (250, Decimal("90000.50"))


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("calls_target", "-1", "Убедитесь, что это значение больше либо равно 0."),
        ("revenue_target", "-0.01", "Убедитесь, что это значение больше либо равно 0."),
        ("meetings_target", "много", "Введите целое число."),
    ],
)
def test_an_invalid_value_in_the_grid_answers_400_with_the_error_and_saves_nothing(
    login, sales_head, hunter, other_hunter, field, bad, message
):
    set_plan(sales_head, hunter, MARCH, calls_target=100)

    response = login(sales_head).post(
        plans_url(),
        grid_data((hunter, {**TARGETS, "calls_target": "999"}), (other_hunter, {**TARGETS, field: bad})),
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Не сохранено: исправьте отмеченные значения." in html
    assert re.search(rf'name="h{other_hunter.pk}-{field}"[^>]*class="[^"]*is-invalid', html)
    assert MonthlyPlan.objects.get(hunter=hunter, month=MARCH).calls_target == 100
    assert not MonthlyPlan.objects.filter(hunter=other_hunter).exists()


def test_the_copy_action_fills_the_month_from_the_previous_one(login, sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=400, revenue_target=Decimal("150000"))
    set_plan(sales_head, other_hunter, APRIL, calls_target=7)
    browser = login(sales_head)

    response = browser.post(plans_url("2026-04"), {"action": "copy"}, follow=True)

    assert response.redirect_chain == [(plans_url("2026-04"), 302)]
    assert "Скопировано планов с прошлого месяца: 1." in response.content.decode()
    april = MonthlyPlan.objects.get(hunter=hunter, month=APRIL)
    assert (april.calls_target, april.revenue_target) == (400, Decimal("150000.00"))
    assert MonthlyPlan.objects.get(hunter=other_hunter, month=APRIL).calls_target == 7


def test_the_quarter_action_saves_the_department_quarter_plan(login, sales_head):
    response = login(sales_head).post(
        plans_url("2026-05"),
        {
            "action": "quarter",
            "quarter-revenue_target": "3000000",
            "quarter-bonus_pool": "150000",
            "quarter-split": "equal",
        },
    )

    assert response.status_code == 302
    plan = DepartmentQuarterPlan.objects.get()
    assert (plan.quarter_start, plan.revenue_target, plan.bonus_pool, plan.split) == (
        date(2026, 4, 1),
        Decimal("3000000.00"),
        Decimal("150000.00"),
        "equal",
    )


def test_an_invalid_quarter_plan_answers_400_and_saves_nothing(login, sales_head):
    response = login(sales_head).post(
        plans_url("2026-05"),
        {"action": "quarter", "quarter-revenue_target": "-1", "quarter-bonus_pool": "150000"},
    )

    assert response.status_code == 400
    assert "Убедитесь, что это значение больше либо равно 0." in response.content.decode()
    assert not DepartmentQuarterPlan.objects.exists()


def test_a_hunter_may_neither_see_nor_post_the_plan_grid(login, hunter):
    browser = login(hunter)

    assert browser.get(plans_url()).status_code == 403
    assert browser.post(plans_url(), grid_data((hunter, TARGETS))).status_code == 403
    assert browser.post(plans_url(), {"action": "copy"}).status_code == 403
    assert not MonthlyPlan.objects.exists()


@pytest.mark.parametrize("month", ["2026-13", "март", "2026"])
def test_a_plan_grid_for_a_month_that_does_not_exist_is_not_found(login, sales_head, month):
    assert login(sales_head).get(plans_url(month)).status_code == 404


def test_a_plan_grid_for_a_month_at_the_edge_of_the_calendar_is_not_found_rather_than_a_server_error(
    login, sales_head
):
    # parse_month accepts years 1 and 9999, whose previous/next months do not exist.
    browser = login(sales_head)

    assert browser.get(plans_url("9999-12")).status_code == 404
    assert browser.get(plans_url("0001-01")).status_code == 404


class _Inputs(HTMLParser):
    """The inputs of the page's forms as a browser would post them: {name: value} of every text or
    number input and of every ticked checkbox, with its type."""

    def __init__(self):
        super().__init__()
        self.inputs: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag != "input" or "name" not in attrs:
            return
        kind = attrs.get("type", "text")
        if kind == "checkbox" and "checked" not in attrs:
            return
        self.inputs[attrs["name"]] = (kind, attrs.get("value") or ("on" if kind == "checkbox" else ""))


def grid_inputs(html: str) -> dict[str, tuple[str, str]]:
    """The plan grid's cells as rendered: {field name: (input type, value)}."""
    parser = _Inputs()
    parser.feed(html)
    return {name: cell for name, cell in parser.inputs.items() if re.fullmatch(r"h\d+-\w+", name)}


def grid_as_rendered(html: str) -> dict:
    """What the head's browser posts when the grid is saved without touching it."""
    return {"action": "plans", **{name: value for name, (_kind, value) in grid_inputs(html).items()}}


def grid_row(html: str, hunter) -> str:
    match = re.search(rf'<tr data-hunter="{hunter.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no grid row for {hunter}"
    return match.group(1)


def plans_of(*hunters) -> dict:
    return {
        plan.hunter_id: (*(getattr(plan, name) for name in TARGETS), plan.updated_at, plan.history.count())
        for plan in MonthlyPlan.objects.filter(hunter__in=hunters, month=MARCH)
    }


def test_a_saved_grid_posted_back_as_the_page_renders_it_saves_again_and_changes_nothing(
    login, sales_head, hunter, other_hunter
):
    browser = login(sales_head)
    assert (
        browser.post(plans_url(), grid_data((hunter, {**TARGETS, "revenue_target": "300000"}))).status_code
        == 302
    )
    saved = plans_of(hunter, other_hunter)

    html = browser.get(plans_url()).content.decode()
    cells = grid_inputs(html)
    response = browser.post(plans_url(), grid_as_rendered(html), follow=True)

    # Every rendered value is one a number input keeps (a browser blanks "300000,00").
    assert cells[f"h{hunter.pk}-revenue_target"] == ("number", "300000.00")
    assert cells[f"h{hunter.pk}-calls_target"] == ("number", "400")
    assert all(
        kind == "number" and re.fullmatch(r"\d+(\.\d+)?", value)
        for kind, value in (cells[f"h{hunter.pk}-{name}"] for name in TARGETS)
    )
    assert all(cells[f"h{other_hunter.pk}-{name}"] == ("number", "") for name in TARGETS)
    assert response.redirect_chain == [(plans_url(), 302)]
    assert "Планы на март 2026 сохранены." in text(response.content.decode())
    assert plans_of(hunter, other_hunter) == saved  # the same targets, not even rewritten
    assert not MonthlyPlan.objects.filter(hunter=other_hunter).exists()


def test_an_empty_row_creates_no_plan_and_the_grid_says_the_plan_is_not_set(
    login, sales_head, hunter, other_hunter
):
    browser = login(sales_head)

    response = browser.post(
        plans_url(), grid_data((hunter, TARGETS), (other_hunter, dict.fromkeys(TARGETS, ""))), follow=True
    )

    assert response.status_code == 200
    assert MonthlyPlan.objects.filter(month=MARCH).get().hunter == hunter
    html = response.content.decode()
    assert "план не установлен" in text(grid_row(html, other_hunter))
    assert "план установлен" in text(grid_row(html, hunter))
    assert "Пустая строка — у хантера нет плана на месяц." in text(html)


def test_a_plan_of_zeros_is_a_plan_shown_with_its_zeros_apart_from_no_plan(
    login, sales_head, hunter, other_hunter
):
    browser = login(sales_head)

    browser.post(plans_url(), grid_data((hunter, dict.fromkeys(TARGETS, "0"))))

    plan = MonthlyPlan.objects.get(hunter=hunter, month=MARCH)
    assert [getattr(plan, name) for name in TARGETS] == [Decimal("0.00"), 0, 0, 0, 0, 0]
    html = browser.get(plans_url()).content.decode()
    cells = grid_inputs(html)
    assert cells[f"h{hunter.pk}-revenue_target"] == ("number", "0.00")
    assert cells[f"h{hunter.pk}-calls_target"] == ("number", "0")
    assert cells[f"h{other_hunter.pk}-calls_target"] == ("number", "")
    assert "план KPI не задан" in text(grid_row(html, hunter))
    assert "план не установлен" in text(grid_row(html, other_hunter))
    assert not MonthlyPlan.objects.filter(hunter=other_hunter).exists()


def test_a_row_with_cells_left_empty_is_refused_naming_each_empty_cell_and_nothing_is_saved(
    login, sales_head, hunter, other_hunter
):
    response = login(sales_head).post(
        plans_url(),
        grid_data((hunter, TARGETS), (other_hunter, {**TARGETS, "leads_target": "", "revenue_target": ""})),
    )

    assert response.status_code == 400
    row = text(grid_row(response.content.decode(), other_hunter))
    assert "Укажите «Лиды» (можно 0) или очистите всю строку: пустая строка — плана нет." in row
    assert "Укажите «Выручка, ₽» (можно 0)" in row
    assert "Укажите «Звонки»" not in row
    assert not MonthlyPlan.objects.exists()


def test_emptying_the_row_of_a_hunter_who_has_a_plan_is_refused_and_the_plan_stays(login, sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=100)
    browser = login(sales_head)
    html = browser.get(plans_url()).content.decode()

    response = browser.post(
        plans_url(), {**grid_as_rendered(html), **{f"h{hunter.pk}-{name}": "" for name in TARGETS}}
    )

    assert response.status_code == 400
    assert "чтобы снять план, отметьте «Снять план»" in text(grid_row(response.content.decode(), hunter))
    assert MonthlyPlan.objects.get(hunter=hunter, month=MARCH).calls_target == 100


def test_ticking_remove_plan_takes_the_hunters_plan_back(login, sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=100)
    set_plan(sales_head, other_hunter, MARCH, calls_target=7)
    browser = login(sales_head)
    html = browser.get(plans_url()).content.decode()
    assert f'name="h{other_hunter.pk}-no_plan"' in grid_row(html, other_hunter)  # offered to each plan
    assert f"h{other_hunter.pk}-no_plan" not in grid_inputs(html)  # and not ticked

    response = browser.post(
        plans_url(), {**grid_as_rendered(html), f"h{hunter.pk}-no_plan": "on"}, follow=True
    )

    assert response.redirect_chain == [(plans_url(), 302)]
    assert not MonthlyPlan.objects.filter(hunter=hunter).exists()
    assert MonthlyPlan.objects.get(hunter=other_hunter).calls_target == 7
    assert "план не установлен" in text(grid_row(response.content.decode(), hunter))
    assert f'name="h{hunter.pk}-no_plan"' not in grid_row(response.content.decode(), hunter)


def test_a_locked_months_plan_is_neither_changed_nor_taken_back_on_the_grid(login, sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, calls_target=100)
    close_month(hunter, MARCH, head=sales_head)
    browser = login(sales_head)
    html = browser.get(plans_url()).content.decode()

    again = browser.post(plans_url(), grid_as_rendered(html))
    changed = browser.post(plans_url(), {**grid_as_rendered(html), f"h{hunter.pk}-calls_target": "5"})
    removed = browser.post(plans_url(), {**grid_as_rendered(html), f"h{hunter.pk}-no_plan": "on"})

    assert again.status_code == 302  # nothing changed: saving the page again is harmless
    for response in (changed, removed):
        assert response.status_code == 400
        assert "Расчётный лист за март 2026 закрыт" in text(response.content.decode())
    assert MonthlyPlan.objects.get(hunter=hunter, month=MARCH).calls_target == 100


@pytest.mark.parametrize("role_fixture", ["hunter", "accountant"])
def test_only_the_sales_head_may_take_a_plan_back(login, request, sales_head, hunter, role_fixture):
    set_plan(sales_head, hunter, MARCH, calls_target=100)
    browser = login(request.getfixturevalue(role_fixture))

    response = browser.post(plans_url(), {**grid_data((hunter, TARGETS)), f"h{hunter.pk}-no_plan": "on"})

    assert response.status_code == 403
    assert MonthlyPlan.objects.get(hunter=hunter, month=MARCH).calls_target == 100


# --- the dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_shows_each_hunters_figures_with_the_best_and_worst_of_each_column(
    login, sales_head, hunter, other_hunter, pipeline
):
    third = make_hunter(full_name="Яков Третьяков")
    for someone in (hunter, other_hunter, third):
        set_plan(sales_head, someone, timezone.localdate(), meetings_target=0)
    now = timezone.now()
    for _ in range(2):
        log_activity(hunter, ActivityKind.MEETING, at=now)
    log_activity(other_hunter, ActivityKind.MEETING, at=now)
    for _ in range(3):
        pbx_call(other_hunter, at=now)
    pbx_call(third, at=now)
    paid_deal(pipeline, (ORDER_TOTAL, timezone.localdate()))

    board = results_board(login(sales_head).get(reverse("kpi:dashboard")))

    assert set(board) == {"Иван Иванов", "Анна Смирнова", "Яков Третьяков"}
    assert [value(board, h, "meetings") for h in (hunter, other_hunter, third)] == ["2 / 0", "1 / 0", "0 / 0"]
    assert [value(board, h, "calls") for h in (hunter, other_hunter, third)] == ["0 / 0", "3 / 0", "1 / 0"]
    assert value(board, hunter, "revenue") == "5 000,00 ₽ / 0,00 ₽"
    assert value(board, hunter, "deals") == "1 / 0"
    assert marks(board, "meetings") == ({"Иван Иванов"}, {"Яков Третьяков"})
    assert marks(board, "calls") == ({"Анна Смирнова"}, {"Иван Иванов"})
    assert marks(board, "revenue") == ({"Иван Иванов"}, {"Анна Смирнова", "Яков Третьяков"})
    assert marks(board, "messages") == (set(), set())  # all equal: nobody is singled out


def test_the_dashboard_shows_targets_and_percent_when_a_plan_is_set(login, sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, timezone.localdate(), calls_target=4)
    pbx_call(hunter, at=timezone.now())

    html = login(sales_head).get(reverse("kpi:dashboard")).content.decode()
    board = results_board(html)

    assert value(board, hunter, "calls") == "1 / 4 · 25,0 %"
    assert value(board, other_hunter, "calls") == "0"  # no plan: no target shown
    assert "план не установлен" in text(section(html, "results"))


def test_the_dashboard_shows_any_past_month_given_in_the_address(login, sales_head, hunter, other_hunter):
    for someone in (hunter, other_hunter):
        set_plan(sales_head, someone, MARCH, calls_target=5)
    for day in (3, 4, 5):
        pbx_call(hunter, at=local(2026, 3, day))
    pbx_call(other_hunter, at=local(2026, 4, 1, 0, 30))  # April in Yekaterinburg, March in UTC
    browser = login(sales_head)

    march = browser.get(reverse("kpi:dashboard"), {"month": "2026-03"})
    april = browser.get(reverse("kpi:dashboard"), {"month": "2026-04"})
    current = browser.get(reverse("kpi:dashboard"))

    assert "Март 2026" in text(march.content.decode())
    board = results_board(march)
    assert (value(board, hunter, "calls"), value(board, other_hunter, "calls")) == (
        "3 / 5 · 60,0 %",
        "0 / 5 · 0,0 %",
    )
    assert marks(board, "calls") == ({"Иван Иванов"}, {"Анна Смирнова"})
    board = results_board(april)
    assert (value(board, hunter, "calls"), value(board, other_hunter, "calls")) == ("0", "1")
    board = results_board(current)
    assert (value(board, hunter, "calls"), value(board, other_hunter, "calls")) == ("0", "0")


def test_an_unreadable_month_in_the_address_shows_the_current_month(login, sales_head, hunter):
    pbx_call(hunter, at=timezone.now())

    response = login(sales_head).get(reverse("kpi:dashboard"), {"month": "2026-00"})

    assert response.status_code == 200
    assert value(results_board(response), hunter, "calls") == "1"


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "0001-02"])
def test_a_month_at_the_edge_of_the_calendar_in_the_address_is_no_server_error(
    login, sales_head, hunter, month
):
    response = login(sales_head).get(reverse("kpi:dashboard"), {"month": month})

    # Either answer is fine for the sales head (the current month or "not found"); a crash is not.
    assert response.status_code in (200, 404)


def test_a_hunter_cannot_open_the_dashboard(login, hunter):
    assert login(hunter).get(reverse("kpi:dashboard")).status_code == 403
    assert login(hunter).get(reverse("kpi:dashboard"), {"month": "2026-03"}).status_code == 403


def _hunter_with_a_month_of_work(sales_head, production, accountant, hunter=None):
    hunter = hunter or make_hunter()
    now = timezone.now()
    set_plan(sales_head, hunter, timezone.localdate(), calls_target=10, meetings_target=3)
    client = make_client(acting_user=hunter)
    pbx_call(hunter, at=now, other_number=client.phones.get().number)
    log_activity(hunter, ActivityKind.MEETING, at=now, client=client)
    log_activity(hunter, ActivityKind.MESSAGE, at=now, client=client)
    deal = make_deal(acting_user=hunter, client=client)
    log_activity(
        hunter,
        ActivityKind.CALL,
        at=now,
        client=client,
        deal=deal,
        next_contact_on=timezone.localdate() - timedelta(days=2),
    )
    paid_deal(
        Pipeline(hunter=hunter, production=production, accountant=accountant),
        (ORDER_TOTAL, timezone.localdate()),
    )
    return hunter


def test_the_dashboard_costs_the_same_queries_for_two_hunters_and_for_six(
    login, sales_head, production, accountant
):
    today = timezone.localdate().replace(day=1)
    for _ in range(2):
        _hunter_with_a_month_of_work(sales_head, production, accountant)
    browser = login(sales_head)
    browser.get(reverse("kpi:dashboard"))  # warms whatever is cached per process

    with CaptureQueriesContext(connection) as two:
        assert browser.get(reverse("kpi:dashboard")).status_code == 200
    for _ in range(4):
        _hunter_with_a_month_of_work(sales_head, production, accountant)
    # What the background recalculation does, for the month and the ones the board compares it with.
    for month in (today, previous_month(today), date(today.year - 1, today.month, 1)):
        progress_recalculate(month=month)
    with CaptureQueriesContext(connection) as six:
        response = browser.get(reverse("kpi:dashboard"))

    assert len(results_board(response)) == 6
    assert len(two) == len(six), [query["sql"] for query in six.captured_queries]


# --- the hunter's day --------------------------------------------------------------------------------


def task_items(html: str) -> dict[str, tuple[set[str], str]]:
    """The tasks list: {client name: (css classes of the item, its text)}."""
    items = {}
    for classes, body in re.findall(r'<li class="([^"]*)">(.*?)</li>', section(html, "tasks"), re.S):
        name = re.search(r"<a [^>]*>(.*?)</a>", body, re.S)
        items[text(name.group(1))] = (set(classes.split()), text(body))
    return items


def test_the_hunters_day_lists_overdue_deals_in_red_and_todays_deals_plainly(login, hunter):
    today = timezone.localdate()
    for name, next_contact_on in [
        ("Салон Просроченный", today - timedelta(days=3)),
        ("Салон Сегодняшний", today),
        ("Салон Завтрашний", today + timedelta(days=1)),
    ]:
        deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=name))
        log_activity(
            hunter,
            ActivityKind.CALL,
            at=timezone.now(),
            client=deal.client,
            deal=deal,
            next_contact_on=next_contact_on,
        )
    log_activity(
        hunter,
        ActivityKind.FOLLOW_UP,
        at=timezone.now() - timedelta(days=2),
        client=make_client(acting_user=hunter, name="Салон Дожимаемый"),
        outcome="Обещали ответить",
        next_contact_on=today,
    )

    html = login(hunter).get(reverse("kpi:my_day")).content.decode()
    items = task_items(html)

    assert set(items) == {"Салон Просроченный", "Салон Сегодняшний", "Салон Дожимаемый"}
    overdue_classes, overdue_text = items["Салон Просроченный"]
    assert "text-danger" in overdue_classes
    assert f"просрочено с {today - timedelta(days=3):%d.%m}" in overdue_text
    todays_classes, todays_text = items["Салон Сегодняшний"]
    assert "text-danger" not in todays_classes
    assert "связаться сегодня" in todays_text
    assert "text-danger" not in items["Салон Дожимаемый"][0]
    assert "Обещали ответить" in items["Салон Дожимаемый"][1]
    assert re.search(r"Задачи на сегодня\s*<span[^>]*>3</span>", html)


def test_the_hunters_day_does_not_list_closed_or_other_hunters_deals(login, hunter, other_hunter, competitor):
    yesterday = timezone.localdate() - timedelta(days=1)
    for user, name in [(hunter, "Салон Отказной"), (other_hunter, "Салон Чужой")]:
        deal = make_deal(acting_user=user, client=make_client(acting_user=user, name=name))
        log_activity(
            user,
            ActivityKind.CALL,
            at=timezone.now(),
            client=deal.client,
            deal=deal,
            next_contact_on=yesterday,
        )
    deal_mark_lost(
        acting_user=hunter, deal=Deal.objects.get(client__name="Салон Отказной"), reason=competitor
    )

    html = login(hunter).get(reverse("kpi:my_day")).content.decode()

    assert "На сегодня задач нет." in html
    assert "Салон Чужой" not in html


def plan_line(html: str, label: str) -> str:
    match = re.search(rf"<span>{label}</span>\s*<span>(.*?)</span></div>", section(html, "plan"), re.S)
    assert match, f"no progress line {label}"
    return text(match.group(1))


def test_a_hunter_sees_only_their_own_figures_on_their_day(login, sales_head, hunter, other_hunter):
    now = timezone.now()
    set_plan(sales_head, hunter, timezone.localdate(), meetings_target=5, calls_target=2)
    set_plan(sales_head, other_hunter, timezone.localdate(), meetings_target=9, calls_target=8)
    mine = make_client(acting_user=hunter, name="Салон Мой")
    theirs = make_client(acting_user=other_hunter, name="Салон Чужой")
    for _ in range(3):
        log_activity(hunter, ActivityKind.MEETING, at=now, client=mine)
    for _ in range(7):
        log_activity(other_hunter, ActivityKind.MEETING, at=now, client=theirs)
    pbx_call(hunter, at=now)
    pbx_call(hunter, at=now)
    pbx_call(other_hunter, at=now)

    html = login(hunter).get(reverse("kpi:my_day")).content.decode()

    assert plan_line(html, "Встречи") == "3 / 5 · 60,0 %"
    assert plan_line(html, "Звонки \\(по АТС\\)") == "2 / 2 · 100,0 %"
    assert "KPI не выполнен" in html  # leads and messages have no target, meetings fall short
    assert "Салон Мой" in html
    assert "Салон Чужой" not in html
    assert "/ 9" not in section(html, "plan")


def test_the_hunters_day_says_when_no_plan_is_set(login, hunter):
    html = login(hunter).get(reverse("kpi:my_day")).content.decode()

    assert "План на этот месяц ещё не установлен." in html


ZERO_PLAN = {
    "revenue_target": Decimal("0"),
    "deals_target": 0,
    "leads_target": 0,
    "calls_target": 0,
    "meetings_target": 0,
    "messages_target": 0,
}


def board_plan_cell(html: str, hunter) -> str:
    match = re.search(
        rf'<th scope="row">{hunter}</th>.*?<td class="small plan-state">(.*?)</td>',
        section(html, "results"),
        re.S,
    )
    assert match, f"no plans cell for {hunter}"
    return text(match.group(1))


def test_the_results_board_tells_a_plan_of_zeros_from_no_plan(login, sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, timezone.localdate(), **ZERO_PLAN)

    html = login(sales_head).get(reverse("kpi:dashboard")).content.decode()
    board = results_board(html)

    assert value(board, hunter, "calls") == "0 / 0"
    assert value(board, hunter, "revenue") == "0,00 ₽ / 0,00 ₽"
    assert value(board, other_hunter, "calls") == "0"
    assert "план KPI не задан" in board_plan_cell(html, hunter)
    assert board_plan_cell(html, other_hunter) == "план не установлен"


def test_the_hunters_day_shows_a_kpi_plan_of_zeros_as_zeros_and_says_it_is_not_set(login, sales_head, hunter):
    set_plan(sales_head, hunter, timezone.localdate(), **{**ZERO_PLAN, "revenue_target": Decimal("100000")})
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now())

    html = login(hunter).get(reverse("kpi:my_day")).content.decode()
    plan = text(section(html, "plan"))

    assert plan_line(html, "Встречи") == "1 / 0"
    assert plan_line(html, "Выручка") == "0,00 ₽ / 100 000,00 ₽ · 0,0 %"
    assert "План KPI не задан" in plan
    assert "фиксированная часть не начисляется" in plan
    assert "KPI выполнен" not in plan and "KPI не выполнен" not in plan
    assert "ещё не установлен" not in plan


@pytest.mark.parametrize("role_fixture", ["accountant", "production"])
def test_the_hunters_day_is_for_people_who_work_the_pipeline(db, login, request, role_fixture):
    assert login(request.getfixturevalue(role_fixture)).get(reverse("kpi:my_day")).status_code == 403


def _open_deals_and_activities(hunter, pipeline, count: int) -> None:
    today = timezone.localdate()
    for number in range(count):
        deal = make_deal(acting_user=hunter)
        if number % 2 == 0:
            deal = pipeline.advance_to(deal, Stage.DEAL)  # an order: the pay projection's upside
            pipeline.record_deal(deal)
        log_activity(
            hunter,
            ActivityKind.CALL,
            at=timezone.now(),
            client=deal.client,
            deal=deal,
            next_contact_on=today - timedelta(days=number % 3),
        )
        log_activity(hunter, ActivityKind.MEETING, at=timezone.now(), client=deal.client)
        log_activity(
            hunter,
            ActivityKind.FOLLOW_UP,
            at=timezone.now(),
            client=deal.client,
            next_contact_on=today,
            outcome="Перезвонить",
        )
        pbx_call(hunter, at=timezone.now(), other_number=deal.client.phones.get().number)


def settled_day(browser):
    """«Мой день» as a hunter opens it again and again between changes: after the background jobs caught up
    with the last change (the marked plan progress and statements stored), and after the first visit since,
    which works out what each open deal would add for the new inputs once."""
    from compensation.approval import check_marked
    from kpi.progress import progress_recalculate_marked

    progress_recalculate_marked()
    check_marked()
    assert browser.get(reverse("kpi:my_day")).status_code == 200


def test_the_hunters_day_costs_the_same_queries_however_many_open_deals_and_activities(
    login, sales_head, hunter, pipeline
):
    set_plan(sales_head, hunter, timezone.localdate(), revenue_target=Decimal("100000"), deals_target=3)
    _open_deals_and_activities(hunter, pipeline, 1)
    browser = login(hunter)
    settled_day(browser)

    with CaptureQueriesContext(connection) as few:
        assert browser.get(reverse("kpi:my_day")).status_code == 200
    _open_deals_and_activities(hunter, pipeline, 6)
    settled_day(browser)
    with CaptureQueriesContext(connection) as many:
        response = browser.get(reverse("kpi:my_day"))

    assert len(task_items(response.content.decode())) > 5
    assert len(few) == len(many), [query["sql"] for query in many.captured_queries]


def test_the_hunters_day_costs_the_same_queries_with_a_thousand_activities_and_more_refunds(
    login, sales_head, hunter, pipeline
):
    """History grows (activities over years, refunds reaching into locked months): the page reads the
    same few rows the same way."""
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = previous_month(this_month)
    before_last = previous_month(last_month)
    set_plan(sales_head, hunter, today, revenue_target=Decimal("100000"), deals_target=3, meetings_target=2)
    deals = [
        paid_deal(pipeline, ("1000", before_last.replace(day=10)), ("1500", last_month.replace(day=12)))
        for _ in range(3)
    ]
    close_month(hunter, before_last)
    close_month(hunter, last_month)
    client_card = deals[0].client
    Activity.objects.bulk_create(
        Activity(
            owner=hunter, kind=ActivityKind.MESSAGE, client=client_card, at=timezone.now() - timedelta(days=n)
        )
        for n in range(1, 11)
    )
    refund(deals[0], "300", today, pipeline.accountant)
    browser = login(hunter)
    settled_day(browser)
    with CaptureQueriesContext(connection) as few:
        assert browser.get(reverse("kpi:my_day")).status_code == 200

    Activity.objects.bulk_create(
        Activity(
            owner=hunter,
            kind=ActivityKind.CALL,
            client=client_card,
            at=timezone.now() - timedelta(days=n, hours=3),
            outcome=f"Звонок {n}",
        )
        for n in range(990)
    )
    refund(deals[1], "200", today, pipeline.accountant)
    refund(deals[2], "100", today, pipeline.accountant)
    settled_day(browser)
    with CaptureQueriesContext(connection) as many:
        response = browser.get(reverse("kpi:my_day"))

    assert len(few) == len(many), [query["sql"] for query in many.captured_queries]
    latest = response.content.decode().split("Последние активности", 1)[1].split("</ul>", 1)[0]
    assert latest.count("<li") == 10
    assert text(latest).index("Звонок 0") < text(latest).index("Звонок 1 ")


# --- quick activity entry ----------------------------------------------------------------------------


def activity_data(client, **fields) -> dict:
    return {
        "kind": ActivityKind.MEETING,
        "client": client.pk,
        "at": f"{timezone.localdate():%Y-%m-%d}T00:30",
        **fields,
    }


def test_quick_entry_records_the_activity_and_returns_to_the_page_it_came_from(login, hunter):
    client = make_client(acting_user=hunter)
    back = reverse("clients:detail", args=[client.pk])

    response = login(hunter).post(
        reverse("kpi:activity_create"), activity_data(client, outcome="Показал каталог", next=back)
    )

    assert response.status_code == 302
    assert response["Location"] == back
    activity = Activity.objects.get()
    assert (activity.owner, activity.client, activity.kind, activity.outcome) == (
        hunter,
        client,
        ActivityKind.MEETING,
        "Показал каталог",
    )
    day = timezone.localdate()
    assert activity.at == local(day.year, day.month, day.day, 0, 30)


@pytest.mark.parametrize("next_url", ["", "https://evil.example/", "//evil.example/x"])
def test_quick_entry_without_a_safe_next_returns_to_the_hunters_day(login, hunter, next_url):
    client = make_client(acting_user=hunter)

    response = login(hunter).post(reverse("kpi:activity_create"), activity_data(client, next=next_url))

    assert response.status_code == 302
    assert response["Location"] == reverse("kpi:my_day")


def test_quick_entry_refuses_a_follow_up_without_a_date_with_the_russian_message(login, hunter):
    client = make_client(acting_user=hunter)

    response = login(hunter).post(
        reverse("kpi:activity_create"),
        activity_data(client, kind=ActivityKind.FOLLOW_UP, next=reverse("kpi:my_day")),
    )

    assert response.status_code == 400
    assert FOLLOW_UP_NEEDS_DATE in response.content.decode()
    assert not Activity.objects.exists()


def test_quick_entry_with_a_deal_moves_the_deals_next_contact(login, hunter):
    deal = make_deal(acting_user=hunter)

    response = login(hunter).post(
        reverse("kpi:activity_create"),
        activity_data(
            deal.client,
            kind=ActivityKind.FOLLOW_UP,
            deal=deal.pk,
            next_contact_on="2026-12-01",
            outcome="Ждут",
        ),
    )

    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).next_contact_on == date(2026, 12, 1)


def test_quick_entry_on_another_hunters_client_is_refused(login, hunter, other_hunter):
    foreign = make_client(acting_user=other_hunter)

    response = login(hunter).post(reverse("kpi:activity_create"), activity_data(foreign))

    assert response.status_code == 400
    assert not Activity.objects.exists()


def test_quick_entry_with_a_deal_of_another_client_is_refused(login, hunter):
    client = make_client(acting_user=hunter)
    other_deal = make_deal(acting_user=hunter)

    response = login(hunter).post(reverse("kpi:activity_create"), activity_data(client, deal=other_deal.pk))

    assert response.status_code == 400
    assert "Сделка относится к другому клиенту." in response.content.decode()
    assert not Activity.objects.exists()


def test_the_quick_entry_form_opened_from_a_deal_preselects_its_client(login, hunter):
    deal = make_deal(acting_user=hunter)

    html = login(hunter).get(reverse("kpi:activity_create"), {"deal": deal.pk}).content.decode()

    assert re.search(rf'<option value="{deal.client_id}" selected>', html)


def test_the_hunters_day_opens_the_quick_entry_form_in_place_and_without_javascript_as_a_page(login, hunter):
    client = make_client(acting_user=hunter, name="Кафе «Север»")
    browser = login(hunter)
    day = browser.get(reverse("kpi:my_day")).content.decode()
    [opener] = re.findall(r'<a [^>]*hx-get="([^"]+)"[^>]*hx-target="#activity-form"', day)
    [fallback] = re.findall(r'<a [^>]*href="([^"]+)"[^>]*hx-get="[^"]+"[^>]*hx-target="#activity-form"', day)
    assert opener == fallback == f"{reverse('kpi:activity_create')}?next=/kpi/my/"

    in_place = browser.get(opener, headers={"HX-Request": "true"}).content.decode()
    as_page = browser.get(fallback).content.decode()

    # In place: the form alone, posting back to «Мой день»; as a page: the same form under the site's layout.
    assert "<html" not in in_place and "<html" in as_page
    for html in (in_place, as_page):
        assert f'action="{reverse("kpi:activity_create")}"' in html
        assert 'name="next" value="/kpi/my/"' in html
        assert re.search(rf'<option value="{client.pk}">Кафе «Север»</option>', html)
    response = browser.post(reverse("kpi:activity_create"), activity_data(client, next="/kpi/my/"))
    assert response["Location"] == reverse("kpi:my_day")


def test_the_quick_entry_form_ignores_a_deal_in_the_address_that_is_not_a_number(login, hunter):
    response = login(hunter).get(reverse("kpi:activity_create"), {"deal": "abc"})

    assert response.status_code == 200


@pytest.mark.parametrize("role_fixture", ["accountant", "production"])
def test_quick_entry_is_refused_to_people_who_do_not_work_the_pipeline(login, request, hunter, role_fixture):
    client = make_client(acting_user=hunter)

    response = login(request.getfixturevalue(role_fixture)).post(
        reverse("kpi:activity_create"), activity_data(client)
    )

    assert response.status_code == 403
    assert not Activity.objects.exists()


# --- call-log import page ----------------------------------------------------------------------------

CALL_LOG = "\r\n".join(
    [
        "call_id;started_at;extension;other_number;direction;duration_s;recording_url",
        "c-1;2026-03-03 11:00:00;101;8 (912) 345-67-89;outgoing;125;https://pbx.example.ru/r/1.wav",
        "c-2;2026-03-03 11:10:00;102;+79990001122;исходящий;00:01:05;",
        "c-3;2026-03-03 11:20:00;555;+79990001133;outgoing;60;",
        "c-4;когда-то;101;+79990001144;outgoing;60;",
    ]
).encode("utf-8")


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Posts a call log; its import task, queued when the upload commits, runs then (eagerly) unless
    ``run=False`` (a job no worker has taken yet)."""

    def post(
        browser, data: bytes = CALL_LOG, name: str = "calls.csv", *, follow: bool = True, run: bool = True
    ):
        with django_capture_on_commit_callbacks(execute=run):
            response = browser.post(
                reverse("kpi:call_import"), {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
            )
        if follow and response.status_code == 302:
            return browser.get(response["Location"])
        return response

    return post


def summary(response) -> str:
    return text(response.content.decode())


def test_the_call_log_page_documents_the_columns_of_the_file(login, sales_head):
    response = login(sales_head).get(reverse("kpi:call_import"))

    assert response.status_code == 200
    columns = re.findall(r"<code>(\w+)</code>", response.content.decode())
    assert columns == [
        "call_id",
        "started_at",
        "extension",
        "other_number",
        "direction",
        "duration_s",
        "recording_url",
    ]


def test_the_call_log_page_imports_an_uploaded_csv_in_the_background(
    login, sales_head, hunter, other_hunter, upload
):
    client = make_client(acting_user=hunter, phones=["+79123456789"])

    response = upload(login(sales_head), follow=False)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("kpi:call_import_job", args=[job.pk])
    assert (job.status, job.total, job.processed) == ("done", 3, 3)  # the three good rows of four
    page = summary(login(sales_head).get(response["Location"]))
    assert "Загружено звонков: 3." in page
    assert "Новых звонков: 3" in page
    assert "Уже были загружены: 0" in page
    assert "Без клиента в базе: 1" in page
    assert "Не найден хантер по внутреннему номеру: 1" in page
    assert CallRecord.objects.count() == 3
    assert CallRecord.objects.get(external_id="c-1").activity.client == client
    counts = month_counters(month=MARCH, hunter_ids=[hunter.pk, other_hunter.pk])
    assert (counts[hunter.pk].calls, counts[other_hunter.pk].calls) == (1, 1)


def test_uploading_the_same_call_log_again_creates_no_duplicates(
    login, sales_head, hunter, other_hunter, upload
):
    browser = login(sales_head)
    upload(browser)

    response = upload(browser)

    page = summary(response)
    assert "Новых звонков: 0" in page
    assert "Уже были загружены: 3" in page
    assert CallRecord.objects.count() == 3
    assert Activity.objects.count() == 2


def test_the_call_log_page_lists_unmatched_and_rejected_rows(login, sales_head, hunter, other_hunter, upload):
    response = upload(login(sales_head))

    page = summary(response)
    assert "c-3 555 03.03.2026 11:20" in page  # no hunter has extension 555
    assert "Строка 5: не распознано время начала «когда-то»" in page
    assert not CallRecord.objects.filter(external_id="c-4").exists()


def test_an_excel_file_is_refused_at_once_with_a_hint(login, sales_head, upload):
    response = upload(login(sales_head), b"PK\x03\x04 whatever", name="calls.xlsx")

    assert response.status_code == 400
    assert "Это файл Excel: сохраните журнал звонков как CSV и загрузите его" in response.content.decode()
    assert not CallRecord.objects.exists() and not ImportJob.objects.exists()


def test_a_file_without_the_required_columns_is_refused_at_once(login, sales_head, upload):
    response = upload(login(sales_head), b"call_id;started_at\nc-1;2026-03-03 11:00\n")

    assert response.status_code == 400
    assert "В файле нет обязательных столбцов: extension (внутренний номер)" in summary(response)
    assert not ImportJob.objects.exists()


def test_the_job_page_shows_progress_while_the_worker_reads_and_stores_the_log(login, sales_head, upload):
    browser = login(sales_head)
    response = upload(browser, follow=False, run=False)
    job = ImportJob.objects.get()
    assert job.status == "queued"

    ImportJob.objects.filter(pk=job.pk).update(status="running", total=40_000, processed=15_000)
    fragment = browser.get(response["Location"], headers={"HX-Request": "true"}).content.decode()

    assert 'hx-trigger="every 2s"' in fragment
    assert '<progress class="w-100" max="40000" value="15000"' in fragment
    assert "Обработано строк: 15000 из 40000 (37 %)" in text(fragment)


def test_only_the_head_who_imported_sees_the_call_import_job(login, sales_head, hunter, accountant, upload):
    response = upload(login(sales_head), follow=False)
    deputy = UserFactory(username="deputy", role=Role.SALES_HEAD)

    assert login(deputy).get(response["Location"]).status_code == 404
    assert login(hunter).get(response["Location"]).status_code == 403
    assert login(accountant).get(response["Location"]).status_code == 403


def test_a_hunter_cannot_import_call_logs(login, hunter, upload):
    browser = login(hunter)

    assert browser.get(reverse("kpi:call_import")).status_code == 403
    assert upload(browser).status_code == 403
    assert not CallRecord.objects.exists()


# --- the PBX webhook ---------------------------------------------------------------------------------

ANSWERED = int(datetime(2026, 3, 3, 6, 0, tzinfo=UTC).timestamp())  # 11:00 in Yekaterinburg


def cdr(**fields) -> dict:
    return {
        "cdr_id": "cdr-1",
        "call_id": "sip-call-1",
        "direction": "out",
        "caller": "sip:101@pbx",
        "callee": "89123456789",
        "answered_time": ANSWERED,
        "ended_time": ANSWERED + 95,
        "end_reason": "Hang up by caller",
        **fields,
    }


@pytest.fixture
def webhook(client, settings):
    settings.TELEPHONY_WEBHOOK_TOKEN = "secret"

    def post(payload, token: str | None = "secret", **extra):
        headers = {} if token is None else {"X-Portal-Token": token}
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        return client.post(
            reverse("kpi:telephony_cdr"), body, content_type="application/json", headers=headers, **extra
        )

    return post


@pytest.mark.parametrize("token", [None, "", "wrong", "secret "])
def test_the_webhook_refuses_a_missing_or_wrong_token(webhook, hunter, token):
    response = webhook(cdr(), token=token)

    assert response.status_code == 403
    assert not CallRecord.objects.exists()


def test_the_webhook_refuses_everything_while_no_token_is_configured(client, settings, hunter):
    settings.TELEPHONY_WEBHOOK_TOKEN = ""

    response = client.post(
        reverse("kpi:telephony_cdr"),
        json.dumps(cdr()),
        content_type="application/json",
        headers={"X-Portal-Token": ""},
    )

    assert response.status_code == 403
    assert not CallRecord.objects.exists()


def test_a_valid_cdr_is_stored_and_counts_as_a_call_of_the_hunter_with_that_extension(webhook, hunter):
    client = make_client(acting_user=hunter, phones=["+79123456789"])

    response = webhook(cdr())

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    record = CallRecord.objects.get()
    assert (record.external_id, record.hunter, record.duration_s) == ("cdr-1", hunter, 95)
    assert record.activity.client == client
    assert record.activity.at == local(2026, 3, 3, 11, 0)
    assert month_counters(month=MARCH, hunter_ids=[hunter.pk])[hunter.pk].calls == 1


def test_the_same_cdr_delivered_again_is_a_duplicate_and_stored_once(webhook, hunter):
    webhook(cdr())

    response = webhook(cdr(end_reason="retry"))

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate"}
    assert CallRecord.objects.count() == 1
    assert Activity.objects.count() == 1
    assert month_counters(month=MARCH, hunter_ids=[hunter.pk])[hunter.pk].calls == 1


def test_the_webhook_takes_a_form_encoded_cdr_with_the_token_in_the_header(client, settings, hunter):
    settings.TELEPHONY_WEBHOOK_TOKEN = "secret"

    response = client.post(reverse("kpi:telephony_cdr"), cdr(), headers={"X-Portal-Token": "secret"})

    assert response.json() == {"status": "ok"}
    assert CallRecord.objects.get().hunter == hunter


@pytest.mark.parametrize("header", [None, "secret"], ids=["address-only", "address-and-header"])
def test_the_webhook_refuses_a_token_in_the_address_even_the_right_one_and_says_to_use_the_header(
    webhook, hunter, header
):
    response = webhook(cdr(), token=header, QUERY_STRING="token=secret")

    assert response.status_code == 403
    assert "X-Portal-Token" in response.json()["error"] and "заголовке" in response.json()["error"]
    assert not CallRecord.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        json.dumps({**cdr(), "cdr_id": ""}),
        json.dumps(cdr(direction="sideways")),
        json.dumps(cdr(ended_time="вчера")),
        json.dumps({key: value for key, value in cdr().items() if key != "ended_time"}),
    ],
    ids=["not-json", "no-cdr-id", "unknown-direction", "bad-time", "no-end-time"],
)
def test_a_malformed_cdr_is_answered_400_and_stores_nothing(webhook, hunter, payload):
    response = webhook(payload)

    assert response.status_code == 400
    assert "error" in response.json()
    assert not CallRecord.objects.exists()


@pytest.mark.parametrize("payload", ["[]", '"cdr"', "null", "42"], ids=["array", "string", "null", "number"])
def test_a_cdr_that_is_json_but_not_an_object_is_answered_400(webhook, hunter, payload):
    response = webhook(payload)

    assert response.status_code == 400
    assert not CallRecord.objects.exists()
