"""SQL for customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from patron.customers.schemas import MUTABLE_COLUMNS
from patron.db.pool import Connection

COLUMNS = (
    "id, source_id, name, description, email, phone, birthdate, birthday, address, metadata, "
    "system_metadata, created_at, updated_at, deleted_at, orders_total_amount, "
    "orders_total_count, orders_last_amount, orders_last_date"
)

Row = asyncpg.Record


async def find(
    conn: Connection, project_id: str, key: str, *, for_update: bool = False
) -> Row | None:
    """A live customer by id or source_id; an id match wins over a source_id match."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND deleted_at IS NULL AND (id = $2 OR source_id = $2)
        ORDER BY id = $2 DESC
        LIMIT 1{lock}
        """,
        project_id,
        key,
    )


async def lock_by_id(conn: Connection, project_id: str, customer_id: str) -> None:
    await conn.execute(
        "SELECT 1 FROM customers WHERE project_id = $1 AND id = $2 FOR UPDATE",
        project_id,
        customer_id,
    )


async def find_by_id(
    conn: Connection, project_id: str, customer_id: str, *, for_update: bool = False
) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers"
        f" WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL{lock}",
        project_id,
        customer_id,
    )


async def find_by_source_id(
    conn: Connection, project_id: str, source_id: str, *, for_update: bool = False
) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers"
        f" WHERE project_id = $1 AND source_id = $2 AND source_id IS NOT NULL"
        f" AND deleted_at IS NULL{lock}",
        project_id,
        source_id,
    )


async def find_all_for_erasure(conn: Connection, project_id: str, key: str) -> list[Row]:
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


async def live_by_ids(conn: Connection, project_id: str, customer_ids: Sequence[str]) -> list[Row]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM customers"
        " WHERE project_id = $1 AND id = ANY($2::text[]) AND deleted_at IS NULL ORDER BY id",
        project_id,
        list(customer_ids),
    )
    return list(rows)


async def lock_project(conn: Connection, project_id: str) -> None:
    """Lock the project row; whatever locks it and customer rows takes it first."""
    # NO KEY UPDATE: exclusive among writers of the row, yet no conflict with the KEY SHARE
    # locks that inserts referencing the project take for their foreign keys.
    await conn.execute("SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE", project_id)


async def reserve_created_at(conn: Connection, project_id: str, count: int = 1) -> datetime:
    """The first of `count` consecutive creation milliseconds no other customer of the project
    has, and count that many more customers (the caller uncounts what it does not insert).

    Customers are paged by a created_at cursor, so two customers sharing a millisecond could
    be skipped at a page boundary; the project's clock hands out distinct milliseconds. It
    holds the project row until commit, which also serialises the count.
    """
    value: datetime = await conn.fetchval(
        """
        UPDATE projects
        SET customer_clock = greatest(
                date_trunc('milliseconds', clock_timestamp()),
                customer_clock + interval '1 millisecond') + ($2 - 1) * interval '1 millisecond',
            customers_count = customers_count + $2
        WHERE id = $1
        RETURNING customer_clock - ($2 - 1) * interval '1 millisecond'
        """,
        project_id,
        count,
    )
    return value


async def uncount(conn: Connection, project_id: str, count: int = 1) -> None:
    await conn.execute(
        "UPDATE projects SET customers_count = customers_count - $2 WHERE id = $1",
        project_id,
        count,
    )


async def insert(
    conn: Connection,
    project_id: str,
    *,
    customer_id: str,
    source_id: str | None,
    values: dict[str, Any],
    created_at: datetime,
) -> Row | None:
    """Insert a customer; None when a live customer with that source_id exists already."""
    columns = [column for column in MUTABLE_COLUMNS if column in values]
    names = ", ".join(columns)
    placeholders = ", ".join(f"${index}" for index in range(5, 5 + len(columns)))
    separator = ", " if columns else ""
    return await conn.fetchrow(
        f"""
        INSERT INTO customers (project_id, id, source_id, created_at{separator}{names})
        VALUES ($1, $2, $3, $4{separator}{placeholders})
        ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL AND deleted_at IS NULL
        DO NOTHING
        RETURNING {COLUMNS}
        """,
        project_id,
        customer_id,
        source_id,
        created_at,
        *(values[column] for column in columns),
    )


async def update(
    conn: Connection, project_id: str, customer_id: str, values: dict[str, Any]
) -> Row:
    """Write every client-settable column of a customer at once, and stamp updated_at."""
    row = await conn.fetchrow(
        f"""
        UPDATE customers
        SET name = $3, description = $4, email = $5, phone = $6, birthdate = $7, birthday = $8,
            address = $9, metadata = $10,
            updated_at = greatest(date_trunc('milliseconds', clock_timestamp()), created_at)
        WHERE project_id = $1 AND id = $2
        RETURNING {COLUMNS}
        """,
        project_id,
        customer_id,
        *(values[column] for column in MUTABLE_COLUMNS),
    )
    assert row is not None
    return row


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


async def mark_deleted(conn: Connection, project_id: str, customer_id: str) -> None:
    await conn.execute(
        "UPDATE customers SET deleted_at = clock_timestamp() WHERE project_id = $1 AND id = $2",
        project_id,
        customer_id,
    )


async def delete_permanently(conn: Connection, project_id: str, customer_id: str) -> int:
    status = await conn.execute(
        "DELETE FROM customers WHERE project_id = $1 AND id = $2", project_id, customer_id
    )
    return int(status.split()[-1])


async def insert_permanent_deletion(
    conn: Connection,
    project_id: str,
    *,
    deletion_id: str,
    customer_id: str,
    data_json: dict[str, int],
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
        SELECT c.reltuples < 0.5 * (SELECT coalesce(sum(customers_count), 0) FROM projects)
               AND (SELECT coalesce(sum(customers_count), 0) FROM projects) > 1000
        FROM pg_class c WHERE c.oid = 'customers'::regclass
        """
    )
    if stale:
        await conn.execute("ANALYZE customers (project_id, id, source_id, deleted_at)")


async def lock_live_by_source_ids(
    conn: Connection, project_id: str, source_ids: Sequence[str]
) -> dict[str, Row]:
    """The live customers with these source_ids, locked (in id order, so batches never deadlock)."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND deleted_at IS NULL AND source_id IS NOT NULL
          AND source_id = ANY($2::text[])
        ORDER BY id
        FOR UPDATE
        """,
        project_id,
        list(source_ids),
    )
    return {row["source_id"]: row for row in rows}


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

    Only for callers holding the project row (`lock_project`) that have seen none of these
    source_ids live: no one else can make a source_id live meanwhile, so no conflict can arise
    (a unique violation here would be a bug, and fails the transaction).
    """
    await conn.copy_records_to_table(
        "customers",
        records=[
            (project_id, customer_id, source_id, created_at, *values)
            for customer_id, source_id, created_at, values in new
        ],
        columns=["project_id", "id", "source_id", "created_at", *MUTABLE_COLUMNS],
    )


# --- listing -------------------------------------------------------------------------------

# Whitelisted orderings: the client picks a key, never SQL.
ORDERINGS: dict[str, str] = {
    "created_at": "created_at ASC, id ASC",
    "-created_at": "created_at DESC, id DESC",
    "updated_at": "updated_at ASC NULLS FIRST, id ASC",
    "-updated_at": "updated_at DESC NULLS LAST, id DESC",
    "source_id": "source_id ASC NULLS FIRST, id ASC",
    "-source_id": "source_id DESC NULLS LAST, id DESC",
}


class Condition(Protocol):
    """A condition on customers (aliased `c`) that appends its values to the arguments."""

    def render(self, args: list[Any]) -> str: ...


class ListQuery:
    """Filters for `GET /v1/customers`, turned into one parameterised WHERE clause."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self._filters: list[tuple[str, Any]] = []
        self._cursors: list[tuple[str, Any]] = []
        self._conditions: list[Condition] = []

    members_of: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.narrowed or self.members_of)

    @property
    def narrowed(self) -> bool:
        """Filtered by something other than a segment's stored members."""
        return bool(self._filters or self._conditions)

    def members(self, segment_id: str) -> None:
        """Only the stored members of this segment (static or auto-update), counted in `total`."""
        self.members_of = segment_id

    @property
    def source(self) -> str:
        """The FROM clause: the customers (`c`), or a segment's members (`m`) joined to them."""
        if self.members_of is None:
            return "customers c"
        return (
            "segment_members m JOIN customers c"
            " ON c.project_id = m.project_id AND c.id = m.customer_id"
        )

    def where_condition(self, condition: Condition) -> None:
        """A filter with several values (a segment's), counted in `total`."""
        self._conditions.append(condition)

    def where(self, template: str, value: Any) -> None:
        """A filter on the customers, counted in `total`."""
        self._filters.append((template, value))

    def cursor(self, template: str, value: Any) -> None:
        """A cursor condition: it narrows the page, not the total."""
        self._cursors.append((template, value))

    def sql(self, *, with_cursor: bool = True) -> tuple[str, list[Any]]:
        conditions = ["c.project_id = $1", "c.deleted_at IS NULL"]
        args: list[Any] = [self.project_id]
        if self.members_of is not None:
            args.append(self.members_of)
            conditions += ["m.project_id = $1", f"m.segment_id = ${len(args)}"]
        for template, value in self._filters + (self._cursors if with_cursor else []):
            args.append(value)
            conditions.append(template.format(f"${len(args)}"))
        conditions.extend(condition.render(args) for condition in self._conditions)
        return " AND ".join(conditions), args


CURSORS = {
    "created_at": "created_at > {}",
    "updated_at": "updated_at > {}",
    "before": "created_at < {}",
}

# A segment's members are paged in the customers' created_at order through the copy of
# created_at kept with each member (its index), not by visiting every member.
MEMBER_CURSORS = {
    **CURSORS,
    "created_at": "m.customer_created_at > {}",
    "before": "m.customer_created_at < {}",
}
MEMBER_ORDERINGS = {
    "created_at": "m.customer_created_at ASC, m.customer_id ASC",
    "-created_at": "m.customer_created_at DESC, m.customer_id DESC",
}

FILTERS = {
    "email": "email = {}",
    "name": "name = {}",
    "city": "city = {}",
    "created_before": "created_at < {}",
    "created_after": "created_at > {}",
    "updated_before": "updated_at < {}",
    "updated_after": "updated_at > {}",
}


async def use_snapshot(conn: Connection) -> None:
    """Make the transaction's reads one consistent snapshot (a page and its total agree).
    Must be its first statement."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def recount(conn: Connection) -> list[tuple[str, int, int]]:
    """Set every project's stored customer count from its customers; (project, was, is)."""
    rows = await conn.fetch(
        """
        WITH actual AS (
            SELECT p.id, p.customers_count AS was,
                   (SELECT count(*) FROM customers c
                    WHERE c.project_id = p.id AND c.deleted_at IS NULL) AS now
            FROM projects p
            FOR UPDATE OF p
        )
        UPDATE projects p SET customers_count = actual.now
        FROM actual WHERE p.id = actual.id
        RETURNING p.id, actual.was, actual.now
        """
    )
    return [(row["id"], int(row["was"]), int(row["now"])) for row in rows]


async def list_page(
    conn: Connection, query: ListQuery, *, order: str, limit: int, offset: int
) -> Sequence[Row]:
    where, args = query.sql()
    args += [limit, offset]
    ordering = ORDERINGS[order]
    if query.members_of is not None:
        ordering = MEMBER_ORDERINGS.get(order, ordering)
    rows: Sequence[Row] = await conn.fetch(
        f"SELECT {COLUMNS} FROM {query.source} WHERE {where}"
        f" ORDER BY {ordering} LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return rows


async def count(conn: Connection, query: ListQuery) -> int:
    """How many customers match the filters (cursor conditions excluded)."""
    if not query.filtered:
        value = await conn.fetchval(
            "SELECT customers_count FROM projects WHERE id = $1", query.project_id
        )
        return int(value or 0)
    if query.members_of is not None and not query.narrowed:
        # A deleted customer leaves every segment: the member rows are the live members.
        value = await conn.fetchval(
            "SELECT count(*) FROM segment_members WHERE project_id = $1 AND segment_id = $2",
            query.project_id,
            query.members_of,
        )
        return int(value)
    where, args = query.sql(with_cursor=False)
    value = await conn.fetchval(f"SELECT count(*) FROM {query.source} WHERE {where}", *args)
    return int(value)
