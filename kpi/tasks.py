from datetime import date

from celery import shared_task
from django.utils import timezone

from imports.services import import_job_task

from .figures import dashboard_figures_refresh
from .months import month_start
from .progress import progress_recalculate, progress_recalculate_marked
from .services import call_log_import_run


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


@shared_task(name="kpi.tasks.import_call_log", bind=True)
def import_call_log(self, job_id: int) -> None:
    """Imports an uploaded call log (an ImportJob); a job already finished is left alone."""
    import_job_task(self, job_id=job_id, runner=call_log_import_run)
