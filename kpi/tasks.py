from datetime import date

from celery import shared_task
from django.utils import timezone

from imports.services import import_job_task

from .figures import dashboard_figures_refresh
from .months import month_start, previous_month
from .progress import progress_recalculate
from .services import call_log_import_run


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


@shared_task(name="kpi.tasks.import_call_log", bind=True)
def import_call_log(self, job_id: int) -> None:
    """Imports an uploaded call log (an ImportJob); a job already finished is left alone."""
    import_job_task(self, job_id=job_id, runner=call_log_import_run)
