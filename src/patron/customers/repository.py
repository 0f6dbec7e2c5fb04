"""SQL that reads customers (their changes are the write path's: `patron.writes`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from patron.db.pool import Connection

COLUMNS = (
    "id, source_id, name, description, email, phone, birthdate, birthday, address, metadata, "
    "system_metadata, created_at, updated_at, deleted_at, orders_total_amount, "
    "orders_total_count, orders_last_amount, orders_last_date, gift_balance, loyalty_balance, "
    "loyalty_campaigns, redemptions_succeeded, redemptions_failed, rollbacks_succeeded, "
    "rollbacks_failed, gift_redeemed, loyalty_redeemed"
)

Row = asyncpg.Record


async def find(conn: Connection, project_id: str, key: str) -> Row | None:
    """A live customer by id or source_id; an id match wins over a source_id match."""
    return await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE project_id = $1 AND deleted_at IS NULL AND (id = $2 OR source_id = $2)
        ORDER BY id = $2 DESC
        LIMIT 1
        """,
        project_id,
        key,
    )


async def find_by_id(conn: Connection, project_id: str, customer_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL",
        project_id,
        customer_id,
    )


async def find_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers"
        " WHERE project_id = $1 AND source_id = $2 AND source_id IS NOT NULL"
        " AND deleted_at IS NULL",
        project_id,
        source_id,
    )


async def live_by_ids(conn: Connection, project_id: str, customer_ids: Sequence[str]) -> list[Row]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM customers"
        " WHERE project_id = $1 AND id = ANY($2::text[]) AND deleted_at IS NULL ORDER BY id",
        project_id,
        list(customer_ids),
    )
    return list(rows)


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
            "SELECT coalesce(sum(count), 0) FROM customer_counts WHERE project_id = $1",
            query.project_id,
        )
        return int(value)
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
