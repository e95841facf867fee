from datetime import date

from celery import shared_task
from django.utils import timezone

from .figures import dashboard_figures_refresh
from .months import month_start, previous_month
from .progress import progress_recalculate


@shared_task(name="kpi.tasks.recalculate_plan_progress")
def recalculate_plan_progress(month: str | None = None) -> int:
    """One month's stored progress for all hunters; by default the current and the previous month
    (payments and imports keep arriving for last month in the first days of a new one)."""
    if month is not None:
        first = date.fromisoformat(month)
        written = progress_recalculate(month=first)
        dashboard_figures_refresh(first)
        return written
    current = month_start(timezone.localdate())
    written = progress_recalculate(month=current) + progress_recalculate(month=previous_month(current))
    dashboard_figures_refresh(current)
    return written
