"""Customer rules: reading, listing, and the changes the customer routes make (through the
write path, `patron.writes.customers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.activities.service import Actor
from patron.customers import repository
from patron.customers.repository import ListQuery
from patron.customers.schemas import (
    CustomerCreate,
    CustomerUpdate,
    customer_not_found,
    render_customer,
)
from patron.db.pool import Connection
from patron.errors import NotFound
from patron.kit.http import key_or_404
from patron.writes import customers as writes
from patron.writes import segments as segment_moves

LIST_ORDERS = frozenset(repository.ORDERINGS)


def key_from_path(raw: str) -> str:
    """The customer id or source_id a path segment names (percent-decoded)."""
    return key_or_404(raw, not_found)


def not_found(key: str) -> NotFound:
    return customer_not_found(key)


async def recount(conn: Connection) -> list[tuple[str, int, int]]:
    """Rebuild every project's stored customer count from its customers; (project, stored,
    actual)."""
    return await writes.recount(conn)


async def get(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """The customer with this id or source_id (one statement). Raises NotFound."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise not_found(key)
    return render_customer(row)


async def resolve_id(conn: Connection, project_id: str, key: str) -> str:
    """The id of the live customer with this id or source_id. Raises NotFound."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise not_found(key)
    customer_id: str = row["id"]
    return customer_id


async def existing_key(conn: Connection, project_id: str, key: str) -> str | None:
    """The id of the live customer with this id or source_id, or None."""
    row = await repository.find(conn, project_id, key)
    return None if row is None else str(row["id"])


async def existing_id(conn: Connection, project_id: str, ref: CustomerCreate) -> str | None:
    """The id of the live customer an upsert body names (no lock); None if it would create."""
    row = None
    if isinstance(ref.id, str):
        row = await repository.find_by_id(conn, project_id, ref.id)
    elif isinstance(ref.source_id, str):
        row = await repository.find_by_source_id(conn, project_id, ref.source_id)
    return None if row is None else str(row["id"])


async def snapshot(conn: Connection, project_id: str, customer_id: str) -> dict[str, Any] | None:
    """The live customer with this id as the API shows it, or None (e.g. deleted)."""
    row = await repository.find_by_id(conn, project_id, customer_id)
    return None if row is None else render_customer(row)


async def stored_row(conn: Connection, project_id: str, customer_id: str) -> repository.Row | None:
    """The live customer's stored row (what segment filters read), or None."""
    return await repository.find_by_id(conn, project_id, customer_id)


async def upsert(conn: Connection, actor: Actor, *, payload: CustomerCreate) -> dict[str, Any]:
    """`POST /v1/customers`: see `writes.customers.upsert`."""
    return (await writes.upsert(conn, actor, payload=payload)).customer


async def update(
    conn: Connection, actor: Actor, key: str, *, payload: CustomerUpdate
) -> dict[str, Any]:
    """`PUT /v1/customers/{id}`: see `writes.customers.update`."""
    return await writes.update(conn, actor, key, payload=payload)


async def delete(conn: Connection, actor: Actor, key: str) -> None:
    """`DELETE /v1/customers/{id}`: see `writes.customers.delete`."""
    await writes.delete(conn, actor, key)


async def delete_permanently(conn: Connection, actor: Actor, key: str) -> dict[str, Any]:
    """`POST /v1/customers/{id}/permanent-deletion`: see `writes.customers.erase`."""
    return await writes.erase(conn, actor, key)


@dataclass(frozen=True, slots=True)
class ListFilters:
    limit: int = 10
    page: int = 1
    email: str | None = None
    city: str | None = None
    name: str | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    updated_before: datetime | None = None
    updated_after: datetime | None = None
    order: str = "-created_at"
    starting_after: datetime | None = None
    segment_id: str | None = None


async def list_customers(conn: Connection, project_id: str, filters: ListFilters) -> dict[str, Any]:
    """A page of customers with an accurate `total` and `has_more`; run it in one snapshot
    (`db.pool.snapshot`) so that the page and its total agree. With a `starting_after` cursor
    in created_at order, a page ends between two milliseconds (`_whole_moments`).
    CONTRACT.md §4 (list customers, the JS SDK's scroll)."""
    query = ListQuery(project_id)
    for name in (
        "email",
        "city",
        "name",
        "created_before",
        "created_after",
        "updated_before",
        "updated_after",
    ):
        value = getattr(filters, name)
        if value is not None:
            query.where(repository.FILTERS[name], value)
    if filters.segment_id is not None:
        members = await segment_moves.member_condition(conn, project_id, filters.segment_id)
        if isinstance(members, str):
            query.members(members)
        else:
            query.where_condition(members)
    if filters.starting_after is not None:
        # The contract: ascending orders by a date continue after the cursor on that date;
        # every other order continues before it on created_at.
        direction = filters.order if filters.order in ("created_at", "updated_at") else "before"
        cursors = repository.CURSORS if query.members_of is None else repository.MEMBER_CURSORS
        query.cursor(cursors[direction], filters.starting_after)
    rows = await repository.list_page(
        conn,
        query,
        order=filters.order,
        limit=filters.limit + 1,
        offset=(filters.page - 1) * filters.limit,
    )
    total = await repository.count(conn, query)
    has_more = len(rows) > filters.limit
    page = list(rows[: filters.limit])
    if has_more and filters.starting_after is not None and filters.order in _BY_CREATION:
        page = _whole_moments(page, rows[filters.limit])
    return {
        "object": "list",
        "data_ref": "customers",
        "customers": [render_customer(row) for row in page],
        "total": total,
        "has_more": has_more,
    }


_BY_CREATION = frozenset({"created_at", "-created_at"})


def _whole_moments(page: list[repository.Row], following: repository.Row) -> list[repository.Row]:
    """The page without its last customers when they share their created_at with the one that
    follows it: the next page's cursor is the last created_at shown, compared strictly, so a
    page must never end inside a run of customers created in one millisecond (fewer items,
    `has_more` still true). A run that fills the whole page is left as it is: cutting it would
    leave the page empty, which ends a client's scroll."""
    moment = following["created_at"]
    whole = [row for row in page if row["created_at"] != moment]
    return whole or page
