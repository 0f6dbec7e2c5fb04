"""What the client-side rate limit costs per client-side request, now that it is counted in
PostgreSQL (kit/ratelimit), beside the cheapest round trip through the same pool.

    .venv/bin/python -m bench.client_rate_limit [--calls 1000] [--rounds 8] [--clients 50]

On a fresh embedded PostgreSQL (reached over its Unix socket, as `patron serve` does), calls
`ClientRateLimit.retry_after` (one statement: count the request if the client's window has
room) and, in alternating rounds, `SELECT 1` through the pool, one call at a time, from
`--clients` client addresses under a limit never reached. Prints each one's median wall time
per call and this process's CPU time per call (the best round of each): the first is what a
client-side request waits longer, the second what it takes from its server process's core.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from patron.db import migrate
from patron.db.embedded import EmbeddedPostgres
from patron.db.pool import create_pool
from patron.kit.ratelimit import ClientRateLimit


async def measure(dsn: str, *, calls: int, rounds: int, clients: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    limit = ClientRateLimit(lambda: pool, 1_000_000_000, 5.0)

    async def select_one(_: int) -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def rate_limit(n: int) -> None:
        client = n % clients
        assert await limit.retry_after(f"10.0.{client // 256}.{client % 256}") is None

    cases: dict[str, Callable[[int], Awaitable[None]]] = {
        "SELECT 1": select_one,
        "retry_after": rate_limit,
    }
    best: dict[str, tuple[float, float]] = {}
    try:
        for _ in range(rounds):
            for name, case in cases.items():
                waits = []
                cpu = time.process_time()
                for n in range(calls):
                    started = time.perf_counter()
                    await case(n)
                    waits.append(time.perf_counter() - started)
                per_call = (time.process_time() - cpu) / calls
                wait = statistics.median(waits)
                previous = best.get(name, (wait, per_call))
                best[name] = (min(previous[0], wait), min(previous[1], per_call))
    finally:
        await pool.close()
    print(f"{'':12s} {'median µs':>10s} {'CPU µs':>8s}")
    for name, (wait, per_call) in best.items():
        print(f"{name:12s} {wait * 1e6:10.0f} {per_call * 1e6:8.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="patron-ratelimit-"))
    embedded = EmbeddedPostgres(work / "data")
    try:
        dsn = embedded.start()
        migrate.upgrade(dsn)
        uvloop.run(measure(dsn, calls=args.calls, rounds=args.rounds, clients=args.clients))
    finally:
        embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
