"""Customer rules: upsert by id or source_id, partial updates, deletion, listing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers import repository
from patron.customers.repository import ListQuery, Row
from patron.customers.schemas import (
    MUTABLE_COLUMNS,
    CustomerCreate,
    CustomerUpdate,
    column_values,
    render_customer,
)
from patron.db.pool import Connection, undone_unless_found
from patron.errors import NotFound
from patron.kit import ids
from patron.kit.http import key_or_404
from patron.kit.time import render_datetime
from patron.segments import service as segments

_LONG_AGO = datetime.min.replace(tzinfo=UTC)

# Each retry follows a live customer being deleted between our insert and our read.
_UPSERT_ATTEMPTS = 5


LIST_ORDERS = frozenset(repository.ORDERINGS)


def key_from_path(raw: str) -> str:
    """The customer id or source_id a path segment names (percent-decoded)."""
    return key_or_404(raw, not_found)


async def recount(conn: Connection) -> list[tuple[str, int, int]]:
    """Rebuild every project's stored customer count; returns (project, stored, actual)."""
    return await repository.recount(conn)


def not_found(key: str) -> NotFound:
    return NotFound(
        f"Cannot find customer with id {key}", resource_id=key, resource_type="customer"
    )


async def get(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """The customer with this id or source_id."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise not_found(key)
    return render_customer(row)


async def resolve_id(conn: Connection, project_id: str, key: str) -> str:
    """The id of the live customer with this id or source_id."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise not_found(key)
    customer_id: str = row["id"]
    return customer_id


async def existing_id(conn: Connection, project_id: str, ref: CustomerCreate) -> str | None:
    """The id of the live customer an upsert body names (no lock); None if it would create."""
    row = None
    if isinstance(ref.id, str):
        row = await repository.find_by_id(conn, project_id, ref.id)
    elif isinstance(ref.source_id, str):
        row = await repository.find_by_source_id(conn, project_id, ref.source_id)
    return None if row is None else str(row["id"])


async def lock_project(conn: Connection, project_id: str) -> None:
    """Take the project row, as a change that may create customers must before customer rows."""
    await repository.lock_project(conn, project_id)


async def snapshot(conn: Connection, project_id: str, customer_id: str) -> dict[str, Any] | None:
    """The live customer with this id as the API shows it, or None (e.g. deleted)."""
    row = await repository.find_by_id(conn, project_id, customer_id)
    return None if row is None else render_customer(row)


async def existing_key(conn: Connection, project_id: str, key: str) -> str | None:
    """The id of the live customer with this id or source_id, or None."""
    row = await repository.find(conn, project_id, key)
    return None if row is None else str(row["id"])


async def stored_row(conn: Connection, project_id: str, customer_id: str) -> Row | None:
    """The live customer's stored row (what segment filters read), or None."""
    return await repository.find_by_id(conn, project_id, customer_id)


async def lock_rows(conn: Connection, project_id: str, customer_ids: list[str]) -> list[Row]:
    """Lock these customers in id order; returns the rows of those still live."""
    return await repository.lock_live_by_ids(conn, project_id, sorted(customer_ids))


async def rows(conn: Connection, project_id: str, customer_ids: list[str]) -> list[Row]:
    """The stored rows of those of these customers that are live."""
    return await repository.live_by_ids(conn, project_id, customer_ids)


def render(row: Row) -> dict[str, Any]:
    """The customer object of a stored row."""
    return render_customer(row)


async def lock(conn: Connection, project_id: str, customer_id: str) -> None:
    """Lock a customer row (by id) before changing what its summary is computed from."""
    await repository.lock_by_id(conn, project_id, customer_id)


async def upsert(
    conn: Connection, actor: Actor, *, payload: CustomerCreate, refresh_segments: bool = True
) -> dict[str, Any]:
    """Create a customer, or update the one with this `id` or `source_id` (`id` wins).

    With `refresh_segments` false the caller changes more of the customer and matches it
    against the auto-update segments itself (`refresh_segments`) once it is done.
    """
    await segments.hold(conn, actor.project_id)
    customer = await _upsert(conn, actor, payload)
    if refresh_segments:
        await segments.refresh_customer(conn, actor, customer["id"])
    return customer


async def refresh_segments(conn: Connection, actor: Actor, customer_ids: Any) -> None:
    """Match changed customers (locked) against the auto-update segments."""
    for customer_id in sorted({key for key in customer_ids if isinstance(key, str)}):
        await segments.refresh_customer(conn, actor, customer_id)


async def hold_segments(conn: Connection, project_id: str) -> None:
    """Before a transaction changes customers: see `segments.hold`."""
    await segments.hold(conn, project_id)


async def _upsert(conn: Connection, actor: Actor, payload: CustomerCreate) -> dict[str, Any]:
    values = column_values(payload)
    project_id = actor.project_id
    if isinstance(payload.id, str):
        row = await repository.find_by_id(conn, project_id, payload.id, for_update=True)
        if row is None:
            raise not_found(payload.id)
        return await _apply(conn, actor, row, values)

    source_id = payload.source_id if isinstance(payload.source_id, str) else None
    for _ in range(_UPSERT_ATTEMPTS):
        if source_id is not None:
            row = await _lock_live_by_source_id(conn, project_id, source_id)
            if row is not None:
                return await _apply(conn, actor, row, values)
        row = await _insert(conn, project_id, source_id, values)
        if row is not None:
            customer = render_customer(row)
            await activities.record(
                conn,
                actor,
                customer_id=row["id"],
                activity_type="customer.created",
                data={"customer": customer},
            )
            return customer
        # A concurrent request created this source_id first and has committed: update it.
    raise RuntimeError(f"customer upsert did not settle after {_UPSERT_ATTEMPTS} attempts")


async def _lock_live_by_source_id(conn: Connection, project_id: str, source_id: str) -> Row | None:
    """The live customer with this source_id, locked; no lock at all when there is none.

    A row deleted while we waited for it is skipped by FOR UPDATE yet stays locked; a savepoint
    rolled back on a miss drops that lock before the caller goes on to take the project row.
    """
    return await undone_unless_found(
        conn, lambda: repository.find_by_source_id(conn, project_id, source_id, for_update=True)
    )


async def _insert(
    conn: Connection, project_id: str, source_id: str | None, values: dict[str, Any]
) -> Row | None:
    """Insert a new customer; None when its source_id has just become live elsewhere.

    Lock order, everywhere: the project row (creation clock, customer count) before customer
    rows. Creating holds no customer lock when it takes the project row; on a conflict, rolling
    back to the savepoint releases the project row before the caller locks the existing row.
    """

    async def reserve_and_insert() -> Row | None:
        created_at = await repository.reserve_created_at(conn, project_id)
        return await repository.insert(
            conn,
            project_id,
            customer_id=ids.customer_id(),
            source_id=source_id,
            values=values,
            created_at=created_at,
        )

    return await undone_unless_found(conn, reserve_and_insert)


async def update(
    conn: Connection, actor: Actor, key: str, *, payload: CustomerUpdate
) -> dict[str, Any]:
    """Change only the fields sent; an explicit null clears a field."""
    await segments.hold(conn, actor.project_id)
    row = await repository.find(conn, actor.project_id, key, for_update=True)
    if row is None:
        raise not_found(key)
    customer = await _apply(conn, actor, row, column_values(payload))
    await segments.refresh_customer(conn, actor, customer["id"])
    return customer


async def _apply(
    conn: Connection, actor: Actor, row: Row, values: dict[str, Any]
) -> dict[str, Any]:
    current = {column: row[column] for column in MUTABLE_COLUMNS}
    merged = {**current, **values}
    if merged == current:
        # Nothing changes, so nothing is written and no activity is recorded.
        return render_customer(row)
    updated = await repository.update(conn, actor.project_id, row["id"], merged)
    customer = render_customer(updated)
    await activities.record(
        conn,
        actor,
        customer_id=row["id"],
        activity_type="customer.updated",
        data={"customer": customer},
    )
    return customer


async def change_system_metadata(
    conn: Connection,
    actor: Actor,
    key: str,
    *,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Apply `change` to a customer's system_metadata (e.g. consents); returns the customer."""
    row = await repository.find(conn, actor.project_id, key, for_update=True)
    if row is None:
        raise not_found(key)
    updated = await repository.set_system_metadata(
        conn, actor.project_id, row["id"], change(dict(row["system_metadata"]))
    )
    return render_customer(updated)


async def delete(conn: Connection, actor: Actor, key: str) -> None:
    """Delete a customer: gone from every read and segment; its source_id is free again."""
    await segments.hold(conn, actor.project_id)
    await repository.lock_project(conn, actor.project_id)
    row = await repository.find(conn, actor.project_id, key, for_update=True)
    if row is None:
        raise not_found(key)
    await repository.mark_deleted(conn, actor.project_id, row["id"])
    await segments.forget_customer(conn, actor.project_id, row["id"])
    await repository.uncount(conn, actor.project_id)
    await activities.record(
        conn,
        actor,
        customer_id=row["id"],
        activity_type="customer.deleted",
        data={"customer": render_customer(row)},
    )


async def delete_permanently(conn: Connection, actor: Actor, key: str) -> dict[str, Any]:
    """Erase a customer and everything that identifies them (GDPR): by id that customer; by
    source_id every customer, live or deleted, that ever had it."""
    await segments.hold(conn, actor.project_id)
    await repository.lock_project(conn, actor.project_id)
    rows = await repository.find_all_for_erasure(conn, actor.project_id, key)
    if not rows:
        raise not_found(key)
    # Orders and events build on customers, not the reverse.
    from patron.events import service as events
    from patron.orders import service as orders

    customer_events = 0
    removed = 0
    erased_orders = 0
    erased_events = 0
    memberships = 0
    for row in rows:
        memberships += await segments.forget_customer(conn, actor.project_id, row["id"])
        erased_events += await events.erase_for_customer(conn, actor.project_id, row["id"])
        customer_events += await activities.erase_for_customer(conn, actor.project_id, row["id"])
        erased_orders += await orders.erase_for_customer(conn, actor.project_id, row["id"])
        removed += await repository.delete_permanently(conn, actor.project_id, row["id"])
    live = sum(1 for row in rows if row["deleted_at"] is None)
    if live:
        await repository.uncount(conn, actor.project_id, live)
    # The live customer, if any, is the one the caller means; else the latest deleted one.
    subject = max(rows, key=lambda row: (row["deleted_at"] is None, row["deleted_at"] or _LONG_AGO))
    data_json = {
        "events": erased_events,
        "customer_events": customer_events,
        "daily_events": 0,
        "segments": memberships,
        "orders": erased_orders,
        "order_events": 0,
        "customer": removed,
    }
    deletion_id = ids.permanent_deletion_id()
    created_at = await repository.insert_permanent_deletion(
        conn,
        actor.project_id,
        deletion_id=deletion_id,
        customer_id=subject["id"],
        data_json=data_json,
    )
    return {
        "id": deletion_id,
        "created_at": render_datetime(created_at),
        "related_object_id": subject["id"],
        "related_object": "customer",
        "status": "DONE",
        "data_json": data_json,
        "object": "pernament_deletion",
    }


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
    """A page of customers with an accurate `total` and `has_more`."""
    await repository.use_snapshot(conn)
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
        members = await segments.member_condition(conn, project_id, filters.segment_id)
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
    return {
        "object": "list",
        "data_ref": "customers",
        "customers": [render_customer(row) for row in rows[: filters.limit]],
        "total": total,
        "has_more": len(rows) > filters.limit,
    }
