from datetime import date

from celery import shared_task
from django.utils import timezone

from .figures import dashboard_figures_refresh
from .months import month_start
from .progress import progress_recalculate, progress_recalculate_marked


@shared_task(name="kpi.tasks.recalculate_plan_progress")
def recalculate_plan_progress(month: str | None = None) -> int:
    """One month's stored progress for all hunters (the debounced recalculation after a change). Without a
    month, the safety net: every hunter-month marked as behind its data, whatever the month, and the
    dashboard figures of this month."""
    if month is not None:
        first = date.fromisoformat(month)
        written = progress_recalculate(month=first)
        dashboard_figures_refresh(first)
        return written
    written = progress_recalculate_marked()
    dashboard_figures_refresh(month_start(timezone.localdate()))
    return written
