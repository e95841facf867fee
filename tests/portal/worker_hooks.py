"""Loaded only into the worker that tests/portal/test_failures.py starts (``celery worker -I``): makes the
first morning reminder run pause halfway, after its first rule has committed, so the test can kill the
worker process in the middle of the task."""

import os
import time
from pathlib import Path

from notifications import services

MARKER = Path(os.environ["VAR_DIR"]) / "pause-once"
PAUSED = Path(os.environ["VAR_DIR"]) / "paused"


def _pause_once(today, days):
    if MARKER.exists():
        MARKER.unlink()
        PAUSED.write_text(str(os.getpid()))
        time.sleep(120)
    return iter(())


services.RULES = (services.RULES[0], _pause_once, *services.RULES[1:])
