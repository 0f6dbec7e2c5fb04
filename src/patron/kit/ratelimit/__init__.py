"""A request limit per key (a client IP), counted in PostgreSQL, shared by every server process.

The window slides in tenths: each key's requests are counted in buckets a tenth of the window
long (0.5 s of the default 5 s), and a request is let through when fewer than `limit` were let
through in the current bucket and the nine before it. A request is thus remembered for between
nine tenths of the window and the whole window: never longer than an exact sliding window
would, so nobody waits longer than the window, and at most a tenth of a window sooner. Refused
requests are not counted, so a client that waits the `Retry-After` it was given is let through.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta

from patron.db.pool import Pool
from patron.kit.ratelimit import repository
from patron.kit.ratelimit.repository import Count

logger = logging.getLogger("patron.ratelimit")

BUCKETS_PER_WINDOW = 10
# How often a process deletes the counters that no longer count (at least once per window).
CLEANUP_SECONDS = 60.0


class ClientRateLimit:
    """At most `limit` requests per `seconds` for each key, across every process on the database.

    Costs one statement (one round trip, no WAL flush: the table is UNLOGGED) per request, ~0.2 ms
    and ~0.12 ms of the process's CPU (bench/README.md), and one DELETE per process every minute
    or window. Raises what the pool raises when the database
    cannot be reached (asyncpg errors, OSError).
    """

    def __init__(self, pool: Callable[[], Pool], limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._pool = pool
        self._window = timedelta(seconds=seconds)
        self._bucket = timedelta(microseconds=max(1, round(seconds * 1e6 / BUCKETS_PER_WINDOW)))
        self._cleanup_every = max(CLEANUP_SECONDS, seconds)
        self._next_cleanup = 0.0

    async def retry_after(self, key: str) -> int | None:
        """None when a request by `key` may go ahead now (and count it); else the whole seconds
        to wait, 1 to ceil(`seconds`)."""
        async with self._pool().acquire() as conn:
            count = await repository.count_if_allowed(
                conn, key, limit=self.limit, window=self._window, bucket=self._bucket
            )
            if time.monotonic() >= self._next_cleanup:
                self._next_cleanup = time.monotonic() + self._cleanup_every
                forgotten = await repository.forget_before(conn, window=self._window)
                logger.debug("client rate limit: %d stale counters deleted", forgotten)
        if count.accepted:
            return None
        return seconds_to_wait(count, limit=self.limit, window=self._window)


def seconds_to_wait(count: Count, *, limit: int, window: timedelta) -> int:
    """The whole seconds until a refused key's oldest buckets have left the window, enough of
    them for one more request to fit under `limit`: at least 1, at most ceil(`window`)."""
    remaining = sum(hits for _, hits in count.buckets)
    # Room in what the statement saw: a concurrent request took the last place meanwhile.
    wait = timedelta(seconds=1)
    for bucket, hits in count.buckets:
        if remaining < limit:
            break
        remaining -= hits
        wait = bucket + window - count.at
    if remaining >= limit:  # a limit of 0 lets nothing through
        wait = window
    return min(max(1, math.ceil(wait.total_seconds())), max(1, math.ceil(window.total_seconds())))
