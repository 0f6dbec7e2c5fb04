"""Segment rules: creation with initial members, membership kept up to date by each customer
write (auto-update), computed on read (passive), or fixed (static)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.activities.service import Actor, EventSource
from patron.customers import service as customers
from patron.db.pool import Connection
from patron.errors import InvalidPayload, NotFound
from patron.kit import ids
from patron.kit.time import render_datetime, render_optional_datetime
from patron.segments import repository
from patron.segments.filters import Facts, Filter, matches, parse
from patron.segments.repository import Predicate, Row
from patron.segments.schemas import SegmentCreate
from patron.writes import customers as customer_writes
from patron.writes import segments as segment_moves
from patron.writes.segments import now, segment_not_found, simple

logger = logging.getLogger(__name__)

SEGMENT_TYPES = ("static", "passive", "auto-update")


def not_found(segment_id: str) -> NotFound:
    return segment_not_found(segment_id)


def render_segment(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "created_at": render_datetime(row["created_at"]),
        "updated_at": render_optional_datetime(row["updated_at"]),
        "type": row["type"],
        "filter": row["filter"],
        "initial_sync_status": "DONE",
        "object": "segment",
    }


# --- the API -------------------------------------------------------------------------------


async def create(conn: Connection, actor: Actor, *, body: SegmentCreate) -> dict[str, Any]:
    """Create a segment; a static or auto-update one gets its members now."""
    project_id = actor.project_id
    name = body.name.strip()
    if not name:
        raise InvalidPayload("Property .name must not be empty")
    if body.type == "static":
        if body.filter is not None:
            raise InvalidPayload("Property .filter is not allowed for a static segment")
        if body.customers is None:
            raise InvalidPayload("Property .customers is required for a static segment")
        parsed = None
    else:
        if body.customers is not None:
            raise InvalidPayload(f"Property .customers is not allowed for a {body.type} segment")
        if body.filter is None:
            raise InvalidPayload(f"Property .filter is required for a {body.type} segment")
        parsed = parse(body.filter, now=now())
    await repository.lock_for_change(conn, project_id)
    member_ids: list[str] = []
    if body.customers is not None:
        keys = list(dict.fromkeys(body.customers))
        found = await repository.live_customer_ids(conn, project_id, keys)
        missing = [key for key in keys if key not in found]
        if missing:
            raise customers.not_found(missing[0])
        member_ids = sorted(set(found.values()))
    row = await repository.insert(
        conn,
        project_id,
        segment_id=ids.segment_id(),
        name=name,
        segment_type=body.type,
        filter_json=body.filter,
        time_dependent=parsed is not None and parsed.time_dependent,
    )
    if member_ids:
        await repository.add_static_members(conn, project_id, row["id"], member_ids)
    if parsed is not None and body.type == "auto-update":
        # The starting members; entering and leaving is recorded from here on.
        await repository.add_matching_members(conn, project_id, row["id"], Predicate(parsed.test))
    return render_segment(row)


async def get(conn: Connection, project_id: str, segment_id: str) -> dict[str, Any]:
    row = await repository.find(conn, project_id, segment_id)
    if row is None:
        raise not_found(segment_id)
    return render_segment(row)


async def delete(conn: Connection, actor: Actor, segment_id: str) -> None:
    """Delete a segment and its members (no one is recorded as leaving it)."""
    await repository.lock_for_change(conn, actor.project_id)
    if not await repository.delete(conn, actor.project_id, segment_id):
        raise not_found(segment_id)


@dataclass(frozen=True, slots=True)
class ListFilters:
    limit: int = 10
    ascending: bool = False
    ids: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    starting_after: str | None = None


async def list_segments(conn: Connection, project_id: str, filters: ListFilters) -> dict[str, Any]:
    conditions: list[tuple[str, Any]] = []
    for name in ("ids", "types", "names", "created_before", "created_after"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(
                (
                    repository.SEGMENT_LIST_FILTERS[name],
                    list(value) if isinstance(value, tuple) else value,
                )
            )
    page_conditions = list(conditions)
    if filters.starting_after is not None:
        cursor = "after_cursor" if filters.ascending else "before_cursor"
        page_conditions.append((repository.SEGMENT_LIST_FILTERS[cursor], filters.starting_after))
    rows, _ = await repository.list_segments(
        conn,
        project_id,
        conditions=page_conditions,
        ascending=filters.ascending,
        limit=filters.limit + 1,
    )
    _, total = await repository.list_segments(
        conn, project_id, conditions=conditions, ascending=filters.ascending, limit=0
    )
    return {
        "object": "list",
        "data_ref": "data",
        "data": [render_segment(row) for row in rows[: filters.limit]],
        "total": total,
        "has_more": len(rows) > filters.limit,
    }


async def customer_segments(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """The segments a customer is in. For an unknown customer: the filter segments that a
    customer with no data at all would match."""
    customer_id = await customers.existing_key(conn, project_id, key)
    at = now()
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    if customer_id is not None:
        for row in await repository.segments_of_customer(conn, project_id, customer_id):
            found[row["id"]] = (row["created_at"], simple(row))
        stored = await customers.stored_row(conn, project_id, customer_id)
        facts_row: Any = stored or {}
    else:
        facts_row = {}
    candidates = [
        row
        for row in await repository.filter_segments(conn, project_id)
        if row["type"] == "passive" or customer_id is None
    ]
    if candidates:
        parsed = [(row, parse(row["filter"], now=at)) for row in candidates]
        events = sorted(set().union(*(p.events for _, p in parsed)))
        counts = (
            await repository.event_counts(conn, project_id, customer_id, events)
            if customer_id is not None and events
            else {}
        )
        facts = Facts(facts_row, counts)
        for row, segment_filter in parsed:
            if matches(segment_filter.test, facts):
                found[row["id"]] = (row["created_at"], simple(row))
    data = [segment for _, segment in sorted(found.values(), key=lambda item: item[0])]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


# --- the periodic job: filters that move with time ------------------------------------------

RECONCILE_BATCH = 500

SYSTEM_SOURCE = EventSource(channel="AUTOMATION")


async def reconcile_due(
    conn: Connection,
    *,
    every_seconds: float,
    at: datetime | None = None,
    project_id: str | None = None,
) -> int:
    """Bring every time-dependent auto-update segment (of one project, or all) not refreshed
    in `every_seconds` up to date at `at` (now by default); returns how many customers
    entered or left."""
    moved = 0
    due = await repository.due_for_reconciling(
        conn, every_seconds=every_seconds, project_id=project_id
    )
    for segment in due:
        moved += await reconcile(conn, segment["project_id"], segment, at=at or now())
    return moved


async def reconcile(conn: Connection, project_id: str, segment: Row, *, at: datetime) -> int:
    """Make one auto-update segment's members exactly the customers its filter matches at
    `at`, in batches, each customer locked and decided again before it moves."""
    segment_filter = parse(segment["filter"], now=at)
    predicate = Predicate(segment_filter.test)
    actor = Actor(project_id=project_id, source=SYSTEM_SOURCE, request_id=ids.request_id())
    moved = 0
    while True:
        async with conn.transaction():
            await customer_writes.hold(conn, project_id)
            if await repository.find(conn, project_id, segment["id"]) is None:
                return moved  # deleted meanwhile (deletion waits for this lock, not after it)
            entering, leaving = await repository.stale_members(
                conn, project_id, segment["id"], predicate, limit=RECONCILE_BATCH
            )
            if not entering and not leaving:
                await repository.mark_reconciled(conn, project_id, segment["id"], at)
                return moved
            changed = await _reconcile_batch(
                conn, actor, segment, segment_filter, sorted(set(entering + leaving))
            )
            if not changed:
                # The database and the in-memory reading disagree: a bug; do not spin on it.
                logger.error(
                    "segment %s: filter readings disagree; members left as they are", segment["id"]
                )
                await repository.mark_reconciled(conn, project_id, segment["id"], at)
                return moved
            moved += changed


async def _reconcile_batch(
    conn: Connection, actor: Actor, segment: Row, segment_filter: Filter, customer_ids: list[str]
) -> int:
    project_id = actor.project_id
    rows = await customer_writes.lock_many(conn, project_id, customer_ids)
    members = await repository.members_among(conn, project_id, segment["id"], customer_ids)
    changed = 0
    live = {row["id"] for row in rows}
    for gone in set(customer_ids) - live:
        if gone in members:
            await repository.remove_member(conn, project_id, segment["id"], gone)
            changed += 1
    for row in rows:
        counts = (
            await repository.event_counts(
                conn, project_id, row["id"], sorted(segment_filter.events)
            )
            if segment_filter.events
            else {}
        )
        inside = matches(segment_filter.test, Facts(row, counts))
        if inside != (row["id"] in members):
            await segment_moves.move(conn, actor, row, [(segment, inside)])
            changed += 1
    return changed
