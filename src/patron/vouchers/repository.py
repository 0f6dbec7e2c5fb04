"""SQL for vouchers and their balance transactions.

A voucher row is read with its campaign's name and code_config (`_JOINED`): every statement
that returns vouchers returns them that way, so they render alone (`schemas.render_voucher`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.db.where import Where

Row = asyncpg.Record

_CAMPAIGN = (
    "c.name AS campaign_name, c.voucher -> 'code_config' AS campaign_code_config,"
    " c.campaign_type AS campaign_type, c.active AS campaign_active, c.type AS campaign_mode"
)


def _joined(source: str) -> str:
    """Select the rows of `source` (a table or CTE aliased v) with their campaign's fields."""
    return (
        f"SELECT v.*, {_CAMPAIGN} FROM {source} v"
        " LEFT JOIN campaigns c ON c.project_id = v.project_id AND c.id = v.campaign_id"
    )


# The moment a row is created or changed, to the millisecond as it is shown: a client's
# `created_at[after]` filter, given a moment it was shown, then leaves that voucher out.
NOW = "date_trunc('milliseconds', clock_timestamp())"

# The columns a voucher body may set, and those a campaign's template fills in.
WRITABLE = (
    "code",
    "campaign_id",
    "code_config",
    "category",
    "type",
    "discount",
    "gift_amount",
    "gift_subtracted",
    "gift_effect",
    "loyalty_points",
    "loyalty_subtracted",
    "loyalty_expired",
    "loyalty_pending",
    "balance",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "active",
    "additional_info",
    "metadata",
    "is_referral_code",
    "redemption_quantity",
    "created_at",
)


async def find(
    conn: Connection, project_id: str, key: str, *, for_update: bool = False
) -> Row | None:
    """A live voucher by code or id (a code match wins), optionally locked."""
    if for_update:
        row = await conn.fetchrow(
            """
            SELECT id FROM vouchers
            WHERE project_id = $1 AND (code = $2 OR id = $2) AND deleted_at IS NULL
            ORDER BY code = $2 DESC LIMIT 1 FOR UPDATE
            """,
            project_id,
            key,
        )
        if row is None:
            return None
        key = row["id"]
    return await conn.fetchrow(
        _joined("vouchers")
        + """
        WHERE v.project_id = $1 AND (v.code = $2 OR v.id = $2) AND v.deleted_at IS NULL
        ORDER BY v.code = $2 DESC LIMIT 1
        """,
        project_id,
        key,
    )


async def insert(
    conn: Connection, project_id: str, voucher_id: str, values: dict[str, Any]
) -> Row | None:
    """Insert one voucher; None when its code is taken (live, binned or being inserted)."""
    values = {"created_at": None, **values}
    columns = [name for name in WRITABLE if name in values]
    placeholders = ", ".join(
        f"coalesce(${number}, {NOW})" if name == "created_at" else f"${number}"
        for number, name in enumerate(columns, 3)
    )
    return await conn.fetchrow(
        f"""
        WITH v AS (
            INSERT INTO vouchers (project_id, id, {", ".join(columns)})
            VALUES ($1, $2, {placeholders})
            ON CONFLICT (project_id, code) DO NOTHING
            RETURNING *
        )
        """
        + _joined("v"),
        project_id,
        voucher_id,
        *(values[name] for name in columns),
    )


async def insert_generated(
    conn: Connection,
    project_id: str,
    *,
    ids: Sequence[str],
    codes: Sequence[str],
    values: dict[str, Any],
    plain_first: bool = False,
) -> list[str]:
    """Insert one voucher per (id, code), each with the same `values`, in that order; returns
    the codes that were free (the others are taken and were skipped). A `created_at` left out
    (None) is the statement's moment, to the millisecond.

    With `plain_first`, the batch goes in first as a plain INSERT in a savepoint, which costs
    PostgreSQL a fifth less per code than ON CONFLICT's speculative insertion; if any of its
    codes is taken (or being inserted by another transaction), that is undone and the batch
    inserted again, skipping the taken ones. For batches that rarely meet a taken code."""
    values = {"created_at": None, **values}
    columns = [name for name in WRITABLE if name in values and name != "code"]
    placeholders = ", ".join(
        f"coalesce(${number}, {NOW})" if name == "created_at" else f"${number}"
        for number, name in enumerate(columns, 4)
    )
    insert = f"""
        INSERT INTO vouchers (project_id, id, code, {", ".join(columns)})
        SELECT $1, id, code, {placeholders}
        FROM unnest($2::text[], $3::text[]) AS n (id, code)
        """
    arguments = (project_id, ids, codes, *(values[name] for name in columns))
    if plain_first:
        try:
            async with conn.transaction():  # a savepoint in the caller's transaction
                await conn.execute(insert, *arguments)
        except asyncpg.UniqueViolationError:
            pass
        else:
            return list(codes)
    rows = await conn.fetch(
        insert + "ON CONFLICT (project_id, code) DO NOTHING RETURNING code", *arguments
    )
    return [row["code"] for row in rows]


async def update(conn: Connection, project_id: str, voucher_id: str, values: dict[str, Any]) -> Row:
    """Set these columns of a voucher (locked by the caller) and stamp updated_at."""
    columns = [name for name in WRITABLE if name in values]
    assignments = ", ".join(f"{name} = ${number}" for number, name in enumerate(columns, 3))
    sets = f"{assignments}, " if assignments else ""
    row: Row | None = await conn.fetchrow(
        f"""
        WITH v AS (
            UPDATE vouchers SET {sets}updated_at = {NOW}
            WHERE project_id = $1 AND id = $2
            RETURNING *
        )
        """
        + _joined("v"),
        project_id,
        voucher_id,
        *(values[name] for name in columns),
    )
    assert row is not None  # the caller holds the row's lock: it exists
    return row


async def publish(
    conn: Connection, project_id: str, voucher_id: str, *, customer_id: str, values: dict[str, Any]
) -> Row:
    """Make a customer the holder of a voucher (locked by the caller): `publish_count` + 1,
    and these columns (an expiry) set."""
    columns = [name for name in WRITABLE if name in values]
    assignments = "".join(f", {name} = ${number}" for number, name in enumerate(columns, 4))
    row: Row | None = await conn.fetchrow(
        f"""
        WITH v AS (
            UPDATE vouchers SET holder_id = $3, publish_count = publish_count + 1,
                updated_at = {NOW}{assignments}
            WHERE project_id = $1 AND id = $2
            RETURNING *
        )
        """
        + _joined("v"),
        project_id,
        voucher_id,
        customer_id,
        *(values[name] for name in columns),
    )
    assert row is not None  # the caller holds the row's lock: it exists
    return row


async def follow_campaign(
    conn: Connection, project_id: str, campaign_id: str, values: dict[str, Any]
) -> None:
    """Give a campaign's live codes the dates, windows and category it changed to."""
    columns = [name for name in WRITABLE if name in values]
    if not columns:
        return
    assignments = ", ".join(f"{name} = ${number}" for number, name in enumerate(columns, 3))
    await conn.execute(
        f"UPDATE vouchers SET {assignments}, updated_at = {NOW}"
        " WHERE project_id = $1 AND campaign_id = $2 AND deleted_at IS NULL",
        project_id,
        campaign_id,
        *(values[name] for name in columns),
    )


async def remove(conn: Connection, project_id: str, voucher_id: str, *, force: bool) -> None:
    """Delete a voucher: for good with `force` (its code is free again), else to the bin."""
    if force:
        await conn.execute(
            "DELETE FROM vouchers WHERE project_id = $1 AND id = $2", project_id, voucher_id
        )
    else:
        await conn.execute(
            "UPDATE vouchers SET deleted_at = now() WHERE project_id = $1 AND id = $2",
            project_id,
            voucher_id,
        )


# Filters of the voucher list: name -> SQL over v with one parameter.
FILTERS = {
    "campaign_id": "v.campaign_id = {}",
    "campaign": "c.name = {}",
    "category": "v.category = {}",
    "holder_id": "v.holder_id = {}",
    "type": "v.type = {}",
    "code": "v.code = {}",
    "ids": "v.id = ANY({}::text[])",
    "created_before": "v.created_at < {}",
    "created_after": "v.created_at > {}",
    "updated_before": "v.updated_at < {}",
    "updated_after": "v.updated_at > {}",
}
ORDERINGS = {
    "created_at": "v.created_at, v.id",
    "-created_at": "v.created_at DESC, v.id DESC",
    "updated_at": "v.updated_at NULLS FIRST, v.id",
    "-updated_at": "v.updated_at DESC NULLS LAST, v.id DESC",
    "code": "v.code",
    "-code": "v.code DESC",
    "type": "v.type, v.created_at, v.id",
    "-type": "v.type DESC, v.created_at DESC, v.id DESC",
}


def _where(project_id: str, filters: dict[str, Any]) -> Where:
    return Where(["v.project_id = $1", "v.deleted_at IS NULL"], [project_id]).filtered(
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
) -> Sequence[Row]:
    where = _where(project_id, filters)
    rows: Sequence[Row] = await conn.fetch(
        _joined("vouchers") + f" WHERE {where.sql} ORDER BY {ORDERINGS[order]}" + where.page(),
        *where.args,
        limit,
        offset,
    )
    return rows


async def count(conn: Connection, project_id: str, *, filters: dict[str, Any]) -> int:
    where = _where(project_id, filters)
    value = await conn.fetchval(
        "SELECT count(*) FROM vouchers v"
        " LEFT JOIN campaigns c ON c.project_id = v.project_id AND c.id = v.campaign_id"
        f" WHERE {where.sql}",
        *where.args,
    )
    return int(value)


# --- balance transactions ------------------------------------------------------------------


async def insert_transaction(
    conn: Connection,
    project_id: str,
    *,
    transaction_id: str,
    voucher_id: str,
    campaign_id: str | None,
    source_id: str | None,
    source: str | None,
    reason: str | None,
    transaction_type: str,
    amount: int,
    details: dict[str, Any],
) -> Row:
    row: Row | None = await conn.fetchrow(
        """
        INSERT INTO voucher_transactions
            (project_id, id, voucher_id, campaign_id, source_id, source, reason, type, amount,
             details, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                date_trunc('milliseconds', clock_timestamp()))
        RETURNING *
        """,
        project_id,
        transaction_id,
        voucher_id,
        campaign_id,
        source_id,
        source,
        reason,
        transaction_type,
        amount,
        details,
    )
    assert row is not None  # the caller holds the row's lock: it exists
    return row


# Whose transactions a page lists: a voucher's, or all of a campaign's codes'.
TRANSACTION_OWNERS = {"voucher": "voucher_id", "campaign": "campaign_id"}


async def transactions_page(
    conn: Connection,
    project_id: str,
    owner_id: str,
    *,
    owner: str = "voucher",
    limit: int,
    descending: bool,
    after_seq: int | None,
) -> Sequence[Row]:
    """Up to `limit` + 1 transactions of a voucher (or of a campaign's codes, `owner`) in
    order, after `after_seq` if given."""
    column = TRANSACTION_OWNERS[owner]
    cursor = "" if after_seq is None else ("AND seq < $4" if descending else "AND seq > $4")
    direction = "DESC" if descending else "ASC"
    args: list[Any] = [project_id, owner_id, limit + 1]
    if after_seq is not None:
        args.append(after_seq)
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT * FROM voucher_transactions
        WHERE project_id = $1 AND {column} = $2 {cursor}
        ORDER BY seq {direction} LIMIT $3
        """,
        *args,
    )
    return rows


async def transaction_seq(
    conn: Connection,
    project_id: str,
    owner_id: str,
    transaction_id: str,
    *,
    owner: str = "voucher",
) -> int | None:
    value = await conn.fetchval(
        f"SELECT seq FROM voucher_transactions"
        f" WHERE project_id = $1 AND {TRANSACTION_OWNERS[owner]} = $2 AND id = $3",
        project_id,
        owner_id,
        transaction_id,
    )
    return None if value is None else int(value)


async def pick_unpublished(
    conn: Connection, project_id: str, campaign_id: str, limit: int
) -> list[Row]:
    """Lock up to `limit` of a campaign's active codes that no one holds, oldest first,
    skipping those another publication has locked."""
    rows = await conn.fetch(
        """
        WITH picked AS (
            SELECT id FROM vouchers
            WHERE project_id = $1 AND campaign_id = $2 AND holder_id IS NULL
              AND deleted_at IS NULL AND active
            ORDER BY created_at, id
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        )
        """
        + _joined("vouchers")
        + " WHERE v.project_id = $1 AND v.id IN (SELECT id FROM picked)"
        " ORDER BY v.created_at, v.id",
        project_id,
        campaign_id,
        limit,
    )
    return list(rows)


async def pick_standalone(conn: Connection, project_id: str, campaign_id: str) -> Row | None:
    """A STANDALONE campaign's one generic code, locked."""
    picked = await conn.fetchval(
        "SELECT id FROM vouchers WHERE project_id = $1 AND campaign_id = $2"
        " AND deleted_at IS NULL AND active ORDER BY created_at, id LIMIT 1 FOR UPDATE",
        project_id,
        campaign_id,
    )
    if picked is None:
        return None
    return await conn.fetchrow(
        _joined("vouchers") + " WHERE v.project_id = $1 AND v.id = $2", project_id, picked
    )


async def lock_codes(conn: Connection, project_id: str, codes: Sequence[str]) -> list[Row]:
    """Lock these codes (just inserted by the caller) and read them."""
    rows = await conn.fetch(
        """
        WITH locked AS (
            SELECT id FROM vouchers WHERE project_id = $1 AND code = ANY($2::text[])
            ORDER BY id FOR UPDATE
        )
        """
        + _joined("vouchers")
        + " WHERE v.project_id = $1 AND v.id IN (SELECT id FROM locked) ORDER BY v.code",
        project_id,
        list(codes),
    )
    return list(rows)


async def held_in_campaign(
    conn: Connection, project_id: str, customer_id: str, campaign_id: str
) -> list[Row]:
    """The live codes of a campaign this customer holds."""
    rows = await conn.fetch(
        _joined("vouchers")
        + """
        WHERE v.project_id = $1 AND v.holder_id = $2 AND v.campaign_id = $3
          AND v.deleted_at IS NULL
        ORDER BY v.created_at, v.id
        """,
        project_id,
        customer_id,
        campaign_id,
    )
    return list(rows)


async def held_page(
    conn: Connection,
    project_id: str,
    customer_id: str,
    *,
    limit: int,
    after_id: str | None,
    descending: bool,
) -> list[Row]:
    """Up to `limit` + 1 live codes a customer holds, by id, after `after_id`."""
    after, direction = ("<", "DESC") if descending else (">", "ASC")
    rows = await conn.fetch(
        _joined("vouchers")
        + f"""
        WHERE v.project_id = $1 AND v.holder_id = $2 AND v.deleted_at IS NULL
          AND ($4::text IS NULL OR v.id {after} $4)
        ORDER BY v.id {direction}
        LIMIT $3
        """,
        project_id,
        customer_id,
        limit + 1,
        after_id,
    )
    return list(rows)


async def held_count(conn: Connection, project_id: str, customer_id: str) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM vouchers"
        " WHERE project_id = $1 AND holder_id = $2 AND deleted_at IS NULL",
        project_id,
        customer_id,
    )
    return int(value)


async def count_publication(conn: Connection, project_id: str, voucher_id: str) -> Row:
    """A generic (standalone) code published once more: `publish_count` + 1, no holder."""
    row: Row | None = await conn.fetchrow(
        """
        WITH v AS (
            UPDATE vouchers SET publish_count = publish_count + 1, updated_at = now()
            WHERE project_id = $1 AND id = $2
            RETURNING *
        )
        """
        + _joined("v"),
        project_id,
        voucher_id,
    )
    assert row is not None  # the caller holds the row's lock: it exists
    return row


async def apply_redemption(
    conn: Connection,
    project_id: str,
    voucher_id: str,
    *,
    uses: int,
    credits: int,
    points: int,
    checked: tuple[str | None, str | None] | None = None,
) -> Row | None:
    """Count a redemption (`uses` 1) or its rollback (`uses` -1) on a voucher: `redeemed_quantity`,
    and the gift credits (cents) or loyalty points it took (positive) or gave back (negative)
    off `balance`, `redeemed_amount` and `redeemed_points`. The balance's CHECK (>= 0) refuses
    an overdraft (asyncpg.CheckViolationError).

    With the voucher locked by the caller, `checked` is None. Otherwise this statement takes the
    lock, and `checked` = (the holder it was checked with, the redemption's session key): the
    count is made only if the voucher is still active, held by that holder, and has a use left
    beside what other sessions reserve; None when not (the caller checks again, locked)."""
    condition = ""
    args: list[Any] = [project_id, voucher_id, uses, credits, points]
    if checked is not None:
        args += list(checked)
        condition = """
              AND active AND deleted_at IS NULL AND holder_id IS NOT DISTINCT FROM $6
              AND (redemption_quantity IS NULL OR redeemed_quantity + coalesce((
                  SELECT sum(s.quantity) FROM validation_sessions s
                  WHERE s.project_id = $1 AND s.voucher_id = $2 AND s.expires_at > now()
                    AND s.key IS DISTINCT FROM $7), 0) < redemption_quantity)"""
    row: Row | None = await conn.fetchrow(
        """
        WITH v AS (
            UPDATE vouchers SET
                redeemed_quantity = redeemed_quantity + $3,
                redeemed_amount = redeemed_amount + $4,
                redeemed_points = redeemed_points + $5,
                balance = CASE WHEN balance IS NULL THEN NULL ELSE balance - $4 - $5 END,
                updated_at = """
        + NOW
        + f"""
            WHERE project_id = $1 AND id = $2{condition}
            RETURNING *
        )
        """
        + _joined("v"),
        *args,
    )
    if checked is None:
        assert row is not None  # locked by the caller
    return row


async def find_many(
    conn: Connection, project_id: str, keys: Sequence[str], *, for_update: bool = False
) -> dict[str, Row]:
    """Live vouchers by code or id (a code match wins), keyed by the key given; locked in id
    order with `for_update`. Each row also says whether validation rules are assigned to the
    voucher or its campaign (`has_rules`), so that a redemption reads rules only then."""
    lock = " ORDER BY v.id FOR UPDATE OF v" if for_update else ""
    rows = await conn.fetch(
        f"""
        SELECT v.*, {_CAMPAIGN}, EXISTS (
            SELECT 1 FROM validation_rule_assignments a
            WHERE a.project_id = v.project_id AND a.related_object_id IN (v.id, v.campaign_id)
        ) AS has_rules
        FROM vouchers v
        LEFT JOIN campaigns c ON c.project_id = v.project_id AND c.id = v.campaign_id
        WHERE v.project_id = $1 AND v.deleted_at IS NULL AND v.id IN (
            SELECT id FROM vouchers WHERE project_id = $1 AND code = ANY($2::text[])
            UNION ALL
            SELECT id FROM vouchers WHERE project_id = $1 AND id = ANY($2::text[])
        ){lock}
        """,
        project_id,
        list(keys),
    )
    found: dict[str, Row] = {}
    for row in rows:
        if row["id"] in keys and row["id"] not in found:
            found[row["id"]] = row
    for row in rows:
        if row["code"] in keys:
            found[row["code"]] = row
    return found
