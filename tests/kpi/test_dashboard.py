"""The head's dashboard: each figure against last month and the same month last year, hunters without a
plan left out of the ranking, past months without today's columns and with the forecast as it stood, and
the whole dashboard as an XLSX workbook."""

import io
import pickle
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from openpyxl import load_workbook

from deals.stages import Stage
from kpi.analytics import forecast
from kpi.figures import FORECAST_KEY
from kpi.models import ActivityKind, DashboardFigure
from kpi.months import previous_month
from kpi.progress import progress_recalculate
from kpi.selectors import year_before
from tests.deals.factories import make_deal
from tests.factories import TEST_PASSWORD

from .factories import ORDER_TOTAL, local, log_activity, make_hunter, paid_deal, set_plan
from .test_views import marks, results_board, section, text


@pytest.fixture
def head_browser(client, sales_head):
    assert client.login(username=sales_head.username, password=TEST_PASSWORD)
    return client


def this_month() -> date:
    return timezone.localdate().replace(day=1)


def changes(html: str, hunter: str, column: str) -> dict[str, str]:
    """The changes shown under a board figure: {"month": "м/м …", "year": "г/г …"}."""
    rows = dict(re.findall(r'<tr>\s*<th scope="row">(.*?)</th>(.*?)</tr>', section(html, "results"), re.S))
    cell = re.search(rf'data-column="{column}">(.*?)</td>', rows[hunter], re.S).group(1)
    return {
        kind: text(body) for kind, body in re.findall(r'data-compare="(\w+)"[^>]*>(.*?)</div>', cell, re.S)
    }


def meetings(hunter, count: int, month: date) -> None:
    for day in range(count):
        log_activity(hunter, ActivityKind.MEETING, at=local(month.year, month.month, 2 + day))


# --- comparison ----------------------------------------------------------------------------------


def test_each_board_figure_is_compared_with_last_month_and_the_same_month_last_year(
    head_browser, sales_head, hunter, pipeline
):
    march, february, a_year_before = date(2026, 3, 1), date(2026, 2, 1), date(2025, 3, 1)
    meetings(hunter, 3, march)
    meetings(hunter, 2, february)
    meetings(hunter, 4, a_year_before)
    paid_deal(pipeline, ("1500.00", date(2026, 3, 5)))
    paid_deal(pipeline, ("1000.00", date(2026, 2, 5)))
    for month in (march, february, a_year_before):
        progress_recalculate(month=month)

    html = head_browser.get(reverse("kpi:dashboard"), {"month": "2026-03"}).content.decode()

    assert changes(html, "Иван Иванов", "meetings") == {
        "month": "м/м +1 (+50,0 %)",
        "year": "г/г −1 (−25,0 %)",
    }
    assert changes(html, "Иван Иванов", "revenue") == {
        "month": "м/м +500,00 ₽ (+50,0 %)",
        "year": "г/г +1 500,00 ₽",  # nothing a year before: no percentage of zero
    }
    assert changes(html, "Иван Иванов", "messages") == {
        "month": "м/м ±0",
        "year": "г/г ±0",
    }
    # The note names the months compared, in the right case.
    assert "м/м, февраль 2026" in text(html) and "г/г, март 2025" in text(html)
    # The department's revenue is compared the same way, under the chart.
    chart = text(section(html, "revenue-chart"))
    assert "Март 2026: 1 500,00 ₽" in chart
    assert "м/м +500,00 ₽ (+50,0 %)" in chart


def test_the_revenue_chart_shows_each_months_value(head_browser, hunter, pipeline):
    for _ in range(3):
        paid_deal(pipeline, (ORDER_TOTAL, date(2026, 3, 5)))
    for _ in range(4):
        paid_deal(pipeline, (ORDER_TOTAL, date(2026, 2, 5)))

    chart = section(
        head_browser.get(reverse("kpi:dashboard"), {"month": "2026-03"}).content.decode(), "revenue-chart"
    )

    labels = re.findall(r'class="chart-value">([^<]*)<', chart)
    assert len(labels) == 12
    assert labels[-2:] == ["20,0", "15,0"]  # in thousands of roubles, as the heading says
    assert "тыс. ₽" in text(chart)


# --- ranking -------------------------------------------------------------------------------------


def test_hunters_without_a_plan_are_not_ranked(head_browser, sales_head, hunter, other_hunter):
    newcomer = make_hunter(full_name="Яков Новичков")  # no plan this month, and no work either
    month = this_month()
    for someone in (hunter, other_hunter):
        set_plan(sales_head, someone, month, meetings_target=5)
    now = timezone.now()
    for _ in range(3):
        log_activity(hunter, ActivityKind.MEETING, at=now)
    log_activity(other_hunter, ActivityKind.MEETING, at=now)

    board = results_board(head_browser.get(reverse("kpi:dashboard")))

    assert set(board) == {"Иван Иванов", "Анна Смирнова", "Яков Новичков"}
    assert marks(board, "meetings") == ({"Иван Иванов"}, {"Анна Смирнова"})
    for column in ("leads", "calls", "meetings", "messages", "revenue", "deals"):
        assert "Яков Новичков" not in marks(board, column)[1], column
    assert newcomer.pk  # on the board all the same, with «план не установлен»


# --- past months ---------------------------------------------------------------------------------


def test_a_past_month_leaves_out_todays_overdue_and_onboarding_columns(head_browser, hunter):
    last = previous_month(this_month())

    current = section(head_browser.get(reverse("kpi:dashboard")).content.decode(), "results")
    past = section(
        head_browser.get(reverse("kpi:dashboard"), {"month": f"{last:%Y-%m}"}).content.decode(), "results"
    )

    assert "Просрочено" in current and "Обучение" in current
    assert "Просрочено" not in past and "Обучение" not in past
    assert "только за текущий месяц" in text(past)


def test_a_past_month_without_a_stored_forecast_says_it_shows_todays(head_browser, hunter):
    html = head_browser.get(reverse("kpi:dashboard"), {"month": "2026-03"}).content.decode()

    notice = text(re.search(r'id="forecast-as-of">(.*?)</p>', html, re.S).group(1))
    assert notice.startswith("За март 2026 прогноз не сохранялся: ниже — прогноз на сегодня")
    assert timezone.localdate().strftime("%d.%m.%Y") in notice


def test_a_past_month_shows_the_forecast_as_it_stood_when_one_was_stored(head_browser, hunter, pipeline):
    pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    stood = replace(forecast(), until=date(2026, 3, 31), total=Decimal("123456.78"))
    DashboardFigure.objects.create(
        key=f"{FORECAST_KEY}:2026-03", value=pickle.dumps(stood), computed_at=timezone.now()
    )

    html = head_browser.get(reverse("kpi:dashboard"), {"month": "2026-03"}).content.decode()
    block = section(html, "forecast")

    assert "Прогноз, каким он был 31.03.2026" in text(block)
    assert "123 456,78 ₽" in text(block)
    assert 'data-figure="open"' not in block  # today's lists would not match the old figures


def test_the_current_forecast_is_kept_for_its_month(head_browser, hunter):
    head_browser.get(reverse("kpi:dashboard"))

    assert DashboardFigure.objects.filter(key=f"{FORECAST_KEY}:{timezone.localdate():%Y-%m}").exists()


def test_the_forecast_names_its_window_sample_and_the_departments_rate(head_browser, hunter, pipeline):
    pipeline.win(make_deal(acting_user=hunter))
    pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)

    block = text(section(head_browser.get(reverse("kpi:dashboard")).content.decode(), "forecast"))

    today = timezone.localdate()
    assert f"по {today:%d.%m.%Y}" in block
    assert "n=1" in block  # one finished deal, the won one
    assert "общая" in block  # below the minimum sample of 10: the department's rate, and it says so
    assert "Общая доля отдела: 100,0 % (завершено сделок: 1" in block
    assert "из них оплачено: 1)" in block


# --- export --------------------------------------------------------------------------------------


def test_the_dashboard_downloads_as_xlsx_with_the_same_figures(head_browser, sales_head, hunter, pipeline):
    month = this_month()
    set_plan(sales_head, hunter, month, revenue_target=Decimal("10000"), meetings_target=4)
    paid_deal(pipeline, (ORDER_TOTAL, timezone.localdate()))
    paid_deal(pipeline, ("1000.00", previous_month(month) + timedelta(days=3)))
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now())
    for each in (month, previous_month(month), year_before(month)):
        progress_recalculate(month=each)

    response = head_browser.get(reverse("kpi:dashboard"), {"month": f"{month:%Y-%m}", "export": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"dashboard-{month:%Y-%m}.xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Результаты", "Выручка по месяцам", "Воронка", "Прогноз", "О выгрузке"]
    results = book["Результаты"]
    header = [cell.value for cell in results[1]]
    row = {name: cell.value for name, cell in zip(header, results[2], strict=True)}
    assert row["Хантер"] == "Иван Иванов"
    assert (row["Встречи"], row["Встречи: план"], row["Встречи: % плана"]) == (1, 4, Decimal("25.0"))
    assert row["Выручка"] == Decimal("5000.00")
    assert row["Выручка: к прошлому месяцу"] == Decimal("4000.00")
    assert row["Выручка: к прошлому месяцу, %"] == Decimal("400.0")
    assert results.freeze_panes == "A2"
    assert results.auto_filter.ref == results.dimensions
    revenue = book["Выручка по месяцам"]
    assert [cell.value for cell in revenue[13]] == [date_format(month, "F Y"), Decimal("5000.00")]
    forecast_sheet = book["Прогноз"]
    assert forecast_sheet.cell(row=forecast_sheet.max_row, column=1).value == "Итого"
