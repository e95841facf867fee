"""Logging: one JSON object per line in production (``LOG_FORMAT=json``, the default with ``DEBUG=0``), each
with the request id of the page or task that wrote it, so one request can be followed through the web
process, the worker and the error tracker.

The id comes from the ``X-Request-ID`` header when a proxy in front set a sensible one, else it is made
here (``atlanset_portal.middleware.RequestIdMiddleware``); it is sent back in the response header, travels
with every task the request queues (a message header) and is the task's id otherwise.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

NO_REQUEST = "-"
request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


class RequestIdFilter(logging.Filter):
    """Gives every record the current request id (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC), level, logger, message, request id, process and, when
    there is one, the exception with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "process": record.processName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- the id travels with the tasks a request queues --------------------------------------------------------


def add_request_id_to_task(headers: dict | None = None, **kwargs) -> None:
    """``before_task_publish``: the queueing request's id goes into the message headers."""
    request_id = request_id_var.get()
    if headers is not None and request_id != NO_REQUEST:
        headers.setdefault("request_id", request_id)


def take_request_id_of_task(task=None, task_id: str | None = None, **kwargs) -> None:
    """``task_prerun``: a task logs under the id of the request that queued it, or under its own id."""
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    request_id_var.set(request_id or task_id or NO_REQUEST)


def forget_request_id_of_task(**kwargs) -> None:
    """``task_postrun``: the worker process goes back to no request."""
    request_id_var.set(NO_REQUEST)
