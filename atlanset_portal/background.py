"""The base of every portal task: safe to retry, bounded in time, and never a lost piece of work when the
broker is down.

Tasks stay thin: each calls a service that can also run directly (tests, management commands).
"""

import logging
from fnmatch import fnmatch

from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable

from .outage import BROKER_OUTAGE

logger = logging.getLogger("atlanset_portal.background")


class PortalTask(DjangoTask):
    # Acknowledged only when done: a worker killed mid-task leaves it to another worker.
    acks_late = True
    reject_on_worker_lost = True
    # A database that restarts or drops the connection, a statement cancelled by its statement or lock
    # timeout: transient errors, tried again later.
    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 5
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 6

    def apply_async(self, args=None, kwargs=None, **options):
        """Queues the task; if the broker cannot be reached (stopped, or frozen past the socket timeouts of
        ``CELERY_BROKER_TRANSPORT_OPTIONS``), logs it and does the work here and now, so the page that
        asked for it still answers and nothing is lost. For a few seconds after such a failure the work
        is done inline at once, without waiting for the broker again."""
        if BROKER_OUTAGE.active() and not self.app.conf.task_always_eager:
            logger.warning("Broker unavailable a moment ago, running %s inline", self.name)
            return self.apply(args, kwargs)
        try:
            return super().apply_async(args, kwargs, **options)
        except BrokerUnavailable:
            BROKER_OUTAGE.record()
            logger.warning("Broker unavailable, running %s inline", self.name, exc_info=True)
            return self.apply(args, kwargs)


class TaskTimeLimits:
    """A Celery task annotation (``CELERY_TASK_ANNOTATIONS``): the tasks named in ``LONG_TASKS`` (imports,
    the morning reminder run) get ``LONG_TASK_SOFT_TIME_LIMIT``; every other task keeps
    ``CELERY_TASK_SOFT_TIME_LIMIT``. The hard limit is ``TASK_TIME_LIMIT_GRACE`` seconds after the soft
    one."""

    def annotate(self, task) -> dict[str, int] | None:
        if not any(fnmatch(task.name, pattern) for pattern in settings.LONG_TASKS):
            return None
        soft = settings.LONG_TASK_SOFT_TIME_LIMIT
        return {"soft_time_limit": soft, "time_limit": soft + settings.TASK_TIME_LIMIT_GRACE}
