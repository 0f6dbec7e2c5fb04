"""Prometheus metrics of this server process: its registry, and what requests and workers count.

Each server process (`patron serve --workers N`) keeps its own figures, and a scrape of
`/metrics` answers with the figures of the one process it reached (with PATRON_METRICS=port,
of the one process that holds the metrics port: `patron.metrics.MetricsPort`). The gauges read
from the database (async actions, segments) are the same in every process; request counts,
latencies, worker batches and the pool are that process's alone.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# No `_created` series beside each counter and histogram: they double what a scrape carries.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

REQUESTS = Counter(
    "patron_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "patron_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by method and route template.",
    ("method", "route"),
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
WORKER_BATCHES = Counter(
    "patron_worker_batches",
    "Batches of async-action rows this process's worker committed.",
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "patron_db_pool_in_use",
    "Database connections of this process's pool lent out.",
    registry=REGISTRY,
)
POOL_WAITING = Gauge(
    "patron_db_pool_waiting",
    "Tasks of this process waiting for a database connection.",
    registry=REGISTRY,
)
POOL_SIZE = Gauge(
    "patron_db_pool_size",
    "Database connections this process's pool holds open.",
    registry=REGISTRY,
)
ASYNC_ACTIONS = Gauge(
    "patron_async_actions",
    "Async actions of every project, by status (ENQUEUED, IN_PROGRESS).",
    ("status",),
    registry=REGISTRY,
)
ASYNC_ACTION_OLDEST_AGE = Gauge(
    "patron_async_action_oldest_queued_age_seconds",
    "Age of the oldest async action not yet done (queued or running); 0 when there is none.",
    registry=REGISTRY,
)
SEGMENT_REFRESH_LAG = Gauge(
    "patron_segment_refresh_lag_seconds",
    "Time since the least recently reconciled auto-update segment was brought up to date"
    " (never reconciled: since it was created); 0 when there is none.",
    registry=REGISTRY,
)


class RequestMeter:
    """Counts one request and observes its duration, with the labelled children cached: a
    request then costs two dictionary reads, an increment and an observation."""

    def __init__(self) -> None:
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = REQUESTS.labels(method, route, str(status))
            self._counted[(method, route, status)] = counted
        counted.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = LATENCY.labels(method, route)
            self._timed[(method, route)] = timed
        timed.observe(seconds)


def exposition() -> bytes:
    """Every metric of this process in Prometheus's text format."""
    return generate_latest(REGISTRY)
