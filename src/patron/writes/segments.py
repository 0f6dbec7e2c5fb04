"""Segment moves on the write path: after a change to customers, match them against the
project's auto-update segments and record each segment entered or left, in the same
transaction. Also what the customer list reads of a segment (its members or its filter).

The protocol with segment creation (segments/service.py): every customer write holds the
project's segments lock shared until commit (`patron_hold_segments`, taken by the write's first
statement), and creating or deleting a segment holds it exclusively. Whichever comes first, a
change is either in a new segment's first members or matched against it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers.repository import Row as CustomerRow
from patron.customers.repository import find_by_id, live_by_ids
from patron.customers.schemas import render_customer
from patron.db.pool import Connection
from patron.errors import NotFound
from patron.segments import repository
from patron.segments.filters import Facts, Filter, matches, parse
from patron.segments.repository import Predicate, Row
from patron.writes import repository as writes


def now() -> datetime:
    return datetime.now(UTC)


def segment_not_found(segment_id: str) -> NotFound:
    return NotFound(
        f"Cannot find segment with id {segment_id}",
        resource_id=segment_id,
        resource_type="segment",
    )


def simple(row: Row) -> dict[str, Any]:
    """A segment as activities and a customer's segment list show it."""
    return {"id": row["id"], "name": row["name"], "object": "segment"}


# Auto-update filters cannot be edited, so a parsed filter that does not read the clock is
# good for as long as its segment lives.
_PARSED: OrderedDict[tuple[str, str], Filter] = OrderedDict()
_PARSED_LIMIT = 10_000


def parsed(project_id: str, row: Row, at: datetime) -> Filter:
    """The segment's filter, parsed (cached when it does not read the clock)."""
    key = (project_id, row["id"])
    cached = _PARSED.get(key)
    if cached is not None:
        _PARSED.move_to_end(key)
        return cached
    result = parse(row["filter"], now=at)
    if not result.time_dependent:
        _PARSED[key] = result
        if len(_PARSED) > _PARSED_LIMIT:
            _PARSED.popitem(last=False)
    return result


async def hold(conn: Connection, project_id: str) -> bool:
    """Hold the project's segments (shared, until commit) before a change to customers;
    returns whether the project has auto-update segments to match the change against."""
    return await writes.hold_segments(conn, project_id)


async def settle(
    conn: Connection, actor: Actor, customer_ids: Iterable[object], *, auto_update: bool
) -> None:
    """Match changed (locked) customers against the auto-update segments, if the project has
    any (`auto_update`, as `hold` or a write's first statement said); ids that are not
    strings (UNSET, None) are passed over."""
    if not auto_update:
        return
    for customer_id in sorted({key for key in customer_ids if isinstance(key, str)}):
        await _refresh_one(conn, actor, customer_id)


async def _refresh_one(conn: Connection, actor: Actor, customer_id: str) -> None:
    project_id = actor.project_id
    segments = await repository.auto_update_for_customer(conn, project_id, customer_id)
    if not segments:
        return
    row = await find_by_id(conn, project_id, customer_id)
    if row is None:
        return
    at = now()
    filters = [(segment, parsed(project_id, segment, at)) for segment in segments]
    events = sorted(set().union(*(f.events for _, f in filters)))
    counts = await repository.event_counts(conn, project_id, customer_id, events) if events else {}
    facts = Facts(row, counts)
    changes = [
        (segment, inside)
        for segment, segment_filter in filters
        if (inside := matches(segment_filter.test, facts)) != segment["member"]
    ]
    if changes:
        await move(conn, actor, row, changes)


async def settle_many(
    conn: Connection, actor: Actor, customer_ids: Sequence[str], *, auto_update: bool
) -> None:
    """The set-based twin of `settle`, for many changed customers at once (bulk updates and
    imports): one statement per auto-update segment decides the whole batch."""
    if not auto_update or not customer_ids:
        return
    project_id = actor.project_id
    segments = await repository.auto_update_segments(conn, project_id)
    if not segments:
        return
    batch = sorted(set(customer_ids))
    at = now()
    moves: list[tuple[Row, str, bool]] = []
    for segment in segments:
        predicate = Predicate(parsed(project_id, segment, at).test)
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
    rows = await live_by_ids(conn, project_id, sorted({c for _, c, _ in moves}))
    snapshots = {row["id"]: render_customer(row) for row in rows}
    await activities.record_many(
        conn,
        actor,
        [
            (
                customer_id,
                "customer.segment.entered" if inside else "customer.segment.left",
                {"customer": snapshots[customer_id], "segment": simple(segment)},
            )
            for segment, customer_id, inside in moves
            if customer_id in snapshots
        ],
    )


async def move(
    conn: Connection, actor: Actor, row: CustomerRow, changes: Sequence[tuple[Row, bool]]
) -> None:
    """Put a locked customer in (True) or out of (False) these segments, recording each move."""
    customer = render_customer(row)
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
            data={"customer": customer, "segment": simple(segment)},
        )


async def forget(conn: Connection, project_id: str, customer_id: str) -> int:
    """Take a removed customer out of every segment; returns how many it was in."""
    return await repository.remove_customer(conn, project_id, customer_id)


async def member_condition(conn: Connection, project_id: str, segment_id: str) -> Predicate | str:
    """What `GET /v1/customers?segment_id=` narrows customers to: the stored members (the
    segment's id), or the filter of a passive segment. Raises NotFound for an unknown segment."""
    row = await repository.find(conn, project_id, segment_id)
    if row is None:
        raise segment_not_found(segment_id)
    if row["type"] == "passive":
        return Predicate(parse(row["filter"], now=now()).test)
    return segment_id
