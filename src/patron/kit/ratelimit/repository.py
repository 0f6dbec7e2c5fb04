"""SQL for the client-side rate limit's counters (the UNLOGGED table `client_rate_limits`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from patron.db.pool import Connection


class Count(msgspec.Struct, frozen=True):
    """What one attempt found: whether it was let through (and counted), the database's clock
    when it ran, and the client's counters in the window as they stood before it, oldest first
    (`(bucket start, requests let through in that bucket)`)."""

    accepted: bool
    at: datetime
    buckets: list[tuple[datetime, int]]


# One statement, so that one round trip counts a request. The buckets before the current one
# no longer change (a request counts in the bucket that holds its statement's start), so reading
# them from the statement's snapshot is exact, but for a request in flight across a bucket's end,
# which a request of the next bucket may miss. The current bucket's own count is checked by ON
# CONFLICT DO UPDATE against the row it has locked, the latest one, so concurrent requests from
# one client, in any process, are let through one at a time. A refused request changes nothing.
# The clock is the database's, so every process (and machine) agrees on the buckets.
_COUNT = """
WITH clock AS (
    SELECT statement_timestamp() AS at,
           date_bin($3::interval, statement_timestamp(), TIMESTAMPTZ '2000-01-01 00:00:00+00')
               AS bucket
), recent AS (
    SELECT counter.bucket, counter.hits
    FROM client_rate_limits AS counter, clock
    WHERE counter.client = $1
      AND counter.bucket > clock.bucket - $2::interval
      AND counter.bucket <= clock.bucket
), earlier AS (
    SELECT coalesce(sum(recent.hits), 0) AS hits
    FROM recent, clock
    WHERE recent.bucket < clock.bucket
), counted AS (
    INSERT INTO client_rate_limits AS counter (client, bucket, hits)
    SELECT $1, clock.bucket, 1 FROM clock, earlier WHERE earlier.hits < $4
    ON CONFLICT (client, bucket) DO UPDATE SET hits = counter.hits + 1
    WHERE counter.hits + (SELECT earlier.hits FROM earlier) < $4
    RETURNING counter.hits
)
SELECT EXISTS (SELECT FROM counted) AS accepted,
       clock.at,
       array(SELECT recent.bucket FROM recent ORDER BY recent.bucket) AS buckets,
       array(SELECT recent.hits FROM recent ORDER BY recent.bucket) AS hits
FROM clock
"""


async def count_if_allowed(
    conn: Connection, client: str, *, limit: int, window: timedelta, bucket: timedelta
) -> Count:
    """Count one request by `client` in the current `bucket` (a time bin, e.g. 0.5 s) if fewer
    than `limit` were let through in the buckets that start within `window` (e.g. 5 s) of it,
    this one included; otherwise count nothing. One atomic statement."""
    row = await conn.fetchrow(_COUNT, client, window, bucket, limit)
    assert row is not None
    return Count(
        accepted=row["accepted"],
        at=row["at"],
        buckets=list(zip(row["buckets"], row["hits"], strict=True)),
    )


async def forget_before(conn: Connection, *, window: timedelta) -> int:
    """Delete the counters of buckets that started `window` or longer ago (they no longer
    count); returns how many rows went."""
    status = await conn.execute(
        "DELETE FROM client_rate_limits WHERE bucket <= statement_timestamp() - $1::interval",
        window,
    )
    return int(status.rsplit(" ", 1)[1])
