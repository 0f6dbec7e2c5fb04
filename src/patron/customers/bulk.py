"""Bulk customer work carried out by async actions: upserts by source_id (and, from CSV files,
updates by id), a batch at a time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Annotated, Any

import msgspec

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
from patron.customers.csv_import import CsvFileError, CsvLayout, MetadataTyping, read_rows
from patron.customers.schemas import (
    MUTABLE_COLUMNS,
    CustomerFields,
    SourceId,
    check_fields,
    check_indexed,
    column_values,
    new_customer_row,
    render_customer,
    render_customer_fields,
)
from patron.db.pool import Connection
from patron.errors import APIError, InvalidPayload
from patron.kit import fields, ids, json
from patron.kit.validation import check_json_value, check_metadata, check_text
from patron.writes import bulk as bulk_writes
from patron.writes.bulk import Change
from patron.writes.repository import CREATED_AT_MARK


class BulkCustomer(CustomerFields, kw_only=True):
    """One element of `POST /v1/customers/bulk/async`."""

    source_id: SourceId


# Prepared batches wait in memory for their transaction. Holding them in objects the garbage
# collector does not track (structs without GC, dicts and tuples of plain values, JSON as
# msgspec.Raw) spares the worker's process full collections that took ~10% of an import.
_JSON_COLUMNS = ("address", "metadata")


@dataclass(slots=True)
class Batch:
    """A batch of input rows made ready to apply: one change per source_id or id, and the
    errors of the rows that failed. Prepared in a thread, ahead of the batch's transaction."""

    changes: list[Change]
    done: int
    errors: list[dict[str, Any]]
    merge_metadata: bool = False
    # The rows (number, Source_id cell) of each change by id, for reporting an unknown id.
    id_rows: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)


def _actor(action: Action) -> Actor:
    return Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )


def _new_customer_constant() -> dict[str, Any]:
    """What every new customer's snapshot holds after the fields clients set (from
    render_customer, in its order), with created_at marked (CREATED_AT_MARK)."""
    row = new_customer_row("", None, {}, datetime(2000, 1, 1, tzinfo=UTC))
    fields = render_customer_fields(row)
    return {
        key: CREATED_AT_MARK if key == "created_at" else value
        for key, value in render_customer(row).items()
        if key not in fields
    }


_NEW_CUSTOMER = _new_customer_constant()
_CREATED_AT_JSON = json.encode(CREATED_AT_MARK)


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
    changes: Iterable[Change],
    errors: list[dict[str, Any]],
    *,
    merge_metadata: bool = False,
    id_rows: dict[str, list[tuple[int, str | None]]] | None = None,
) -> Batch:
    """One change per source_id or id, later rows winning (so that one statement can apply
    them), each by source_id prepared as it comes in case it creates its customer."""
    combined: dict[tuple[str, str], Change] = {}
    new_ids = _customer_ids()
    done = 0
    for change in changes:
        done += 1
        key = ("id", change.customer_id) if change.customer_id else ("", change.source_id)
        previous = combined.get(key)
        if previous is None:
            if not change.customer_id:
                _prepare_creation(change, next(new_ids))
            combined[key] = change
            continue
        values = previous.thawed()
        later = change.values
        if merge_metadata and "metadata" in later and "metadata" in values:
            later = {**later, "metadata": {**values["metadata"], **later["metadata"]}}
        previous.values = values | later
        previous.row = change.row
        if not previous.customer_id:
            _prepare_creation(previous, previous.new_id)
    return Batch(list(combined.values()), done, errors, merge_metadata, id_rows or {})


def _customer_ids() -> Iterator[str]:
    while True:
        yield from ids.customer_ids(256)


async def apply_batch(conn: Connection, action: Action, batch: Batch) -> BatchOutcome:
    """Write a prepared batch in the caller's transaction; a row whose Id names no live
    customer fails (reported in row order among the batch's other failures)."""
    unmatched = await bulk_writes.merge(
        conn, _actor(action), batch.changes, merge_metadata=batch.merge_metadata
    )
    if not unmatched:
        return BatchOutcome(done=batch.done, errors=batch.errors)
    errors = list(batch.errors)
    for change in unmatched:
        for number, source_id in batch.id_rows[change.customer_id]:
            errors.append(
                {
                    "id": change.customer_id,
                    "source_id": source_id,
                    "row": number + 1,
                    "reason": f"Cannot find customer with id {change.customer_id}",
                }
            )
    errors.sort(key=lambda error: int(error["row"]))
    return BatchOutcome(done=batch.done - (len(errors) - len(batch.errors)), errors=errors)


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
    layout = CsvLayout.from_header(
        action.params["header"], metadata_types=action.params.get(METADATA_TYPES)
    )
    errors: list[dict[str, Any]] = []
    id_rows: dict[str, list[tuple[int, str | None]]] = {}

    def changes() -> Iterator[Change]:
        for number, cells in _csv_rows(action, records):
            try:
                customer_id, source_id, values = layout.values_of(cells)
            except ValueError as exc:
                error = {
                    "source_id": layout.source_id_of(cells),
                    "row": number + 1,
                    "reason": str(exc),
                }
                if layout.id_column is not None:
                    error = {"id": layout.id_of(cells), **error}
                errors.append(error)
                continue
            if customer_id is not None:
                id_rows.setdefault(customer_id, []).append((number, layout.source_id_of(cells)))
                yield Change(number, "", values, customer_id=customer_id)
            else:
                assert source_id is not None
                yield Change(number, source_id, values)

    return _batch(changes(), errors, id_rows=id_rows)


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


# In a CSV import's params: each metadata column's type, decided from the whole file at
# enqueue (csv_import.MetadataTyping); imports queued before it typed each cell alone.
METADATA_TYPES = "metadata_types"
_CSV_CHUNK_ROWS = 10_000
# Rows stored per record: a few large records are much cheaper to store, read and delete than
# one per row.
_CSV_ROWS_PER_RECORD = 100


def _csv_records(
    rows: Iterator[list[str]], first: int, typing: MetadataTyping
) -> list[tuple[int, list[list[str]]]]:
    """The next chunk of rows, numbered from `first`, as records of _CSV_ROWS_PER_RECORD rows
    each numbered by its last row (see ROWS_PER_RECORD), shown to `typing`; empty at the end
    of the file."""
    chunk = list(itertools.islice(rows, _CSV_CHUNK_ROWS))
    typing.see(chunk)
    records = []
    for start in range(0, len(chunk), _CSV_ROWS_PER_RECORD):
        group = chunk[start : start + _CSV_ROWS_PER_RECORD]
        records.append((first + start + len(group) - 1, group))
    return records


async def enqueue_csv_import(conn: Connection, actor: Actor, file: IO[bytes]) -> str:
    """Check a CSV file's layout and store its rows for an import; a bad file is a 400.

    The file is parsed in a thread, a chunk at a time (the next one while the last is COPYed),
    into the action's input records, so neither memory nor the event loop carries the file.
    Its metadata columns are typed on the way (`MetadataTyping`), before any row is applied.
    """
    parsing: asyncio.Future[list[tuple[int, list[list[str]]]]] | None = None
    try:
        header, rows = await asyncio.to_thread(read_rows, file)
        typing = MetadataTyping(CsvLayout.from_header(header))
        action_id = await async_actions.start(
            conn,
            actor,
            action_type=CUSTOMERS_IMPORT_CSV,
            params={"header": header, ROWS_PER_RECORD: _CSV_ROWS_PER_RECORD},
        )
        total = 0
        records = await asyncio.to_thread(_csv_records, rows, total, typing)
        while records:
            last = records[-1][0]
            parsing = asyncio.ensure_future(asyncio.to_thread(_csv_records, rows, last + 1, typing))
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
    await async_actions.seal(
        conn, actor.project_id, action_id, total, params={METADATA_TYPES: typing.types()}
    )
    return action_id
