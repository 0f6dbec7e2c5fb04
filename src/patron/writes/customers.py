"""Changes to customers on the write path: create or upsert, update, delete, erase, system
metadata, order summaries, and locks. Each takes the customer's row lock, changes the row,
records the activity in the same statement or transaction, and settles segment moves.

No per-project row is locked: a new customer's `created_at` comes from
`patron_customer_created_at` (a millisecond no other customer of the project holds, while the
project creates fewer than about 1,000 a second) and its count from a slot of `customer_counts`
(migration 0011).
Lock order, everywhere: customer rows by id, then what hangs off them (orders, members).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from patron.activities import repository as activities_repository
from patron.activities import service as activities
from patron.activities.service import Actor, Prepared
from patron.customers.repository import Row
from patron.customers.schemas import (
    MUTABLE_COLUMNS,
    CustomerCreate,
    CustomerUpdate,
    column_values,
    customer_not_found,
    new_customer_row,
    render_customer,
)
from patron.db.pool import Connection
from patron.events import repository as events_repository
from patron.kit import ids
from patron.kit.time import render_datetime
from patron.orders import repository as orders_repository
from patron.writes import repository
from patron.writes import segments as segment_moves
from patron.writes.repository import CREATED_AT_MARK, METADATA_MARK, UPDATED_AT_MARK

# Each retry follows a concurrent request that made the same source_id live first, or took the
# creation millisecond chosen (rare: see `patron_customer_created_at`).
_UPSERT_ATTEMPTS = 5
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
# Stands for created_at in a snapshot rendered before the row exists.
_SOME_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Written:
    """A customer after a change: as the API shows it, and whether its project has auto-update
    segments (for `settle`, when the caller settles segment moves itself)."""

    customer: dict[str, Any]
    auto_update: bool

    @property
    def id(self) -> str:
        customer_id: str = self.customer["id"]
        return customer_id


async def hold(conn: Connection, project_id: str) -> bool:
    """See `writes.segments.hold`: taken first by changes made of several statements."""
    return await segment_moves.hold(conn, project_id)


async def settle(conn: Connection, actor: Actor, customer_ids: Any, *, auto_update: bool) -> None:
    """See `writes.segments.settle`."""
    await segment_moves.settle(conn, actor, customer_ids, auto_update=auto_update)


def _mark_metadata(customer: dict[str, Any]) -> None:
    """Mark the metadata the statement will store, if the customer shows any: an empty one is
    left out (`render_customer_fields`), and is empty when stored too."""
    if "metadata" in customer:
        customer["metadata"] = METADATA_MARK


def _stored_metadata(customer: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Put the metadata as stored where the mark was (`_mark_metadata`)."""
    if "metadata" in customer:
        customer["metadata"] = metadata


def _new_customer(
    actor: Actor, customer_id: str, source_id: str | None, values: dict[str, Any]
) -> tuple[dict[str, Any], Prepared]:
    """A customer about to be created, as the API will show it (created_at still the mark),
    and its `customer.created` activity."""
    customer = render_customer(new_customer_row(customer_id, source_id, values, _SOME_MOMENT))
    customer["created_at"] = CREATED_AT_MARK
    _mark_metadata(customer)
    created = activities.prepare(
        actor, activity_type="customer.created", data={"customer": customer}
    )
    return customer, created


def _created(customer: dict[str, Any], row: Row) -> dict[str, Any]:
    """The new customer as rendered beforehand, with the created_at its statement chose and the
    metadata as stored (jsonb's key order and numbers); the rest is what the row holds."""
    customer["created_at"] = render_datetime(row["created_at"])
    _stored_metadata(customer, row["metadata"])
    return customer


async def upsert(
    conn: Connection, actor: Actor, *, payload: CustomerCreate, settle_segments: bool = True
) -> Written:
    """Create a customer, or update the one with this `id` or `source_id` (`id` wins); only
    the fields sent change. CONTRACT.md §3 (create customer).

    New: one statement inserts it, counts it and records `customer.created`. Existing and
    changed: it is locked, updated and `customer.updated` recorded; unchanged: nothing is
    written. With `settle_segments` false the caller changes more and calls `settle` itself.
    Outside a transaction (a route's connection), in a project without auto-update segments, a
    new customer is created by one statement that is its own transaction, and an existing one
    is changed by a second such statement, made only if the row is still as the first read it;
    every other case runs in a transaction opened here, the customer locked. Raises NotFound
    for an `id` that names no live customer.
    """
    values = column_values(payload)
    if not conn.is_in_transaction():
        if not isinstance(payload.id, str):
            alone = await _create_alone(conn, actor, payload, values)
            if alone is not None:
                return alone
        async with conn.transaction():
            return await upsert(conn, actor, payload=payload, settle_segments=settle_segments)
    written = await _upsert(conn, actor, payload, values)
    if settle_segments:
        await settle(conn, actor, [written.id], auto_update=written.auto_update)
    return written


async def _create_alone(
    conn: Connection, actor: Actor, payload: CustomerCreate, values: dict[str, Any]
) -> Written | None:
    """Create the customer, or change the existing one, in statements that are each their own
    transaction: the creation alone, or a read and then a change made only if the row is still
    as read. None when that cannot be (the project has auto-update segments, or the customer
    changed in between): the caller then locks in a transaction."""
    source_id = payload.source_id if isinstance(payload.source_id, str) else None
    customer_id = ids.customer_id()
    customer, created = _new_customer(actor, customer_id, source_id, values)
    if source_id is None:
        inserted = await repository.insert_without_source_id(
            conn,
            actor.project_id,
            customer_id=customer_id,
            values=values,
            created=created,
            alone=True,
        )
        return None if inserted is None else Written(_created(customer, inserted[1]), False)
    found = await repository.upsert_by_source_id(
        conn,
        actor.project_id,
        customer_id=customer_id,
        source_id=source_id,
        values=values,
        created=created,
        alone=True,
    )
    if found is None or found[0]:
        return None
    _, was_created, row = found
    if was_created:
        return Written(_created(customer, row), False)
    current = {column: row[column] for column in MUTABLE_COLUMNS}
    merged = {**current, **values}
    if merged == current:
        return Written(render_customer(row), False)  # nothing to write
    changed, updated = _changed(actor, row, merged)
    written = await repository.update_alone(
        conn, actor.project_id, row["id"], row["version"], merged, updated
    )
    if written is None:
        return None
    return Written(_stored(changed, *written), False)


def _changed(actor: Actor, row: Row, merged: dict[str, Any]) -> tuple[dict[str, Any], Prepared]:
    """A customer about to be changed to `merged`, as the API will show it (updated_at and
    metadata still marks), and its `customer.updated` activity."""
    customer = render_customer({**dict(row.items()), **merged})
    customer["updated_at"] = UPDATED_AT_MARK
    _mark_metadata(customer)
    updated = activities.prepare(
        actor, activity_type="customer.updated", data={"customer": customer}
    )
    return customer, updated


def _stored(
    customer: dict[str, Any], updated_at: datetime, metadata: dict[str, Any]
) -> dict[str, Any]:
    """The changed customer as rendered beforehand, with what its statement chose or stored:
    updated_at, and the metadata as jsonb keeps it."""
    customer["updated_at"] = render_datetime(updated_at)
    _stored_metadata(customer, metadata)
    return customer


async def _upsert(
    conn: Connection, actor: Actor, payload: CustomerCreate, values: dict[str, Any]
) -> Written:
    project_id = actor.project_id
    if isinstance(payload.id, str):
        auto_update, row = await repository.lock_holding_segments(
            conn, project_id, customer_id=payload.id
        )
        if row is None:
            raise customer_not_found(payload.id)
        return await _apply(conn, actor, row, values, auto_update)
    return await _create_or_apply(conn, actor, payload, values)


async def _create_or_apply(
    conn: Connection, actor: Actor, payload: CustomerCreate, values: dict[str, Any]
) -> Written:
    project_id = actor.project_id
    source_id = payload.source_id if isinstance(payload.source_id, str) else None
    for _ in range(_UPSERT_ATTEMPTS):
        customer_id = ids.customer_id()
        customer, created = _new_customer(actor, customer_id, source_id, values)
        if source_id is None:
            inserted = await repository.insert_without_source_id(
                conn, project_id, customer_id=customer_id, values=values, created=created
            )
            if inserted is not None:
                return Written(_created(customer, inserted[1]), inserted[0])
            continue
        found = await repository.upsert_by_source_id(
            conn,
            project_id,
            customer_id=customer_id,
            source_id=source_id,
            values=values,
            created=created,
        )
        if found is None:
            continue  # made live concurrently (and committed): lock and update it next time
        auto_update, was_created, row = found
        if was_created:
            return Written(_created(customer, row), auto_update)
        return await _apply(conn, actor, row, values, auto_update)
    raise RuntimeError(f"customer upsert did not settle after {_UPSERT_ATTEMPTS} attempts")


async def update(
    conn: Connection, actor: Actor, key: str, *, payload: CustomerUpdate
) -> dict[str, Any]:
    """Change only the fields sent to the customer with this id or source_id; an explicit
    null clears a field. CONTRACT.md §3 (update customer). Raises NotFound."""
    auto_update, row = await repository.lock_holding_segments(conn, actor.project_id, key=key)
    if row is None:
        raise customer_not_found(key)
    written = await _apply(conn, actor, row, column_values(payload), auto_update)
    await settle(conn, actor, [written.id], auto_update=auto_update)
    return written.customer


async def _apply(
    conn: Connection, actor: Actor, row: Row, values: dict[str, Any], auto_update: bool
) -> Written:
    current = {column: row[column] for column in MUTABLE_COLUMNS}
    merged = {**current, **values}
    if merged == current:
        # Nothing changes, so nothing is written and no activity is recorded.
        return Written(render_customer(row), auto_update)
    customer, updated = _changed(actor, row, merged)
    written = await repository.update(conn, actor.project_id, row["id"], merged, updated)
    return Written(_stored(customer, *written), auto_update)


async def change_system_metadata(
    conn: Connection,
    actor: Actor,
    key: str,
    *,
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> dict[str, Any]:
    """Apply `change` to a customer's system_metadata (e.g. consents); returns the customer.
    `change` gets the locked customer's system_metadata and returns the new one, or None when
    nothing changes (then nothing is written). Raises NotFound."""
    _, row = await repository.lock_holding_segments(conn, actor.project_id, key=key)
    if row is None:
        raise customer_not_found(key)
    system_metadata = change(dict(row["system_metadata"]))
    if system_metadata is None:
        return render_customer(row)
    updated = await repository.set_system_metadata(
        conn, actor.project_id, row["id"], system_metadata
    )
    return render_customer(updated)


async def delete(conn: Connection, actor: Actor, key: str) -> None:
    """Delete a customer: gone from every read and segment; its source_id is free again.
    Records `customer.deleted` with the customer as it was. Raises NotFound."""
    _, row = await repository.lock_holding_segments(conn, actor.project_id, key=key)
    if row is None:
        raise customer_not_found(key)
    deleted = activities.prepare(
        actor, activity_type="customer.deleted", data={"customer": render_customer(row)}
    )
    await repository.delete(conn, actor.project_id, row["id"], deleted)


async def erase(conn: Connection, actor: Actor, key: str) -> dict[str, Any]:
    """Erase a customer and everything that identifies them (GDPR): by id that customer; by
    source_id every customer, live or deleted, that ever had it. Returns the permanent
    deletion object (CONTRACT.md §3, permanent deletion). Raises NotFound."""
    project_id = actor.project_id
    await segment_moves.hold(conn, project_id)
    rows = await repository.lock_all_for_erasure(conn, project_id, key)
    if not rows:
        raise customer_not_found(key)
    customer_events = removed = erased_orders = erased_events = memberships = 0
    for row in rows:
        memberships += await segment_moves.forget(conn, project_id, row["id"])
        erased_events += await events_repository.delete_for_customer(conn, project_id, row["id"])
        customer_events += await activities_repository.delete_for_customer(
            conn, project_id, row["id"]
        )
        erased_orders += await orders_repository.delete_for_customer(conn, project_id, row["id"])
        await repository.scrub_redemptions(conn, project_id, row["id"])
        removed += await repository.delete_permanently(conn, project_id, row["id"])
    await repository.move_count(
        conn, project_id, -sum(1 for row in rows if row["deleted_at"] is None)
    )
    # The live customer, if any, is the one the caller means; else the latest deleted one.
    subject = max(rows, key=lambda row: (row["deleted_at"] is None, row["deleted_at"] or _LONG_AGO))
    data_json: dict[str, int | None] = {
        "events": erased_events,
        "customer_events": customer_events,
        "daily_events": 0,
        "segments": memberships,
        "orders": erased_orders,
        # Never counted: Patron keeps no order events. The live API sends no count either (the
        # PHP SDK's `deletedCustomerPermanently.json` snapshot holds `null`).
        "order_events": None,
        "customer": removed,
    }
    deletion_id = ids.permanent_deletion_id()
    created_at = await repository.insert_permanent_deletion(
        conn, project_id, deletion_id=deletion_id, customer_id=subject["id"], data_json=data_json
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


async def lock(conn: Connection, project_id: str, customer_id: str) -> None:
    """Lock a customer row (by id) before changing what its summary is computed from."""
    await repository.lock_by_id(conn, project_id, customer_id)


async def lock_many(conn: Connection, project_id: str, customer_ids: list[str]) -> list[Row]:
    """Lock these customers in id order; returns the rows of those still live."""
    return await repository.lock_live_by_ids(conn, project_id, sorted(customer_ids))


async def move_orders_summary(
    conn: Connection, project_id: str, customer_id: str, *, amount: int, count: int
) -> None:
    """Move a locked customer's `summary.orders` by a difference: `amount` in the smallest
    currency unit, `count` orders; last_order_* follow the latest counted order."""
    await repository.move_orders_totals(conn, project_id, customer_id, amount=amount, count=count)


async def check_orders_summaries(conn: Connection, *, fix: bool) -> list[dict[str, Any]]:
    """Recompute every customer's summary.orders from the orders; returns the differences.

    With `fix`, each differing customer is locked and recomputed on its own, so that order
    changes made meanwhile by a running server are not overwritten.
    """
    differences = [dict(row.items()) for row in await repository.orders_summary_differences(conn)]
    if fix:
        for difference in differences:
            async with conn.transaction():
                await repository.lock_by_id(conn, difference["project_id"], difference["id"])
                await repository.recompute_orders_summary(
                    conn, difference["project_id"], difference["id"]
                )
    return differences


async def recount(conn: Connection) -> list[tuple[str, int, int]]:
    """Set every project's stored customer count from its customers, project by project (each
    in a savepoint of the caller's transaction, or a transaction of its own outside one);
    returns (project, stored, actual)."""
    results = []
    for project_id in await repository.project_ids(conn):
        async with conn.transaction():
            was, actual = await repository.recount(conn, project_id)
        results.append((project_id, was, actual))
    return results
