"""`GET /metrics`: this process's figures in Prometheus's text format (PATRON_METRICS)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from litestar import Request, Response, get

from patron.async_actions import repository as async_actions
from patron.db.pool import Pool
from patron.errors import Unauthorized
from patron.kit import metrics
from patron.openapi.operation import Content, operation
from patron.segments import repository as segments

# The app state's key for PATRON_METRICS_TOKEN; None when `/metrics` is open.
METRICS_TOKEN = "patron.metrics_token"

logger = logging.getLogger("patron.metrics")


@operation(
    "metrics",
    "System",
    response=Content((metrics.CONTENT_TYPE,), "no-store"),
    response_description="Every metric in Prometheus's text format.",
    errors=("Unauthorized",),
    public=True,
    description="Served only when PATRON_METRICS is `open` or `token`; with `token`, an"
    " `Authorization: Bearer` header carrying PATRON_METRICS_TOKEN is required. Not part of"
    " Voucherify's API.",
)
@get("/metrics", include_in_schema=False)
async def serve_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Request counts and latencies, worker batches, the database pool, the async-action queue
    and the segments' refresh lag, read now."""
    token: str | None = request.app.state.get(METRICS_TOKEN)
    if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
        raise Unauthorized("A valid Authorization: Bearer token is required for /metrics")
    await _read_gauges(request.app.state.pool)
    return Response(
        content=metrics.exposition(),
        status_code=200,
        media_type=metrics.CONTENT_TYPE,
        headers={"cache-control": "no-store"},
    )


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def _read_gauges(pool: Pool) -> None:
    # The pool first: the scrape's own connection is not counted as in use.
    size = pool.get_size()
    metrics.POOL_SIZE.set(size)
    metrics.POOL_IN_USE.set(size - pool.get_idle_size())
    # asyncpg keeps no public count of the tasks waiting in `acquire`: they are the getters of
    # its queue of free connections.
    waiters = getattr(getattr(pool, "_queue", None), "_getters", ())
    metrics.POOL_WAITING.set(sum(1 for waiter in waiters if not waiter.done()))
    try:
        async with pool.acquire(timeout=5) as conn:
            queue = await async_actions.queue_figures(conn)
            lag = await segments.refresh_lag_seconds(conn)
    except Exception as exc:
        # The process's own figures are still worth a scrape; the database's stay as last read.
        logger.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
        return
    metrics.ASYNC_ACTIONS.labels("ENQUEUED").set(queue["enqueued"])
    metrics.ASYNC_ACTIONS.labels("IN_PROGRESS").set(queue["in_progress"])
    metrics.ASYNC_ACTION_OLDEST_AGE.set(queue["oldest_seconds"])
    metrics.SEGMENT_REFRESH_LAG.set(lag)
