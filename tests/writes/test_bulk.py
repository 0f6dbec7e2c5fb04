"""Bulk changes on the write path: concurrent imports of one project date their customers
apart, every batch applied once."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from patron.activities.service import Actor, EventSource
from patron.async_actions.worker import Worker
from patron.customers.bulk import enqueue_bulk_update
from patron.db.pool import create_pool
from patron.workers import HANDLERS
from tests.conftest import Database, create_project, run


class TestConcurrentImports:
    def test_three_imports_of_one_project_at_once_all_finish(
        self, fresh_database: Database, caplog: pytest.LogCaptureFixture
    ) -> None:
        credentials = create_project(fresh_database)
        actor = Actor(credentials.project_id, EventSource("API", credentials.app_id), "v-test")

        async def work() -> None:
            pool = await create_pool(fresh_database.dsn, min_size=2, max_size=12)
            stop = asyncio.Event()
            try:
                for a in range(3):
                    rows = [{"source_id": f"i{a}-{n}", "name": "x"} for n in range(1500)]
                    async with pool.acquire() as conn, conn.transaction():
                        await enqueue_bulk_update(conn, actor, rows)
                # Three workers take the three actions at once, 100 rows a batch.
                workers = [Worker(pool, HANDLERS, poll_seconds=0.05, batch_size=100)] * 3
                tasks = [asyncio.create_task(w.run(stop)) for w in workers]
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    async with pool.acquire() as conn:
                        left = await conn.fetchval(
                            "SELECT count(*) FROM async_actions"
                            " WHERE status NOT IN ('DONE', 'FAILED')"
                        )
                    if left == 0:
                        break
                    await asyncio.sleep(0.05)
                stop.set()
                await asyncio.gather(*tasks)
            finally:
                await pool.close()

        with caplog.at_level(logging.INFO, logger="patron.writes.bulk"):
            run(work())
        # No batch met another import's creations: they choose their moments in turn.
        assert not [r for r in caplog.records if r.name == "patron.writes.bulk"]
        statuses = fresh_database.fetch("SELECT status, failed_count FROM async_actions")
        assert [row["status"] for row in statuses] == ["DONE"] * 3, statuses
        stamps = fresh_database.fetch(
            "SELECT created_at, clock_timestamp() AS now FROM customers WHERE project_id = $1",
            credentials.project_id,
        )
        assert len(stamps) == 4500
        assert len({row["created_at"] for row in stamps}) == 4500
        assert all(row["created_at"] <= row["now"] for row in stamps)
