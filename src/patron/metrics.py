"""`GET /metrics`: this process's figures in Prometheus's text format (PATRON_METRICS), on the
API port (`open`, `token`) or on a port of its own (`port`, MetricsPort)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any

from litestar import Request, Response, get
from prometheus_client import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

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
    " `Authorization: Bearer` header carrying PATRON_METRICS_TOKEN is required. (With `port`,"
    " the same is served on PATRON_METRICS_PORT instead.) Not part of Voucherify's API.",
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


class MetricsPort:
    """PATRON_METRICS=port: the exposition `GET /metrics` gives, on `host:port` alone, without
    credentials, from prometheus-client's own HTTP server (a thread of this process). The
    gauges read from the database are read for each scrape, on this process's event loop.

    One process listens on the port: with several server processes, each tries to bind it and
    the first one does; the others try again every `retry_seconds`, so that one of them takes
    over when the holder exits. What is served is therefore one process's figures (see
    kit/metrics.py), the same process's from one scrape to the next. `run` serves until it is
    cancelled.
    """

    def __init__(
        self, host: str, port: int, pool: Callable[[], Pool], *, retry_seconds: float = 5.0
    ) -> None:
        self.host = host
        self.port = port
        self._pool = pool
        self._retry_seconds = retry_seconds
        # Set while this process holds the port.
        self.serving = asyncio.Event()

    async def run(self) -> None:
        collector = _ReadNow(asyncio.get_running_loop(), self._pool)
        told = False
        while True:
            try:
                server, _thread = start_http_server(self.port, self.host, registry=collector)
            except OSError as exc:
                if not told:  # in use by another server process, most likely: said once
                    logger.info(
                        "metrics: cannot listen on %s:%d (%s); trying again every %gs",
                        self.host,
                        self.port,
                        exc.strerror or exc,
                        self._retry_seconds,
                    )
                    told = True
                await asyncio.sleep(self._retry_seconds)
                continue
            logger.info("metrics: serving on http://%s:%d/metrics", self.host, self.port)
            self.serving.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.serving.clear()
                await asyncio.to_thread(server.shutdown)
                server.server_close()


class _ReadNow(Collector):
    """Every metric of this process, the database's gauges read first (as `/metrics` does).

    Collected on the HTTP server's thread; the reading runs on the process's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: Callable[[], Pool]) -> None:
        self._loop = loop
        self._pool = pool

    def collect(self) -> Iterable[Metric]:
        self._read_gauges()
        return metrics.REGISTRY.collect()

    def restricted_registry(self, names: Iterable[str]) -> Collector:
        """For a scrape that names the metrics it wants (`?name[]=…`)."""
        self._read_gauges()
        return metrics.REGISTRY.restricted_registry(names)

    def _read_gauges(self) -> None:
        reading = asyncio.run_coroutine_threadsafe(_read_gauges(self._pool()), self._loop)
        try:
            reading.result(timeout=10)
        except Exception as exc:
            reading.cancel()
            logger.warning("metrics: gauges not read (%s)", type(exc).__name__)
