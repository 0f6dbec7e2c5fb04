"""Exports: creating, reading and deleting them, and their CSV, streamed from PostgreSQL.

**No file.** Patron keeps what to export (object, fields, filters, order), never a file: the
download reads the rows when it is made, through a server-side cursor in one REPEATABLE READ
read-only transaction, a batch at a time, and writes each batch to the response as CSV. The
file starts arriving at once and the server's memory does not grow with the number of rows.
The CSV is the data as of the download, not as of the export's creation.

**Status.** There is nothing to prepare in the background, so an export is ready (`DONE`, with
its `result.url`) as soon as its creation commits; no async action is queued. The create
response shows it as Voucherify's does, `SCHEDULED` with `result: null` (the spec's
`ExportScheduledBase`, which the Python SDK's model enforces). `IN_PROGRESS` and `ERROR` are
never shown.

**Token.** The download URL (`result.url`, `GET /v1/exports/{id}?token=…`) works without the
app's credentials, as Voucherify's download host does; the token is its credential. It is
`base64url(HMAC-SHA256(project asset_key, "export" NUL project_id NUL export_id))`, so GET can
show the URL again without storing the token; the row stores only its SHA-256, which the
download compares in constant time. A deleted export's row is gone, and its URL with it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from patron.activities.service import Actor
from patron.db.pool import Connection
from patron.errors import InvalidExportFields, InvalidPayload, NotFound, Unauthorized
from patron.exports import repository
from patron.exports.schemas import (
    CUSTOMER,
    DEFAULT_FIELDS,
    DEFAULT_ORDER,
    EXPORTED_OBJECTS,
    FIELDS,
    METADATA,
    METADATA_PREFIX,
    ORDERS,
    ExportParameters,
    render_export,
)
from patron.kit import ids
from patron.segments import filters
from patron.segments.repository import Predicate

# Rows per FETCH from the cursor, and so per chunk of the response.
BATCH_SIZE = 2000

# The order export's filter paths (the spec's `ExportOrderFilters`, and the order's ids).
ORDER_FILTER_FIELDS: dict[str, filters.Kind] = {
    "id": "text",
    "source_id": "text",
    "status": "text",
    "customer_id": "text",
    "referrer_id": "text",
    "created_at": "datetime",
    "updated_at": "datetime",
    "amount": "number",
    "discount_amount": "number",
    "items_discount_amount": "number",
    "total_discount_amount": "number",
    "total_amount": "number",
}


def not_found(export_id: str) -> NotFound:
    return NotFound(
        f"Cannot find export with id {export_id}", resource_id=export_id, resource_type="export"
    )


def download_token(asset_key: bytes, project_id: str, export_id: str) -> str:
    """The download token of an export (see the module's docstring)."""
    signed = b"export\x00" + project_id.encode() + b"\x00" + export_id.encode()
    mac = hmac.new(asset_key, signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def download_url(base_url: str, asset_key: bytes, project_id: str, export_id: str) -> str:
    """`result.url`: the download on this server (`base_url`, no trailing slash)."""
    token = download_token(asset_key, project_id, export_id)
    return f"{base_url}/v1/exports/{export_id}?token={token}"


# --- checking what to export -------------------------------------------------------------------


def _check_fields(exported_object: str, fields: Sequence[str]) -> list[str]:
    allowed = FIELDS[exported_object]
    seen: set[str] = set()
    for field in fields:
        is_key = field.startswith(METADATA_PREFIX) and len(field) > len(METADATA_PREFIX)
        if field not in allowed and not is_key:
            raise InvalidExportFields(
                f"Unsupported field used: {field!r}. Allowed fields: {', '.join(allowed)},"
                " metadata.<key>"
            )
        if field in seen:
            raise InvalidPayload(f"Field {field!r} is given more than once")
        seen.add(field)
    return list(fields)


# The spec's `ExportCustomerFilters` name the city `city`; segments say `address.city`.
_CUSTOMER_ALIASES = {"city": "address.city"}


def _aliased(group: Any) -> Any:
    """A filter group with `city` read as `address.city`, in nested groups too."""
    if not isinstance(group, dict):
        return group
    renamed: dict[str, Any] = {}
    for key, value in group.items():
        name: str = _CUSTOMER_ALIASES.get(key) or key
        if name in renamed:
            raise InvalidPayload(f"Filter {name!r} is given twice (as {key!r})")
        is_group = isinstance(value, dict) and "junction" in value and "conditions" not in value
        renamed[name] = _aliased(value) if is_group else value
    return renamed


def _parse_filter(exported_object: str, raw: Any, now: datetime) -> filters.Filter:
    if exported_object == CUSTOMER:
        return filters.parse(_aliased(raw), now=now)
    return filters.parse(raw, now=now, fields=ORDER_FILTER_FIELDS)


def _condition(exported_object: str, raw: dict[str, Any], now: datetime) -> Predicate | None:
    if not any(key != "junction" for key in raw):
        return None
    parsed = _parse_filter(exported_object, raw, now)
    columns = None if exported_object == CUSTOMER else repository.ORDER_FILTER_SQL
    return Predicate(parsed.test, columns)


def checked_parameters(exported_object: str, parameters: ExportParameters) -> dict[str, Any]:
    """The parameters to store, checked: `{order, fields, filters}` (and `response_format`
    when sent), with the spec's defaults for what was left out.

    Raises InvalidPayload for an unknown object, order or filter (naming it), and
    InvalidExportFields for a field the object has not. Source: `ExportsCreateRequestBody`.
    """
    if exported_object not in EXPORTED_OBJECTS:
        raise InvalidPayload(
            "Property .exported_object should be equal to one of the allowed values"
            f" [ {', '.join(EXPORTED_OBJECTS)} ]"
        )
    order = parameters.order if isinstance(parameters.order, str) else DEFAULT_ORDER
    if order not in ORDERS[exported_object]:
        raise InvalidPayload(
            f"Property .parameters.order {order!r} is not one of"
            f" [ {', '.join(ORDERS[exported_object])} ]"
        )
    fields = (
        _check_fields(exported_object, parameters.fields)
        if isinstance(parameters.fields, list)
        else list(DEFAULT_FIELDS[exported_object])
    )
    raw_filters = parameters.filters if isinstance(parameters.filters, dict) else {}
    _parse_filter(exported_object, raw_filters, datetime.now(UTC))
    stored: dict[str, Any] = {
        "order": order,
        "fields": fields,
        "filters": {"junction": "and", **raw_filters},
    }
    if parameters.response_format is not msgspec.UNSET:
        stored["response_format"] = parameters.response_format
    return stored


# --- the export object -------------------------------------------------------------------------


async def create(
    conn: Connection,
    actor: Actor,
    *,
    exported_object: str,
    parameters: ExportParameters,
    asset_key: bytes,
) -> dict[str, Any]:
    """Create an export (ready at once, see the module's docstring); returns the export
    object as the create response shows it: `status: SCHEDULED`, `result: null`.

    Raises InvalidPayload / InvalidExportFields (`checked_parameters`). Source: POST
    /v1/exports, POST /v1/orders/export.
    """
    stored = checked_parameters(exported_object, parameters)
    export_id = ids.export_id()
    token = download_token(asset_key, actor.project_id, export_id)
    row = await repository.insert(
        conn,
        actor.project_id,
        export_id=export_id,
        exported_object=exported_object,
        parameters=stored,
        status="DONE",
        channel=actor.source.channel,
        token_hash=_token_hash(token),
        created_at=datetime.now(UTC),
    )
    return render_export(row, url=None, status="SCHEDULED")


def _render(row: Any, base_url: str, asset_key: bytes) -> dict[str, Any]:
    url = (
        download_url(base_url, asset_key, row["project_id"], row["id"])
        if row["status"] == "DONE"
        else None
    )
    return render_export(row, url=url)


async def get(
    conn: Connection, project_id: str, export_id: str, *, base_url: str, asset_key: bytes
) -> dict[str, Any]:
    """The export object with its `result.url`; NotFound for another project's or none."""
    row = await repository.find(conn, project_id, export_id)
    if row is None:
        raise not_found(export_id)
    return _render(row, base_url, asset_key)


async def list_exports(
    conn: Connection,
    project_id: str,
    *,
    limit: int,
    page: int,
    order: str,
    base_url: str,
    asset_key: bytes,
) -> dict[str, Any]:
    """A page of the project's exports: `{object: "list", data_ref: "exports", exports,
    total}`."""
    rows = await repository.list_page(
        conn, project_id, order=order, limit=limit, offset=(page - 1) * limit
    )
    return {
        "object": "list",
        "data_ref": "exports",
        "exports": [_render(row, base_url, asset_key) for row in rows],
        "total": await repository.count(conn, project_id),
    }


async def delete(conn: Connection, project_id: str, export_id: str) -> None:
    """Delete an export; its download URL stops working. NotFound when there is none."""
    if not await repository.delete(conn, project_id, export_id):
        raise not_found(export_id)


# --- the download ------------------------------------------------------------------------------


async def downloadable(conn: Connection, export_id: str, token: str) -> Any:
    """The export row the token opens. Raises Unauthorized alike for an unknown or deleted
    export and for a wrong token, so the answer tells nothing about which ids exist."""
    row = await repository.find_by_id(conn, export_id)
    given = _token_hash(token)
    stored: bytes = row["token_hash"] if row is not None else hashlib.sha256(b"").digest()
    if not hmac.compare_digest(given, stored) or row is None or row["status"] != "DONE":
        raise Unauthorized()
    return row


class _Lines:
    """A file-like target for `csv.writer` whose text is taken out after each batch."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode()


# Seconds a download's transaction may wait for its client between two batches.
IDLE_SECONDS = 60


async def csv_chunks(
    conn: Connection, row: Any, *, batch_size: int = BATCH_SIZE
) -> AsyncIterator[bytes]:
    """The export's CSV, in UTF-8: a header of the field names (`metadata` expanded into
    `metadata.<key>` for each key of the exported rows, sorted), then one line per row, a chunk
    per batch of `batch_size` rows. Runs in `conn`'s REPEATABLE READ read-only transaction.

    Filters are read again now, so relative dates count from the download.
    """
    exported_object: str = row["exported_object"]
    project_id: str = row["project_id"]
    parameters = row["parameters"]
    # A client that stops reading for this long ends its download (PostgreSQL closes the
    # session), so a stalled one holds neither a connection nor a snapshot for long.
    await repository.end_if_idle(conn, IDLE_SECONDS)
    condition = _condition(exported_object, parameters["filters"], datetime.now(UTC))
    fields: list[str] = parameters["fields"]
    columns = [
        field for field in fields if field != METADATA and not field.startswith(METADATA_PREFIX)
    ]
    expanded: list[str] = []
    if METADATA in fields:
        expanded = await repository.metadata_keys(conn, project_id, exported_object, condition)
    # Columns in the order asked for; `metadata` in its place, as its keys.
    header: list[str] = []
    keys: list[str] = []
    for field in fields:
        if field == METADATA:
            header.extend(f"{METADATA_PREFIX}{key}" for key in expanded)
            keys.extend(expanded)
        elif field.startswith(METADATA_PREFIX):
            header.append(field)
            keys.append(field[len(METADATA_PREFIX) :])
        else:
            header.append(field)
    # The SELECT lists plain columns first, then metadata keys: map them to the header's order.
    positions: list[int] = []
    plain, meta = 0, len(columns)
    for field in fields:
        if field == METADATA:
            positions.extend(range(meta, meta + len(expanded)))
            meta += len(expanded)
        elif field.startswith(METADATA_PREFIX):
            positions.append(meta)
            meta += 1
        else:
            positions.append(plain)
            plain += 1
    in_order = positions == list(range(len(positions)))
    lines = _Lines()
    writer = csv.writer(lines.buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield lines.take()
    async for batch in repository.export_batches(
        conn,
        project_id,
        exported_object,
        columns=columns,
        metadata_keys=keys,
        condition=condition,
        order=parameters["order"],
        batch_size=batch_size,
    ):
        if in_order:
            writer.writerows(batch)
        else:
            writer.writerows([record[i] for i in positions] for record in batch)
        yield lines.take()
