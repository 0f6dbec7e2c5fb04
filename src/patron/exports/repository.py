"""SQL for exports: the export rows, and the rows an export downloads, read through a cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from patron.db.pool import Connection

Row = asyncpg.Record

EXPORT_COLUMNS = (
    "project_id, id, exported_object, parameters, status, channel, user_id, token_hash, created_at"
)


class Condition(Protocol):
    """A filter rendered as SQL over the row aliased `c`, its values appended to `args`
    (`patron.segments.repository.Predicate`)."""

    def render(self, args: list[Any], *, where: bool = True) -> str: ...


def _iso(column: str) -> str:
    # As Patron renders moments (`kit.time.render_datetime`): UTC, milliseconds, `Z`.
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


# Every export column as text (NULL: an empty CSV cell), read from the row aliased `c`. Amounts
# are integers in the smallest unit, as Voucherify exports them ("multiplied by 100").
CUSTOMER_COLUMNS: dict[str, str] = {
    "name": "c.name",
    "id": "c.id",
    "description": "c.description",
    "email": "c.email",
    "source_id": "c.source_id",
    "created_at": _iso("c.created_at"),
    "updated_at": _iso("c.updated_at"),
    **{
        f"address_{part}": f"(c.address ->> '{part}')"
        for part in ("city", "state", "line_1", "line_2", "country", "postal_code")
    },
    "redemptions_total_redeemed": "(c.redemptions_succeeded + c.redemptions_failed)::text",
    "redemptions_total_failed": "c.redemptions_failed::text",
    "redemptions_total_succeeded": "c.redemptions_succeeded::text",
    "redemptions_total_rolled_back": "(c.rollbacks_succeeded + c.rollbacks_failed)::text",
    "redemptions_total_rollback_failed": "c.rollbacks_failed::text",
    "redemptions_total_rollback_succeeded": "c.rollbacks_succeeded::text",
    "orders_total_amount": "c.orders_total_amount::text",
    "orders_total_count": "c.orders_total_count::text",
    # Floor division, as the customer object shows it.
    "orders_average_amount": (
        "(CASE WHEN c.orders_total_count = 0 THEN 0::numeric"
        " ELSE div(c.orders_total_amount, c.orders_total_count)"
        " - (mod(c.orders_total_amount, c.orders_total_count) < 0)::int END)::text"
    ),
    "orders_last_order_amount": "c.orders_last_amount::text",
    "orders_last_order_date": _iso("c.orders_last_date"),
    "loyalty_points": "c.loyalty_balance::text",
    # Referrals are not recorded yet (segments.filters.ZERO_FIELDS): 0 for everyone.
    "loyalty_referred_customers": "'0'",
    "phone": "c.phone",
    "birthday": "c.birthday::text",
    "birthdate": "c.birthdate::text",
}

_ITEMS_DISCOUNT = (
    "coalesce((SELECT sum((i ->> 'discount_amount')::numeric)"
    " FROM jsonb_array_elements(c.items) i), 0)"
)
_TOTAL_AMOUNT = (
    f"(CASE WHEN c.amount IS NOT NULL THEN greatest(0, c.amount"
    f" - coalesce(c.discount_amount, 0) - {_ITEMS_DISCOUNT}) END)"
)
# As the order object derives them (`orders.schemas.totals`).
ORDER_COLUMNS: dict[str, str] = {
    "id": "c.id",
    "source_id": "c.source_id",
    "created_at": _iso("c.created_at"),
    "updated_at": _iso("c.updated_at"),
    "status": "c.status",
    "amount": "c.amount::text",
    "discount_amount": "c.discount_amount::text",
    "items_discount_amount": f"{_ITEMS_DISCOUNT}::text",
    "total_discount_amount": f"(coalesce(c.discount_amount, 0) + {_ITEMS_DISCOUNT})::text",
    "total_amount": f"{_TOTAL_AMOUNT}::text",
    "customer_id": "c.customer_id",
    "referrer_id": "c.referrer_id",
}

# The order export's filter paths (the spec's `ExportOrderFilters`) as typed SQL, for
# `segments.repository.Predicate`; their kinds are in exports.service.ORDER_FILTER_FIELDS.
ORDER_FILTER_SQL: dict[str, str] = {
    "id": "c.id",
    "source_id": "c.source_id",
    "status": "c.status",
    "customer_id": "c.customer_id",
    "referrer_id": "c.referrer_id",
    "created_at": "c.created_at",
    "updated_at": "c.updated_at",
    "amount": "c.amount::numeric",
    "discount_amount": "coalesce(c.discount_amount, 0)::numeric",
    "items_discount_amount": _ITEMS_DISCOUNT,
    "total_discount_amount": f"(coalesce(c.discount_amount, 0) + {_ITEMS_DISCOUNT})",
    "total_amount": _TOTAL_AMOUNT + "::numeric",
}

# FROM and the fixed conditions ($1 is the project) of each exported object.
_SOURCES = {
    "customer": "customers c WHERE c.project_id = $1 AND c.deleted_at IS NULL",
    "order": "orders c WHERE c.project_id = $1",
}
# Sort orders: a whitelisted column, then the id so that the order is total.
_ORDER_BY = {
    "name": "c.name",
    "id": "c.id",
    "email": "c.email",
    "source_id": "c.source_id",
    "created_at": "c.created_at",
    "updated_at": "c.updated_at",
    "status": "c.status",
}


async def insert(
    conn: Connection,
    project_id: str,
    *,
    export_id: str,
    exported_object: str,
    parameters: dict[str, Any],
    status: str,
    channel: str,
    token_hash: bytes,
    created_at: datetime,
) -> Row:
    row: Row | None = await conn.fetchrow(
        f"""
        INSERT INTO exports (project_id, id, exported_object, parameters, status, channel,
                             token_hash, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {EXPORT_COLUMNS}
        """,
        project_id,
        export_id,
        exported_object,
        parameters,
        status,
        channel,
        token_hash,
        created_at,
    )
    assert row is not None  # INSERT … RETURNING always returns the row
    return row


async def find(conn: Connection, project_id: str, export_id: str) -> Row | None:
    row: Row | None = await conn.fetchrow(
        f"SELECT {EXPORT_COLUMNS} FROM exports WHERE project_id = $1 AND id = $2",
        project_id,
        export_id,
    )
    return row


async def find_by_id(conn: Connection, export_id: str) -> Row | None:
    """The export of this id in any project: the download's URL names no project."""
    row: Row | None = await conn.fetchrow(
        f"SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1", export_id
    )
    return row


async def delete(conn: Connection, project_id: str, export_id: str) -> bool:
    status = await conn.execute(
        "DELETE FROM exports WHERE project_id = $1 AND id = $2", project_id, export_id
    )
    return bool(status == "DELETE 1")


async def list_page(
    conn: Connection, project_id: str, *, order: str, limit: int, offset: int
) -> Sequence[Row]:
    column = "status" if order.lstrip("-") == "status" else "created_at"
    direction = "DESC" if order.startswith("-") else "ASC"
    rows: list[Row] = await conn.fetch(
        f"""
        SELECT {EXPORT_COLUMNS} FROM exports WHERE project_id = $1
        ORDER BY {column} {direction}, id {direction} LIMIT $2 OFFSET $3
        """,
        project_id,
        limit,
        offset,
    )
    return rows


async def count(conn: Connection, project_id: str) -> int:
    value = await conn.fetchval("SELECT count(*) FROM exports WHERE project_id = $1", project_id)
    return int(value)


async def metadata_keys(
    conn: Connection, project_id: str, exported_object: str, condition: Condition | None
) -> list[str]:
    """Every metadata key of the rows the export holds, sorted: the columns `metadata` expands
    into."""
    args: list[Any] = [project_id]
    where = f" AND {condition.render(args)}" if condition is not None else ""
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT k.key
        FROM (SELECT c.metadata FROM {_SOURCES[exported_object]}{where}) AS c
        CROSS JOIN LATERAL jsonb_object_keys(c.metadata) AS k(key)
        ORDER BY k.key
        """,
        *args,
    )
    return [row["key"] for row in rows]


async def export_batches(
    conn: Connection,
    project_id: str,
    exported_object: str,
    *,
    columns: Sequence[str],
    metadata_keys: Sequence[str],
    condition: Condition | None,
    order: str,
    batch_size: int,
) -> AsyncIterator[list[Row]]:
    """The export's rows, `batch_size` at a time, through a server-side cursor: each a record
    of text values (None for none), the `columns` (keys of CUSTOMER_COLUMNS / ORDER_COLUMNS)
    in order, then each of `metadata_keys` (JSON text for a value that is not a string).

    Runs in the caller's transaction (REPEATABLE READ, read only: one snapshot throughout).
    `order` is one of `schemas.ORDERS`, or "" for the oldest first.
    """
    table = CUSTOMER_COLUMNS if exported_object == "customer" else ORDER_COLUMNS
    args: list[Any] = [project_id]
    select = [table[column] for column in columns]
    for key in metadata_keys:
        args.append(key)
        select.append(f"(c.metadata ->> ${len(args)})")
    where = f" AND {condition.render(args)}" if condition is not None else ""
    name = order.lstrip("-") or "created_at"
    direction = "DESC" if order.startswith("-") else "ASC"
    sql = (
        f"SELECT {', '.join(select) or 'NULL'} FROM {_SOURCES[exported_object]}{where}"
        f" ORDER BY {_ORDER_BY[name]} {direction}, c.id {direction}"
    )
    cursor = await conn.cursor(sql, *args)
    while True:
        rows = await cursor.fetch(batch_size)
        if not rows:
            return
        yield rows


async def end_if_idle(conn: Connection, seconds: int) -> None:
    """Let PostgreSQL end the caller's transaction (and session) once it has waited `seconds`
    idle, e.g. on a client that stopped reading a download. For this transaction only."""
    await conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{int(seconds)}s'")
