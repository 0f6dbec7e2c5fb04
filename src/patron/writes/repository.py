"""SQL of the write path: every statement that changes a customer, its count, its segment
memberships, or records the activity of such a change.

Where the contract allows, a change and its activity are one statement (a data-modifying
`WITH`), so that a new customer costs one round trip between `BEGIN` and `COMMIT`. Activity data
is rendered in Python beforehand; a moment only the statement knows (a new customer's
`created_at`, an update's `updated_at`) stands in it as a marker that the statement replaces
with `patron_render_timestamp` (migration 0011).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.activities.repository import INSERT_SEVERAL, several_args
from patron.activities.service import Prepared
from patron.customers.repository import COLUMNS
from patron.customers.schemas import MUTABLE_COLUMNS
from patron.db.pool import Connection
from patron.kit import json
from patron.redemptions import repository as redemptions_repository

Row = asyncpg.Record

# What stands for a moment in rendered JSON until the statement knows it. Text never holds NUL
# (the API refuses it), so no client value can look like these.
CREATED_AT_MARK = "\x00created_at"
UPDATED_AT_MARK = "\x00updated_at"
# The metadata as jsonb stores it (its key order and numbers), so that a snapshot is what a read
# of the customer shows.
METADATA_MARK = "\x00metadata"


def _filled(data_param: str, source: str, moment_mark: str, moment: str) -> str:
    """SQL for the activity data `data_param` (JSON text) with `moment_mark` replaced by the
    rendered `source`.`moment` and METADATA_MARK by `source`'s stored metadata."""
    moment_json = json.encode(moment_mark).decode()
    metadata_json = json.encode(METADATA_MARK).decode()
    return (
        f"replace(replace({data_param}::text, '{moment_json}',"
        f" '\"' || patron_render_timestamp({source}.{moment}) || '\"'),"
        f" '{metadata_json}', {source}.metadata::text)::json"
    )


def _activity(source: str, first: int, data: str) -> str:
    """A CTE inserting one activity per row of `source` (which has `id`), from the parameters
    `$first` (activity id), `$first+1` (type), `$first+2` (category), `$first+3` (group id)
    and the SQL expression `data`."""
    return f"""
    activity AS (
        INSERT INTO customer_activities
            (project_id, id, customer_id, type, category, data, group_id, created_at)
        SELECT $1, ${first}, {source}.id, ${first + 1}, ${first + 2}, {data}, ${first + 3},
               date_trunc('milliseconds', clock_timestamp())
        FROM {source}
    )"""


def _activity_args(activity: Prepared) -> tuple[str, str, str, str, str]:
    return (activity.id, activity.type, activity.category, activity.group_id, activity.data)


def _count_cte(name: str, source: str, delta: str) -> str:
    """A CTE moving the project's customer count by `delta` per row of `source` (a free slot:
    `patron_count_customers`, migration 0011); reference it so that it runs."""
    return f"""
    {name} AS MATERIALIZED (
        SELECT patron_count_customers($1, {delta}) FROM {source}
    )"""


# The segments lock, held (shared) before any customer row is locked: the order every write
# takes them in (`hold_segments`). `_HELD` is a condition without outer references, which
# PostgreSQL checks once before the scan it guards, so the lock comes first.
_HOLD = "hold AS MATERIALIZED (SELECT patron_hold_segments($1) AS auto_update)"
_HELD = "(SELECT auto_update FROM hold) IS NOT NULL"


async def hold_segments(conn: Connection, project_id: str) -> bool:
    """Take the project's segments lock shared until commit; whether the project has
    auto-update segments (read once the lock is held)."""
    auto_update: bool = await conn.fetchval("SELECT patron_hold_segments($1)", project_id)
    return auto_update


async def upsert_by_source_id(
    conn: Connection,
    project_id: str,
    *,
    customer_id: str,
    source_id: str,
    values: dict[str, Any],
    created: Prepared,
    alone: bool = False,
) -> tuple[bool, bool, Row] | None:
    """Lock the live customer with this source_id, or create it (`customer_id`, the columns in
    `values`) with its `customer.created` activity (`created`, whose data holds
    CREATED_AT_MARK) and count it, holding the project's segments (see `hold_segments`).

    Returns (auto-update segments exist, created, row); None when a concurrent request made
    the source_id live first: try again. `alone`: the statement is its own transaction, so it
    locks nothing and creates only when the project has no auto-update segments (whose moves
    would have to be in the same transaction); a customer it did not create is returned as
    read, unlocked, with its row `version` (for `update_alone`).
    """
    lock = "" if alone else "FOR UPDATE"
    only_if = "AND NOT (SELECT auto_update FROM hold)" if alone else ""
    columns = [column for column in MUTABLE_COLUMNS if column in values]
    names = "".join(f", {column}" for column in columns)
    placeholders = "".join(f", ${index}" for index in range(9, 9 + len(columns)))
    row = await conn.fetchrow(
        f"""
        WITH {_HOLD},
        existing AS MATERIALIZED (
            SELECT xmin::text AS version, {COLUMNS} FROM customers
            WHERE {_HELD} AND project_id = $1 AND source_id = $3 AND deleted_at IS NULL
            {lock}
        ),
        inserted AS (
            INSERT INTO customers (project_id, id, source_id, created_at{names})
            SELECT $1, $2, $3, patron_customer_created_at($1){placeholders}
            WHERE NOT EXISTS (SELECT 1 FROM existing) {only_if}
            ON CONFLICT DO NOTHING
            RETURNING {COLUMNS}
        ),
        {_count_cte("counted", "inserted", "1")},
        {_activity("inserted", 4, _filled("$8", "inserted", CREATED_AT_MARK, "created_at"))}
        SELECT (SELECT auto_update FROM hold) AS auto_update,
               (SELECT count(*) FROM counted) AS counted, found.* FROM (
            SELECT true AS created, NULL::text AS version, {COLUMNS} FROM inserted
            UNION ALL
            SELECT false AS created, version, {COLUMNS} FROM existing
        ) AS found
        """,
        project_id,
        customer_id,
        source_id,
        *_activity_args(created),
        *(values[column] for column in columns),
    )
    if row is None:
        return None
    return bool(row["auto_update"]), bool(row["created"]), row


async def insert_without_source_id(
    conn: Connection,
    project_id: str,
    *,
    customer_id: str,
    values: dict[str, Any],
    created: Prepared,
    alone: bool = False,
) -> tuple[bool, Row] | None:
    """Create a customer with no source_id (see `upsert_by_source_id`, `alone` included); None
    when it was not created."""
    condition = "NOT (SELECT auto_update FROM hold)" if alone else _HELD
    columns = [column for column in MUTABLE_COLUMNS if column in values]
    names = "".join(f", {column}" for column in columns)
    placeholders = "".join(f", ${index}" for index in range(8, 8 + len(columns)))
    row = await conn.fetchrow(
        f"""
        WITH {_HOLD},
        inserted AS (
            INSERT INTO customers (project_id, id, created_at{names})
            SELECT $1, $2, patron_customer_created_at($1){placeholders} WHERE {condition}
            ON CONFLICT DO NOTHING
            RETURNING {COLUMNS}
        ),
        {_count_cte("counted", "inserted", "1")},
        {_activity("inserted", 3, _filled("$7", "inserted", CREATED_AT_MARK, "created_at"))}
        SELECT (SELECT auto_update FROM hold) AS auto_update,
               (SELECT count(*) FROM counted) AS counted, {COLUMNS} FROM inserted
        """,
        project_id,
        customer_id,
        *_activity_args(created),
        *(values[column] for column in columns),
    )
    if row is None:
        return None
    return bool(row["auto_update"]), row


async def lock_holding_segments(
    conn: Connection, project_id: str, *, customer_id: str | None = None, key: str | None = None
) -> tuple[bool, Row | None]:
    """Lock the live customer with this id (or, by `key`, this id or else source_id), holding
    the project's segments; (auto-update segments exist, the row or None)."""
    match = "id = $2" if customer_id is not None else "(id = $2 OR source_id = $2)"
    value = customer_id if customer_id is not None else key
    row = await conn.fetchrow(
        f"""
        WITH {_HOLD}
        SELECT (SELECT auto_update FROM hold) AS auto_update, found.* FROM (SELECT NULL) AS anchor
        LEFT JOIN LATERAL (
            SELECT {COLUMNS} FROM customers
            WHERE {_HELD} AND project_id = $1 AND deleted_at IS NULL AND {match}
            ORDER BY id = $2 DESC
            LIMIT 1
            FOR UPDATE
        ) AS found ON true
        """,
        project_id,
        value,
    )
    assert row is not None
    return bool(row["auto_update"]), (row if row["id"] is not None else None)


async def update(
    conn: Connection,
    project_id: str,
    customer_id: str,
    values: dict[str, Any],
    updated: Prepared,
) -> tuple[datetime, dict[str, Any]]:
    """Write every client-settable column of a locked customer, stamp updated_at, and record
    its `customer.updated` activity (`updated`, whose data holds UPDATED_AT_MARK and
    METADATA_MARK); returns the new updated_at and the metadata as stored."""
    assignments = ", ".join(
        f"{column} = ${index}" for index, column in enumerate(MUTABLE_COLUMNS, start=8)
    )
    row = await conn.fetchrow(
        f"""
        WITH updated AS (
            UPDATE customers
            SET {assignments},
                updated_at = greatest(date_trunc('milliseconds', clock_timestamp()), created_at)
            WHERE project_id = $1 AND id = $2
            RETURNING id, updated_at, metadata
        ),
        {_activity("updated", 3, _filled("$7", "updated", UPDATED_AT_MARK, "updated_at"))}
        SELECT updated_at, metadata FROM updated
        """,
        project_id,
        customer_id,
        *_activity_args(updated),
        *(values[column] for column in MUTABLE_COLUMNS),
    )
    assert row is not None
    return row["updated_at"], row["metadata"]


async def update_alone(
    conn: Connection,
    project_id: str,
    customer_id: str,
    version: str,
    values: dict[str, Any],
    updated: Prepared,
) -> tuple[datetime, dict[str, Any]] | None:
    """`update`, as a statement that is its own transaction, of a customer read (unlocked) at
    this row `version`: it writes only if the row is still that version and the project has no
    auto-update segments; None when it wrote nothing (the caller then locks and updates)."""
    assignments = ", ".join(
        f"{column} = ${index}" for index, column in enumerate(MUTABLE_COLUMNS, start=9)
    )
    row = await conn.fetchrow(
        f"""
        WITH {_HOLD},
        updated AS (
            UPDATE customers
            SET {assignments},
                updated_at = greatest(date_trunc('milliseconds', clock_timestamp()), created_at)
            WHERE NOT (SELECT auto_update FROM hold) AND project_id = $1 AND id = $2
              AND deleted_at IS NULL AND xmin = $8::text::xid
            RETURNING id, updated_at, metadata
        ),
        {_activity("updated", 3, _filled("$7", "updated", UPDATED_AT_MARK, "updated_at"))}
        SELECT updated_at, metadata FROM updated
        """,
        project_id,
        customer_id,
        *_activity_args(updated),
        version,
        *(values[column] for column in MUTABLE_COLUMNS),
    )
    return None if row is None else (row["updated_at"], row["metadata"])


async def set_system_metadata(
    conn: Connection, project_id: str, customer_id: str, system_metadata: dict[str, Any]
) -> Row:
    row = await conn.fetchrow(
        f"""
        UPDATE customers
        SET system_metadata = $3,
            updated_at = greatest(date_trunc('milliseconds', clock_timestamp()), created_at)
        WHERE project_id = $1 AND id = $2
        RETURNING {COLUMNS}
        """,
        project_id,
        customer_id,
        system_metadata,
    )
    assert row is not None
    return row


async def delete(conn: Connection, project_id: str, customer_id: str, deleted: Prepared) -> None:
    """Mark a locked live customer deleted, uncount it, take it out of every segment, and
    record its `customer.deleted` activity."""
    await conn.execute(
        f"""
        WITH gone AS (
            UPDATE customers SET deleted_at = clock_timestamp()
            WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL
            RETURNING id
        ),
        {_count_cte("uncounted", "gone", "-1")},
        left_segments AS (
            DELETE FROM segment_members WHERE project_id = $1 AND customer_id = $2
        ),
        {_activity("gone", 3, "$7::json")}
        SELECT (SELECT count(*) FROM uncounted), (SELECT count(*) FROM gone)
        """,
        project_id,
        customer_id,
        *_activity_args(deleted),
    )


# --- counting ------------------------------------------------------------------------------


async def move_count(conn: Connection, project_id: str, delta: int) -> None:
    """Move the project's live-customer count by `delta` (a free slot)."""
    if delta:
        await conn.execute("SELECT patron_count_customers($1, $2)", project_id, delta)


async def recount(conn: Connection, project_id: str) -> tuple[int, int]:
    """Set the project's stored count to its live customers; (was, is).

    The slots are locked first and the customers counted in a later statement, so creations
    and deletions in flight elsewhere are either in both figures or in neither: a transaction
    that moved a locked slot has committed before the count is read; one that moves a slot
    after it is not in the count, and its move lands on top of the correction.
    """
    was = await conn.fetchval(
        "SELECT coalesce(sum(count), 0) FROM"
        " (SELECT count FROM customer_counts WHERE project_id = $1 FOR UPDATE) AS slots",
        project_id,
    )
    actual = await conn.fetchval(
        "SELECT count(*) FROM customers WHERE project_id = $1 AND deleted_at IS NULL", project_id
    )
    await conn.execute(
        """
        INSERT INTO customer_counts AS k (project_id, slot, count) VALUES ($1, 0, $2)
        ON CONFLICT (project_id, slot) DO UPDATE SET count = k.count + excluded.count
        """,
        project_id,
        int(actual) - int(was),
    )
    return int(was), int(actual)


async def project_ids(conn: Connection) -> list[str]:
    return [row["id"] for row in await conn.fetch("SELECT id FROM projects ORDER BY id")]


# --- locking many --------------------------------------------------------------------------


async def lock_live_by_ids(
    conn: Connection, project_id: str, customer_ids: Sequence[str]
) -> list[Row]:
    """Lock these customers (the caller sorts the ids); the rows of the live ones."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND id = ANY($2::text[]) AND deleted_at IS NULL
        ORDER BY id
        FOR UPDATE
        """,
        project_id,
        list(customer_ids),
    )
    return list(rows)


async def lock_by_id(conn: Connection, project_id: str, customer_id: str) -> None:
    await conn.execute(
        "SELECT 1 FROM customers WHERE project_id = $1 AND id = $2 FOR UPDATE",
        project_id,
        customer_id,
    )


async def lock_all_for_erasure(conn: Connection, project_id: str, key: str) -> list[Row]:
    """Every customer, live or deleted, that `key` names: the one with that id, or else all
    that ever had that source_id. Locked."""
    by_id = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers WHERE project_id = $1 AND id = $2 FOR UPDATE",
        project_id,
        key,
    )
    if by_id is not None:
        return [by_id]
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND source_id = $2 AND source_id IS NOT NULL
        ORDER BY id
        FOR UPDATE
        """,
        project_id,
        key,
    )
    return list(rows)


async def delete_permanently(conn: Connection, project_id: str, customer_id: str) -> int:
    status = await conn.execute(
        "DELETE FROM customers WHERE project_id = $1 AND id = $2", project_id, customer_id
    )
    return int(status.split()[-1])


async def scrub_redemptions(conn: Connection, project_id: str, customer_id: str) -> None:
    """Forget who made a customer's redemptions and rollbacks (permanent deletion): the
    records stay, for the codes' counts, without the customer, their tracking id or order."""
    for table in ("redemptions", "redemption_rollbacks"):
        await conn.execute(
            f"""
            UPDATE {table} SET customer_id = NULL, customer = NULL, tracking_id = NULL,
                "order" = NULL, order_id = NULL, metadata = NULL
            WHERE project_id = $1 AND customer_id = $2
            """,
            project_id,
            customer_id,
        )


async def insert_permanent_deletion(
    conn: Connection,
    project_id: str,
    *,
    deletion_id: str,
    customer_id: str,
    data_json: dict[str, int | None],
) -> datetime:
    created_at: datetime = await conn.fetchval(
        """
        INSERT INTO permanent_deletions (project_id, id, customer_id, created_at, data_json)
        VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()), $4)
        RETURNING created_at
        """,
        project_id,
        deletion_id,
        customer_id,
        data_json,
    )
    return created_at


# --- bulk ------------------------------------------------------------------------------------


async def refresh_statistics_if_stale(conn: Connection) -> None:
    """Re-analyse customers when the table has outgrown the planner's idea of it.

    A bulk import grows the table faster than autovacuum re-analyses it, and on statistics
    that say "nearly empty" the planner filters whole projects instead of probing the unique
    index: batches then slow down as the table grows. Checked per batch, this analyses about
    log2(rows) times over an import. Only the columns those lookups read are analysed, which
    costs a third of a full ANALYZE (autovacuum sees to the others).
    """
    stale = await conn.fetchval(
        """
        WITH live AS (SELECT coalesce(sum(count), 0) AS total FROM customer_counts)
        SELECT c.reltuples < 0.5 * live.total AND live.total > 1000
        FROM pg_class c, live WHERE c.oid = 'customers'::regclass
        """
    )
    if stale:
        await conn.execute("ANALYZE customers (project_id, id, source_id, deleted_at)")


async def lock_live_by_keys(
    conn: Connection, project_id: str, *, source_ids: Sequence[str], ids: Sequence[str]
) -> Sequence[Row]:
    """The live customers with these source_ids or ids, locked in id order (one statement, so
    batches never deadlock)."""
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND deleted_at IS NULL
          AND ((source_id IS NOT NULL AND source_id = ANY($2::text[])) OR id = ANY($3::text[]))
        ORDER BY id
        FOR UPDATE
        """,
        project_id,
        list(source_ids),
        list(ids),
    )
    return rows


async def hold_bulk_dating(conn: Connection, project_id: str) -> None:
    """Bulk batches of one project date their new customers one at a time (until commit): they
    choose among milliseconds that only committed rows are known to hold."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", 40_004, project_id)


async def taken_created_at(
    conn: Connection, project_id: str, low: datetime, high: datetime
) -> set[datetime]:
    """The creation moments that live customers of the project hold in [low, high]."""
    rows = await conn.fetch(
        """
        SELECT created_at FROM customers
        WHERE project_id = $1 AND deleted_at IS NULL AND created_at BETWEEN $2 AND $3
        """,
        project_id,
        low,
        high,
    )
    return {row["created_at"] for row in rows}


async def database_now(conn: Connection) -> datetime:
    """The database's clock, to the millisecond."""
    value: datetime = await conn.fetchval("SELECT date_trunc('milliseconds', clock_timestamp())")
    return value


def _column_arrays(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[row[column] for row in rows] for column in MUTABLE_COLUMNS]


async def update_many(
    conn: Connection, project_id: str, changes: Sequence[tuple[str, dict[str, Any]]]
) -> Sequence[Row]:
    """Write every client-settable column of many customers (by id) in one statement; returns
    (id, updated_at) of each."""
    if not changes:
        return []
    rows: Sequence[Row] = await conn.fetch(
        """
        UPDATE customers c
        SET name = i.name, description = i.description, email = i.email, phone = i.phone,
            birthdate = i.birthdate, birthday = i.birthday, address = i.address,
            metadata = i.metadata,
            updated_at = greatest(date_trunc('milliseconds', clock_timestamp()), c.created_at)
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[],
                    $8::date[], $9::jsonb[], $10::jsonb[])
             AS i(id, name, description, email, phone, birthdate, birthday, address, metadata)
        WHERE c.project_id = $1 AND c.id = i.id
        RETURNING c.id, c.updated_at
        """,
        project_id,
        [customer_id for customer_id, _ in changes],
        *_column_arrays([values for _, values in changes]),
    )
    return rows


async def copy_new(
    conn: Connection,
    project_id: str,
    new: Sequence[tuple[str, str, datetime, Sequence[Any]]],
) -> None:
    """COPY new customers (id, source_id, created_at, values in MUTABLE_COLUMNS order) in.

    A source_id or creation moment made live meanwhile by another transaction fails the COPY
    with a unique violation: callers run it in a savepoint and try again.
    """
    await conn.copy_records_to_table(
        "customers",
        records=[
            (project_id, customer_id, source_id, created_at, *values)
            for customer_id, source_id, created_at, values in new
        ],
        columns=["project_id", "id", "source_id", "created_at", *MUTABLE_COLUMNS],
    )


# --- summary.orders ----------------------------------------------------------------------------


async def move_orders_totals(
    conn: Connection, project_id: str, customer_id: str, *, amount: int, count: int
) -> None:
    """Move a customer's order totals by a difference (atomic, so concurrent orders add up),
    then point last_order_amount/date at the latest counted order (the row lock this update
    takes makes every earlier order of the customer visible to that second part)."""
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


async def orders_summary_differences(conn: Connection) -> list[Row]:
    """Customers whose stored order summary differs from what their orders say."""
    rows = await conn.fetch(
        f"""
        SELECT * FROM ({_RECOMPUTED}) AS r
        WHERE (r.stored_amount, r.stored_count, r.stored_last_amount, r.stored_last_date)
              IS DISTINCT FROM (r.amount, r.count, r.last_amount, r.last_date)
        """
    )
    return list(rows)


async def recompute_orders_summary(conn: Connection, project_id: str, customer_id: str) -> None:
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


# --- the balances of the cards customers hold (migration 0013) ------------------------------

_HELD_BALANCES = """
    WITH held AS (
        SELECT v.holder_id, v.type, c.name, sum(v.balance) AS balance
        FROM vouchers v
        LEFT JOIN campaigns c ON c.project_id = v.project_id AND c.id = v.campaign_id
        WHERE v.project_id = $1 AND v.holder_id = ANY($2::text[]) AND v.deleted_at IS NULL
          AND v.type IN ('GIFT_VOUCHER', 'LOYALTY_CARD')
        GROUP BY v.holder_id, v.type, c.name
    ), sums AS (
        SELECT h.id,
            coalesce(sum(held.balance) FILTER (WHERE held.type = 'GIFT_VOUCHER'), 0)::bigint
                AS gift,
            coalesce(sum(held.balance) FILTER (WHERE held.type = 'LOYALTY_CARD'), 0)::bigint
                AS loyalty,
            coalesce(jsonb_object_agg(held.name, jsonb_build_object('points', held.balance))
                FILTER (WHERE held.type = 'LOYALTY_CARD' AND held.name IS NOT NULL),
                '{}'::jsonb) AS campaigns
        FROM unnest($2::text[]) AS h (id)
        LEFT JOIN held ON held.holder_id = h.id
        GROUP BY h.id
    )
"""


async def refresh_held_balances(
    conn: Connection, project_id: str, customer_ids: Sequence[str]
) -> list[str]:
    """Set gift_balance, loyalty_balance and loyalty_campaigns of these customers (locked by
    the caller) to what the cards they hold add up to; returns the ids whose values changed."""
    rows = await conn.fetch(
        _HELD_BALANCES
        + """
        UPDATE customers c SET
            gift_balance = sums.gift, loyalty_balance = sums.loyalty,
            loyalty_campaigns = sums.campaigns
        FROM sums
        WHERE c.project_id = $1 AND c.id = sums.id AND c.deleted_at IS NULL
          AND (c.gift_balance, c.loyalty_balance, c.loyalty_campaigns)
              IS DISTINCT FROM (sums.gift, sums.loyalty, sums.campaigns)
        RETURNING c.id
        """,
        project_id,
        list(customer_ids),
    )
    return [row["id"] for row in rows]


async def held_balance_differences(conn: Connection, project_id: str) -> list[Row]:
    """Customers of a project whose stored card balances differ from their cards'."""
    rows: list[Row] = await conn.fetch(
        """
        WITH ids AS (
            SELECT array_agg(id) AS ids FROM (
                SELECT id FROM customers
                WHERE project_id = $1 AND deleted_at IS NULL
                  AND (gift_balance <> 0 OR loyalty_balance <> 0 OR loyalty_campaigns <> '{}')
                UNION
                SELECT holder_id FROM vouchers
                WHERE project_id = $1 AND holder_id IS NOT NULL AND deleted_at IS NULL
            ) s
        )
        SELECT c.id, c.gift_balance, c.loyalty_balance, c.loyalty_campaigns::text,
               sums.gift, sums.loyalty, sums.campaigns::text
        FROM customers c, (
        """
        + _HELD_BALANCES.replace("$2::text[]", "(SELECT ids FROM ids)::text[]")
        + """
            SELECT * FROM sums
        ) sums
        WHERE c.project_id = $1 AND c.id = sums.id AND c.deleted_at IS NULL
          AND (c.gift_balance, c.loyalty_balance, c.loyalty_campaigns)
              IS DISTINCT FROM (sums.gift, sums.loyalty, sums.campaigns)
        ORDER BY c.id
        """,
        project_id,
    )
    return rows


# --- summary.redemptions counters (migration 0015) ---------------------------------------

# Each customer's counters, recomputed from the stored redemptions and rollbacks: one per
# redeemable (stacked parents are not counted); gift credits and points net of rollbacks. A
# refused rollback of a stacked parent is stored once, as the parent's, and counted once.
_REDEMPTION_SUMS = """
    WITH r AS (
        SELECT customer_id,
               count(*) FILTER (WHERE result = 'SUCCESS') AS succeeded,
               count(*) FILTER (WHERE result = 'FAILURE') AS failed,
               coalesce(sum(gift_credits) FILTER (WHERE result = 'SUCCESS'), 0) AS gift,
               coalesce(sum(loyalty_points) FILTER (WHERE result = 'SUCCESS'), 0) AS points
        FROM redemptions
        WHERE project_id = $1 AND related_object_type <> 'redemption'
          AND customer_id = ANY($2::text[])
        GROUP BY customer_id
    ), b AS (
        SELECT customer_id,
               count(*) FILTER (WHERE result = 'SUCCESS') AS succeeded,
               count(*) FILTER (WHERE result = 'FAILURE') AS failed,
               coalesce(sum(gift_credits) FILTER (WHERE result = 'SUCCESS'), 0) AS gift,
               coalesce(sum(loyalty_points) FILTER (WHERE result = 'SUCCESS'), 0) AS points
        FROM redemption_rollbacks
        WHERE project_id = $1 AND (related_object_type <> 'redemption' OR result = 'FAILURE')
          AND customer_id = ANY($2::text[])
        GROUP BY customer_id
    ), sums AS (
        SELECT ids.id,
               coalesce(r.succeeded, 0) AS redemptions_succeeded,
               coalesce(r.failed, 0) AS redemptions_failed,
               coalesce(b.succeeded, 0) AS rollbacks_succeeded,
               coalesce(b.failed, 0) AS rollbacks_failed,
               coalesce(r.gift, 0) + coalesce(b.gift, 0) AS gift_redeemed,
               coalesce(r.points, 0) + coalesce(b.points, 0) AS loyalty_redeemed
        FROM unnest($2::text[]) AS ids (id)
        LEFT JOIN r ON r.customer_id = ids.id
        LEFT JOIN b ON b.customer_id = ids.id
    )
"""

_COUNTERS = (
    "redemptions_succeeded, redemptions_failed, rollbacks_succeeded, rollbacks_failed,"
    " gift_redeemed, loyalty_redeemed"
)


async def move_redemption_counters(
    conn: Connection,
    project_id: str,
    customer_id: str,
    *,
    succeeded: int = 0,
    failed: int = 0,
    rollbacks_succeeded: int = 0,
    rollbacks_failed: int = 0,
    gift: int = 0,
    points: int = 0,
) -> None:
    """Move a locked customer's summary.redemptions counters by differences (gift in cents)."""
    await conn.execute(
        """
        UPDATE customers SET
            redemptions_succeeded = redemptions_succeeded + $3,
            redemptions_failed = redemptions_failed + $4,
            rollbacks_succeeded = rollbacks_succeeded + $5,
            rollbacks_failed = rollbacks_failed + $6,
            gift_redeemed = gift_redeemed + $7,
            loyalty_redeemed = loyalty_redeemed + $8
        WHERE project_id = $1 AND id = $2
        """,
        project_id,
        customer_id,
        succeeded,
        failed,
        rollbacks_succeeded,
        rollbacks_failed,
        gift,
        points,
    )


async def redemption_counter_differences(conn: Connection, project_id: str) -> list[Row]:
    """Customers of a project whose stored counters differ from their redemptions'."""
    rows: list[Row] = await conn.fetch(
        """
        WITH candidates AS (
            SELECT array_agg(id) AS ids FROM (
                SELECT id FROM customers
                WHERE project_id = $1 AND (redemptions_succeeded, redemptions_failed,
                    rollbacks_succeeded, rollbacks_failed, gift_redeemed, loyalty_redeemed)
                    <> (0, 0, 0, 0, 0, 0)
                UNION SELECT customer_id FROM redemptions
                WHERE project_id = $1 AND customer_id IS NOT NULL
                UNION SELECT customer_id FROM redemption_rollbacks
                WHERE project_id = $1 AND customer_id IS NOT NULL
            ) s
        )
        SELECT c.id, """
        + ", ".join(f"c.{name} AS stored_{name}" for name in _COUNTERS.replace(" ", "").split(","))
        + """, sums.*
        FROM customers c, (
        """
        + _REDEMPTION_SUMS.replace("$2::text[]", "coalesce((SELECT ids FROM candidates), '{}')")
        + """
            SELECT * FROM sums
        ) sums
        WHERE c.project_id = $1 AND c.id = sums.id
          AND ("""
        + ", ".join(f"c.{name}" for name in _COUNTERS.replace(" ", "").split(","))
        + ") IS DISTINCT FROM ("
        + ", ".join(f"sums.{name}" for name in _COUNTERS.replace(" ", "").split(","))
        + """)
        ORDER BY c.id
        """,
        project_id,
    )
    return rows


async def recompute_redemption_counters(
    conn: Connection, project_id: str, customer_ids: Sequence[str]
) -> None:
    """Set the counters of these customers (locked by the caller) from their redemptions."""
    await conn.execute(
        _REDEMPTION_SUMS
        + f"""
        UPDATE customers c SET ({_COUNTERS}) = (
            sums.redemptions_succeeded, sums.redemptions_failed, sums.rollbacks_succeeded,
            sums.rollbacks_failed, sums.gift_redeemed, sums.loyalty_redeemed)
        FROM sums WHERE c.project_id = $1 AND c.id = sums.id
        """,
        project_id,
        list(customer_ids),
    )


async def count_redemption(
    conn: Connection,
    project_id: str,
    customer_id: str,
    *,
    succeeded: int,
    failed: int,
    gift: int,
    points: int,
    order_amount: int | None,
) -> Row | None:
    """A redemption's moves on its (locked) customer in one statement: summary.redemptions
    (`succeeded`/`failed` per code, `gift` cents and `points` spent), and, when it created a
    counted order (`order_amount`, cents), summary.orders with last_order_* following the
    latest counted order. Returns the customer's row after (None if gone)."""
    row: Row | None = await conn.fetchrow(
        f"""
        UPDATE customers c SET
            redemptions_succeeded = c.redemptions_succeeded + $3,
            redemptions_failed = c.redemptions_failed + $4,
            gift_redeemed = c.gift_redeemed + $5,
            loyalty_redeemed = c.loyalty_redeemed + $6,
            orders_total_amount = c.orders_total_amount + coalesce($7, 0),
            orders_total_count = c.orders_total_count + ($7::bigint IS NOT NULL)::int,
            orders_last_amount = CASE WHEN $7::bigint IS NULL THEN c.orders_last_amount
                                      ELSE coalesce(latest.last_counted, 0) END,
            orders_last_date = CASE WHEN $7::bigint IS NULL THEN c.orders_last_date
                                    ELSE latest.last_created END
        FROM (SELECT NULL) AS anchor
        LEFT JOIN LATERAL (
            SELECT o.counted_amount AS last_counted, o.created_at AS last_created FROM orders o
            WHERE o.project_id = $1 AND o.customer_id = $2 AND o.counted_amount IS NOT NULL
              AND $7::bigint IS NOT NULL
            ORDER BY o.created_at DESC, o.id DESC
            LIMIT 1
        ) AS latest ON true
        WHERE c.project_id = $1 AND c.id = $2 AND c.deleted_at IS NULL
        RETURNING {", ".join("c." + column.strip() for column in COLUMNS.split(","))}
        """,
        project_id,
        customer_id,
        succeeded,
        failed,
        gift,
        points,
        order_amount,
    )
    return row


def _store_redemptions_sql() -> str:
    stored = redemptions_repository.insert_sql(
        "redemptions", redemptions_repository.REDEMPTION_COLUMNS
    )
    shifted = INSERT_SEVERAL
    for number in range(9, 1, -1):  # the activities' $2…$9 become $4…$11
        shifted = shifted.replace(f"${number}::", f"${number + 2}::")
    return f"WITH stored AS ({stored}) {shifted}"


_STORE_REDEMPTIONS = _store_redemptions_sql()


async def store_redemptions(
    conn: Connection,
    project_id: str,
    redemptions: list[dict[str, Any]],
    created_at: datetime,
    activities: Sequence[tuple[str, str, str, str, str | None, str | None, dict[str, Any], str]],
) -> None:
    """Insert a redemption's records (dicts of REDEMPTION_COLUMNS, dated `created_at`) and
    its customer's activities in one statement."""
    columns = redemptions_repository.REDEMPTION_COLUMNS
    documents = [{name: row.get(name) for name in columns} for row in redemptions]
    await conn.execute(
        _STORE_REDEMPTIONS, project_id, documents, created_at, *several_args(activities)
    )
