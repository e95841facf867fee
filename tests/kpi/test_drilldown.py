"""Every figure of the head's dashboard is a link to the list of the records it is made of: on a month made
by hand, each link is followed and its list counted (and summed, for money) against the figure."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from kpi.models import ActivityKind, CallDirection
from kpi.months import previous_month
from kpi.progress import progress_recalculate
from tests.deals.factories import make_client, make_deal
from tests.factories import TEST_PASSWORD

from .factories import ORDER_TOTAL, log_activity, paid_deal, pbx_call, set_plan
from .test_views import section, text


@pytest.fixture
def head_browser(client, sales_head):
    assert client.login(username=sales_head.username, password=TEST_PASSWORD)
    return client


def money(value: str) -> Decimal:
    """«6 234,56 ₽» → Decimal("6234.56")."""
    return Decimal(re.sub(r"[^\d,\-−]", "", value).replace(",", ".").replace("−", "-"))


def links(html: str) -> list[tuple[str, str, str]]:
    """(figure kind, address, shown value) of every figure link in an HTML fragment."""
    found = []
    for attributes, inner in re.findall(
        r'<a ([^>]*class="[^"]*figure-link[^"]*"[^>]*)>(.*?)</a>', html, re.S
    ):
        href = unescape(re.search(r'href="([^"]*)"', attributes).group(1))
        kind = re.search(r'data-figure="([^"]*)"', attributes)
        found.append((kind.group(1) if kind else "", href, text(inner)))
    return found


def listed(browser, href: str) -> tuple[int, Decimal | None]:
    """How many records the linked list holds, and for payments their sum."""
    response = browser.get(href)
    assert response.status_code == 200, href
    html = response.content.decode()
    count = int(re.search(r'id="list-count">(\d+)<', html).group(1))
    total = re.search(r'id="list-total"[^>]*data-sum="([^"]*)"', html)
    return count, Decimal(total.group(1)) if total else None


def board_links(html: str) -> dict[tuple[str, str], tuple[str, str]]:
    """{(hunter, column): (address, value shown)} of the results board."""
    board = {}
    for name, cells in re.findall(
        r'<tr>\s*<th scope="row">(.*?)</th>(.*?)</tr>', section(html, "results"), re.S
    ):
        for column, content in re.findall(r'data-column="(\w+)">(.*?)</td>', cells, re.S):
            found = links(content)
            if found:
                board[(text(name), column)] = found[0][1:]
    return board


@pytest.fixture
def month_by_hand(sales_head, hunter, other_hunter, pipeline, other_pipeline):
    """This month: Иван — 2 counted PBX calls (plus a short one, an incoming one and two calls typed by
    hand, which do not count), 2 meetings, 1 message, 2 lead cards (plus one without a phone) and three
    deals with new clients: one paid in full (5 000), one paid in part (1 234,56), one with an overdue
    contact; last month one meeting. Анна — 1 counted
    call, 1 meeting, a deal paid last month (5 000) and nothing this month."""
    today = timezone.localdate()
    now = timezone.now()
    last_month = previous_month(today.replace(day=1))
    for someone in (hunter, other_hunter):
        set_plan(
            sales_head, someone, today, calls_target=10, meetings_target=4, revenue_target=Decimal("9000")
        )
    for _ in range(2):
        pbx_call(hunter, at=now)
    pbx_call(hunter, at=now, duration_s=0)
    pbx_call(hunter, at=now, direction=CallDirection.INCOMING)
    log_activity(hunter, ActivityKind.CALL, at=now)
    for _ in range(2):
        log_activity(hunter, ActivityKind.MEETING, at=now)
    log_activity(hunter, ActivityKind.MESSAGE, at=now)
    make_client(acting_user=hunter, name="Салон «Лотос»")
    make_client(acting_user=hunter, name="Салон «Ирис»")
    make_client(acting_user=hunter, name="Салон без телефона", phones=[])
    paid_deal(pipeline, (ORDER_TOTAL, today))
    paid_deal(pipeline, ("1234.56", today))
    late = make_deal(acting_user=hunter)
    log_activity(
        hunter,
        ActivityKind.CALL,
        at=now,
        client=late.client,
        deal=late,
        next_contact_on=today - timedelta(days=2),
    )
    pbx_call(other_hunter, at=now)
    log_activity(other_hunter, ActivityKind.MEETING, at=now)
    paid_deal(other_pipeline, (ORDER_TOTAL, last_month + timedelta(days=9)))
    log_activity(hunter, ActivityKind.MEETING, at=now.replace(day=1) - timedelta(days=20))
    for month in (today, last_month):
        progress_recalculate(month=month)
    return today


def test_every_figure_of_the_results_board_lists_exactly_its_records(head_browser, month_by_hand):
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()
    board = board_links(html)

    expected = {
        ("Иван Иванов", "leads"): "5",  # the two cards with a phone, and the clients of his three deals
        ("Иван Иванов", "calls"): "2",
        ("Иван Иванов", "meetings"): "2",
        ("Иван Иванов", "messages"): "1",
        ("Иван Иванов", "revenue"): "6 234,56 ₽",
        ("Иван Иванов", "deals"): "1",
        ("Анна Смирнова", "calls"): "1",
        ("Анна Смирнова", "meetings"): "1",
        ("Анна Смирнова", "revenue"): "0,00 ₽",
        ("Анна Смирнова", "deals"): "0",
    }
    assert {key: board[key][1] for key in expected} == expected
    assert len(board) == 13  # 6 figures of each hunter, and Иван's overdue contacts
    for (hunter, column), (href, shown) in board.items():
        count, total = listed(head_browser, href)
        if column == "revenue":
            assert total == money(shown), (hunter, href)
            assert count == {"Иван Иванов": 2, "Анна Смирнова": 0}[hunter]
        else:
            assert count == int(shown), (hunter, column, href)
    assert board[("Иван Иванов", "overdue")][1] == "1"


def test_a_figures_list_shows_its_filters_so_they_can_be_changed(head_browser, month_by_hand, hunter):
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()
    href, _shown = board_links(html)[("Иван Иванов", "calls")]

    page = head_browser.get(href).content.decode()

    assert re.search(rf'<option value="{hunter.pk}" selected>Иван Иванов</option>', page)
    assert f'value="{month_by_hand:%Y-%m}"' in page
    assert re.search(r'<option value="call" selected>', page)
    assert re.search(r'name="counted"[^>]*>.*?<option value="1" selected>', page, re.S)
    # Changing a filter is an ordinary search: all of Иван's calls of the month, counted or not (4 from the
    # PBX, 2 typed by hand).
    count, _total = listed(head_browser, href.replace("counted=1", "counted="))
    assert count == 6


def test_funnel_figures_list_the_deals_that_entered_and_went_on(head_browser, month_by_hand):
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()
    figures = links(section(html, "funnel"))

    assert {kind for kind, _href, _shown in figures} == {"entered", "moved_on"}
    entered = [int(shown) for kind, _href, shown in figures if kind == "entered"]
    assert entered[0] == 4  # Иван's three deals and Анна's one were made this month
    for _kind, href, shown in figures:
        assert listed(head_browser, href)[0] == int(shown), href


def test_forecast_figures_list_the_open_deals_and_the_sample(head_browser, month_by_hand):
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()
    forecast = section(html, "forecast")
    figures = links(forecast)

    opened = {href: int(shown) for kind, href, shown in figures if kind == "open"}
    samples = {href: int(shown.removeprefix("n=")) for kind, href, shown in figures if kind == "sample"}
    assert sum(opened.values()) == 2  # the part-paid deal at the payment stage, the new one at lead
    assert len(samples) == 9  # one sample per stage
    for href, shown in [*opened.items(), *samples.items()]:
        assert listed(head_browser, href)[0] == shown, href
    [(href, shown)] = [(href, shown) for kind, href, shown in figures if kind == "department"]
    assert (
        listed(head_browser, href)[0] == int(shown) == 2
    )  # paid in full: Иван's this month, Анна's the last


def test_records_and_revenue_bars_list_their_payments_and_activities(head_browser, month_by_hand):
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()

    records = {
        name: links(body)[0][1:]
        for name, body in re.findall(r'data-record="(\w+)">(.*?)</li>', section(html, "records"), re.S)
    }
    assert set(records) == {"revenue", "deals", "calls", "meetings"}
    revenue_href, revenue_shown = records["revenue"]
    assert listed(head_browser, revenue_href)[1] == money(revenue_shown) == Decimal("6234.56")
    for name in ("deals", "calls", "meetings"):
        href, shown = records[name]
        assert listed(head_browser, href)[0] == int(shown), name

    chart = section(html, "revenue-chart")
    bars = re.findall(r'<a href="([^"]*)"><title>[^:]*: ([^<]*)</title>', chart)
    assert len(bars) == 12
    for href, shown in bars:
        assert listed(head_browser, unescape(href))[1] == money(shown), href
    assert [money(shown) for _href, shown in bars[-2:]] == [Decimal("5000.00"), Decimal("6234.56")]
    department = links(re.search(r'id="department-revenue".*?</p>', chart, re.S).group(0))
    assert listed(head_browser, department[0][1])[1] == money(department[0][2]) == Decimal("6234.56")


def test_the_call_log_holds_the_same_counted_calls_as_the_figure(head_browser, month_by_hand, hunter):
    month = f"{month_by_hand:%Y-%m}"
    html = head_browser.get(reverse("kpi:dashboard")).content.decode()
    _href, shown = board_links(html)[("Иван Иванов", "calls")]

    counted = listed(head_browser, f"{reverse('kpi:call_log')}?hunter={hunter.pk}&month={month}&counted=1")
    every = listed(head_browser, f"{reverse('kpi:call_log')}?hunter={hunter.pk}&month={month}")

    assert counted[0] == int(shown) == 2
    assert every[0] == 4  # the short and the incoming call are in the log, not in the KPI
