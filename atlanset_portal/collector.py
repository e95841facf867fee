"""Python's garbage collector set for a long-lived web process.

A page builds thousands of short-lived objects (model instances, querysets, template nodes). With the
interpreter's defaults the collector runs every 700 allocations and, every hundred runs, scans every object
the process holds, the loaded code and templates included: 10–15 % of a board's CPU at full size. Once the
portal is loaded, its objects are moved out of the scans (``gc.freeze``) and young objects are collected
every 50 000 allocations. Cycles are still collected; they live a little longer.
"""

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_requests() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
