"""Shared benchmark plumbing: a `patron serve` on a fresh embedded PostgreSQL, and load."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"X-App-Id": "bench", "X-App-Token": "bench-token"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Wait until `url` answers without a server error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class PatronServer:
    base: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str]

    @property
    def dsn(self) -> str:
        """The server's database: the external one it was given, or the embedded PostgreSQL's
        DSN as `patron serve` records it in its data folder."""
        return (
            self.env.get("PATRON_DATABASE_URL")
            or (self.data_dir / "database_url").read_text().strip()
        )


@contextmanager
def patron_server(
    database_url: str | None = None,
    *,
    source: Path | None = None,
    serve_args: Sequence[str] = (),
) -> Iterator[PatronServer]:
    """A `patron serve` on a fresh embedded PostgreSQL (or on `database_url`), healthy, stopped
    and its data folder removed afterwards; `source` serves another checkout's code instead of
    this one's (for measuring a change side by side), `serve_args` are added to the command
    (e.g. `--workers 2`)."""
    work = Path(tempfile.mkdtemp(prefix="patron-bench-"))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PATRON_")},
        "PATRON_DATA_DIR": str(work / "data"),
        "PATRON_APP_ID": HEADERS["X-App-Id"],
        "PATRON_APP_TOKEN": HEADERS["X-App-Token"],
        "PATRON_LOG_LEVEL": "WARNING",
        # One server process, as the figures are (and as the limit server is): the benches read
        # the CPU and memory of the process they started.
        "PATRON_WORKERS": "1",
        **({"PATRON_DATABASE_URL": database_url} if database_url else {}),
        **({"PYTHONPATH": str(source / "src")} if source else {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "patron", "serve", "--port", str(port), *serve_args],
        env=env,
        cwd=source or ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health")
        yield PatronServer(base, process, work / "data", env)
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def _load(
    base: str,
    make_request: Callable[[int], tuple[str, str, Any]],
    *,
    requests: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    async with httpx.AsyncClient(
        base_url=base,
        headers=headers or HEADERS,
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for n in counter:
                method, path, body = make_request(n)
                started = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result(requests, time.perf_counter() - started, latencies, errors)


def load(
    base: str,
    make_request: Callable[[int], tuple[str, str, Any]],
    *,
    requests: int,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
) -> Result:
    return asyncio.run(
        _load(base, make_request, requests=requests, concurrency=concurrency, headers=headers)
    )


def side_by_side(
    base: str,
    cases: dict[str, Callable[[int], tuple[str, str, Any]]],
    *,
    requests: int,
    rounds: int = 3,
    headers: dict[str, dict[str, str]] | None = None,
) -> dict[str, list[Result]]:
    """Run the cases in alternation, `rounds` times each, so that noise hits them alike;
    `headers` gives a case other credentials than the bench project's."""
    results: dict[str, list[Result]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, make_request in cases.items():
            results[name].append(
                load(base, make_request, requests=requests, headers=(headers or {}).get(name))
            )
    return results


def report(results: dict[str, list[Result]]) -> dict[str, float]:
    medians: dict[str, float] = {}
    for name, runs in results.items():
        rps = statistics.median(run.rps for run in runs)
        p50 = statistics.median(run.percentile(0.5) for run in runs)
        p99 = statistics.median(run.percentile(0.99) for run in runs)
        errors = sum(run.errors for run in runs)
        medians[name] = rps
        print(f"{name:36s} {rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {errors}")
    return medians
