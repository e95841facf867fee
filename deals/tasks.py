from celery import shared_task

from imports.services import import_job_task

from .services import leads_import_run


@shared_task(name="deals.tasks.import_leads", bind=True)
def import_leads(self, job_id: int) -> None:
    """Imports a confirmed lead list (an ImportJob); a job already finished is left alone."""
    import_job_task(self, job_id=job_id, runner=leads_import_run)
