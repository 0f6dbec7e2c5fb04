"""Bulk customer work carried out by async actions: upserts by source_id, a batch at a time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

import msgspec

from patron.activities import service as activities
from patron.activities.service import Actor, EventSource
from patron.async_actions import service as async_actions
from patron.async_actions.schemas import (
    CUSTOMERS_BULK_UPDATE,
    CUSTOMERS_IMPORT_CSV,
    CUSTOMERS_METADATA_UPDATE,
)
from patron.async_actions.service import Action, BatchOutcome, Handler
from patron.customers import repository
from patron.customers.csv_import import CsvFileError, CsvLayout, read_rows
from patron.customers.schemas import (
    MUTABLE_COLUMNS,
    CustomerFields,
    SourceId,
    check_fields,
    check_indexed,
    column_values,
    render_customer,
)
from patron.db.pool import Connection
from patron.errors import APIError, InvalidPayload
from patron.kit import ids
from patron.kit.validation import check_json_value, check_metadata, check_text
from patron.segments import service as segments

_MILLISECOND = timedelta(milliseconds=1)


class BulkCustomer(CustomerFields, kw_only=True):
    """One element of `POST /v1/customers/bulk/async`."""

    source_id: SourceId


@dataclass(slots=True)
class Change:
    """What one input row asks of the customer with its source_id."""

    row: int
    source_id: str
    values: dict[str, Any]


def _actor(action: Action) -> Actor:
    return Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )


def _combine(changes: Sequence[Change], *, merge_metadata: bool) -> list[Change]:
    """One change per source_id, later rows winning, so that one statement can apply them."""
    combined: dict[str, Change] = {}
    for change in changes:
        previous = combined.get(change.source_id)
        if previous is None:
            combined[change.source_id] = Change(change.row, change.source_id, dict(change.values))
            continue
        values = dict(change.values)
        if merge_metadata and "metadata" in values and "metadata" in previous.values:
            values["metadata"] = {**previous.values["metadata"], **values["metadata"]}
        previous.values.update(values)
    return list(combined.values())


async def merge(
    conn: Connection, actor: Actor, changes: Sequence[Change], *, merge_metadata: bool = False
) -> None:
    """Upsert customers by source_id: update the fields each change sets, create the missing.

    Customers that end up unchanged are not written and get no activity, as in the API.
    """
    project_id = actor.project_id
    changes = _combine(changes, merge_metadata=merge_metadata)
    await repository.refresh_statistics_if_stale(conn)
    await segments.hold(conn, project_id)
    # Project row first, as everywhere; while it is held no one else can make a source_id live,
    # so the customers found missing below can be created without conflicts.
    await repository.lock_project(conn, project_id)
    existing = await repository.lock_live_by_source_ids(
        conn, project_id, [change.source_id for change in changes]
    )
    updates: list[tuple[str, dict[str, Any]]] = []
    snapshots: dict[str, dict[str, Any]] = {}
    missing: list[Change] = []
    for change in changes:
        row = existing.get(change.source_id)
        if row is None:
            missing.append(change)
            continue
        current = {column: row[column] for column in MUTABLE_COLUMNS}
        values = dict(change.values)
        if merge_metadata and "metadata" in values:
            values["metadata"] = {**current["metadata"], **values["metadata"]}
        merged = {**current, **values}
        if merged != current:
            updates.append((row["id"], merged))
            snapshots[row["id"]] = {**dict(row.items()), **merged}
    # The new state is known here, so activities are rendered from it, not from rows read back.
    updated = await repository.update_many(conn, project_id, updates)
    for customer_id, updated_at in updated:
        snapshots[customer_id]["updated_at"] = updated_at
    inserted = await _insert_missing(conn, project_id, missing)
    await activities.record_many(
        conn,
        actor,
        [
            (id_, "customer.updated", {"customer": render_customer(snapshots[id_])})
            for id_, _ in updated
        ]
        + [
            (customer["id"], "customer.created", {"customer": render_customer(customer)})
            for customer in inserted
        ],
    )
    await segments.refresh_customers(
        conn, actor, [id_ for id_, _ in updated] + [customer["id"] for customer in inserted]
    )


async def _insert_missing(
    conn: Connection, project_id: str, missing: Sequence[Change]
) -> list[dict[str, Any]]:
    """Create customers for these changes (the caller holds the project row, so none of these
    source_ids can have become live since it looked)."""
    if not missing:
        return []
    first = await repository.reserve_created_at(conn, project_id, len(missing))
    new = []
    customers: list[dict[str, Any]] = []
    for offset, change in enumerate(missing):
        values = {column: change.values.get(column) for column in MUTABLE_COLUMNS}
        values["metadata"] = values["metadata"] or {}
        customer_id = ids.customer_id()
        created_at = first + offset * _MILLISECOND
        new.append((customer_id, change.source_id, created_at, values))
        customers.append(
            {
                **values,
                "id": customer_id,
                "source_id": change.source_id,
                "system_metadata": {},
                "created_at": created_at,
                "updated_at": None,
            }
        )
    await repository.copy_new(conn, project_id, new)
    return customers


def _validation_message(error: Exception) -> str:
    if isinstance(error, APIError):
        return error.details or error.message
    text = str(error)
    message, sep, location = text.rpartition(" - at `")
    if sep:
        path = location.rstrip("`")
        return f"Property {path[1:] if path.startswith('$') else path} is invalid: {message}"
    return text


async def apply_bulk_update(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CUSTOMERS.BULK_UPDATE`: each row is a customer with its source_id."""
    outcome = BatchOutcome()
    changes: list[Change] = []
    for number, data in rows:
        source_id = data.get("source_id") if isinstance(data, dict) else None
        try:
            customer = msgspec.convert(data, BulkCustomer)
            check_fields(customer)
        except (msgspec.ValidationError, APIError) as exc:
            outcome.errors.append(
                {
                    "message": "Invalid customer",
                    "details": _validation_message(exc),
                    "key": "invalid_customer",
                    "source_id": source_id if isinstance(source_id, str) else None,
                    "row": number + 1,
                }
            )
            continue
        changes.append(Change(number, customer.source_id, column_values(customer)))
    await merge(conn, _actor(action), changes)
    outcome.done = len(changes)
    return outcome


async def apply_metadata_update(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CUSTOMERS.METADATA_UPDATE`: merge the action's metadata into each source_id's customer."""
    metadata = action.params["metadata"]
    changes = [Change(number, source_id, {"metadata": metadata}) for number, source_id in rows]
    await merge(conn, _actor(action), changes, merge_metadata=True)
    return BatchOutcome(done=len(changes))


async def apply_csv_import(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CUSTOMERS.IMPORT_CSV`: each row's cells replace the customer's fields and metadata."""
    layout = CsvLayout.from_header(action.params["header"])
    outcome = BatchOutcome()
    changes: list[Change] = []
    for number, cells in rows:
        try:
            source_id, values = layout.customer(cells)
        except ValueError as exc:
            outcome.errors.append(
                {"source_id": layout.source_id_of(cells), "row": number + 1, "reason": str(exc)}
            )
            continue
        changes.append(Change(number, source_id, values))
    await merge(conn, _actor(action), changes)
    outcome.done = len(changes)
    return outcome


CUSTOMER_HANDLERS: dict[str, Handler] = {
    CUSTOMERS_BULK_UPDATE: apply_bulk_update,
    CUSTOMERS_METADATA_UPDATE: apply_metadata_update,
    CUSTOMERS_IMPORT_CSV: apply_csv_import,
}


# --- queueing ----------------------------------------------------------------------------------


class MetadataBulk(msgspec.Struct):
    """Body of `POST /v1/customers/metadata/async`."""

    source_ids: list[SourceId]
    metadata: dict[str, Any]


async def enqueue_bulk_update(conn: Connection, actor: Actor, rows: list[Any]) -> str:
    """Queue upserts of customers by source_id; each row is checked when it is applied."""
    check_json_value(rows, "")
    return await async_actions.enqueue(conn, actor, action_type=CUSTOMERS_BULK_UPDATE, rows=rows)


async def enqueue_metadata_update(conn: Connection, actor: Actor, body: MetadataBulk) -> str:
    """Queue a merge of `metadata` into the customers with these source_ids."""
    for index, source_id in enumerate(body.source_ids):
        check_text(source_id, f".source_ids[{index}]")
        check_indexed(source_id, f".source_ids[{index}]")
    check_metadata(body.metadata)
    return await async_actions.enqueue(
        conn,
        actor,
        action_type=CUSTOMERS_METADATA_UPDATE,
        rows=body.source_ids,
        params={"metadata": body.metadata},
    )


_CSV_CHUNK_ROWS = 10_000


async def enqueue_csv_import(conn: Connection, actor: Actor, file: IO[bytes]) -> str:
    """Check a CSV file's layout and store its rows for an import; a bad file is a 400.

    The file is parsed in a thread, a chunk at a time, and COPYed into the action's rows, so
    neither memory nor the event loop carries the whole file.
    """
    try:
        header, rows = await asyncio.to_thread(read_rows, file)
        CsvLayout.from_header(header)
        action_id = await async_actions.start(
            conn, actor, action_type=CUSTOMERS_IMPORT_CSV, params={"header": header}
        )
        total = 0
        while True:
            chunk = await asyncio.to_thread(list, itertools.islice(rows, _CSV_CHUNK_ROWS))
            if not chunk:
                break
            # No cell needs check_text: read_rows refuses NUL characters, and strict UTF-8
            # decoding never yields lone surrogates.
            await async_actions.add_rows(
                conn, actor.project_id, action_id, list(enumerate(chunk, start=total))
            )
            total += len(chunk)
    except CsvFileError as exc:
        raise InvalidPayload(str(exc)) from None
    await async_actions.seal(conn, actor.project_id, action_id, total)
    return action_id
