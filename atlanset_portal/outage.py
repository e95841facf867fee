"""Servers the portal works without for a while: the cache and the broker (one Redis in production).

A page that changes data must answer when Redis is stopped or frozen. The change is already safe in the
database by then (kpi.DirtyMonth marks what still needs recalculating), so a cache or broker error costs
only speed: ``cache_add`` turns it into "no answer", ``PortalTask.apply_async`` into work done inline.
Each remembers the failure for a few seconds, so the next requests of the same process do not wait out
the same socket timeout again while the server is away.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger("atlanset_portal.outage")


class Outage:
    """Remembers for ``seconds`` that a server did not answer."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    def record(self) -> None:
        self._until = time.monotonic() + self.seconds

    def clear(self) -> None:
        self._until = 0.0


CACHE_OUTAGE = Outage("cache", seconds=30)
BROKER_OUTAGE = Outage("broker", seconds=30)


def _soft(operation, default):
    """Runs a cache operation; when the cache cannot be asked, remembers it and answers ``default``."""
    if CACHE_OUTAGE.active():
        return default
    try:
        return operation()
    except Exception:  # each cache backend has its own connection and timeout errors
        CACHE_OUTAGE.record()
        logger.warning("Cache unavailable, going on without it for %s s", CACHE_OUTAGE.seconds, exc_info=True)
        return default


def cache_add(key: str, value: object, *, timeout: float) -> bool | None:
    """``cache.add`` that never raises: True when the key was added, False when it was there already,
    None when the cache could not be asked (the caller goes on without it)."""
    return _soft(lambda: cache.add(key, value, timeout=timeout), None)


def cache_get(key: str) -> object | None:
    """``cache.get`` that never raises: None when the key is missing or the cache could not be asked."""
    return _soft(lambda: cache.get(key), None)


def cache_set(key: str, value: object, *, timeout: float) -> None:
    """``cache.set`` that never raises: a value the cache could not take is simply worked out again."""
    _soft(lambda: cache.set(key, value, timeout=timeout), None)


def cache_clear() -> bool:
    """``cache.clear`` that never raises: False when the cache could not be asked."""
    return _soft(lambda: cache.clear() or True, False)
