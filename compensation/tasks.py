from celery import shared_task

from .approval import check_marked


@shared_task(name="compensation.tasks.check_marked_statements")
def check_marked_statements() -> int:
    """Checks the approved statements something changed under; returns how many went back to draft.
    Running it twice checks nothing twice: a checked statement is no longer marked."""
    return check_marked()
