"""`patron customers import FILE.csv`: the API's CSV import, run from the operator's shell."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from patron.activities.service import Actor, EventSource
from patron.async_actions import repository as actions
from patron.async_actions import service as async_actions
from patron.async_actions.service import carry_out
from patron.customers.bulk import enqueue_csv_import
from patron.db.pool import create_pool
from patron.kit import ids
from patron.projects import service as projects
from patron.workers import BATCH_SIZES, HANDLERS


class ImportError_(Exception):
    """The import could not start; the message says why."""


async def import_csv(
    dsn: str, project_key: str, path: Path, out: TextIO = sys.stderr
) -> dict[str, Any]:
    """Queue the file exactly as `POST /v1/customers/importCSV` does, carry it out here (or watch
    the server's worker do it), and draw its progress. Returns the finished async action."""
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            try:
                project = await projects.find(conn, project_key)
            except projects.UnknownProject as exc:
                raise ImportError_(str(exc)) from None
            if project is None:
                raise ImportError_(f"no project with name, id or app id {project_key}")
            actor = Actor(
                project_id=project.id,
                source=EventSource(channel="INTERNAL"),
                request_id=ids.request_id(),
            )
            with path.open("rb") as file:
                async with conn.transaction():
                    action_id = await enqueue_csv_import(conn, actor, file)

        async def watch() -> None:
            # tqdm's bar, drawn only when `out` is a terminal (disable=None).
            with tqdm(total=0, unit=" rows", file=out, disable=None, dynamic_ncols=True) as bar:
                while True:
                    async with pool.acquire() as conn:
                        row = await actions.find(conn, project.id, action_id)
                    assert row is not None
                    bar.total = row["total_rows"]
                    bar.update(row["cursor"] - bar.n)
                    if row["status"] in ("DONE", "FAILED"):
                        return
                    await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        async with pool.acquire() as lock_conn:
            if await actions.try_lock(lock_conn, project.id, action_id):
                try:
                    await carry_out(pool, project.id, action_id, HANDLERS, batch_sizes=BATCH_SIZES)
                finally:
                    await actions.unlock(lock_conn, project.id, action_id)
        await watcher
        async with pool.acquire() as conn:
            return await async_actions.get(conn, project.id, action_id)
    finally:
        await pool.close()
