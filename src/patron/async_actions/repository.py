"""SQL for async actions, their input rows, and the workers' queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.db.pool import Connection

COLUMNS = (
    "project_id, id, type, status, operation_status, request_id, params, total_rows, cursor, "
    "done_count, failed_count, errors, failure, created_at, updated_at, started_at, finished_at"
)

Row = asyncpg.Record

# Advisory-lock namespace of async actions (the second key is a hash of the action id).
LOCK_CLASS = 40_001

NOTIFY_CHANNEL = "patron_async_actions"


async def insert(
    conn: Connection,
    project_id: str,
    *,
    action_id: str,
    action_type: str,
    request_id: str,
    params: dict[str, Any],
) -> None:
    await conn.execute(
        """
        INSERT INTO async_actions (project_id, id, type, request_id, params, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, date_trunc('milliseconds', clock_timestamp()),
                date_trunc('milliseconds', clock_timestamp()))
        """,
        project_id,
        action_id,
        action_type,
        request_id,
        params,
    )


async def copy_rows(
    conn: Connection,
    project_id: str,
    action_id: str,
    rows: Sequence[tuple[int, Any]],
) -> None:
    """Store input rows (row number, JSON) with COPY."""
    await conn.copy_records_to_table(
        "async_action_rows",
        records=((project_id, action_id, number, data) for number, data in rows),
        columns=["project_id", "action_id", "row_number", "data"],
    )


async def set_total(conn: Connection, project_id: str, action_id: str, total_rows: int) -> None:
    await conn.execute(
        "UPDATE async_actions SET total_rows = $3 WHERE project_id = $1 AND id = $2",
        project_id,
        action_id,
        total_rows,
    )


async def merge_params(
    conn: Connection, project_id: str, action_id: str, params: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE async_actions SET params = params || $3::jsonb WHERE project_id = $1 AND id = $2",
        project_id,
        action_id,
        params,
    )


async def notify(conn: Connection) -> None:
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


async def find(
    conn: Connection, project_id: str, action_id: str, *, for_update: bool = False
) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM async_actions WHERE project_id = $1 AND id = $2{lock}",
        project_id,
        action_id,
    )


async def list_page(
    conn: Connection, project_id: str, *, limit: int, end_date: datetime | None
) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM async_actions
        WHERE project_id = $1 AND ($2::timestamptz IS NULL OR created_at <= $2)
        ORDER BY created_at DESC, id DESC
        LIMIT $3
        """,
        project_id,
        end_date,
        limit,
    )
    return rows


async def pending(conn: Connection, *, limit: int = 20) -> Sequence[Row]:
    """Actions waiting for a worker, oldest first (processing is queued in request order)."""
    rows: Sequence[Row] = await conn.fetch(
        """
        SELECT project_id, id FROM async_actions
        WHERE status IN ('ENQUEUED', 'IN_PROGRESS')
        ORDER BY created_at, id
        LIMIT $1
        """,
        limit,
    )
    return rows


async def queue_figures(conn: Connection) -> Row:
    """Across every project, for `/metrics`: `enqueued` and `in_progress` (how many actions
    wait and run) and `oldest_seconds` (the age of the oldest of them, 0 when there is none)."""
    row: Row | None = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status = 'ENQUEUED') AS enqueued,
               count(*) FILTER (WHERE status = 'IN_PROGRESS') AS in_progress,
               coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
                   AS oldest_seconds
        FROM async_actions
        WHERE status IN ('ENQUEUED', 'IN_PROGRESS')
        """
    )
    assert row is not None  # an aggregate always answers one row
    return row


async def try_lock(conn: Connection, project_id: str, action_id: str) -> bool:
    """Take the action for this session; released when the session ends, even by a crash."""
    locked: bool = await conn.fetchval(
        "SELECT pg_try_advisory_lock($1, hashtext($2 || '/' || $3))",
        LOCK_CLASS,
        project_id,
        action_id,
    )
    return locked


async def unlock(conn: Connection, project_id: str, action_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_unlock($1, hashtext($2 || '/' || $3))",
        LOCK_CLASS,
        project_id,
        action_id,
    )


async def mark_started(conn: Connection, project_id: str, action_id: str) -> None:
    await conn.execute(
        """
        UPDATE async_actions
        SET status = 'IN_PROGRESS', operation_status = 'UNKNOWN',
            started_at = coalesce(started_at, clock_timestamp()), updated_at = clock_timestamp()
        WHERE project_id = $1 AND id = $2 AND status = 'ENQUEUED'
        """,
        project_id,
        action_id,
    )


async def fetch_rows(
    conn: Connection,
    project_id: str,
    action_id: str,
    *,
    start: int,
    limit: int,
    as_text: bool = False,
) -> Sequence[Row]:
    """Input records from row number `start` on; `as_text`: their data as JSON text."""
    data = "data::text AS data" if as_text else "data"
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT row_number, {data} FROM async_action_rows
        WHERE project_id = $1 AND action_id = $2 AND row_number >= $3
        ORDER BY row_number
        LIMIT $4
        """,
        project_id,
        action_id,
        start,
        limit,
    )
    return rows


async def advance(
    conn: Connection,
    project_id: str,
    action_id: str,
    *,
    cursor: int,
    done: int,
    failed: int,
    errors: list[dict[str, Any]],
    max_errors: int,
) -> None:
    """Move the cursor past a batch, in the batch's own transaction."""
    await conn.execute(
        """
        UPDATE async_actions
        SET cursor = $3, done_count = done_count + $4, failed_count = failed_count + $5,
            errors = CASE WHEN jsonb_array_length(errors) >= $7 THEN errors
                          ELSE errors || $6 END,
            updated_at = clock_timestamp()
        WHERE project_id = $1 AND id = $2
        """,
        project_id,
        action_id,
        cursor,
        done,
        failed,
        errors,
        max_errors,
    )


async def finish(
    conn: Connection,
    project_id: str,
    action_id: str,
    *,
    status: str,
    operation_status: str,
    failure: str | None = None,
) -> None:
    await conn.execute(
        """
        UPDATE async_actions
        SET status = $3, operation_status = $4, failure = $5,
            finished_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE project_id = $1 AND id = $2
        """,
        project_id,
        action_id,
        status,
        operation_status,
        failure,
    )
    # The input is no longer needed once the action is over.
    await conn.execute(
        "DELETE FROM async_action_rows WHERE project_id = $1 AND action_id = $2",
        project_id,
        action_id,
    )
