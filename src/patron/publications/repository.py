"""SQL for publications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.db.where import Where, count_rows, fetch_page

Row = asyncpg.Record


async def insert(conn: Connection, project_id: str, values: dict[str, Any]) -> Row | None:
    """Insert a publication; None when it is a success whose source_id another success has."""
    columns = list(values)
    placeholders = ", ".join(f"${number}" for number in range(2, len(columns) + 2))
    return await conn.fetchrow(
        f"""
        INSERT INTO publications (project_id, {", ".join(columns)}, created_at)
        VALUES ($1, {placeholders}, date_trunc('milliseconds', clock_timestamp()))
        ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL AND result = 'SUCCESS'
        DO NOTHING
        RETURNING *
        """,
        project_id,
        *(values[name] for name in columns),
    )


async def find_success(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT * FROM publications"
        " WHERE project_id = $1 AND source_id = $2 AND result = 'SUCCESS'",
        project_id,
        source_id,
    )


async def latest_success(
    conn: Connection, project_id: str, customer_id: str, campaign_id: str
) -> Row | None:
    """The customer's latest successful publication from a campaign."""
    return await conn.fetchrow(
        """
        SELECT * FROM publications
        WHERE project_id = $1 AND customer_id = $2 AND campaign_id = $3 AND result = 'SUCCESS'
        ORDER BY created_at DESC, id DESC LIMIT 1
        """,
        project_id,
        customer_id,
        campaign_id,
    )


# Filters of the list: name -> SQL with one parameter.
FILTERS = {
    "customer_id": "customer_id = {}",
    "campaign_id": "campaign_id = {}",
    "result": "result = {}",
    "source_id": "source_id = {}",
    "failure_code": "failure_code = {}",
    "voucher_id": "{} = ANY(voucher_ids)",
    "voucher_type": "vouchers -> 0 ->> 'type' = {}",
    "is_referral_code": "(vouchers -> 0 ->> 'is_referral_code')::boolean = {}",
}
ORDERINGS = {
    "created_at": "created_at, id",
    "-created_at": "created_at DESC, id DESC",
    "id": "id",
    "-id": "id DESC",
}


def _where(project_id: str, filters: dict[str, Any]) -> Where:
    return Where(["project_id = $1"], [project_id]).filtered(FILTERS, filters)


async def list_page(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    offset: int,
) -> Sequence[Row]:
    where = _where(project_id, filters)
    return await fetch_page(
        conn, "publications", where, ORDERINGS[order], limit=limit, offset=offset
    )


async def count(conn: Connection, project_id: str, *, filters: dict[str, Any]) -> int:
    return await count_rows(conn, "publications", _where(project_id, filters))
