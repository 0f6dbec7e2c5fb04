"""SQL for orders, and for the order summary they move on customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.db.pool import Connection

COLUMNS = (
    "id, source_id, status, amount, initial_amount, discount_amount, items, metadata, "
    "customer_id, referrer_id, counted_amount, created_at, updated_at"
)
# The columns a change to an order writes, in this order.
WRITABLE = (
    "source_id",
    "status",
    "amount",
    "initial_amount",
    "discount_amount",
    "items",
    "metadata",
    "customer_id",
    "referrer_id",
    "counted_amount",
)

Row = asyncpg.Record


async def find(
    conn: Connection, project_id: str, key: str, *, for_update: bool = False
) -> Row | None:
    """An order by id or source_id (an id match wins). Two index lookups, not one `id = $2 OR
    source_id = $2` test, whose plan PostgreSQL may choose while the table is small and keep
    (a scan of the project's orders: 2.3 ms at 20,000 orders instead of 0.02 ms)."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM orders
        WHERE project_id = $1 AND id = coalesce(
            (SELECT id FROM orders WHERE project_id = $1 AND id = $2),
            (SELECT id FROM orders WHERE project_id = $1 AND source_id = $2)
        ){lock}
        """,
        project_id,
        key,
    )


async def insert(
    conn: Connection,
    project_id: str,
    order_id: str,
    values: dict[str, Any],
    created_at: datetime | None,
) -> Row | None:
    """Insert an order; None when its source_id exists already."""
    return await conn.fetchrow(
        f"""
        INSERT INTO orders (project_id, id, {", ".join(WRITABLE)}, created_at)
        VALUES ($1, $2, {", ".join(f"${n}" for n in range(3, 3 + len(WRITABLE)))},
                coalesce(${3 + len(WRITABLE)},
                         date_trunc('milliseconds', clock_timestamp())))
        ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL DO NOTHING
        RETURNING {COLUMNS}
        """,
        project_id,
        order_id,
        *(values[column] for column in WRITABLE),
        created_at,
    )


async def update(
    conn: Connection,
    project_id: str,
    order_id: str,
    values: dict[str, Any],
    created_at: datetime | None,
) -> Row:
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(WRITABLE, start=3))
    row = await conn.fetchrow(
        f"""
        UPDATE orders
        SET {assignments},
            created_at = coalesce(${3 + len(WRITABLE)}, created_at),
            updated_at = date_trunc('milliseconds', clock_timestamp())
        WHERE project_id = $1 AND id = $2
        RETURNING {COLUMNS}
        """,
        project_id,
        order_id,
        *(values[column] for column in WRITABLE),
        created_at,
    )
    assert row is not None
    return row


ORDERINGS = {
    "created_at": "created_at ASC, id ASC",
    "-created_at": "created_at DESC, id DESC",
    "updated_at": "updated_at ASC NULLS FIRST, id ASC",
    "-updated_at": "updated_at DESC NULLS LAST, id DESC",
}


async def list_page(
    conn: Connection, project_id: str, *, order: str, limit: int, offset: int
) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        f"SELECT {COLUMNS} FROM orders WHERE project_id = $1"
        f" ORDER BY {ORDERINGS[order]} LIMIT $2 OFFSET $3",
        project_id,
        limit,
        offset,
    )
    return rows


async def count(conn: Connection, project_id: str) -> int:
    value = await conn.fetchval("SELECT count(*) FROM orders WHERE project_id = $1", project_id)
    return int(value)


async def delete_for_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    status = await conn.execute(
        "DELETE FROM orders WHERE project_id = $1 AND customer_id = $2", project_id, customer_id
    )
    return int(status.split()[-1])
