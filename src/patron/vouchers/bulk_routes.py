"""HTTP routes for work on many vouchers at once: imports and metadata updates, each queued as
an async action (INCENTIVES.md §1.1)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.types import ASGIApp
from msgspec import Meta

from patron.async_actions.schemas import ACCEPTED_LINKS, AsyncActionAccepted
from patron.dependencies import actor_of, transaction
from patron.errors import InvalidPayload
from patron.kit import fields
from patron.kit.http import json_response, read_json
from patron.kit.multipart import spool_file_field
from patron.kit.validation import check_json_value
from patron.openapi.operation import FileUpload, operation
from patron.vouchers import bulk
from patron.vouchers.bulk import VoucherMetadataChange, VouchersMetadataChange
from patron.vouchers.imports import csv_items

TAG = "Vouchers"
# Objects with a code: what else an item holds is checked when it is applied, and reported in
# the action's result.
ImportItems = Annotated[
    list[dict[str, Any]],
    Meta(
        description="The vouchers: each an object with a `code`, as POST /v1/vouchers/{code}"
        " takes it (a `campaign` or `campaign_id` puts it in that campaign).",
        extra_json_schema={
            "maxItems": bulk.MAX_IMPORT_VOUCHERS,
            "items": {
                "type": "object",
                "required": ["code"],
                "properties": {
                    "code": {"type": "string", "minLength": 1, "pattern": fields.NO_NUL}
                },
                "additionalProperties": fields.JSON_VALUE_REF,
            },
        },
    ),
]
MetadataChanges = list[VoucherMetadataChange]
CSV_COLUMNS = (
    "A CSV file with a `Code` column and optionally `Voucher Type`, `Value` (cents for a gift"
    " card or an amount; percent; units), `Discount Type`, `Discount Effect`, `Unit Type`,"
    " `Category`, `Active`, `Start Date`, `Expiration Date`, `Redemption Limit`,"
    " `Additional Info`; other columns are metadata."
)


class VoucherBulkRoutes(Controller):
    path = "/v1/vouchers"

    @operation(
        "import-vouchers",
        TAG,
        body=ImportItems,
        body_description="The vouchers, each with its `code`.",
        response=AsyncActionAccepted,
        links=ACCEPTED_LINKS,
        errors=("Refused",),
        description="Queues an import of standalone vouchers (or into the campaign an item"
        " names by `campaign` or `campaign_id`): `VOUCHERS.IMPORT`. A taken code or a bad item"
        " is reported in the async action's `result.failed` (`{code, reason}`). An item without"
        " a code is a 400 `invalid_voucher`, a code given twice a 400 `duplicate_key`. Dates"
        " may be `YYYY-MM-DD` or a date and time (UTC without an offset).",
    )
    @post("/import", status_code=202)
    async def import_vouchers(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Queue an import of vouchers."""
        actor = actor_of(request)
        items: list[dict[str, Any]] = await read_json(request, ImportItems)
        if len(items) > bulk.MAX_IMPORT_VOUCHERS:
            raise InvalidPayload(f"At most {bulk.MAX_IMPORT_VOUCHERS} vouchers at once")
        check_json_value(items, "")
        async with transaction(request) as conn:
            action_id = await bulk.import_vouchers(conn, actor, items=items)
        return json_response({"async_action_id": action_id}, 202)

    @operation(
        "import-vouchers-using-csv",
        TAG,
        body=FileUpload("file", "text/csv", CSV_COLUMNS),
        response=AsyncActionAccepted,
        links=ACCEPTED_LINKS,
        errors=("Refused",),
        description="Queues an import of standalone vouchers from the CSV file in the multipart"
        " field `file`: `VOUCHERS.IMPORT_CSV`. A taken code or a bad row is reported in the"
        " async action's `result.failed` (`{code, row, reason}`; row 1 follows the header). A"
        " file that is not UTF-8 CSV with a `Code` column, a row without a code or a code given"
        " twice is a 400.",
    )
    @post("/importCSV", status_code=202)
    async def import_vouchers_using_csv(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Queue an import of vouchers from a CSV file (multipart field `file`)."""
        actor = actor_of(request)
        spooled = await spool_file_field(request, "file")
        with spooled:
            data = spooled.read()
        numbered = await asyncio.to_thread(csv_items, data, max_items=bulk.MAX_IMPORT_VOUCHERS)
        items = [item for _, item in numbered]
        check_json_value(items, "")
        async with transaction(request) as conn:
            action_id = await bulk.import_vouchers(
                conn, actor, items=items, rows=[row for row, _ in numbered]
            )
        return json_response({"async_action_id": action_id}, 202)

    @operation(
        "update-vouchers-in-bulk",
        TAG,
        body=MetadataChanges,
        body_description="The codes, each with the metadata to merge into its voucher.",
        response=AsyncActionAccepted,
        links=ACCEPTED_LINKS,
        description="Queues `VOUCHERS.BULK_UPDATE`: each element's `metadata` is merged into"
        " the metadata of the voucher with its `code` (top-level keys replace the stored"
        " ones). An unknown code is reported in the async action's `result.errors`"
        " (`{code, key, message, details}`).",
    )
    @post("/bulk/async", status_code=202)
    async def update_vouchers_in_bulk(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Queue metadata updates of many vouchers, each its own."""
        actor = actor_of(request)
        changes: list[VoucherMetadataChange] = await read_json(request, MetadataChanges)
        async with transaction(request) as conn:
            action_id = await bulk.update_in_bulk(conn, actor, changes=changes)
        return json_response({"async_action_id": action_id}, 202)

    @operation(
        "update-vouchers-metadata-in-bulk",
        TAG,
        body=VouchersMetadataChange,
        body_description="The codes, and the metadata to merge into each of their vouchers.",
        response=AsyncActionAccepted,
        links=ACCEPTED_LINKS,
        description="Queues `VOUCHERS.METADATA_UPDATE`: `metadata` is merged into the metadata"
        " of the voucher of each code in `codes`. An unknown code is reported in the async"
        " action's `result.errors` (`{code, key, message, details}`).",
    )
    @post("/metadata/async", status_code=202)
    async def update_vouchers_metadata_in_bulk(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Queue a merge of the same metadata into many vouchers."""
        actor = actor_of(request)
        body: VouchersMetadataChange = await read_json(request, VouchersMetadataChange)
        async with transaction(request) as conn:
            action_id = await bulk.update_metadata_in_bulk(conn, actor, body=body)
        return json_response({"async_action_id": action_id}, 202)
