"""The base of every portal task: safe to retry, and never a lost piece of work when the broker is down.

Tasks stay thin: each calls a service that can also run directly (tests, management commands).
"""

import logging

from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger("atlanset_portal.background")


class PortalTask(DjangoTask):
    # Acknowledged only when done: a worker killed mid-task leaves it to another worker.
    acks_late = True
    reject_on_worker_lost = True
    # A database that restarts or drops the connection is a transient error: try again later.
    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 5
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 6

    def apply_async(self, args=None, kwargs=None, **options):
        """Queues the task; if the broker cannot be reached, logs it and does the work here and now,
        so the page that asked for it still answers and nothing is lost."""
        try:
            return super().apply_async(args, kwargs, **options)
        except BrokerUnavailable:
            logger.warning("Broker unavailable, running %s inline", self.name, exc_info=True)
            return self.apply(args, kwargs)
