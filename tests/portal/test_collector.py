"""The web workers' garbage collector: loaded code out of the scans, young objects collected less often."""

import gc
import runpy

import pytest
from django.conf import settings

from atlanset_portal.collector import YOUNG_THRESHOLD


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_each_gunicorn_worker_sets_the_collector_once_the_portal_is_loaded(restored_collector):
    config = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))
    gc.unfreeze()

    config["post_worker_init"](worker=None)

    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 10_000  # the loaded modules, URL patterns and templates
    # Cycles are still collected.
    collected = []

    class Cycle:
        def __del__(self):
            collected.append(1)

    first, second = Cycle(), Cycle()
    first.other, second.other = second, first
    del first, second
    gc.collect()
    assert collected == [1, 1]
