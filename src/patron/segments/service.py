"""Segment rules: creation with initial members, membership kept up to date by each customer
write (auto-update), computed on read (passive), or fixed (static)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from patron.activities import service as activities
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

logger = logging.getLogger(__name__)

SEGMENT_TYPES = ("static", "passive", "auto-update")


def now() -> datetime:
    return datetime.now(UTC)


def not_found(segment_id: str) -> NotFound:
    return NotFound(
        f"Cannot find segment with id {segment_id}",
        resource_id=segment_id,
        resource_type="segment",
    )


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


def _simple(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "object": "segment"}


# Auto-update filters cannot be edited, so a parsed filter that does not read the clock is
# good for as long as its segment lives.
_PARSED: OrderedDict[tuple[str, str], Filter] = OrderedDict()
_PARSED_LIMIT = 10_000


def _parsed(project_id: str, row: Row, at: datetime) -> Filter:
    key = (project_id, row["id"])
    cached = _PARSED.get(key)
    if cached is not None:
        _PARSED.move_to_end(key)
        return cached
    parsed = parse(row["filter"], now=at)
    if not parsed.time_dependent:
        _PARSED[key] = parsed
        if len(_PARSED) > _PARSED_LIMIT:
            _PARSED.popitem(last=False)
    return parsed


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


async def member_condition(conn: Connection, project_id: str, segment_id: str) -> Predicate | str:
    """What `GET /v1/customers?segment_id=` narrows customers to: stored members, or the
    filter of a passive segment."""
    row = await repository.find(conn, project_id, segment_id)
    if row is None:
        raise not_found(segment_id)
    if row["type"] == "passive":
        return Predicate(parse(row["filter"], now=now()).test)
    return segment_id


async def customer_segments(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """The segments a customer is in. For an unknown customer: the filter segments that a
    customer with no data at all would match."""
    customer_id = await customers.existing_key(conn, project_id, key)
    at = now()
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    if customer_id is not None:
        for row in await repository.segments_of_customer(conn, project_id, customer_id):
            found[row["id"]] = (row["created_at"], _simple(row))
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
                found[row["id"]] = (row["created_at"], _simple(row))
    data = [segment for _, segment in sorted(found.values(), key=lambda item: item[0])]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


# --- keeping auto-update members up to date -------------------------------------------------


async def hold(conn: Connection, project_id: str) -> None:
    """Taken by a transaction before it changes customers: a segment created meanwhile
    waits for it, so the change is either in the new segment's members or matched against it."""
    await repository.lock_for_writes(conn, project_id)


async def refresh_customer(conn: Connection, actor: Actor, customer_id: str) -> None:
    """Match one changed customer (locked by the caller) against the auto-update segments,
    and record each segment entered or left in the caller's transaction."""
    project_id = actor.project_id
    await repository.lock_for_writes(conn, project_id)
    segments = await repository.auto_update_for_customer(conn, project_id, customer_id)
    if not segments:
        return
    row = await customers.stored_row(conn, project_id, customer_id)
    if row is None:
        return
    at = now()
    parsed = [(segment, _parsed(project_id, segment, at)) for segment in segments]
    events = sorted(set().union(*(p.events for _, p in parsed)))
    counts = await repository.event_counts(conn, project_id, customer_id, events) if events else {}
    facts = Facts(row, counts)
    changes = [
        (segment, inside)
        for segment, segment_filter in parsed
        if (inside := matches(segment_filter.test, facts)) != segment["member"]
    ]
    if changes:
        await _apply(conn, actor, row, changes)


async def refresh_customers(conn: Connection, actor: Actor, customer_ids: Sequence[str]) -> None:
    """The set-based twin of `refresh_customer`, for many changed customers at once (bulk
    updates and imports): one statement per auto-update segment decides the whole batch."""
    project_id = actor.project_id
    await repository.lock_for_writes(conn, project_id)
    segments = await repository.auto_update_segments(conn, project_id)
    if not segments or not customer_ids:
        return
    batch = sorted(set(customer_ids))
    at = now()
    moves: list[tuple[Row, str, bool]] = []
    for segment in segments:
        predicate = Predicate(_parsed(project_id, segment, at).test)
        for customer_id, inside in await repository.membership_changes(
            conn, project_id, segment["id"], predicate, batch
        ):
            moves.append((segment, customer_id, inside))
    if not moves:
        return
    for segment in segments:
        entering = [c for s, c, inside in moves if s is segment and inside]
        leaving = [c for s, c, inside in moves if s is segment and not inside]
        await repository.add_members(conn, project_id, segment["id"], entering)
        await repository.remove_members(conn, project_id, segment["id"], leaving)
    rows = await customers.rows(conn, project_id, sorted({c for _, c, _ in moves}))
    snapshots = {row["id"]: customers.render(row) for row in rows}
    await activities.record_many(
        conn,
        actor,
        [
            (
                customer_id,
                "customer.segment.entered" if inside else "customer.segment.left",
                {"customer": snapshots[customer_id], "segment": _simple(segment)},
            )
            for segment, customer_id, inside in moves
            if customer_id in snapshots
        ],
    )


async def _apply(
    conn: Connection, actor: Actor, row: Any, changes: Sequence[tuple[Any, bool]]
) -> None:
    customer = customers.render(row)
    for segment, inside in changes:
        if inside:
            await repository.add_member(conn, actor.project_id, segment["id"], row["id"])
        else:
            await repository.remove_member(conn, actor.project_id, segment["id"], row["id"])
        await activities.record(
            conn,
            actor,
            customer_id=row["id"],
            activity_type="customer.segment.entered" if inside else "customer.segment.left",
            data={"customer": customer, "segment": _simple(segment)},
        )


async def forget_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    """Take a deleted customer out of every segment; returns how many it was in."""
    return await repository.remove_customer(conn, project_id, customer_id)


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
            await repository.lock_for_writes(conn, project_id)
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
    rows = await customers.lock_rows(conn, project_id, customer_ids)
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
            await _apply(conn, actor, row, [(segment, inside)])
            changed += 1
    return changed
