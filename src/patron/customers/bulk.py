"""Bulk customer work carried out by async actions: upserts by source_id, a batch at a time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Annotated, Any

import msgspec

from patron.activities import service as activities
from patron.activities.service import Actor, EventSource
from patron.async_actions import service as async_actions
from patron.async_actions.schemas import (
    CUSTOMERS_BULK_UPDATE,
    CUSTOMERS_IMPORT_CSV,
    CUSTOMERS_METADATA_UPDATE,
)
from patron.async_actions.service import (
    ROWS_PER_RECORD,
    Action,
    BatchOutcome,
    Handler,
    PreparedHandler,
)
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
    render_customer_fields,
)
from patron.db.pool import Connection
from patron.errors import APIError, InvalidPayload
from patron.kit import fields, ids, json
from patron.kit.time import render_datetime
from patron.kit.validation import check_json_value, check_metadata, check_text
from patron.segments import service as segments

_MILLISECOND = timedelta(milliseconds=1)


class BulkCustomer(CustomerFields, kw_only=True):
    """One element of `POST /v1/customers/bulk/async`."""

    source_id: SourceId


# Prepared batches wait in memory for their transaction. Holding them in objects the garbage
# collector does not track (structs without GC, dicts and tuples of plain values, JSON as
# msgspec.Raw) spares the worker's process full collections that took ~10% of an import.
_JSON_COLUMNS = ("address", "metadata")


class Change(msgspec.Struct, gc=False):
    """What input rows ask of the customer with one source_id."""

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

    def thawed(self) -> dict[str, Any]:
        """The columns it sets, as Python values."""
        return {
            column: json.decode(value) if isinstance(value, msgspec.Raw) else value
            for column, value in self.values.items()
        }


@dataclass(slots=True)
class Batch:
    """A batch of input rows made ready to apply: one change per source_id, and the errors of
    the rows that failed. Prepared in a thread, ahead of the batch's transaction."""

    changes: list[Change]
    done: int
    errors: list[dict[str, Any]]
    merge_metadata: bool = False


def _actor(action: Action) -> Actor:
    return Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )


# Stands for the created_at of a new customer's snapshot until it is known (it cannot occur in
# stored text, which holds no NUL characters).
_CREATED_AT_MARK = "\x00created_at"


def _new_customer_constant() -> dict[str, Any]:
    """What every new customer's snapshot holds after the fields clients set (from
    render_customer, in its order), with created_at marked."""
    row: dict[str, Any] = {column: None for column in MUTABLE_COLUMNS} | {
        "id": "",
        "source_id": None,
        "metadata": {},
        "system_metadata": {},
        "created_at": datetime(2000, 1, 1, tzinfo=UTC),
        "updated_at": None,
    }
    fields = render_customer_fields(row)
    return {
        key: _CREATED_AT_MARK if key == "created_at" else value
        for key, value in render_customer(row).items()
        if key not in fields
    }


_NEW_CUSTOMER = _new_customer_constant()
_CREATED_AT_JSON = json.encode(_CREATED_AT_MARK)


def _prepare_creation(change: Change, customer_id: str) -> None:
    new = {column: change.values.get(column) for column in MUTABLE_COLUMNS}
    new["metadata"] = new["metadata"] or {}
    fields = render_customer_fields(new | {"id": customer_id, "source_id": change.source_id})
    data = json.encode({"customer": fields | _NEW_CUSTOMER})
    change.new_id = customer_id
    change.created_head, change.created_tail = data.split(_CREATED_AT_JSON)
    # Built anew rather than changed in place: a dict or tuple holding only plain values and
    # msgspec.Raw is one the garbage collector does not track.
    frozen = {
        column: msgspec.Raw(json.encode(value))
        for column in _JSON_COLUMNS
        if (value := new[column]) is not None
    }
    change.new_values = tuple(frozen.get(column, value) for column, value in new.items())
    change.values = {column: frozen.get(column, value) for column, value in change.values.items()}


def _batch(
    changes: Iterable[Change], errors: list[dict[str, Any]], *, merge_metadata: bool = False
) -> Batch:
    """One change per source_id, later rows winning (so that one statement can apply them),
    each prepared as it comes in case it creates its customer."""
    combined: dict[str, Change] = {}
    new_ids = _customer_ids()
    done = 0
    for change in changes:
        done += 1
        previous = combined.get(change.source_id)
        if previous is None:
            _prepare_creation(change, next(new_ids))
            combined[change.source_id] = change
            continue
        values = previous.thawed()
        later = change.values
        if merge_metadata and "metadata" in later and "metadata" in values:
            later = {**later, "metadata": {**values["metadata"], **later["metadata"]}}
        previous.values = values | later
        _prepare_creation(previous, previous.new_id)
    return Batch(list(combined.values()), done, errors, merge_metadata)


def _customer_ids() -> Iterator[str]:
    while True:
        yield from ids.customer_ids(256)


async def merge(
    conn: Connection, actor: Actor, changes: Sequence[Change], *, merge_metadata: bool = False
) -> None:
    """Upsert customers by source_id (one change each, prepared by `_batch`): update the fields
    each change sets, create the missing.

    Customers that end up unchanged are not written and get no activity, as in the API.
    """
    project_id = actor.project_id
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
        values = change.thawed()
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
    created = await _insert_missing(conn, project_id, missing)
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
    await segments.refresh_customers(
        conn, actor, [id_ for id_, _ in updated] + [change.new_id for change in missing]
    )


async def _insert_missing(
    conn: Connection, project_id: str, missing: Sequence[Change]
) -> list[tuple[str, bytes]]:
    """Create customers for these changes (the caller holds the project row, so none of these
    source_ids can have become live since it looked); their customer.created data."""
    if not missing:
        return []
    first = await repository.reserve_created_at(conn, project_id, len(missing))
    new = []
    created: list[tuple[str, bytes]] = []
    for change, (created_at, moment) in zip(
        missing, _consecutive_moments(first, len(missing)), strict=True
    ):
        new.append((change.new_id, change.source_id, created_at, change.new_values))
        created.append((change.new_id, change.created_head + moment + change.created_tail))
    await repository.copy_new(conn, project_id, new)
    return created


def _consecutive_moments(first: datetime, count: int) -> Iterator[tuple[datetime, bytes]]:
    """`count` consecutive milliseconds from `first`, each with its JSON as render_datetime
    writes it (the date and time are rendered once per second, not once per customer)."""
    whole = first.replace(microsecond=0)
    start = first.microsecond // 1000
    second = -1
    prefix = b""
    for offset in range(count):
        seconds, millisecond = divmod(start + offset, 1000)
        if seconds != second:
            second = seconds
            # "YYYY-MM-DDTHH:MM:SS." of render_datetime's "YYYY-MM-DDTHH:MM:SS.mmmZ"
            prefix = b'"' + render_datetime(whole + timedelta(seconds=seconds))[:20].encode()
        yield first + offset * _MILLISECOND, b'%s%03dZ"' % (prefix, millisecond)


async def apply_batch(conn: Connection, action: Action, batch: Batch) -> BatchOutcome:
    """Write a prepared batch in the caller's transaction."""
    await merge(conn, _actor(action), batch.changes, merge_metadata=batch.merge_metadata)
    return BatchOutcome(done=batch.done, errors=batch.errors)


def _validation_message(error: Exception) -> str:
    if isinstance(error, APIError):
        return error.details or error.message
    text = str(error)
    message, sep, location = text.rpartition(" - at `")
    if sep:
        path = location.rstrip("`")
        return f"Property {path[1:] if path.startswith('$') else path} is invalid: {message}"
    return text


def prepare_bulk_update(action: Action, rows: Iterable[tuple[int, Any]]) -> Batch:
    """`CUSTOMERS.BULK_UPDATE`: each row is a customer with its source_id."""
    errors: list[dict[str, Any]] = []

    def changes() -> Iterator[Change]:
        for number, data in rows:
            source_id = data.get("source_id") if isinstance(data, dict) else None
            try:
                customer = msgspec.convert(data, BulkCustomer)
                check_fields(customer)
            except (msgspec.ValidationError, APIError) as exc:
                errors.append(
                    {
                        "message": "Invalid customer",
                        "details": _validation_message(exc),
                        "key": "invalid_customer",
                        "source_id": source_id if isinstance(source_id, str) else None,
                        "row": number + 1,
                    }
                )
                continue
            yield Change(number, customer.source_id, column_values(customer))

    return _batch(changes(), errors)


def prepare_metadata_update(action: Action, rows: Iterable[tuple[int, Any]]) -> Batch:
    """`CUSTOMERS.METADATA_UPDATE`: merge the action's metadata into each source_id's customer."""
    metadata = action.params["metadata"]
    changes = (Change(number, source_id, {"metadata": metadata}) for number, source_id in rows)
    return _batch(changes, [], merge_metadata=True)


def _csv_rows(action: Action, records: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """The rows of stored records (several rows each, numbered by the last; see
    ROWS_PER_RECORD), or the rows themselves for imports queued one row per record."""
    if ROWS_PER_RECORD not in action.params:
        yield from records
        return
    for last, rows in records:
        yield from enumerate(rows, start=last - len(rows) + 1)


def prepare_csv_import(action: Action, records: Iterable[tuple[int, Any]]) -> Batch:
    """`CUSTOMERS.IMPORT_CSV`: each row's cells replace the customer's fields and metadata."""
    layout = CsvLayout.from_header(action.params["header"])
    errors: list[dict[str, Any]] = []

    def changes() -> Iterator[Change]:
        for number, cells in _csv_rows(action, records):
            try:
                source_id, values = layout.values_of(cells)
            except ValueError as exc:
                errors.append(
                    {"source_id": layout.source_id_of(cells), "row": number + 1, "reason": str(exc)}
                )
                continue
            yield Change(number, source_id, values)

    return _batch(changes(), errors)


apply_bulk_update = PreparedHandler(prepare_bulk_update, apply_batch)
apply_metadata_update = PreparedHandler(prepare_metadata_update, apply_batch)
apply_csv_import = PreparedHandler(prepare_csv_import, apply_batch)

CUSTOMER_HANDLERS: dict[str, Handler] = {
    CUSTOMERS_BULK_UPDATE: apply_bulk_update,
    CUSTOMERS_METADATA_UPDATE: apply_metadata_update,
    CUSTOMERS_IMPORT_CSV: apply_csv_import,
}


# --- queueing ----------------------------------------------------------------------------------


class MetadataBulk(msgspec.Struct):
    """Body of `POST /v1/customers/metadata/async`."""

    source_ids: list[SourceId]
    metadata: Annotated[dict[str, Any], fields.metadata("Merged into each customer's metadata.")]


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
# Rows stored per record: a few large records are much cheaper to store, read and delete than
# one per row.
_CSV_ROWS_PER_RECORD = 100


def _csv_records(rows: Iterator[list[str]], first: int) -> list[tuple[int, list[list[str]]]]:
    """The next chunk of rows, numbered from `first`, as records of _CSV_ROWS_PER_RECORD rows
    each numbered by its last row (see ROWS_PER_RECORD); empty at the end of the file."""
    chunk = list(itertools.islice(rows, _CSV_CHUNK_ROWS))
    records = []
    for start in range(0, len(chunk), _CSV_ROWS_PER_RECORD):
        group = chunk[start : start + _CSV_ROWS_PER_RECORD]
        records.append((first + start + len(group) - 1, group))
    return records


async def enqueue_csv_import(conn: Connection, actor: Actor, file: IO[bytes]) -> str:
    """Check a CSV file's layout and store its rows for an import; a bad file is a 400.

    The file is parsed in a thread, a chunk at a time (the next one while the last is COPYed),
    into the action's input records, so neither memory nor the event loop carries the file.
    """
    parsing: asyncio.Future[list[tuple[int, list[list[str]]]]] | None = None
    try:
        header, rows = await asyncio.to_thread(read_rows, file)
        CsvLayout.from_header(header)
        action_id = await async_actions.start(
            conn,
            actor,
            action_type=CUSTOMERS_IMPORT_CSV,
            params={"header": header, ROWS_PER_RECORD: _CSV_ROWS_PER_RECORD},
        )
        total = 0
        records = await asyncio.to_thread(_csv_records, rows, total)
        while records:
            last = records[-1][0]
            parsing = asyncio.ensure_future(asyncio.to_thread(_csv_records, rows, last + 1))
            # No cell needs check_text: read_rows refuses NUL characters, and strict UTF-8
            # decoding never yields lone surrogates.
            await async_actions.add_rows(conn, actor.project_id, action_id, records)
            total = last + 1
            records = await parsing
            parsing = None
    except CsvFileError as exc:
        raise InvalidPayload(str(exc)) from None
    finally:
        if parsing is not None:
            # The COPY failed: the chunk being parsed is not needed (nor its error, if any).
            parsing.cancel()
    await async_actions.seal(conn, actor.project_id, action_id, total)
    return action_id
