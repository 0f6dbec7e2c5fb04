"""SQL for redemptions, rollbacks and validation sessions (migration 0015)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.db.where import Where, count_rows, fetch_page

Row = asyncpg.Record

NOW = "date_trunc('milliseconds', clock_timestamp())"

REDEMPTION_COLUMNS = (
    "id",
    "parent_id",
    "customer_id",
    "tracking_id",
    "metadata",
    "channel_type",
    "result",
    "status",
    "failure_code",
    "failure_message",
    "error",
    "related_object_type",
    "related_object_id",
    "voucher_id",
    "campaign_id",
    "holder_id",
    "amount",
    "gift_credits",
    "loyalty_points",
    "discount",
    "order_id",
    "order",
    "customer",
    "voucher",
    "children",
    "session_key",
    "discount_amount",
    "order_amount",
)

ROLLBACK_COLUMNS = (
    "id",
    "redemption_id",
    "parent_id",
    "customer_id",
    "tracking_id",
    "reason",
    "metadata",
    "channel_type",
    "result",
    "status",
    "failure_code",
    "failure_message",
    "related_object_type",
    "related_object_id",
    "voucher_id",
    "campaign_id",
    "amount",
    "gift_credits",
    "loyalty_points",
    "order_id",
    "order",
    "customer",
    "voucher",
    "children",
)


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in columns)


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """INSERT of the rows in `$2` (a JSON array of objects of `columns`) into `table`, in their
    order, dated `$3` (or the statement's millisecond when NULL), RETURNING them."""
    return f"""
        INSERT INTO {table} (project_id, created_at, {_quoted(columns)})
        SELECT $1, coalesce($3::timestamptz, {NOW}), {", ".join(f'r."{name}"' for name in columns)}
        FROM jsonb_populate_recordset(NULL::{table}, $2::jsonb) WITH ORDINALITY AS r
        ORDER BY r.ordinality
        RETURNING *
    """


async def _insert_many(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    project_id: str,
    rows: list[dict[str, Any]],
) -> list[Row]:
    """Insert rows (dicts of `columns`) in one statement, all dated the same millisecond;
    returns them in the order given."""
    if not rows:
        return []
    documents = [{name: row.get(name) for name in columns} for row in rows]
    inserted = await conn.fetch(insert_sql(table, columns), project_id, documents, None)
    by_id = {row["id"]: row for row in inserted}
    return [by_id[row["id"]] for row in rows]


async def insert_redemptions(
    conn: Connection, project_id: str, rows: list[dict[str, Any]]
) -> list[Row]:
    """Insert redemptions (successes, failures, a stacked parent) in one statement."""
    return await _insert_many(conn, "redemptions", REDEMPTION_COLUMNS, project_id, rows)


async def insert_rollbacks(
    conn: Connection, project_id: str, rows: list[dict[str, Any]]
) -> list[Row]:
    """Insert rollbacks (successes, failures, a stacked parent) in one statement. A second
    successful rollback of one redemption raises asyncpg.UniqueViolationError."""
    return await _insert_many(conn, "redemption_rollbacks", ROLLBACK_COLUMNS, project_id, rows)


async def find(
    conn: Connection, project_id: str, redemption_id: str, *, for_update: bool = False
) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    row: Row | None = await conn.fetchrow(
        f"SELECT * FROM redemptions WHERE project_id = $1 AND id = $2{lock}",
        project_id,
        redemption_id,
    )
    return row


async def find_rollback(conn: Connection, project_id: str, rollback_id: str) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT * FROM redemption_rollbacks WHERE project_id = $1 AND id = $2",
        project_id,
        rollback_id,
    )
    return row


async def find_many(conn: Connection, project_id: str, redemption_ids: Sequence[str]) -> list[Row]:
    """These redemptions, in the order of the ids given (missing ones left out)."""
    rows = await conn.fetch(
        "SELECT * FROM redemptions WHERE project_id = $1 AND id = ANY($2::text[])",
        project_id,
        list(redemption_ids),
    )
    by_id = {row["id"]: row for row in rows}
    return [by_id[key] for key in redemption_ids if key in by_id]


async def lock_many(conn: Connection, project_id: str, redemption_ids: Sequence[str]) -> list[Row]:
    """Lock these redemptions (id order), NOWAIT: a concurrent rollback holding one raises
    asyncpg.LockNotAvailableError."""
    rows = await conn.fetch(
        """
        SELECT * FROM redemptions WHERE project_id = $1 AND id = ANY($2::text[])
        ORDER BY id FOR UPDATE NOWAIT
        """,
        project_id,
        list(redemption_ids),
    )
    by_id = {row["id"]: row for row in rows}
    return [by_id[key] for key in redemption_ids if key in by_id]


async def mark_rolled_back(
    conn: Connection, project_id: str, redemption_ids: Sequence[str]
) -> None:
    await conn.execute(
        """
        UPDATE redemptions SET status = 'ROLLED_BACK'
        WHERE project_id = $1 AND id = ANY($2::text[])
        """,
        project_id,
        list(redemption_ids),
    )


async def rollbacks_of(
    conn: Connection, project_id: str, redemption_ids: Sequence[str]
) -> dict[str, list[Row]]:
    """The successful rollbacks of these redemptions, by redemption id."""
    rows = await conn.fetch(
        """
        SELECT id, redemption_id, created_at FROM redemption_rollbacks
        WHERE project_id = $1 AND redemption_id = ANY($2::text[]) AND result = 'SUCCESS'
        ORDER BY seq
        """,
        project_id,
        list(redemption_ids),
    )
    found: dict[str, list[Row]] = {}
    for row in rows:
        found.setdefault(row["redemption_id"], []).append(row)
    return found


async def count_successes(
    conn: Connection, project_id: str, customer_id: str, *, campaign_id: str | None, voucher_id: str
) -> int:
    """Successful redemptions, not rolled back, by this customer in the campaign (of the
    voucher, when it has no campaign)."""
    if campaign_id is not None:
        value = await conn.fetchval(
            """
            SELECT count(*) FROM redemptions
            WHERE project_id = $1 AND customer_id = $2 AND campaign_id = $3
              AND status = 'SUCCEEDED' AND related_object_type <> 'redemption'
            """,
            project_id,
            customer_id,
            campaign_id,
        )
    else:
        value = await conn.fetchval(
            """
            SELECT count(*) FROM redemptions
            WHERE project_id = $1 AND customer_id = $2 AND voucher_id = $3
              AND status = 'SUCCEEDED'
            """,
            project_id,
            customer_id,
            voucher_id,
        )
    return int(value)


# --- lists ---------------------------------------------------------------------------------

ORDERINGS = {
    "created_at": "seq ASC",
    "-created_at": "seq DESC",
}


FILTERS = {
    "result": "result = {}",
    "status": "status = {}",
    "customer_id": "customer_id = {}",
    "campaign_id": "campaign_id = {}",
    "voucher_id": "voucher_id = {}",
    "parent_id": "parent_id = {}",
    "created_after": "created_at > {}",
    "created_before": "created_at < {}",
}


def _where(project_id: str, filters: dict[str, Any]) -> Where:
    """Children and single redemptions (stacked parents are left out), filtered."""
    return Where(["project_id = $1", "related_object_type <> 'redemption'"], [project_id]).filtered(
        FILTERS, filters
    )


async def list_page(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    offset: int,
) -> list[Row]:
    where = _where(project_id, filters)
    return await fetch_page(
        conn, "redemptions", where, ORDERINGS[order], limit=limit, offset=offset
    )


async def count(conn: Connection, project_id: str, *, filters: dict[str, Any]) -> int:
    return await count_rows(conn, "redemptions", _where(project_id, filters))


async def voucher_entries(conn: Connection, project_id: str, voucher_id: str) -> list[Row]:
    """A voucher's redemptions and rollbacks, oldest first, each with `kind`."""
    rows: list[Row] = await conn.fetch(
        """
        SELECT 'redemption' AS kind, r.seq, r.created_at, r.id FROM redemptions r
        WHERE r.project_id = $1 AND r.voucher_id = $2
        UNION ALL
        SELECT 'redemption_rollback', b.seq, b.created_at, b.id FROM redemption_rollbacks b
        WHERE b.project_id = $1 AND b.voucher_id = $2
        ORDER BY created_at, kind, seq
        """,
        project_id,
        voucher_id,
    )
    return rows


async def rollbacks_by_ids(
    conn: Connection, project_id: str, rollback_ids: Sequence[str]
) -> list[Row]:
    rows = await conn.fetch(
        "SELECT * FROM redemption_rollbacks WHERE project_id = $1 AND id = ANY($2::text[])",
        project_id,
        list(rollback_ids),
    )
    by_id = {row["id"]: row for row in rows}
    return [by_id[key] for key in rollback_ids if key in by_id]


# --- validation sessions -------------------------------------------------------------------


async def reserved(
    conn: Connection, project_id: str, voucher_ids: Sequence[str], *, except_key: str | None
) -> dict[str, tuple[int, int, int]]:
    """What live sessions other than `except_key` hold on these vouchers: voucher id ->
    (uses, credits, points)."""
    rows = await conn.fetch(
        """
        SELECT voucher_id, sum(quantity)::int AS quantity, sum(credits)::bigint AS credits,
               sum(points)::bigint AS points
        FROM validation_sessions
        WHERE project_id = $1 AND voucher_id = ANY($2::text[]) AND expires_at > now()
          AND key IS DISTINCT FROM $3
        GROUP BY voucher_id
        """,
        project_id,
        list(voucher_ids),
        except_key,
    )
    return {row["voucher_id"]: (row["quantity"], row["credits"], row["points"]) for row in rows}


async def hold_session(
    conn: Connection,
    project_id: str,
    *,
    voucher_id: str,
    key: str,
    credits: int,
    points: int,
    ttl_seconds: float,
) -> None:
    """Reserve one use (and credits or points) of a voucher under a session key until its ttl
    runs out; a second validation under the same key replaces the reservation."""
    await conn.execute(
        """
        DELETE FROM validation_sessions
        WHERE project_id = $1 AND voucher_id = $2 AND expires_at <= now()
        """,
        project_id,
        voucher_id,
    )
    await conn.execute(
        """
        INSERT INTO validation_sessions
            (project_id, voucher_id, key, quantity, credits, points, expires_at)
        VALUES ($1, $2, $3, 1, $4, $5, now() + make_interval(secs => $6))
        ON CONFLICT (project_id, voucher_id, key) DO UPDATE SET
            credits = excluded.credits, points = excluded.points,
            expires_at = excluded.expires_at
        """,
        project_id,
        voucher_id,
        key,
        credits,
        points,
        ttl_seconds,
    )


async def release_session(
    conn: Connection,
    project_id: str,
    key: str,
    *,
    voucher_id: str | None = None,
    voucher_ids: Sequence[str] | None = None,
) -> int:
    """Drop a session's reservations on one voucher, or on these vouchers; returns how many."""
    wanted = [voucher_id] if voucher_id is not None else list(voucher_ids or [])
    result = await conn.execute(
        """
        DELETE FROM validation_sessions
        WHERE project_id = $1 AND voucher_id = ANY($3::text[]) AND key = $2
        """,
        project_id,
        key,
        wanted,
    )
    return int(result.split()[-1])
