from celery import shared_task

from imports.services import import_job_task

from .approval import check_marked
from .bank_import import bank_import_run


@shared_task(name="compensation.tasks.check_marked_statements")
def check_marked_statements() -> int:
    """Checks the approved statements something changed under; returns how many went back to draft.
    Running it twice checks nothing twice: a checked statement is no longer marked."""
    return check_marked()


@shared_task(name="compensation.tasks.import_bank_statement", bind=True)
def import_bank_statement(self, job_id: int) -> None:
    """Records the confirmed lines of a bank statement (an ImportJob); a finished job is left alone."""
    import_job_task(self, job_id=job_id, runner=bank_import_run)


@shared_task(name="compensation.tasks.send_statement_emails")
def send_statement_emails() -> int:
    """Sends the statements waiting in the outbox; safe to repeat (a sent one is never sent again)."""
    from .mailing import statement_emails_send

    return statement_emails_send()
