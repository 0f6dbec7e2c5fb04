"""Order rules: upsert by id or source_id, and the customer summary each change moves."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import msgspec
from msgspec import UNSET

from patron.activities import service as activities
from patron.activities.service import Actor, EventSource
from patron.async_actions.service import Action, BatchOutcome
from patron.customers import service as customers
from patron.customers.schemas import CustomerCreate
from patron.db.pool import Connection, retrying_deadlocks
from patron.errors import InvalidPayload, NotFound
from patron.kit import ids
from patron.kit.validation import convert
from patron.orders import repository
from patron.orders.repository import Row
from patron.orders.schemas import (
    OrderCreate,
    OrderFields,
    OrderUpdate,
    check_order,
    counted_amount,
    items_amount,
    render_items,
    render_order,
)
from patron.writes import customers as customer_writes

MAX_AMOUNT = 10**15
# Each retry follows a concurrent change of the same order (e.g. moved to another customer
# while we were locking); under a storm of such changes it takes a few rounds to win.
_ATTEMPTS = 50

TRANSITION_ACTIVITIES = {
    "PAID": "customer.order.paid",
    "FULFILLED": "customer.order.fulfilled",
    "CANCELED": "customer.order.canceled",
}


def not_found(key: str) -> NotFound:
    return NotFound(f"Cannot find order with id {key}", resource_id=key, resource_type="order")


async def get(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise not_found(key)
    return render_order(row)


async def list_orders(
    conn: Connection, project_id: str, *, limit: int, page: int, order: str
) -> dict[str, Any]:
    rows = await repository.list_page(
        conn, project_id, order=order, limit=limit, offset=(page - 1) * limit
    )
    return {
        "object": "list",
        "data_ref": "orders",
        "orders": [render_order(row) for row in rows],
        "total": await repository.count(conn, project_id),
    }


LIST_ORDERS = frozenset(repository.ORDERINGS)


async def upsert(
    conn: Connection, actor: Actor, *, payload: OrderCreate, record_activities: bool = True
) -> dict[str, Any]:
    """Create an order, or change the one with this `id` or `source_id` (`id` wins)."""
    auto_update = await customer_writes.hold(conn, actor.project_id)
    return await retrying_deadlocks(
        conn,
        lambda: _upsert(
            conn, actor, payload, record_activities=record_activities, auto_update=auto_update
        ),
    )


async def _upsert(
    conn: Connection,
    actor: Actor,
    payload: OrderCreate,
    *,
    record_activities: bool,
    auto_update: bool,
) -> dict[str, Any]:
    key = payload.id if isinstance(payload.id, str) else None
    source_id = payload.source_id if isinstance(payload.source_id, str) else None
    lookup = key or source_id
    for _ in range(_ATTEMPTS):
        locked = await _locked(conn, actor, payload, lookup)
        if locked is None:
            await _back_off()
            continue  # the order changed hands while we locked: start again
        before, customer_id, referrer_id = locked
        if before is None and key is not None:
            raise not_found(key)
        if before is None:
            values = _values(payload, None, customer_id, referrer_id)
            row = await repository.insert(
                conn, actor.project_id, ids.order_id(), values, _created_at(payload)
            )
            if row is None:
                continue  # created concurrently with the same source_id: update it instead
            await _after_change(conn, actor, None, row, record_activities=record_activities)
            await customer_writes.settle(
                conn, actor, [customer_id, referrer_id], auto_update=auto_update
            )
            return render_order(row)
        order = await _change(
            conn,
            actor,
            before,
            payload,
            customer_id,
            referrer_id,
            record_activities=record_activities,
        )
        await customer_writes.settle(
            conn, actor, [before["customer_id"], customer_id, referrer_id], auto_update=auto_update
        )
        return order
    raise RuntimeError(f"order upsert did not settle after {_ATTEMPTS} attempts")


async def create_new(
    conn: Connection, actor: Actor, *, payload: OrderCreate, customer_id: str | None
) -> tuple[Row, list[str]] | None:
    """Create the order a redemption brings for its customer (locked by the caller), when it
    is new: one statement. Returns the order's row and the activity types its creation records
    (`customer.order.created`, then `customer.order.paid` etc.), which the caller records with
    its own, and moves summary.orders by `counted_amount` (`writes.redemptions`). None when the
    order is not simply new (an `id`, a `customer` or a referrer sent, or its source_id taken):
    the caller then upserts it (`upsert`)."""
    if not isinstance(payload.id, type(UNSET)) or not isinstance(payload.customer, type(UNSET)):
        return None
    if not isinstance(payload.referrer, type(UNSET)) or not isinstance(
        payload.referrer_id, type(UNSET)
    ):
        return None
    values = _values(payload, None, customer_id, UNSET)
    row = await repository.insert(
        conn, actor.project_id, ids.order_id(), values, _created_at(payload)
    )
    if row is None:
        return None
    types = ["customer.order.created"]
    if row["status"] in TRANSITION_ACTIVITIES:
        types.append(TRANSITION_ACTIVITIES[row["status"]])
    return row, types


async def update(
    conn: Connection, actor: Actor, key: str, *, payload: OrderUpdate
) -> dict[str, Any]:
    """Change only the fields sent."""
    auto_update = await customer_writes.hold(conn, actor.project_id)
    return await retrying_deadlocks(conn, lambda: _update(conn, actor, key, payload, auto_update))


async def _update(
    conn: Connection, actor: Actor, key: str, payload: OrderUpdate, auto_update: bool
) -> dict[str, Any]:
    for _ in range(_ATTEMPTS):
        locked = await _locked(conn, actor, payload, key)
        if locked is None:
            await _back_off()
            continue
        before, customer_id, referrer_id = locked
        if before is None:
            raise not_found(key)
        order = await _change(conn, actor, before, payload, customer_id, referrer_id)
        await customer_writes.settle(
            conn, actor, [before["customer_id"], customer_id, referrer_id], auto_update=auto_update
        )
        return order
    raise RuntimeError(f"order update did not settle after {_ATTEMPTS} attempts")


async def _back_off() -> None:
    await asyncio.sleep(random.uniform(0, 0.005))


async def _locked(
    conn: Connection, actor: Actor, payload: OrderFields, order_key: str | None
) -> tuple[Row | None, Any, Any] | None:
    """`_lock_all` in a savepoint: when the order changed hands meanwhile, everything it locked
    and wrote is undone (so no lock is kept out of order) and None is returned."""
    savepoint = conn.transaction()
    await savepoint.start()
    try:
        before, peeked, customer_id, referrer_id = await _lock_all(conn, actor, payload, order_key)
    except BaseException:
        await savepoint.rollback()
        raise
    moved = (before is None) != (peeked is None) or (
        before is not None and peeked is not None and before["customer_id"] != peeked["customer_id"]
    )
    if moved:
        await savepoint.rollback()
        return None
    await savepoint.commit()
    return before, customer_id, referrer_id


async def _lock_all(
    conn: Connection, actor: Actor, payload: OrderFields, order_key: str | None
) -> tuple[Row | None, Row | None, Any, Any]:
    """Take every lock the change needs, in the house order, and upsert the people.

    Order: every customer the change touches sorted by id (the order's current one, the new
    one, the referrer), then the order. A customer created here locks only its new row.
    Returns the locked order, the order as first seen, and the customer and referrer ids.
    """
    project_id = actor.project_id
    peeked = await repository.find(conn, project_id, order_key) if order_key else None
    to_lock: set[str] = set()
    for ref in (payload.customer, payload.referrer):
        if isinstance(ref, CustomerCreate):
            found = await customers.existing_id(conn, project_id, ref)
            if found is not None:
                to_lock.add(found)
    if peeked is not None and peeked["customer_id"] is not None:
        to_lock.add(peeked["customer_id"])
    for customer_id in sorted(to_lock):
        await customer_writes.lock(conn, project_id, customer_id)
    customer_id, referrer_id = await _people(conn, actor, payload)
    before = (
        await repository.find(conn, project_id, order_key, for_update=True) if order_key else None
    )
    return before, peeked, customer_id, referrer_id


async def _people(conn: Connection, actor: Actor, payload: OrderFields) -> tuple[Any, Any]:
    """Upsert the order's customer and referrer (their rows are locked already)."""
    customer_id: Any = UNSET
    if payload.customer is None:
        customer_id = None
    elif not isinstance(payload.customer, type(UNSET)):
        customer_id = (
            await customer_writes.upsert(
                conn, actor, payload=payload.customer, settle_segments=False
            )
        ).id
    referrer_id: Any = UNSET
    if payload.referrer is not None and not isinstance(payload.referrer, type(UNSET)):
        referrer_id = (
            await customer_writes.upsert(
                conn, actor, payload=payload.referrer, settle_segments=False
            )
        ).id
    elif isinstance(payload.referrer_id, str):
        referrer_id = await customers.resolve_id(conn, actor.project_id, payload.referrer_id)
    elif payload.referrer_id is None:
        referrer_id = None
    return customer_id, referrer_id


def _created_at(payload: OrderFields) -> Any:
    if isinstance(payload.created_at, type(UNSET)):
        return None
    moment = payload.created_at
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _values(
    payload: OrderFields, before: Row | None, customer_id: Any, referrer_id: Any
) -> dict[str, Any]:
    """The order's columns after this change: sent fields replace, the rest stay."""
    values: dict[str, Any] = (
        {column: before[column] for column in repository.WRITABLE}
        if before is not None
        else {
            "source_id": None,
            "status": "CREATED",
            "amount": None,
            "initial_amount": None,
            "discount_amount": None,
            "items": [],
            "metadata": {},
            "customer_id": None,
            "referrer_id": None,
            "counted_amount": None,
        }
    )
    if before is None and isinstance(payload.source_id, str):
        values["source_id"] = payload.source_id
    for name in ("status", "amount", "initial_amount", "discount_amount"):
        value = getattr(payload, name)
        if not isinstance(value, type(UNSET)):
            values[name] = value
    if not isinstance(payload.items, type(UNSET)):
        values["items"] = render_items(payload.items or [])
        if isinstance(payload.amount, type(UNSET)):
            values["amount"] = items_amount(values["items"])
    if not isinstance(payload.metadata, type(UNSET)):
        values["metadata"] = payload.metadata or {}
    if not isinstance(customer_id, type(UNSET)):
        values["customer_id"] = customer_id
    if not isinstance(referrer_id, type(UNSET)):
        values["referrer_id"] = referrer_id
    for item in values["items"]:
        if item.get("amount", 0) > MAX_AMOUNT:
            raise InvalidPayload(f"Property .items: an item amount exceeds {MAX_AMOUNT}")
    if (values["amount"] or 0) > MAX_AMOUNT:
        raise InvalidPayload(f"Property .amount exceeds {MAX_AMOUNT}")
    values["counted_amount"] = counted_amount(values["status"], values)
    return values


async def _change(
    conn: Connection,
    actor: Actor,
    before: Row,
    payload: OrderFields,
    customer_id: Any,
    referrer_id: Any,
    *,
    record_activities: bool = True,
) -> dict[str, Any]:
    values = _values(payload, before, customer_id, referrer_id)
    created_at = _created_at(payload)
    unchanged = all(values[c] == before[c] for c in repository.WRITABLE) and (
        created_at is None or created_at == before["created_at"]
    )
    if unchanged:
        return render_order(before)
    row = await repository.update(conn, actor.project_id, before["id"], values, created_at)
    await _after_change(conn, actor, before, row, record_activities=record_activities)
    return render_order(row)


async def _after_change(
    conn: Connection, actor: Actor, before: Row | None, after: Row, *, record_activities: bool
) -> None:
    """Move the summaries the change touches, then record its activities."""
    project_id = actor.project_id
    deltas: dict[str, list[int]] = {}
    if before is not None and before["customer_id"] and before["counted_amount"] is not None:
        deltas.setdefault(before["customer_id"], [0, 0])
        deltas[before["customer_id"]][0] -= before["counted_amount"]
        deltas[before["customer_id"]][1] -= 1
    if after["customer_id"] and after["counted_amount"] is not None:
        deltas.setdefault(after["customer_id"], [0, 0])
        deltas[after["customer_id"]][0] += after["counted_amount"]
        deltas[after["customer_id"]][1] += 1
    moved_date = before is not None and before["created_at"] != after["created_at"]
    for customer_id in sorted(deltas):
        amount, count = deltas[customer_id]
        if (
            amount
            or count
            or moved_date
            or before is None
            or (before["counted_amount"] != after["counted_amount"])
        ):
            await customer_writes.move_orders_summary(
                conn, project_id, customer_id, amount=amount, count=count
            )
    if not record_activities or after["customer_id"] is None:
        return
    types = ["customer.order.created" if before is None else "customer.order.updated"]
    if (before is None or before["status"] != after["status"]) and (
        after["status"] in TRANSITION_ACTIVITIES
    ):
        types.append(TRANSITION_ACTIVITIES[after["status"]])
    customer = await customers.snapshot(conn, project_id, after["customer_id"])
    if customer is None:
        return  # the customer was deleted: there is no timeline to add to
    order = render_order(after)
    for activity_type in types:
        await activities.record(
            conn,
            actor,
            customer_id=after["customer_id"],
            activity_type=activity_type,
            data={"customer": customer, "order": order},
        )


async def check_summaries(conn: Connection, *, fix: bool) -> list[dict[str, Any]]:
    """Recompute every customer's summary.orders from the orders; see
    `writes.customers.check_orders_summaries`."""
    return await customer_writes.check_orders_summaries(conn, fix=fix)


# --- import -----------------------------------------------------------------------------------


async def apply_import(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`ORDERS.IMPORT`: upsert each order, without activities (as Voucherify's import)."""
    actor = Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )
    outcome = BatchOutcome()
    for number, data in rows:
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            payload = convert(data, OrderCreate)
            check_order(payload)
            await upsert(conn, actor, payload=payload, record_activities=False)
        except (msgspec.ValidationError, InvalidPayload, NotFound) as exc:
            await savepoint.rollback()
            source_id = data.get("source_id") if isinstance(data, dict) else None
            outcome.errors.append({"row": number + 1, "source_id": source_id, "message": str(exc)})
            continue
        await savepoint.commit()
        outcome.done += 1
    return outcome
