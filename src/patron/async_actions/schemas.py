"""The async action object as Voucherify shows it (`render_action`, and its Structs for the
OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime
from patron.openapi.operation import Link

CUSTOMERS_BULK_UPDATE = "CUSTOMERS.BULK_UPDATE"
CUSTOMERS_METADATA_UPDATE = "CUSTOMERS.METADATA_UPDATE"
CUSTOMERS_IMPORT_CSV = "CUSTOMERS.IMPORT_CSV"
ORDERS_IMPORT = "ORDERS.IMPORT"
VOUCHERS_IMPORT = "VOUCHERS.IMPORT"
VOUCHERS_IMPORT_CSV = "VOUCHERS.IMPORT_CSV"
VOUCHERS_BULK_UPDATE = "VOUCHERS.BULK_UPDATE"
VOUCHERS_METADATA_UPDATE = "VOUCHERS.METADATA_UPDATE"


class AsyncActionAccepted(msgspec.Struct, forbid_unknown_fields=True):
    """The answer of a route that queues an async action."""

    async_action_id: Annotated[str, Meta(description="Follow it with GET /v1/async-actions/{id}.")]


# What the answer of a route that queues an action links to (read by stateful fuzzers).
ACCEPTED_LINKS = {
    "GetAsyncAction": Link(
        "get-async-action",
        "Follow the action.",
        {"asyncActionId": "$response.body#/async_action_id"},
    )
}


def _processing_time(row: Any) -> int:
    started: datetime | None = row["started_at"]
    if started is None:
        return 0
    finished: datetime = row["finished_at"] or datetime.now(UTC)
    return max(0, int((finished - started).total_seconds() * 1000))


def _progress(row: Any) -> int:
    if row["status"] == "DONE":
        return 100
    if row["total_rows"] <= 0:
        return 0
    return min(99, int(row["cursor"]) * 100 // int(row["total_rows"]))


def render_result(row: Any) -> dict[str, Any]:
    """The type-specific `result`: counts so far, and the errors of failed rows."""
    done, failed, errors = row["done_count"], row["failed_count"], row["errors"]
    action_type = row["type"]
    result: dict[str, Any]
    if action_type == CUSTOMERS_IMPORT_CSV:
        result = {
            "message": f"{done} customer(s) imported successfully, {failed} failed.",
            "failed": errors,
            "done_count": done,
            "failed_count": failed,
        }
    elif action_type in (VOUCHERS_IMPORT, VOUCHERS_IMPORT_CSV):
        result = {
            "message": f"{done} voucher(s) imported successfully, {failed} failed.",
            "failed": errors,
            "done_count": done,
            "failed_count": failed,
        }
    elif action_type in (CUSTOMERS_BULK_UPDATE, VOUCHERS_BULK_UPDATE):
        result = {
            "done_count": done,
            "failed_count": failed,
            "reports": [],
            "reports_available_till": None,
            "errors": errors,
        }
    else:
        result = {"done_count": done, "failed_count": failed, "errors": errors}
    if row["failure"] is not None:
        result["message"] = row["failure"]
    return result


def render_action(row: Any, *, with_result: bool) -> dict[str, Any]:
    action: dict[str, Any] = {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
    }
    if row["operation_status"] is not None:
        action["operation_status"] = row["operation_status"]
    if with_result:
        action["result"] = render_result(row)
    action.update(
        {
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_datetime(row["updated_at"]),
            "request_id": row["request_id"],
            "processing_time": _processing_time(row),
            "progress": _progress(row),
            "object": "async_action",
        }
    )
    return action


# --- the async action object (responses) ---------------------------------------------------------

# The values of the constants above, campaigns' and vouchers' (a Literal cannot name them).
ActionType = Literal[
    "CUSTOMERS.BULK_UPDATE",
    "CUSTOMERS.IMPORT_CSV",
    "CUSTOMERS.METADATA_UPDATE",
    "ORDERS.IMPORT",
    "CAMPAIGN.VOUCHERS_GENERATE",
    "CAMPAIGN.VOUCHERS_DELETE",
    "CAMPAIGN.VOUCHERS_IMPORT",
    "CAMPAIGN.VOUCHERS_IMPORT_CSV",
    "VOUCHERS.IMPORT",
    "VOUCHERS.IMPORT_CSV",
    "VOUCHERS.BULK_UPDATE",
    "VOUCHERS.METADATA_UPDATE",
]
ActionStatus = Literal["ENQUEUED", "IN_PROGRESS", "DONE", "FAILED"]


class ActionResult(msgspec.Struct, forbid_unknown_fields=True):
    """Counts so far and the errors of failed rows (`render_result`); the properties depend on
    `type`."""

    done_count: Count
    failed_count: Count
    message: str | UnsetType = UNSET
    errors: (
        Annotated[list[dict[str, Any]], Meta(description="The failed rows, and why.")] | UnsetType
    ) = UNSET
    failed: (
        Annotated[
            list[dict[str, Any]],
            Meta(
                description="Imports: customers `{row, source_id, reason}`, vouchers"
                " `{code, reason}` (and `row` from a CSV)."
            ),
        ]
        | UnsetType
    ) = UNSET
    reports: Annotated[list[str], Meta(max_length=0)] | UnsetType = UNSET
    reports_available_till: UnsetType | None = UNSET


class AsyncActionBase(msgspec.Struct, forbid_unknown_fields=True):
    """An async action without its result (`render_action`), as lists show it."""

    id: Annotated[str, Meta(examples=["aa_0a875d56c805df6601"])]
    type: ActionType
    status: ActionStatus
    created_at: Moment
    updated_at: Moment
    request_id: Annotated[str, Meta(description="The request that queued it.")]
    processing_time: Annotated[int, Meta(ge=0, description="Milliseconds.")]
    progress: Annotated[int, Meta(ge=0, le=100, description="Percent.")]
    object: Literal["async_action"]
    operation_status: (
        Annotated[
            Literal["SUCCESS", "FAILED", "UNKNOWN"],
            Meta(
                description="`UNKNOWN` while running; `FAILED` when any row (or the action) failed."
            ),
        ]
        | UnsetType
    ) = UNSET


class AsyncAction(AsyncActionBase, forbid_unknown_fields=True, kw_only=True):
    """An async action with its result (`render_action`)."""

    result: ActionResult


class AsyncActionsList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of async actions (`service.list_actions`)."""

    object: Literal["list"]
    data_ref: Literal["async_actions"]
    async_actions: list[AsyncActionBase]
    has_more: bool
