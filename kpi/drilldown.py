"""Where each figure of the head's dashboard leads: the list of the records it is made of, with the
filters that select them in the address, so the list shows them and they can be changed there.

Each link uses the list's filter that applies the figure's own rule (``kpi.counters``,
``kpi.analytics``), so a figure and its list cannot drift apart; tests count both.
"""

from datetime import date, timedelta
from urllib.parse import urlencode

from atlanset_portal.links import page_path
from deals.stages import DealStatus

from .models import ActivityKind
from .months import next_month, quarter_months

YES = "1"
NO = "0"


def _url(name: str, **params) -> str:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    path = page_path(name)  # a dashboard links hundreds of figures to a dozen lists
    return f"{path}?{query}" if query else path


def _month(month: date) -> str:
    return f"{month:%Y-%m}"


def _day(day: date) -> str:
    return f"{day:%Y-%m-%d}"


# --- the results board and the records ----------------------------------------------------------


def leads(*, hunter_id: int, month: date) -> str:
    return _url("clients:list", created_by=hunter_id, created_month=_month(month), lead=YES)


def calls(*, hunter_id: int, month: date) -> str:
    return _url("kpi:activities", owner=hunter_id, month=_month(month), kind=ActivityKind.CALL, counted=YES)


def meetings(*, hunter_id: int, month: date) -> str:
    return _url("kpi:activities", owner=hunter_id, month=_month(month), kind=ActivityKind.MEETING)


def messages(*, hunter_id: int, month: date) -> str:
    return _url("kpi:activities", owner=hunter_id, month=_month(month), kind=ActivityKind.MESSAGE)


def revenue(*, month: date, hunter_id: int | None = None) -> str:
    """The payments and refunds counting in the month (for one hunter, or the department's)."""
    return _url("deals:payments", credited_to=hunter_id, month=_month(month))


def completed_deals(*, hunter_id: int, month: date) -> str:
    return _url("deals:list", completed_for=hunter_id, completed_in=_month(month))


def overdue_contacts(*, hunter_id: int) -> str:
    return _url("deals:list", owner=hunter_id, overdue=YES)


BOARD = {
    "leads": leads,
    "calls": calls,
    "meetings": meetings,
    "messages": messages,
    "revenue": lambda *, hunter_id, month: revenue(month=month, hunter_id=hunter_id),
    "deals": completed_deals,
}


def board_cell(name: str, *, hunter_id: int, month: date) -> str:
    return BOARD[name](hunter_id=hunter_id, month=month)


def quarter_margin(*, hunter_id: int, quarter: date) -> str:
    """The quarter's payments of the best employee (their margin is the figure)."""
    months = quarter_months(quarter)
    return _url(
        "deals:payments", credited_to=hunter_id, accrual_from=_month(months[0]), accrual_to=_month(months[-1])
    )


# --- the funnel ----------------------------------------------------------------------------------


def _month_days(month: date) -> tuple[str, str]:
    return _day(month), _day(next_month(month) - timedelta(days=1))


def funnel_entered(*, stage: str, month: date) -> str:
    since, until = _month_days(month)
    return _url("deals:list", entered_stage=stage, entered_from=since, entered_to=until)


def funnel_moved_on(*, stage: str, month: date) -> str:
    since, until = _month_days(month)
    return _url("deals:list", entered_stage=stage, entered_from=since, entered_to=until, moved_on=YES)


# --- the forecast --------------------------------------------------------------------------------


def forecast_open(*, stage: str) -> str:
    return _url("deals:list", stage=stage, status=DealStatus.OPEN, paid_in_full=NO)


def forecast_sample(*, since: date, until: date, stage: str | None = None, paid: bool = False) -> str:
    """The finished deals a rate is taken from: the stage's (``stage``) or the department's."""
    return _url(
        "deals:list",
        was_at_stage=stage,
        finished_from=_day(since),
        finished_to=_day(until),
        paid_in_full=YES if paid else None,
    )
