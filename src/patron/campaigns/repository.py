"""SQL for campaigns (their vouchers' SQL is in `vouchers.repository`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.db.where import Where

Row = asyncpg.Record

# The moment a campaign is created or changed, to the millisecond as it is shown.
NOW = "date_trunc('milliseconds', clock_timestamp())"

WRITABLE = (
    "name",
    "description",
    "campaign_type",
    "type",
    "join_once",
    "auto_join",
    "use_voucher_metadata_schema",
    "voucher",
    "activity_duration_after_publishing",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "active",
    "metadata",
    "category",
    "creation_status",
    "vouchers_generation_status",
    "referral_program",
    "loyalty_tiers_expiration",
)


async def find(
    conn: Connection, project_id: str, key: str, *, for_update: bool = False
) -> Row | None:
    """A live campaign by id or name (an id match wins)."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT * FROM campaigns
        WHERE project_id = $1 AND (id = $2 OR name = $2) AND deleted_at IS NULL
        ORDER BY id = $2 DESC LIMIT 1{lock}
        """,
        project_id,
        key,
    )


async def insert(
    conn: Connection, project_id: str, campaign_id: str, values: dict[str, Any]
) -> Row | None:
    """Insert a campaign; None when its name is taken (binned campaigns included)."""
    columns = [name for name in WRITABLE if name in values]
    placeholders = ", ".join(f"${number}" for number in range(3, len(columns) + 3))
    return await conn.fetchrow(
        f"""
        INSERT INTO campaigns (project_id, id, {", ".join(columns)}, created_at)
        VALUES ($1, $2, {placeholders}, {NOW})
        ON CONFLICT (project_id, name) DO NOTHING
        RETURNING *
        """,
        project_id,
        campaign_id,
        *(values[name] for name in columns),
    )


async def update(
    conn: Connection, project_id: str, campaign_id: str, values: dict[str, Any]
) -> Row:
    columns = [name for name in WRITABLE if name in values]
    assignments = "".join(f"{name} = ${number}, " for number, name in enumerate(columns, 3))
    row: Row | None = await conn.fetchrow(
        f"""
        UPDATE campaigns SET {assignments}updated_at = {NOW}
        WHERE project_id = $1 AND id = $2
        RETURNING *
        """,
        project_id,
        campaign_id,
        *(values[name] for name in columns),
    )
    assert row is not None  # the caller holds the row's lock: it exists
    return row


async def set_generation_status(
    conn: Connection, project_id: str, campaign_id: str, status: str
) -> None:
    await conn.execute(
        "UPDATE campaigns SET vouchers_generation_status = $3, creation_status = $3"
        " WHERE project_id = $1 AND id = $2",
        project_id,
        campaign_id,
        status,
    )


async def vouchers_count(conn: Connection, project_id: str, campaign_id: str) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM vouchers"
        " WHERE project_id = $1 AND campaign_id = $2 AND deleted_at IS NULL",
        project_id,
        campaign_id,
    )
    return int(value)


async def vouchers_counts(
    conn: Connection, project_id: str, campaign_ids: Sequence[str]
) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT campaign_id, count(*) AS count FROM vouchers"
        " WHERE project_id = $1 AND campaign_id = ANY($2::text[]) AND deleted_at IS NULL"
        " GROUP BY campaign_id",
        project_id,
        list(campaign_ids),
    )
    return {row["campaign_id"]: int(row["count"]) for row in rows}


ORDERINGS = {
    "created_at": "created_at, id",
    "-created_at": "created_at DESC, id DESC",
    "updated_at": "updated_at NULLS FIRST, id",
    "-updated_at": "updated_at DESC NULLS LAST, id DESC",
}


# Filters of the campaign list: name -> SQL with one parameter.
FILTERS = {
    "campaign_type": "campaign_type = {}",
    "campaign_status": "creation_status = {}",
    "is_referral_code": "(voucher ->> 'is_referral_code')::boolean = {}",
}


def _where(project_id: str, filters: dict[str, Any]) -> Where:
    return Where(["project_id = $1", "deleted_at IS NULL"], [project_id]).filtered(FILTERS, filters)


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
    rows: Sequence[Row] = await conn.fetch(
        "SELECT * FROM campaigns"
        + f" WHERE {where.sql} ORDER BY {ORDERINGS[order]}"
        + where.page(),
        *where.args,
        limit,
        offset,
    )
    return rows


async def count(conn: Connection, project_id: str, *, filters: dict[str, Any]) -> int:
    where = _where(project_id, filters)
    value = await conn.fetchval(
        "SELECT count(*) FROM campaigns" + f" WHERE {where.sql}", *where.args
    )
    return int(value)


async def lock_holders(conn: Connection, project_id: str, campaign_id: str) -> list[str]:
    """Lock, in id order, the customers holding a live code of the campaign; their ids."""
    rows = await conn.fetch(
        """
        SELECT c.id FROM customers c
        WHERE c.project_id = $1 AND c.deleted_at IS NULL AND c.id IN (
            SELECT holder_id FROM vouchers
            WHERE project_id = $1 AND campaign_id = $2 AND holder_id IS NOT NULL
              AND deleted_at IS NULL)
        ORDER BY c.id
        FOR UPDATE OF c
        """,
        project_id,
        campaign_id,
    )
    return [row["id"] for row in rows]


async def remove(conn: Connection, project_id: str, campaign_id: str, *, force: bool) -> int:
    """Delete a campaign and its vouchers: for good with `force` (its name and codes are free
    again), else to the bin. Returns how many vouchers went."""
    if force:
        status = await conn.execute(
            "DELETE FROM vouchers WHERE project_id = $1 AND campaign_id = $2",
            project_id,
            campaign_id,
        )
        await conn.execute(
            "DELETE FROM campaigns WHERE project_id = $1 AND id = $2", project_id, campaign_id
        )
    else:
        status = await conn.execute(
            "UPDATE vouchers SET deleted_at = now()"
            " WHERE project_id = $1 AND campaign_id = $2 AND deleted_at IS NULL",
            project_id,
            campaign_id,
        )
        await conn.execute(
            "UPDATE campaigns SET deleted_at = now() WHERE project_id = $1 AND id = $2",
            project_id,
            campaign_id,
        )
    return int(status.split()[-1])
