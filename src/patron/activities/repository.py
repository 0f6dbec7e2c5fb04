"""SQL for the customer activity timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from patron.db.pool import Connection

# data as the JSON text stored (a `json` column): pages hand it on without decoding it.
COLUMNS = "id, seq, type, data::text AS data, created_at, group_id"


async def insert(
    conn: Connection,
    project_id: str,
    *,
    activity_id: str,
    customer_id: str,
    activity_type: str,
    category: str,
    data: dict[str, Any],
    group_id: str,
    campaign_id: str | None = None,
    campaign_type: str | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO customer_activities
            (project_id, id, customer_id, type, category, campaign_id, campaign_type, data,
             group_id, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, date_trunc('milliseconds', clock_timestamp()))
        """,
        project_id,
        activity_id,
        customer_id,
        activity_type,
        category,
        campaign_id,
        campaign_type,
        data,
        group_id,
    )


# Inserts the activities given as arrays $2 to $9 (`several_args`), in their order.
INSERT_SEVERAL = """
    INSERT INTO customer_activities
        (project_id, id, customer_id, type, category, campaign_id, campaign_type, data,
         group_id, created_at)
    SELECT $1, r.id, r.customer_id, r.type, r.category, r.campaign_id, r.campaign_type,
           r.data, r.group_id, date_trunc('milliseconds', clock_timestamp())
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::jsonb[], $9::text[])
        WITH ORDINALITY AS r (id, customer_id, type, category, campaign_id, campaign_type,
                              data, group_id, n)
    ORDER BY r.n
"""


def several_args(
    rows: Sequence[tuple[str, str, str, str, str | None, str | None, dict[str, Any], str]],
) -> list[list[Any]]:
    """The arrays INSERT_SEVERAL takes: one per column, from rows (id, customer_id, type,
    category, campaign_id, campaign_type, data, group_id)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 8


async def insert_several(
    conn: Connection,
    project_id: str,
    rows: Sequence[tuple[str, str, str, str, str | None, str | None, dict[str, Any], str]],
) -> None:
    """Insert a few activities in one statement, in the order given, dated the same
    millisecond: (id, customer_id, type, category, campaign_id, campaign_type, data,
    group_id)."""
    await conn.execute(INSERT_SEVERAL, project_id, *several_args(rows))


async def insert_many(
    conn: Connection,
    project_id: str,
    records: Sequence[tuple[str, str, str, str, dict[str, Any] | msgspec.Raw, str, datetime]],
) -> None:
    """COPY many activities: (id, customer_id, type, category, data, group_id, created_at);
    data may be JSON rendered already (msgspec.Raw)."""
    await conn.copy_records_to_table(
        "customer_activities",
        records=((project_id, *record) for record in records),
        columns=[
            "project_id",
            "id",
            "customer_id",
            "type",
            "category",
            "data",
            "group_id",
            "created_at",
        ],
    )


async def seq_of(
    conn: Connection, project_id: str, customer_id: str, activity_id: str
) -> int | None:
    value = await conn.fetchval(
        "SELECT seq FROM customer_activities"
        " WHERE project_id = $1 AND id = $2 AND customer_id = $3",
        project_id,
        activity_id,
        customer_id,
    )
    return None if value is None else int(value)


class TimelineQuery:
    """Filters on one customer's timeline, as one parameterised WHERE clause."""

    def __init__(self, project_id: str, customer_id: str) -> None:
        self._conditions = ["project_id = $1", "customer_id = $2"]
        self._args: list[Any] = [project_id, customer_id]

    def where(self, template: str, value: Any) -> None:
        self._args.append(value)
        self._conditions.append(template.format(f"${len(self._args)}"))

    def sql(self) -> tuple[str, list[Any]]:
        return " AND ".join(self._conditions), list(self._args)


FILTERS = {
    "type": "type = {}",
    "not_types": "type <> ALL({}::text[])",
    "category": "category = {}",
    "campaign_id": "campaign_id = {}",
    "campaign_type": "campaign_type = {}",
    "start_date": "created_at >= {}",
    "end_date": "created_at <= {}",
    "after_seq": "seq > {}",
    "before_seq": "seq < {}",
    "created_after": "created_at > {}",
    "created_before": "created_at < {}",
}

# Whitelisted orderings; `seq` breaks ties between activities of one transaction.
ORDERINGS = {
    "created_at": "seq ASC",
    "-created_at": "seq DESC",
    "type": "type ASC, seq ASC",
    "-type": "type DESC, seq DESC",
    "category": "category ASC, seq ASC",
    "-category": "category DESC, seq DESC",
    "campaign": "campaign_id ASC NULLS FIRST, seq ASC",
    "-campaign": "campaign_id DESC NULLS LAST, seq DESC",
}


async def page(
    conn: Connection, query: TimelineQuery, *, order: str, limit: int
) -> Sequence[asyncpg.Record]:
    where, args = query.sql()
    args.append(limit)
    rows: Sequence[asyncpg.Record] = await conn.fetch(
        f"SELECT {COLUMNS} FROM customer_activities WHERE {where}"
        f" ORDER BY {ORDERINGS[order]} LIMIT ${len(args)}",
        *args,
    )
    return rows


async def count(conn: Connection, query: TimelineQuery) -> int:
    where, args = query.sql()
    value = await conn.fetchval(f"SELECT count(*) FROM customer_activities WHERE {where}", *args)
    return int(value)


async def delete_for_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    status = await conn.execute(
        "DELETE FROM customer_activities WHERE project_id = $1 AND customer_id = $2",
        project_id,
        customer_id,
    )
    return int(status.split()[-1])
