"""Dashboard figures that read years of history, stored between background refreshes.

The head's dashboard shows figures whose inputs are the whole history (the forecast's stage rates,
samples → orders over a year, the month's funnel, the quarter's best employee). The background job
refreshes them with the plan progress; a page view reads the stored value, and computes it itself
only when it was never stored or is older than ``MAX_AGE`` (the job is down).
"""

import pickle
from collections.abc import Callable
from datetime import date, timedelta

from django.utils import timezone

from .models import DashboardFigure

MAX_AGE = timedelta(minutes=45)


def stored_figure(key: str, compute: Callable[[], object]) -> object:
    row = DashboardFigure.objects.filter(key=key, computed_at__gte=timezone.now() - MAX_AGE).first()
    if row is not None:
        return pickle.loads(row.value)
    return figure_store(key, compute())


def figure_store(key: str, value: object) -> object:
    DashboardFigure.objects.update_or_create(
        key=key, defaults={"value": pickle.dumps(value), "computed_at": timezone.now()}
    )
    return value


def dashboard_figures(month: date) -> dict[str, tuple[str, Callable[[], object]]]:
    """The stored figures of the head's dashboard for a month: name → (key, how to compute it)."""
    from . import analytics
    from .months import next_month, quarter_start
    from .selectors import best_employee

    until = next_month(month) - timedelta(days=1)
    return {
        "forecast": ("forecast", analytics.forecast),
        "funnel": (f"funnel:{month:%Y-%m}", lambda: analytics.funnel(since=month, until=until)),
        "samples": (
            f"samples:{month:%Y-%m}",
            lambda: analytics.samples_conversion(since=month - timedelta(days=365), until=until),
        ),
        "best_employee": (f"best:{quarter_start(month):%Y-%m}", lambda: best_employee(month)),
    }


def dashboard_figures_read(month: date) -> dict[str, object]:
    return {name: stored_figure(key, compute) for name, (key, compute) in dashboard_figures(month).items()}


def dashboard_figures_refresh(month: date) -> None:
    for key, compute in dashboard_figures(month).values():
        figure_store(key, compute())
