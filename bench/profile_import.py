"""Where an import's time goes: times the repository calls of one `carry_out`.

    .venv/bin/python bench/profile_import.py [--rows 100000] [--dsn postgresql://…/postgres]

Creates a scratch database on the server at --dsn (default: the local PostgreSQL at
127.0.0.1:5432), queues a generated CSV import with the API's code path, carries it out in this
process, and prints the seconds spent in each wrapped call.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from patron.activities import repository as activities_repository
from patron.activities.service import Actor, EventSource
from patron.async_actions.service import carry_out
from patron.customers import bulk
from patron.db import migrate
from patron.db.pool import create_pool
from patron.projects import service as projects
from patron.workers import HANDLERS
from patron.writes import bulk as bulk_writes
from patron.writes import repository as writes_repository

spent: collections.defaultdict[str, float] = collections.defaultdict(float)


def timed(module: Any, name: str, label: str) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    setattr(module, name, wrapper)


async def main(rows: int, dsn: str) -> None:
    for name in (
        "lock_live_by_keys",
        "update_many",
        "copy_new",
        "refresh_statistics_if_stale",
        "taken_created_at",
        "move_count",
    ):
        timed(writes_repository, name, f"writes.{name}")
    timed(activities_repository, "insert_many", "activities.insert_many")
    timed(bulk_writes, "merge", "writes.bulk.merge (all of the above and Python)")

    base = dsn.rsplit("/", 1)[0]
    admin = await asyncpg.connect(dsn)
    await admin.execute("DROP DATABASE IF EXISTS patron_profile WITH (FORCE)")
    await admin.execute("CREATE DATABASE patron_profile")
    scratch = f"{base}/patron_profile"
    try:
        await asyncio.to_thread(migrate.upgrade, scratch)
        pool = await create_pool(scratch, min_size=2, max_size=4)
        async with pool.acquire() as conn, conn.transaction():
            credentials = await projects.create(conn, "profile")
        path = Path(tempfile.mkdtemp()) / "customers.csv"
        with path.open("w") as out:
            out.write("Source_id,Name,Email,Phone,Birthdate,Address_City,tier,vip\n")
            for n in range(rows):
                out.write(
                    f"p-{n},Customer {n},c{n}@example.com,+48 600,1980-01-0{1 + n % 9},"
                    f"City {n % 100},{n % 5},true\n"
                )
        actor = Actor(credentials.project_id, EventSource("API", credentials.app_id), "v-bench")
        async with pool.acquire() as conn, conn.transaction():
            with path.open("rb") as file:
                action_id = await bulk.enqueue_csv_import(conn, actor, file)
        started = time.perf_counter()
        await carry_out(pool, credentials.project_id, action_id, HANDLERS)
        total = time.perf_counter() - started
        await pool.close()
        print(f"carried out {rows} rows in {total:.2f}s: {rows / total:,.0f} rows/s")
        for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            print(f"{seconds:8.2f}s {seconds / total:6.1%}  {label}")
    finally:
        await admin.execute("DROP DATABASE IF EXISTS patron_profile WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.dsn))
