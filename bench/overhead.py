"""What Patron's framework and layers cost per request, in process, against the limit app.

    .venv/bin/python -m bench.overhead [--requests 1500] [--rounds 12] [--case get …] [--metrics]

`--metrics` serves Patron with PATRON_METRICS=open, so that each request is also counted and
timed (kit/metrics.py): run with and without it to see what metrics cost. `--access-log` serves
it with PATRON_ACCESS_LOG on, a line per request at INFO in the text format (send stderr to
/dev/null): run with and without it to see what the access log costs.

Both ASGI apps (Patron's, as `patron serve` builds it, and the limit server's) run in this one
process on a fresh embedded PostgreSQL, and are called directly, one request at a time, in
alternating rounds; this process's CPU time per request is the figure. No HTTP server and no
load generator take CPU from the measurement, so the difference between the two apps (the
framework's routing, Patron's request id, authentication, input checks and response) shows up
with far less noise than in `bench.http_bench`, where the same two cores also run PostgreSQL,
uvicorn and wrk. It is a tool for finding and checking overhead, not a throughput figure:
`bench.http_bench` gives those.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvloop

from bench.dataset import load_customers
from bench.harness import HEADERS
from bench.limit_server import LimitApp
from patron.app import create_asgi
from patron.config import Settings
from patron.db import migrate
from patron.db.embedded import EmbeddedPostgres
from patron.db.pool import connect
from patron.kit import logs
from patron.projects import service as projects

ASGIApp = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]

_HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"x-app-id", HEADERS["X-App-Id"].encode()),
    (b"x-app-token", HEADERS["X-App-Token"].encode()),
    (b"content-type", b"application/json"),
]

# name: method, path, query string, body (a body's "{n}" becomes the request's number)
CASES: dict[str, tuple[str, str, bytes, str]] = {
    "get": ("GET", "/v1/customers/bench-7", b"", ""),
    "post": ("POST", "/v1/customers", b"", '{"source_id":"bench-5","name":"name {n}"}'),
    "put": ("PUT", "/v1/customers/bench-11", b"", '{"name":"renamed {n}"}'),
    "list": ("GET", "/v1/customers", b"limit=10", ""),
    "filtered": ("GET", "/v1/customers", b"city=City%2042&limit=10", ""),
    "activity": ("GET", "/v1/customers/bench-0/activity", b"limit=10", ""),
}


async def call(app: ASGIApp, method: str, path: str, query: bytes, body: bytes) -> int:
    """One request through `app`; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(_HEADERS),
        "state": {},
    }
    received = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # what a server does after the body: wait for a disconnect
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


class Lifespan:
    """An ASGI app's lifespan, started and stopped by hand."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(
            self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                self.inbox.get,
                self.outbox.put,
            )
        )
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        assert message["type"] == "lifespan.startup.complete", message

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)


async def cpu_per_request(app: ASGIApp, case: str, requests: int) -> float:
    """CPU µs of this process per request of `case` through `app`."""
    method, path, query, body = CASES[case]
    started = time.process_time()
    for n in range(requests):
        status = await call(app, method, path, query, body.replace("{n}", str(n)).encode())
        assert status == 200, (case, status)
    return (time.process_time() - started) / requests * 1e6


async def measure(
    dsn: str,
    selected: list[str],
    *,
    requests: int,
    rounds: int,
    metrics: bool = False,
    access_log: bool = False,
) -> None:
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            project = await projects.ensure(
                conn, app_id=HEADERS["X-App-Id"], app_token=HEADERS["X-App-Token"]
            )
    finally:
        await conn.close()
    await load_customers(dsn, project.id, start=0, count=1000)
    settings = Settings(
        database_url=dsn,
        worker=False,
        log_level="INFO" if access_log else "WARNING",
        metrics="open" if metrics else "off",
        access_log=access_log,
    )
    if access_log:
        logs.configure("INFO")
    patron = create_asgi(settings, dsn)
    limit = LimitApp(dsn, project.id)
    lifespans = [Lifespan(patron), Lifespan(limit)]
    for lifespan in lifespans:
        await lifespan.start()
    try:
        print(f"CPU µs per request, median of {rounds} alternating rounds of {requests}:")
        print(
            f"{'case':10s} {'Patron':>8s} {'limit':>8s} {'difference':>11s} {'limit / Patron':>15s}"
        )
        for case in selected:
            patron_runs: list[float] = []
            limit_runs: list[float] = []
            for app in (patron, limit):  # warm up: statement caches, first connections
                await cpu_per_request(app, case, 200)
            for _ in range(rounds):
                patron_runs.append(await cpu_per_request(patron, case, requests))
                limit_runs.append(await cpu_per_request(limit, case, requests))
            ours, theirs = statistics.median(patron_runs), statistics.median(limit_runs)
            paired = statistics.median(p - q for p, q in zip(patron_runs, limit_runs, strict=True))
            print(f"{case:10s} {ours:8.0f} {theirs:8.0f} {paired:11.0f} {theirs / ours:15.2f}")
    finally:
        for lifespan in lifespans:
            await lifespan.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--metrics", action="store_true", help="serve with PATRON_METRICS=open")
    parser.add_argument(
        "--access-log", action="store_true", help="serve with PATRON_ACCESS_LOG on (INFO)"
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="patron-overhead-"))
    embedded = EmbeddedPostgres(work / "data")
    try:
        dsn = embedded.start()
        migrate.upgrade(dsn)
        uvloop.run(
            measure(
                dsn,
                args.case or list(CASES),
                requests=args.requests,
                rounds=args.rounds,
                metrics=args.metrics,
                access_log=args.access_log,
            )
        )
    finally:
        embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
