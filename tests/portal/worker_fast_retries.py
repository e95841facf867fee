"""Loaded only into workers that tests/portal/test_failures.py starts (``celery worker -I``): a task that
hits a database error is retried once, not six times over about five minutes, so a test can see the
retries run out while PostgreSQL is down."""

from atlanset_portal.background import PortalTask

PortalTask.max_retries = 1
