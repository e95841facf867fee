"""Dashboard figures that read years of history, stored between background refreshes.

The head's dashboard shows figures whose inputs are the whole history (the forecast's stage rates,
samples → orders over a year, the month's funnel, the quarter's best employee). The background job
refreshes them with the plan progress; a page view reads the stored value, and computes it itself
only when it was never stored or is older than ``MAX_AGE`` (the job is down).
"""

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from .models import DashboardFigure

MAX_AGE = timedelta(minutes=45)
# The forecast's key; the version changes with the shape of the stored Forecast, so a figure pickled by
# an older release is never read as the new one. Each month also keeps the last forecast made in it
# (``FORECAST_KEY:YYYY-MM``): what a past month's dashboard shows.
FORECAST_KEY = "forecast:v2"


def stored_figure(key: str, compute: Callable[[], object]) -> object:
    row = DashboardFigure.objects.filter(key=key, computed_at__gte=timezone.now() - MAX_AGE).first()
    if row is not None:
        return pickle.loads(row.value)
    return figure_store(key, compute())


def figure_stamp(key: str, compute: Callable[[], object]) -> datetime:
    """When the stored figure was worked out (stored first when missing or older than ``MAX_AGE``): its
    version, for the parts of the dashboard drawn once per version, read without the value itself."""
    stamp = (
        DashboardFigure.objects.filter(key=key, computed_at__gte=timezone.now() - MAX_AGE)
        .values_list("computed_at", flat=True)
        .first()
    )
    if stamp is None:
        figure_store(key, compute())
        stamp = DashboardFigure.objects.values_list("computed_at", flat=True).get(key=key)
    return stamp


def figure_stamps(figures: dict[str, tuple[str, Callable[[], object]]]) -> dict[str, datetime]:
    """``figure_stamp`` of each of ``figures`` (name → (key, how to compute it)), read in one query."""
    stamps = dict(
        DashboardFigure.objects.filter(
            key__in=[key for key, _compute in figures.values()], computed_at__gte=timezone.now() - MAX_AGE
        ).values_list("key", "computed_at")
    )
    return {
        name: stamps[key] if key in stamps else figure_stamp(key, compute)
        for name, (key, compute) in figures.items()
    }


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
        "forecast": (FORECAST_KEY, _forecast_kept_for_the_month),
        "funnel": (f"funnel:{month:%Y-%m}", lambda: analytics.funnel(since=month, until=until)),
        "samples": (
            f"samples:{month:%Y-%m}",
            lambda: analytics.samples_conversion(since=month - timedelta(days=365), until=until),
        ),
        "best_employee": (f"best:{quarter_start(month):%Y-%m}", lambda: best_employee(month)),
    }


def dashboard_figures_refresh(month: date) -> None:
    for key, compute in dashboard_figures(month).values():
        figure_store(key, compute())


def _forecast_kept_for_the_month():
    from .analytics import forecast

    value = forecast()
    figure_store(f"{FORECAST_KEY}:{value.until:%Y-%m}", value)
    return value


@dataclass(frozen=True)
class MonthForecast:
    forecast: object  # analytics.Forecast
    as_it_stood: bool  # the month's own forecast: the current one, or the last one stored in a past month
    today: bool  # made today from today's deals (the current forecast, or a past month's never stored)


@dataclass(frozen=True)
class ForecastSource:
    """Which stored forecast a month's dashboard shows, and its version."""

    key: str
    stamp: datetime
    as_it_stood: bool
    today: bool

    def read(self) -> MonthForecast:
        if self.key == FORECAST_KEY:
            forecast = stored_figure(FORECAST_KEY, _forecast_kept_for_the_month)
        else:
            forecast = pickle.loads(DashboardFigure.objects.values_list("value", flat=True).get(key=self.key))
        return MonthForecast(forecast=forecast, as_it_stood=self.as_it_stood, today=self.today)


def forecast_source(month: date, *, stamp: datetime | None = None) -> ForecastSource:
    """The forecast to show for ``month``: this month's is the current one; a past month's is the last one
    made in it, if one was stored; otherwise (a past month never stored, a month to come) today's.
    ``stamp`` is the current forecast's stamp when the caller has read it."""
    current = timezone.localdate().replace(day=1)
    if month < current:
        kept = f"{FORECAST_KEY}:{month:%Y-%m}"
        kept_at = DashboardFigure.objects.filter(key=kept).values_list("computed_at", flat=True).first()
        if kept_at is not None:
            return ForecastSource(key=kept, stamp=kept_at, as_it_stood=True, today=False)
    return ForecastSource(
        key=FORECAST_KEY,
        stamp=stamp or figure_stamp(FORECAST_KEY, _forecast_kept_for_the_month),
        as_it_stood=month == current,
        today=True,
    )
