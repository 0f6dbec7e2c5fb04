"""Work on many vouchers at once, carried out by async actions: imports of codes (JSON or CSV)
and metadata updates. INCENTIVES.md §1.1; the results' shapes are the spec's
`17_res_obj_get_async_action_result_vouchers_import[_csv]`,
`AsyncActionResultVouchersBulkUpdateResponseBody` and
`AsyncActionResultVouchersMetadataUpdateResponseBody` (`async_actions.schemas.render_result`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from patron.activities.service import Actor, EventSource
from patron.async_actions import service as async_actions
from patron.async_actions.schemas import (
    VOUCHERS_BULK_UPDATE,
    VOUCHERS_IMPORT,
    VOUCHERS_IMPORT_CSV,
    VOUCHERS_METADATA_UPDATE,
)
from patron.async_actions.service import Action, BatchOutcome, Handler
from patron.campaigns.service import DuplicateKey
from patron.db.pool import Connection
from patron.errors import APIError
from patron.kit import fields
from patron.kit.validation import check_metadata, check_text, convert
from patron.vouchers import bulk_repository
from patron.vouchers import service as vouchers
from patron.vouchers.imports import with_dates_read
from patron.vouchers.schemas import InvalidVoucher, VoucherCreate, check_voucher_fields

# Voucherify takes up to 100,000 codes in one import (and 10 MB, the body limit).
MAX_IMPORT_VOUCHERS = 100_000

Code = Annotated[str, fields.text(max_length=200, min_length=1)]
Metadata = Annotated[dict[str, Any], fields.metadata("Merged into the voucher's metadata.")]


class VoucherMetadataChange(msgspec.Struct, forbid_unknown_fields=True):
    """One element of `POST /v1/vouchers/bulk/async`."""

    code: Code
    metadata: Metadata


class VouchersMetadataChange(msgspec.Struct, forbid_unknown_fields=True):
    """Body of `POST /v1/vouchers/metadata/async`."""

    codes: list[Code]
    metadata: Metadata


def _actor(action: Action) -> Actor:
    return Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )


def _reason(error: Exception) -> str:
    """Why an item failed, in the words of the 400 a single request would have had."""
    if isinstance(error, APIError):
        return error.details or error.message
    text = str(error)
    message, sep, location = text.rpartition(" - at `")
    if sep:
        path = location.rstrip("`")
        return f"Property {path[1:] if path.startswith('$') else path} is invalid: {message}"
    return text


# --- imports -------------------------------------------------------------------------------


async def import_vouchers(
    conn: Connection,
    actor: Actor,
    *,
    items: Sequence[Any],
    rows: Sequence[int] | None = None,
) -> str:
    """Queue an import of vouchers with given codes: standalone, or into the campaign an item
    names (`campaign` or `campaign_id`). `rows`, for a CSV file, are the items' row numbers
    (`VOUCHERS.IMPORT_CSV`); without them the action is `VOUCHERS.IMPORT`. Returns the async
    action's id; a taken code or a bad item is reported in its result (`failed`).

    Raises InvalidVoucher (400 `invalid_voucher`) for an item without a code and DuplicateKey
    (400 `duplicate_key`) for a code given twice.
    """
    seen: set[str] = set()
    for position, item in enumerate(items):
        where = f"Row {rows[position]}" if rows is not None else f"Voucher {position + 1}"
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not code:
            raise InvalidVoucher(f"{where} has no code")
        if code in seen:
            raise DuplicateKey(f"Code {code} is repeated in the request")
        seen.add(code)
    if rows is None:
        return await async_actions.enqueue(
            conn, actor, action_type=VOUCHERS_IMPORT, rows=list(items)
        )
    records = [{"row": row, "voucher": item} for row, item in zip(rows, items, strict=True)]
    return await async_actions.enqueue(conn, actor, action_type=VOUCHERS_IMPORT_CSV, rows=records)


async def apply_import(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`VOUCHERS.IMPORT[_CSV]`: each item becomes a voucher (`vouchers.service.create`, in a
    savepoint of its own); a failure is `{code, reason}`, with the CSV `row`."""
    actor = _actor(action)
    outcome = BatchOutcome()
    from_csv = action.type == VOUCHERS_IMPORT_CSV
    for _, data in rows:
        item = data["voucher"] if from_csv else data
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            body = convert(with_dates_read(item), VoucherCreate)
            check_voucher_fields(body)
            await vouchers.create(conn, actor, body=body, code=None)
        except (msgspec.ValidationError, APIError) as exc:
            await savepoint.rollback()
            failure: dict[str, Any] = {"code": item.get("code") if isinstance(item, dict) else None}
            if from_csv:
                failure["row"] = data["row"]
            failure["reason"] = _reason(exc)
            outcome.errors.append(failure)
            continue
        await savepoint.commit()
        outcome.done += 1
    return outcome


# --- metadata updates ----------------------------------------------------------------------


async def update_in_bulk(
    conn: Connection, actor: Actor, *, changes: Sequence[VoucherMetadataChange]
) -> str:
    """Queue `VOUCHERS.BULK_UPDATE`: each change's metadata merged into its code's voucher.
    Returns the async action's id; unknown codes are reported in its result. Raises
    InvalidPayload for text or metadata Patron cannot store."""
    for index, change in enumerate(changes):
        check_text(change.code, f"[{index}].code")
        check_metadata(change.metadata, f"[{index}].metadata")
    return await async_actions.enqueue(
        conn,
        actor,
        action_type=VOUCHERS_BULK_UPDATE,
        rows=[{"code": change.code, "metadata": change.metadata} for change in changes],
    )


async def update_metadata_in_bulk(
    conn: Connection, actor: Actor, *, body: VouchersMetadataChange
) -> str:
    """Queue `VOUCHERS.METADATA_UPDATE`: `metadata` merged into the voucher of each code.
    Returns the async action's id; unknown codes are reported in its result. Raises
    InvalidPayload for text or metadata Patron cannot store."""
    for index, code in enumerate(body.codes):
        check_text(code, f".codes[{index}]")
    check_metadata(body.metadata)
    return await async_actions.enqueue(
        conn,
        actor,
        action_type=VOUCHERS_METADATA_UPDATE,
        rows=body.codes,
        params={"metadata": body.metadata},
    )


def _not_found(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "key": "not_found",
        "message": "Resource not found",
        "details": f"Cannot find voucher with id {code}",
    }


async def _merge(
    conn: Connection, action: Action, changes: Sequence[tuple[str, dict[str, Any]]]
) -> BatchOutcome:
    """Merge each (code, metadata) in order (a code given twice gets both, the later winning),
    in one statement; each change of a code not found is an error."""
    combined: dict[str, dict[str, Any]] = {}
    for code, metadata in changes:
        combined[code] = {**combined.get(code, {}), **metadata}
    found = await bulk_repository.merge_metadata(conn, action.project_id, combined)
    outcome = BatchOutcome()
    for code, _ in changes:
        if code in found:
            outcome.done += 1
        else:
            outcome.errors.append(_not_found(code))
    return outcome


async def apply_bulk_update(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`VOUCHERS.BULK_UPDATE`: rows `{code, metadata}`; errors `{code, key, message, details}`."""
    return await _merge(conn, action, [(data["code"], data["metadata"]) for _, data in rows])


async def apply_metadata_update(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`VOUCHERS.METADATA_UPDATE`: rows are codes, the metadata is the action's; errors as
    `VOUCHERS.BULK_UPDATE`'s (the spec's `{message, details, key}`, and the `code`)."""
    metadata = action.params["metadata"]
    return await _merge(conn, action, [(code, metadata) for _, code in rows])


HANDLERS: dict[str, Handler] = {
    VOUCHERS_IMPORT: apply_import,
    VOUCHERS_IMPORT_CSV: apply_import,
    VOUCHERS_BULK_UPDATE: apply_bulk_update,
    VOUCHERS_METADATA_UPDATE: apply_metadata_update,
}
# Imports create one voucher per savepoint: smaller batches let progress move.
BATCH_SIZES = {VOUCHERS_IMPORT: 500, VOUCHERS_IMPORT_CSV: 500}
