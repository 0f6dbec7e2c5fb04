"""Bulk changes on the write path: many upserts by source_id, and updates by id, in one
transaction (bulk updates, metadata updates and CSV imports, a batch at a time).

New customers are dated in the past, never the future: each batch takes the latest free
milliseconds at least a second before now (below those its action took before), so that a
project's live customers keep distinct `created_at` (the JS SDK's scroll) while an import
writes thousands a second. An import of N new customers therefore dates them within roughly the
N milliseconds before it ran, each batch below the one before.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers.schemas import MUTABLE_COLUMNS, render_customer
from patron.db.pool import Connection
from patron.kit import json
from patron.kit.time import render_datetime
from patron.writes import repository
from patron.writes import segments as segment_moves

logger = logging.getLogger(__name__)

_MILLISECOND = timedelta(milliseconds=1)
# Bulk creations keep clear of the milliseconds that single creations take (the latest ones).
_BEHIND_NOW = timedelta(seconds=1)
_ATTEMPTS = 5


class Change(msgspec.Struct, gc=False):
    """What input rows ask of the customer with one source_id, or, when `customer_id` is set,
    of the existing customer with that id (then `source_id` is "" and nothing is created)."""

    # The last input row it holds.
    row: int
    source_id: str
    # The columns it sets; once prepared, address and metadata are held as JSON (see thawed).
    values: dict[str, Any]
    # Should the change create the customer: its id, its columns (in MUTABLE_COLUMNS order),
    # and its customer.created data as JSON before and after the value of created_at, which is
    # known only when the change is applied.
    new_id: str = ""
    new_values: tuple[Any, ...] = ()
    created_head: bytes = b""
    created_tail: bytes = b""
    customer_id: str = ""

    def thawed(self) -> dict[str, Any]:
        """The columns it sets, as Python values."""
        return {
            column: json.decode(value) if isinstance(value, msgspec.Raw) else value
            for column, value in self.values.items()
        }


async def merge(
    conn: Connection, actor: Actor, changes: Sequence[Change], *, merge_metadata: bool = False
) -> list[Change]:
    """Upsert customers by source_id and update them by id (one change per source_id or id,
    prepared by the caller): update the fields each change sets, create the missing by
    source_id, record `customer.updated` and `customer.created`, and settle segment moves, in
    the caller's transaction. Returns the changes by id that name no live customer (not
    applied). Changes that reach one customer (by its id and its source_id) apply in the
    order given.

    Customers that end up unchanged are not written and get no activity, as in the API. A
    source_id or a creation moment that another transaction makes live meanwhile undoes the
    batch's writes (a savepoint) and the batch is merged again.
    """
    project_id = actor.project_id
    await repository.refresh_statistics_if_stale(conn)
    auto_update = await segment_moves.hold(conn, project_id)
    for attempt in range(1, _ATTEMPTS + 1):
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            touched, unmatched = await _merge(conn, actor, changes, merge_metadata)
        except asyncpg.UniqueViolationError as exc:
            await savepoint.rollback()
            if attempt == _ATTEMPTS:
                raise
            # The constraint's name, never its detail: that quotes the source_id.
            logger.info(
                "bulk batch met a concurrent creation (%s); merging it again", exc.constraint_name
            )
            continue
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()
        await segment_moves.settle_many(conn, actor, touched, auto_update=auto_update)
        return unmatched
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _merge(
    conn: Connection, actor: Actor, changes: Sequence[Change], merge_metadata: bool
) -> tuple[list[str], list[Change]]:
    project_id = actor.project_id
    locked = await repository.lock_live_by_keys(
        conn,
        project_id,
        source_ids=[change.source_id for change in changes if not change.customer_id],
        ids=[change.customer_id for change in changes if change.customer_id],
    )
    by_id = {row["id"]: row for row in locked}
    by_source_id = {row["source_id"]: row for row in locked if row["source_id"] is not None}
    found: list[tuple[Change, asyncpg.Record]] = []
    missing: list[Change] = []
    unmatched: list[Change] = []
    for change in changes:
        if change.customer_id:
            row = by_id.get(change.customer_id)
            if row is None:
                unmatched.append(change)
                continue
        else:
            row = by_source_id.get(change.source_id)
            if row is None:
                missing.append(change)
                continue
        found.append((change, row))
    wanted: dict[str, dict[str, Any]] = {}
    # In input order: a customer reached by its id and by its source_id takes the later row.
    for change, row in sorted(found, key=lambda item: item[0].row):
        current = wanted.get(row["id"]) or {column: row[column] for column in MUTABLE_COLUMNS}
        values = change.thawed()
        if merge_metadata and "metadata" in values:
            values["metadata"] = {**current["metadata"], **values["metadata"]}
        wanted[row["id"]] = {**current, **values}
    updates: list[tuple[str, dict[str, Any]]] = []
    snapshots: dict[str, dict[str, Any]] = {}
    for customer_id, merged in wanted.items():
        row = by_id[customer_id]
        if merged != {column: row[column] for column in MUTABLE_COLUMNS}:
            updates.append((customer_id, merged))
            snapshots[customer_id] = {**dict(row.items()), **merged}
    # The new state is known here, so activities are rendered from it, not from rows read back.
    updated = await repository.update_many(conn, project_id, updates)
    for customer_id, updated_at in updated:
        snapshots[customer_id]["updated_at"] = updated_at
    created = await _insert_missing(conn, actor, missing)
    if updated:
        await activities.record_many(
            conn,
            actor,
            [
                (id_, "customer.updated", {"customer": render_customer(snapshots[id_])})
                for id_, _ in updated
            ],
        )
    if created:
        await activities.record_many_rendered(conn, actor, "customer.created", created)
    return [id_ for id_, _ in updated] + [change.new_id for change in missing], unmatched


async def _insert_missing(
    conn: Connection, actor: Actor, missing: Sequence[Change]
) -> list[tuple[str, bytes]]:
    """Create customers for these changes; their customer.created data."""
    if not missing:
        return []
    moments = await creation_moments(conn, actor, len(missing))
    new = []
    created: list[tuple[str, bytes]] = []
    for change, moment in zip(missing, moments, strict=True):
        new.append((change.new_id, change.source_id, moment, change.new_values))
        rendered = b'"' + render_datetime(moment).encode() + b'"'
        created.append((change.new_id, change.created_head + rendered + change.created_tail))
    await repository.copy_new(conn, actor.project_id, new)
    await repository.move_count(conn, actor.project_id, len(new))
    return created


# The lowest creation moment each recent bulk action took, by (project, request id): its next
# batch goes on below it instead of walking over it again.
_LOWEST: OrderedDict[tuple[str, str], datetime] = OrderedDict()
_LOWEST_LIMIT = 1000


async def creation_moments(conn: Connection, actor: Actor, count: int) -> list[datetime]:
    """`count` distinct milliseconds, ascending, that no live customer of the project holds,
    the latest free ones at least a second before now and below those this action took
    before. Bulk batches of one project take turns from here to their commit
    (`hold_bulk_dating`), so that two imports never choose the same milliseconds."""
    key = (actor.project_id, actor.request_id)
    await repository.hold_bulk_dating(conn, actor.project_id)
    start = await repository.database_now(conn) - _BEHIND_NOW
    lowest = _LOWEST.get(key)
    if lowest is not None:
        start = min(start, lowest - _MILLISECOND)
    moments: list[datetime] = []
    high = start
    while len(moments) < count:
        # Wide enough to hold what is missing, and then some for the moments taken already.
        low = high - (count - len(moments) + 256) * _MILLISECOND
        taken = await repository.taken_created_at(conn, actor.project_id, low, high)
        moment = high
        while moment >= low and len(moments) < count:
            if moment not in taken:
                moments.append(moment)
            moment -= _MILLISECOND
        high = low - _MILLISECOND
    _LOWEST[key] = moments[-1]
    _LOWEST.move_to_end(key)
    if len(_LOWEST) > _LOWEST_LIMIT:
        _LOWEST.popitem(last=False)
    moments.reverse()
    return moments
