"""SQL for segments, their members, and filters rendered as predicates over customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.segments.filters import (
    AnyOf,
    CampaignPoints,
    Column,
    Compare,
    EventCount,
    Expr,
    Junction,
    Kind,
    Month,
    Not,
    Present,
    Test,
    Text,
)

Row = asyncpg.Record

SEGMENT_COLUMNS = "id, name, type, filter, time_dependent, created_at, updated_at"

# Advisory lock class: customer writes hold it shared while they match segments
# (`patron_hold_segments`, migration 0011); creating or deleting a segment holds it exclusively,
# so no write misses a new segment (see patron.writes.segments).
SEGMENTS_LOCK_CLASS = 40_002

# --- filters as SQL ----------------------------------------------------------------------------

# Every path reads the customer row aliased `c`.
COLUMN_SQL: dict[str, str] = {
    "id": "c.id",
    "source_id": "c.source_id",
    "name": "c.name",
    "email": "c.email",
    "phone": "c.phone",
    "description": "c.description",
    # The city is also a stored column (address ->> 'city'), indexed for list filters.
    "address.city": "c.city",
    **{
        f"address.{part}": f"(c.address ->> '{part}')"
        for part in ("state", "line_1", "line_2", "country", "postal_code")
    },
    "created_at": "c.created_at",
    "updated_at": "c.updated_at",
    "birthdate": "c.birthdate",
    "birthday": "c.birthday",
    "summary.orders.total_amount": "coalesce(c.orders_total_amount, 0)",
    "summary.orders.total_count": "coalesce(c.orders_total_count, 0)::numeric",
    # Floor division, as the customer object shows it.
    "summary.orders.average_amount": (
        "(CASE WHEN coalesce(c.orders_total_count, 0) = 0 THEN 0::numeric"
        " ELSE div(c.orders_total_amount, c.orders_total_count)"
        " - (mod(c.orders_total_amount, c.orders_total_count) < 0)::int END)"
    ),
    "summary.orders.last_order_amount": "coalesce(c.orders_last_amount, 0)::numeric",
    "summary.orders.last_order_date": "c.orders_last_date",
    # Sums of the balances of the cards the customer holds (migration 0013; NOT NULL).
    "summary.redemptions.gift.amount_to_go": "c.gift_balance::numeric",
    "summary.redemptions.loyalty_card.points_to_go": "c.loyalty_balance::numeric",
    "loyalty.points": "c.loyalty_balance::numeric",
    # Redemption counters (migration 0015; NOT NULL).
    "summary.redemptions.total_redeemed": (
        "(c.redemptions_succeeded + c.redemptions_failed)::numeric"
    ),
    "summary.redemptions.total_failed": "c.redemptions_failed::numeric",
    "summary.redemptions.total_succeeded": "c.redemptions_succeeded::numeric",
    "summary.redemptions.total_rolled_back": (
        "(c.rollbacks_succeeded + c.rollbacks_failed)::numeric"
    ),
    "summary.redemptions.total_rollback_failed": "c.rollbacks_failed::numeric",
    "summary.redemptions.total_rollback_succeeded": "c.rollbacks_succeeded::numeric",
    "summary.redemptions.gift.redeemed_amount": "c.gift_redeemed::numeric",
    "summary.redemptions.loyalty_card.redeemed_points": "c.loyalty_redeemed::numeric",
}

_CASTS: dict[Kind, str] = {
    "text": "text",
    "number": "numeric",
    "datetime": "timestamptz",
    "date": "date",
    "boolean": "boolean",
}


class Predicate:
    """A filter test rendered as SQL; its values are appended to a statement's arguments.

    In a WHERE clause (`where`), a test outside any NOT may be NULL where its value is
    missing: AND and OR are monotonic, so a row is selected exactly when it would be with
    NULL read as false — and bare comparisons let the planner use the customers' indexes
    (city, e-mail, name …). As a value (`where=False`), and under NOT, every test is coalesced
    to true or false.
    """

    def __init__(self, test: Test, columns: dict[str, str] | None = None) -> None:
        self.test = test
        # Another object's paths as SQL over the row aliased `c` (an order export's).
        self.columns = COLUMN_SQL if columns is None else columns

    def render(self, args: list[Any], *, where: bool = True) -> str:
        return _render(self.test, args, where, self.columns)


def _param(args: list[Any], value: Any, kind: Kind, *, array: bool = False) -> str:
    args.append(list(value) if array else value)
    return f"${len(args)}::{_CASTS[kind]}{'[]' if array else ''}"


def _expr(expr: Expr, args: list[Any], columns: dict[str, str]) -> str:
    if isinstance(expr, Column):
        return columns.get(expr.path, "0::numeric")  # the rest are zero for everyone
    if isinstance(expr, EventCount):
        name = _param(args, expr.event, "text")
        return (
            "coalesce((SELECT e.count FROM customer_event_counts e WHERE e.project_id ="
            f" c.project_id AND e.customer_id = c.id AND e.event = {name}), 0)::numeric"
        )
    if isinstance(expr, CampaignPoints):
        # NULL (no value) unless the customer holds the campaign and its points are a number.
        name = _param(args, expr.campaign, "text")
        points = f"(c.loyalty_campaigns -> {name} -> 'points')"
        return (
            f"(CASE WHEN jsonb_typeof({points}) = 'number'"
            f" THEN (c.loyalty_campaigns -> {name} ->> 'points')::numeric END)"
        )
    key = _param(args, expr.key, "text")
    if expr.kind is None:
        return f"nullif(c.metadata -> {key}, 'null'::jsonb)"
    value = f"(c.metadata ->> {key})"
    reading = {
        "text": value,
        "number": f"{value}::numeric",
        "boolean": f"{value}::boolean",
        "datetime": f"patron_iso_timestamp({value})",
        "date": f"patron_iso_timestamp({value})",
    }[expr.kind]
    json_type = {"text": "string", "number": "number", "boolean": "boolean"}.get(
        expr.kind, "string"
    )
    return f"(CASE WHEN jsonb_typeof(c.metadata -> {key}) = '{json_type}' THEN {reading} END)"


def _kind(expr: Expr) -> Kind:
    kind = expr.kind
    return "text" if kind is None else kind


def _render(test: Test, args: list[Any], where: bool, columns: dict[str, str]) -> str:
    if isinstance(test, Junction):
        if not test.tests:
            return "TRUE" if test.how == "and" else "FALSE"
        joiner = " AND " if test.how == "and" else " OR "
        return "(" + joiner.join(_render(inner, args, where, columns) for inner in test.tests) + ")"
    if isinstance(test, Not):
        return f"(NOT {_render(test.test, args, False, columns)})"
    expr = _expr(test.expr, args, columns)
    if isinstance(test, Present):
        return f"({expr} IS NOT NULL)"
    condition = _leaf(test, expr, args)
    return f"({condition})" if where else f"coalesce({condition}, false)"


def _leaf(test: Compare | AnyOf | Text | Month, expr: str, args: list[Any]) -> str:
    """A test that is NULL when the value is missing."""
    if isinstance(test, Compare):
        return f"{expr} {test.op} {_param(args, test.value, _kind(test.expr))}"
    if isinstance(test, AnyOf):
        return f"{expr} = ANY({_param(args, test.values, _kind(test.expr), array=True)})"
    if isinstance(test, Text):
        value = _param(args, test.value, "text")
        if test.how == "starts":
            return f"starts_with({expr}, {value})"
        if test.how == "ends":
            return f"right({expr}, char_length({value})) = {value}"
        return f"strpos({expr}, {value}) > 0"
    month = _param(args, test.month, "number")
    if _kind(test.expr) == "date":
        return f"extract(month FROM {expr}) = {month}"
    return f"extract(month FROM {expr} AT TIME ZONE 'UTC') = {month}"


# --- segments ------------------------------------------------------------------------------


async def insert(
    conn: Connection,
    project_id: str,
    *,
    segment_id: str,
    name: str,
    segment_type: str,
    filter_json: dict[str, Any] | None,
    time_dependent: bool,
) -> Row:
    row: Row | None = await conn.fetchrow(
        f"""
        INSERT INTO segments
            (project_id, id, name, type, filter, time_dependent, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, date_trunc('milliseconds', clock_timestamp()))
        RETURNING {SEGMENT_COLUMNS}
        """,
        project_id,
        segment_id,
        name,
        segment_type,
        filter_json,
        time_dependent,
    )
    assert row is not None
    return row


async def find(conn: Connection, project_id: str, segment_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE project_id = $1 AND id = $2",
        project_id,
        segment_id,
    )


async def delete(conn: Connection, project_id: str, segment_id: str) -> bool:
    status = await conn.execute(
        "DELETE FROM segments WHERE project_id = $1 AND id = $2", project_id, segment_id
    )
    return bool(status != "DELETE 0")


async def list_segments(
    conn: Connection,
    project_id: str,
    *,
    conditions: Sequence[tuple[str, Any]],
    ascending: bool,
    limit: int,
) -> tuple[Sequence[Row], int]:
    """A page of segments and how many match; `conditions` are whitelisted templates."""
    where = ["project_id = $1"]
    args: list[Any] = [project_id]
    for template, value in conditions:
        args.append(value)
        where.append(template.format(f"${len(args)}"))
    direction = "ASC" if ascending else "DESC"
    clause = " AND ".join(where)
    rows = await conn.fetch(
        f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE {clause}"
        f" ORDER BY created_at {direction}, id {direction} LIMIT {int(limit)}",
        *args,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM segments WHERE {clause}", *args)
    return rows, int(total)


SEGMENT_LIST_FILTERS = {
    "ids": "id = ANY({}::text[])",
    "types": "type = ANY({}::text[])",
    "names": "name = ANY({}::text[])",
    "created_before": "created_at < {}",
    "created_after": "created_at > {}",
    "after_cursor": "(created_at, id) > (SELECT created_at, id FROM segments s"
    " WHERE s.project_id = segments.project_id AND s.id = {})",
    "before_cursor": "(created_at, id) < (SELECT created_at, id FROM segments s"
    " WHERE s.project_id = segments.project_id AND s.id = {})",
}


# --- membership ----------------------------------------------------------------------------


async def lock_for_change(conn: Connection, project_id: str) -> None:
    """Held while a segment is created or deleted: waits for the writes in flight."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))", SEGMENTS_LOCK_CLASS, project_id
    )


async def auto_update_for_customer(
    conn: Connection, project_id: str, customer_id: str
) -> Sequence[Row]:
    """The project's auto-update segments, each with whether the customer is a member."""
    rows: Sequence[Row] = await conn.fetch(
        """
        SELECT s.id, s.name, s.filter, m.customer_id IS NOT NULL AS member
        FROM segments s
        LEFT JOIN segment_members m
            ON m.project_id = s.project_id AND m.segment_id = s.id AND m.customer_id = $2
        WHERE s.project_id = $1 AND s.type = 'auto-update'
        ORDER BY s.created_at, s.id
        """,
        project_id,
        customer_id,
    )
    return rows


async def auto_update_segments(conn: Connection, project_id: str) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        "SELECT id, name, filter FROM segments WHERE project_id = $1 AND type = 'auto-update'"
        " ORDER BY created_at, id",
        project_id,
    )
    return rows


async def membership_changes(
    conn: Connection,
    project_id: str,
    segment_id: str,
    predicate: Predicate,
    customer_ids: Sequence[str],
) -> list[tuple[str, bool]]:
    """(customer, now inside) for each of these live customers whose membership is wrong."""
    args: list[Any] = [project_id, segment_id, list(customer_ids)]
    condition = predicate.render(args, where=False)
    rows = await conn.fetch(
        f"""
        SELECT id, inside FROM (
            SELECT c.id, {condition} AS inside,
                   EXISTS (SELECT 1 FROM segment_members m WHERE m.project_id = $1
                           AND m.segment_id = $2 AND m.customer_id = c.id) AS member
            FROM customers c
            WHERE c.project_id = $1 AND c.id = ANY($3::text[]) AND c.deleted_at IS NULL
        ) decided
        WHERE inside <> member
        ORDER BY id
        """,
        *args,
    )
    return [(row["id"], bool(row["inside"])) for row in rows]


async def add_members(
    conn: Connection, project_id: str, segment_id: str, customer_ids: Sequence[str]
) -> None:
    if customer_ids:
        await add_static_members(conn, project_id, segment_id, customer_ids)


async def remove_members(
    conn: Connection, project_id: str, segment_id: str, customer_ids: Sequence[str]
) -> None:
    if customer_ids:
        await conn.execute(
            "DELETE FROM segment_members WHERE project_id = $1 AND segment_id = $2"
            " AND customer_id = ANY($3::text[])",
            project_id,
            segment_id,
            list(customer_ids),
        )


async def event_counts(
    conn: Connection, project_id: str, customer_id: str, events: Sequence[str]
) -> dict[str, int]:
    rows = await conn.fetch(
        """
        SELECT event, count FROM customer_event_counts
        WHERE project_id = $1 AND customer_id = $2 AND event = ANY($3::text[])
        """,
        project_id,
        customer_id,
        list(events),
    )
    return {row["event"]: int(row["count"]) for row in rows}


async def add_member(conn: Connection, project_id: str, segment_id: str, customer_id: str) -> None:
    await conn.execute(
        "INSERT INTO segment_members (project_id, segment_id, customer_id, customer_created_at)"
        " SELECT $1, $2, c.id, c.created_at FROM customers c WHERE c.project_id = $1"
        " AND c.id = $3 ON CONFLICT DO NOTHING",
        project_id,
        segment_id,
        customer_id,
    )


async def remove_member(
    conn: Connection, project_id: str, segment_id: str, customer_id: str
) -> None:
    await conn.execute(
        "DELETE FROM segment_members WHERE project_id = $1 AND segment_id = $2"
        " AND customer_id = $3",
        project_id,
        segment_id,
        customer_id,
    )


async def add_static_members(
    conn: Connection, project_id: str, segment_id: str, customer_ids: Sequence[str]
) -> None:
    await conn.execute(
        """
        INSERT INTO segment_members (project_id, segment_id, customer_id, customer_created_at)
        SELECT $1, $2, c.id, c.created_at FROM customers c
        WHERE c.project_id = $1 AND c.id = ANY($3::text[])
        ON CONFLICT DO NOTHING
        """,
        project_id,
        segment_id,
        list(customer_ids),
    )


async def live_customer_ids(
    conn: Connection, project_id: str, keys: Sequence[str]
) -> dict[str, str]:
    """Each key (a customer id, else a source_id) that names a live customer → that id."""
    rows = await conn.fetch(
        """
        SELECT k.key, coalesce(
            (SELECT c.id FROM customers c WHERE c.project_id = $1 AND c.id = k.key
             AND c.deleted_at IS NULL),
            (SELECT c.id FROM customers c WHERE c.project_id = $1 AND c.source_id = k.key
             AND c.deleted_at IS NULL)) AS id
        FROM unnest($2::text[]) AS k(key)
        """,
        project_id,
        list(keys),
    )
    return {row["key"]: row["id"] for row in rows if row["id"] is not None}


async def add_matching_members(
    conn: Connection, project_id: str, segment_id: str, predicate: Predicate
) -> int:
    """Make every live customer the filter matches a member (a new auto-update segment)."""
    args: list[Any] = [project_id, segment_id]
    condition = predicate.render(args)
    status = await conn.execute(
        f"""
        INSERT INTO segment_members (project_id, segment_id, customer_id, customer_created_at)
        SELECT c.project_id, $2, c.id, c.created_at FROM customers c
        WHERE c.project_id = $1 AND c.deleted_at IS NULL AND {condition}
        ON CONFLICT DO NOTHING
        """,
        *args,
    )
    return int(status.split()[-1])


async def segments_of_customer(
    conn: Connection, project_id: str, customer_id: str
) -> Sequence[Row]:
    """Segments whose stored members include the customer (static and auto-update)."""
    rows: Sequence[Row] = await conn.fetch(
        """
        SELECT s.id, s.name, s.created_at FROM segment_members m
        JOIN segments s ON s.project_id = m.project_id AND s.id = m.segment_id
        WHERE m.project_id = $1 AND m.customer_id = $2
        """,
        project_id,
        customer_id,
    )
    return rows


async def filter_segments(conn: Connection, project_id: str) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE project_id = $1 AND type <> 'static'"
        " ORDER BY created_at, id",
        project_id,
    )
    return rows


async def remove_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    """Take a customer out of every segment (deletion); returns how many it was in."""
    status = await conn.execute(
        "DELETE FROM segment_members WHERE project_id = $1 AND customer_id = $2",
        project_id,
        customer_id,
    )
    return int(status.split()[-1])


# --- the periodic job ------------------------------------------------------------------------


async def due_for_reconciling(
    conn: Connection, *, every_seconds: float, project_id: str | None = None
) -> Sequence[Row]:
    """Auto-update segments (of one project, or all) whose filter reads the clock and were not
    brought up to date in the last `every_seconds`."""
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT project_id, {SEGMENT_COLUMNS} FROM segments
        WHERE type = 'auto-update' AND time_dependent AND ($2::text IS NULL OR project_id = $2)
          AND (reconciled_at IS NULL
               OR reconciled_at < clock_timestamp() - make_interval(secs => $1))
        ORDER BY reconciled_at NULLS FIRST
        """,
        every_seconds,
        project_id,
    )
    return rows


async def refresh_lag_seconds(conn: Connection) -> float:
    """Across every project, for `/metrics`: how long ago the least recently reconciled
    auto-update segment that the periodic job keeps current (its filter reads the clock) was
    brought up to date, counting from its creation when it never was; 0 when there is none."""
    lag: float = await conn.fetchval(
        """
        SELECT coalesce(
            extract(epoch FROM clock_timestamp() - min(coalesce(reconciled_at, created_at))), 0
        )::float8
        FROM segments
        WHERE type = 'auto-update' AND time_dependent
        """
    )
    return lag


async def stale_members(
    conn: Connection, project_id: str, segment_id: str, predicate: Predicate, *, limit: int
) -> tuple[list[str], list[str]]:
    """Up to `limit` customers who match but are not members, and members who no longer
    match (or are gone)."""
    args: list[Any] = [project_id, segment_id, limit]
    condition = predicate.render(args)
    entering = await conn.fetch(
        f"""
        SELECT c.id FROM customers c
        WHERE c.project_id = $1 AND c.deleted_at IS NULL AND {condition}
          AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.project_id = $1
                          AND m.segment_id = $2 AND m.customer_id = c.id)
        ORDER BY c.id LIMIT $3
        """,
        *args,
    )
    leaving = await conn.fetch(
        f"""
        SELECT m.customer_id AS id FROM segment_members m
        WHERE m.project_id = $1 AND m.segment_id = $2 AND NOT EXISTS (
            SELECT 1 FROM customers c WHERE c.project_id = $1 AND c.id = m.customer_id
              AND c.deleted_at IS NULL AND {condition})
        ORDER BY m.customer_id LIMIT $3
        """,
        *args,
    )
    return [row["id"] for row in entering], [row["id"] for row in leaving]


async def mark_reconciled(conn: Connection, project_id: str, segment_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE segments SET reconciled_at = $3 WHERE project_id = $1 AND id = $2",
        project_id,
        segment_id,
        at,
    )


async def members_among(
    conn: Connection, project_id: str, segment_id: str, customer_ids: Sequence[str]
) -> set[str]:
    rows = await conn.fetch(
        "SELECT customer_id FROM segment_members WHERE project_id = $1 AND segment_id = $2"
        " AND customer_id = ANY($3::text[])",
        project_id,
        segment_id,
        list(customer_ids),
    )
    return {row["customer_id"] for row in rows}
