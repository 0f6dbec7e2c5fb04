"""Python's cyclic garbage collector, set for a long-running server."""

from __future__ import annotations

import gc

# Container allocations (net of frees) between two young-generation collections; CPython's
# default is 700. With 32 requests in flight the young generation filled every ~30 requests,
# and those collections alone took ~20 µs of CPU per GET (bench/README.md, "Session 4").
# Objects freed by reference counting, nearly all of a request's, never meet the collector
# either way; only cyclic garbage waits longer, a few MB at most.
YOUNG_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Call once the process has started: what exists now lives as long as the process.

    Collects the start-up garbage, then moves every surviving object (modules, the app, its
    routes and schemas, ~100,000 objects) out of the collector's sight with `gc.freeze()`, so
    that full collections no longer walk them again and again (~80 ms each before), and raises
    the young generation's threshold.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
