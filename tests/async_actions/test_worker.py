"""Carrying actions out: progress that moves, workers sharing a queue, and crash recovery."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from patron.activities.service import Actor, EventSource
from patron.async_actions import service
from patron.async_actions.schemas import render_action
from patron.async_actions.service import Action, BatchOutcome, PreparedHandler, carry_out
from patron.async_actions.worker import Worker
from patron.customers.bulk import apply_csv_import, enqueue_bulk_update, enqueue_csv_import
from patron.db.pool import create_pool
from patron.projects.service import Credentials
from patron.workers import HANDLERS
from tests.conftest import Database, create_project, repo_root, run


def _actor(credentials: Credentials) -> Actor:
    return Actor(credentials.project_id, EventSource("API", credentials.app_id), "v-test")


async def _enqueue_bulk(dsn: str, credentials: Credentials, rows: list[Any]) -> str:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            return await enqueue_bulk_update(conn, _actor(credentials), rows)
    finally:
        await pool.close()


class TestProgress:
    def test_progress_moves_batch_by_batch(self, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)
        rows = [{"source_id": f"p{n}"} for n in range(10)]
        action_id = run(_enqueue_bulk(fresh_database.dsn, credentials, rows))
        seen: list[int] = []

        async def recording(
            conn: Any, action: Action, batch: Sequence[tuple[int, Any]]
        ) -> BatchOutcome:
            row = await conn.fetchrow("SELECT * FROM async_actions WHERE id = $1", action.id)
            seen.append(render_action(row, with_result=False)["progress"])
            return await HANDLERS[action.type](conn, action, batch)

        async def go() -> dict[str, Any]:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=3)
            try:
                await carry_out(
                    pool,
                    credentials.project_id,
                    action_id,
                    {"CUSTOMERS.BULK_UPDATE": recording},
                    batch_size=3,
                )
                async with pool.acquire() as conn:
                    return await service.get(conn, credentials.project_id, action_id)
            finally:
                await pool.close()

        action = run(go())
        assert seen == [0, 30, 60, 90]
        assert action["progress"] == 100
        assert action["result"]["done_count"] == 10
        assert action["status"] == "DONE"


class TestWorkersShareTheQueue:
    def test_three_workers_apply_every_row_exactly_once(self, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)
        actions = [
            run(
                _enqueue_bulk(
                    fresh_database.dsn,
                    credentials,
                    [{"source_id": f"a{a}-{n}", "name": "x"} for n in range(300)],
                )
            )
            for a in range(6)
        ]

        async def work() -> None:
            pool = await create_pool(fresh_database.dsn, min_size=2, max_size=12)
            stop = asyncio.Event()
            workers = [Worker(pool, HANDLERS, poll_seconds=0.05, batch_size=50) for _ in range(3)]
            tasks = [asyncio.create_task(w.run(stop)) for w in workers]
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    async with pool.acquire() as conn:
                        left = await conn.fetchval(
                            "SELECT count(*) FROM async_actions WHERE status <> 'DONE'"
                        )
                    if left == 0:
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.gather(*tasks)
                await pool.close()

        run(work())
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == 1800
        assert (
            fresh_database.fetchval(
                "SELECT count(*) FROM customer_activities WHERE type = 'customer.created'"
            )
            == 1800
        )
        assert (
            fresh_database.fetchval(
                "SELECT sum(done_count) FROM async_actions WHERE id = ANY($1::text[])", actions
            )
            == 1800
        )
        assert (
            fresh_database.fetchval(
                "SELECT sum(count) FROM customer_counts WHERE project_id = $1",
                credentials.project_id,
            )
            == 1800
        )


class TestCrashRecovery:
    def test_killed_worker_resumes_without_applying_a_row_twice(
        self, fresh_database: Database, tmp_path: Any
    ) -> None:
        credentials = create_project(fresh_database)
        total = 20_000
        csv_path = tmp_path / "big.csv"
        with csv_path.open("w") as out:
            out.write("Source_id,Name,tier\n")
            for n in range(total):
                out.write(f"k{n},Name {n},{n % 7}\n")

        async def enqueue() -> str:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=2)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    with csv_path.open("rb") as file:
                        return await enqueue_csv_import(conn, _actor(credentials), file)
            finally:
                await pool.close()

        action_id = run(enqueue())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PATRON_")},
            "PATRON_DATABASE_URL": fresh_database.dsn,
            "PATRON_WORKER_BATCH_SIZE": "500",
            "PATRON_WORKER_POLL_SECONDS": "0.1",
            "PATRON_LOG_LEVEL": "WARNING",
        }

        def cursor() -> int:
            value = fresh_database.fetchval(
                "SELECT cursor FROM async_actions WHERE id = $1", action_id
            )
            return int(value)

        kills = 0
        for _ in range(3):
            worker = subprocess.Popen(
                [sys.executable, "-m", "patron", "worker"], env=env, cwd=repo_root()
            )
            start = cursor()
            deadline = time.monotonic() + 60
            while cursor() == start and time.monotonic() < deadline:
                time.sleep(0.01)
            if cursor() < total:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                kills += 1
            else:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
                break
        assert kills >= 1

        worker = subprocess.Popen(
            [sys.executable, "-m", "patron", "worker"], env=env, cwd=repo_root()
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status = fresh_database.fetchval(
                    "SELECT status FROM async_actions WHERE id = $1", action_id
                )
                if status == "DONE":
                    break
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        assert status == "DONE"
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == total
        assert (
            fresh_database.fetchval(
                "SELECT count(*) FROM customer_activities WHERE type = 'customer.created'"
            )
            == total
        )
        assert (
            fresh_database.fetchval("SELECT count(DISTINCT customer_id) FROM customer_activities")
            == total
        )
        assert (
            fresh_database.fetchval("SELECT done_count FROM async_actions WHERE id = $1", action_id)
            == total
        )
        assert (
            fresh_database.fetchval(
                "SELECT sum(count) FROM customer_counts WHERE project_id = $1",
                credentials.project_id,
            )
            == total
        )
        assert (
            fresh_database.fetchval(
                "SELECT count(*) FROM async_action_rows WHERE action_id = $1", action_id
            )
            == 0
        )


class TestPreparedBatches:
    def test_next_batch_is_prepared_while_one_is_applied_each_once_in_order(
        self, fresh_database: Database
    ) -> None:
        credentials = create_project(fresh_database)
        action_id = run(
            _enqueue_bulk(
                fresh_database.dsn, credentials, [{"source_id": f"p{n}"} for n in range(10)]
            )
        )
        events: list[tuple[str, int]] = []
        prepared = {start: threading.Event() for start in (0, 3, 6, 9)}

        def prepare(action: Action, rows: Iterable[tuple[int, Any]]) -> list[int]:
            numbers = [number for number, _ in rows]
            events.append(("prepare", numbers[0]))
            prepared[numbers[0]].set()
            return numbers

        async def apply(conn: Any, action: Action, numbers: list[int]) -> BatchOutcome:
            events.append(("apply", numbers[0]))
            if numbers[-1] < 9:
                # The next batch gets prepared while this one is in its transaction.
                assert await asyncio.to_thread(prepared[numbers[-1] + 1].wait, 10)
            return BatchOutcome(done=len(numbers))

        async def go() -> dict[str, Any]:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=2)
            try:
                await carry_out(
                    pool,
                    credentials.project_id,
                    action_id,
                    {"CUSTOMERS.BULK_UPDATE": PreparedHandler(prepare, apply)},
                    batch_size=3,
                )
                async with pool.acquire() as conn:
                    return await service.get(conn, credentials.project_id, action_id)
            finally:
                await pool.close()

        action = run(go())
        assert [event for event in events if event[0] == "apply"] == [
            ("apply", 0),
            ("apply", 3),
            ("apply", 6),
            ("apply", 9),
        ]
        assert sorted(event for event in events if event[0] == "prepare") == [
            ("prepare", 0),
            ("prepare", 3),
            ("prepare", 6),
            ("prepare", 9),
        ]
        assert action["status"] == "DONE"
        assert action["result"]["done_count"] == 10

    def test_a_failing_preparation_fails_the_action(self, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)
        action_id = run(_enqueue_bulk(fresh_database.dsn, credentials, [{"source_id": "x"}]))

        def prepare(action: Action, rows: Iterable[tuple[int, Any]]) -> None:
            raise RuntimeError("a bug")

        async def apply(conn: Any, action: Action, prepared: None) -> BatchOutcome:
            raise AssertionError("not reached")

        async def go() -> dict[str, Any]:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=2)
            try:
                await carry_out(
                    pool,
                    credentials.project_id,
                    action_id,
                    {"CUSTOMERS.BULK_UPDATE": PreparedHandler(prepare, apply)},
                )
                async with pool.acquire() as conn:
                    return await service.get(conn, credentials.project_id, action_id)
            finally:
                await pool.close()

        action = run(go())
        assert action["status"] == "FAILED"
        assert "unexpectedly" in action["result"]["message"]


class TestCsvRecords:
    def test_rows_are_stored_a_hundred_per_record(
        self, fresh_database: Database, tmp_path: Any
    ) -> None:
        credentials = create_project(fresh_database)
        csv_path = tmp_path / "records.csv"
        with csv_path.open("w") as out:
            out.write("Source_id,Email\n")
            for n in range(250):
                out.write(f"r{n},{'bad' if n == 120 else f'r{n}@example.com'}\n")

        async def go() -> tuple[str, list[int], dict[str, Any]]:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=3)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    with csv_path.open("rb") as file:
                        action_id = await enqueue_csv_import(conn, _actor(credentials), file)
                async with pool.acquire() as conn:
                    numbers = await conn.fetch(
                        "SELECT row_number FROM async_action_rows WHERE action_id = $1"
                        " ORDER BY row_number",
                        action_id,
                    )
                seen: list[int] = []

                async def watching(conn: Any, action: Action, prepared: Any) -> BatchOutcome:
                    row = await conn.fetchrow(
                        "SELECT cursor FROM async_actions WHERE id = $1", action.id
                    )
                    seen.append(row["cursor"])
                    return await apply_csv_import.apply(conn, action, prepared)

                handler = PreparedHandler(apply_csv_import.prepare, watching)
                await carry_out(
                    pool,
                    credentials.project_id,
                    action_id,
                    {"CUSTOMERS.IMPORT_CSV": handler},
                    batch_size=150,
                )
                async with pool.acquire() as conn:
                    action = await service.get(conn, credentials.project_id, action_id)
                return action_id, [r["row_number"] for r in numbers] + [-1] + seen, action
            finally:
                await pool.close()

        _, numbers, action = run(go())
        # Records are numbered by their last row; a batch of 150 rows is one record of 100.
        assert numbers == [99, 199, 249, -1, 0, 100, 200]
        result = action["result"]
        assert (result["done_count"], result["failed_count"]) == (249, 1)
        assert [(f["row"], f["source_id"]) for f in result["failed"]] == [(121, "r120")]
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == 249

    def test_imports_queued_one_row_per_record_still_run(self, fresh_database: Database) -> None:
        credentials = create_project(fresh_database)

        async def go() -> dict[str, Any]:
            pool = await create_pool(fresh_database.dsn, min_size=1, max_size=2)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    action_id = await service.enqueue(
                        conn,
                        _actor(credentials),
                        action_type="CUSTOMERS.IMPORT_CSV",
                        rows=[["s1", "Ann"], ["", "Nobody"], ["s2", "Bob"]],
                        params={"header": ["Source_id", "Name"]},
                    )
                await carry_out(pool, credentials.project_id, action_id, HANDLERS, batch_size=2)
                async with pool.acquire() as conn:
                    return await service.get(conn, credentials.project_id, action_id)
            finally:
                await pool.close()

        result = run(go())["result"]
        assert (result["done_count"], result["failed_count"]) == (2, 1)
        assert [(f["row"], f["source_id"]) for f in result["failed"]] == [(2, None)]
        assert fresh_database.fetchval("SELECT count(*) FROM customers") == 2
