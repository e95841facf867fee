"""The worker's consumer (``CELERY_WORKER_CONSUMER``): it survives a broker restart and gives back at once
the tasks it was holding.

When the connection to Redis breaks, Celery 5.7 collects the connection and then closes it. Collecting
detaches kombu's transport but leaves the default channel behind; closing it again makes the Redis
channel requeue its unacknowledged messages through the detached transport, which raises
``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery takes that for an unrecoverable
error and the worker exited, on every Redis restart during which it held a countdown task (a debounced
recalculation, a retry). The messages it held stayed unacknowledged in Redis until the visibility timeout
(an hour) handed them to a worker again.

Here the close after the collect may fail quietly (the sockets are already closed by then; only the
requeue, impossible with the server away, is left undone), and the requeue is done on the next
connection instead: the countdown and reserved tasks the worker held go back to their queue by their
delivery tags, and run once more, once. A task that was running keeps running; its acknowledgement
fails with the old connection and the message comes back after the visibility timeout (tasks are safe
to run twice).
"""

import logging

from celery.worker.consumer import Consumer
from celery.worker.state import active_requests, reserved_requests, scheduled_requests

logger = logging.getLogger("atlanset_portal.worker")


class PortalConsumer(Consumer):
    #: The delivery tags of the messages held when the connection broke, to give back on reconnecting.
    held_delivery_tags: tuple[str, ...] = ()

    def on_connection_error_after_connected(self, exc):
        self.held_delivery_tags = tuple({*self.held_delivery_tags, *_held_delivery_tags()})
        connection = self.connection
        if connection is not None:
            connection.close = connection.release = _closing_quietly(connection)
        super().on_connection_error_after_connected(exc)

    def connect(self):
        connection = super().connect()
        if self.held_delivery_tags:
            # A connection error here leaves the tags for the next attempt.
            _give_back(connection, self.held_delivery_tags)
            self.held_delivery_tags = ()
        return connection


def _held_delivery_tags() -> list[str]:
    """Messages this worker received and has not started: countdown/ETA tasks and reserved ones."""
    waiting = {*scheduled_requests, *reserved_requests} - set(active_requests)
    return [request.message.delivery_tag for request in waiting if request.message is not None]


def _closing_quietly(connection):
    close = type(connection).release.__get__(connection)

    def close_quietly() -> None:
        try:
            close()
        except Exception as error:  # the transport collect() detached: nothing left but its requeue
            logger.info("The lost broker connection did not close cleanly: %r", error)

    return close_quietly


def _give_back(connection, tags: tuple[str, ...]) -> None:
    restore = getattr(connection.default_channel.qos, "restore_by_tag", None)
    if restore is None:
        return  # a transport that requeues unacknowledged messages by itself
    for tag in tags:
        restore(tag)
    logger.warning("Broker connection back: %s held task(s) returned to the queue", len(tags))
