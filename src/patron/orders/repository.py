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
    """An order by id or source_id (an id match wins)."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM orders
        WHERE project_id = $1 AND (id = $2 OR (source_id = $2 AND source_id IS NOT NULL))
        ORDER BY id = $2 DESC
        LIMIT 1{lock}
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


# --- the customer's summary.orders ------------------------------------------------------------


async def move_totals(
    conn: Connection, project_id: str, customer_id: str, *, amount: int, count: int
) -> None:
    """Move a customer's order totals by a difference (atomic, so concurrent orders add up)."""
    await conn.execute(
        """
        UPDATE customers
        SET orders_total_amount = orders_total_amount + $3,
            orders_total_count = orders_total_count + $4
        WHERE project_id = $1 AND id = $2
        """,
        project_id,
        customer_id,
        amount,
        count,
    )


async def refresh_last_order(conn: Connection, project_id: str, customer_id: str) -> None:
    """Point last_order_amount/date at the latest counted order (run after `move_totals`,
    whose row lock makes every earlier order of the customer visible here)."""
    await conn.execute(
        """
        UPDATE customers c
        SET orders_last_amount = coalesce(latest.counted_amount, 0),
            orders_last_date = latest.created_at
        FROM (SELECT NULL) AS anchor
        LEFT JOIN LATERAL (
            SELECT o.counted_amount, o.created_at FROM orders o
            WHERE o.project_id = $1 AND o.customer_id = $2 AND o.counted_amount IS NOT NULL
            ORDER BY o.created_at DESC, o.id DESC
            LIMIT 1
        ) AS latest ON true
        WHERE c.project_id = $1 AND c.id = $2
        """,
        project_id,
        customer_id,
    )


_RECOMPUTED = """
    SELECT c.project_id, c.id,
           c.orders_total_amount AS stored_amount, c.orders_total_count AS stored_count,
           c.orders_last_amount AS stored_last_amount, c.orders_last_date AS stored_last_date,
           coalesce(t.amount, 0) AS amount, coalesce(t.count, 0) AS count,
           coalesce(latest.counted_amount, 0) AS last_amount, latest.created_at AS last_date
    FROM customers c
    LEFT JOIN LATERAL (
        SELECT sum(o.counted_amount) AS amount, count(*) AS count FROM orders o
        WHERE o.project_id = c.project_id AND o.customer_id = c.id
          AND o.counted_amount IS NOT NULL
    ) AS t ON true
    LEFT JOIN LATERAL (
        SELECT o.counted_amount, o.created_at FROM orders o
        WHERE o.project_id = c.project_id AND o.customer_id = c.id
          AND o.counted_amount IS NOT NULL
        ORDER BY o.created_at DESC, o.id DESC LIMIT 1
    ) AS latest ON true
"""


async def summary_differences(conn: Connection) -> list[Row]:
    """Customers whose stored order summary differs from what their orders say."""
    rows = await conn.fetch(
        f"""
        SELECT * FROM ({_RECOMPUTED}) AS r
        WHERE (r.stored_amount, r.stored_count, r.stored_last_amount, r.stored_last_date)
              IS DISTINCT FROM (r.amount, r.count, r.last_amount, r.last_date)
        """
    )
    return list(rows)


async def recompute_summary(conn: Connection, project_id: str, customer_id: str) -> None:
    """Set one customer's order summary from its orders (lock the customer first)."""
    await conn.execute(
        f"""
        UPDATE customers c
        SET orders_total_amount = r.amount, orders_total_count = r.count,
            orders_last_amount = r.last_amount, orders_last_date = r.last_date
        FROM ({_RECOMPUTED} WHERE c.project_id = $1 AND c.id = $2) AS r
        WHERE c.project_id = r.project_id AND c.id = r.id
        """,
        project_id,
        customer_id,
    )
