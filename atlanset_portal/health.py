"""Can the portal serve: the database, the cache and the broker, each asked with a short timeout.

``/health/`` answers from this (compose's health check of the web service, a monitor). It names the
part that is down and nothing more: no host names, versions or error texts, which go to the log.
"""

import logging
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connections

logger = logging.getLogger("atlanset_portal.health")

# Seconds the broker may take to answer (the database and the cache have theirs in the settings).
BROKER_TIMEOUT = 2


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    """A value written is read back (a unique key, so two processes checking at once do not collide)."""
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=30)
    try:
        if cache.get(key) != "ok":
            raise RuntimeError("the cache did not keep a value")
    finally:
        cache.delete(key)


def check_broker() -> None:
    """One connection to the broker the tasks are queued on, without retries."""
    from atlanset_portal.celery import app

    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_connect_timeout": BROKER_TIMEOUT,
        "socket_timeout": BROKER_TIMEOUT,
    }
    with app.connection_for_write(transport_options=options) as connection:
        connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


def parts_down() -> list[str]:
    """The names of the parts that failed their check, in the order of ``CHECKS``."""
    down = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            logger.warning("Health check: the %s is down: %s", name, error)
            down.append(name)
    return down
