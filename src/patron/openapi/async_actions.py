"""Async actions: what bulk work answers with, and how a client follows it."""

from __future__ import annotations

from patron.async_actions.schemas import (
    CUSTOMERS_BULK_UPDATE,
    CUSTOMERS_IMPORT_CSV,
    CUSTOMERS_METADATA_UPDATE,
    ORDERS_IMPORT,
)
from patron.openapi.common import (
    Schema,
    array,
    boolean,
    const,
    date_parameter,
    enum,
    errors,
    exact,
    free_object,
    integer,
    json_response,
    limit_parameter,
    obj,
    operation,
    path_parameter,
    ref,
    string,
    timestamp,
)

TAG = "Async Actions"

TYPES = (CUSTOMERS_BULK_UPDATE, CUSTOMERS_IMPORT_CSV, CUSTOMERS_METADATA_UPDATE, ORDERS_IMPORT)


def _action(*, with_result: bool, title: str) -> Schema:
    properties: dict[str, Schema] = {
        "id": string(example="aa_0a875d56c805df6601"),
        "type": enum(TYPES),
        "status": enum(["ENQUEUED", "IN_PROGRESS", "DONE", "FAILED"]),
        "operation_status": enum(
            ["SUCCESS", "FAILED", "UNKNOWN"],
            description="`UNKNOWN` while running; `FAILED` when any row (or the action) failed.",
        ),
    }
    required = ["id", "type", "status"]
    if with_result:
        properties["result"] = obj(
            {
                "done_count": integer(minimum=0),
                "failed_count": integer(minimum=0),
                "message": string(),
                "errors": array(free_object(), description="The failed rows, and why."),
                "failed": array(
                    free_object(), description="CSV imports: `{row, source_id, reason}`."
                ),
                "reports": array(string(), max_items=0),
                "reports_available_till": {"type": "null"},
            },
            ["done_count", "failed_count"],
            description="Counts so far and the errors of failed rows; the properties depend on"
            " `type`.",
        )
        required.append("result")
    properties.update(
        {
            "created_at": timestamp(),
            "updated_at": timestamp(),
            "request_id": string(description="The request that queued it."),
            "processing_time": integer(minimum=0, description="Milliseconds."),
            "progress": integer(minimum=0, maximum=100, description="Percent."),
            "object": const("async_action"),
        }
    )
    required += ["created_at", "updated_at", "request_id", "processing_time", "progress"]
    return obj(properties, [*required, "object"], title=title)


PATHS: dict[str, Schema] = {
    "/v1/async-actions": {
        "get": operation(
            "list-async-actions",
            "List Async Actions",
            TAG,
            description="The project's async actions, newest first, without their results.",
            parameters=[
                limit_parameter(),
                date_parameter("end_date", "Only actions created at or before this moment."),
            ],
            responses={
                "200": json_response(ref("AsyncActionsListResponseBody"), "A page of actions."),
                **errors("InvalidQueryParams"),
            },
        ),
    },
    "/v1/async-actions/{asyncActionId}": {
        "parameters": [path_parameter("asyncActionId", "The action's id (`aa_…`).")],
        "get": operation(
            "get-async-action",
            "Get Async Action",
            TAG,
            responses={
                "200": json_response(ref("AsyncAction"), "The action, with its result."),
                **errors("NotFound"),
            },
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "AsyncAction": _action(with_result=True, title="Async Action"),
    "AsyncActionBase": _action(with_result=False, title="Async Action Base"),
    "AsyncActionsListResponseBody": exact(
        {
            "object": const("list"),
            "data_ref": const("async_actions"),
            "async_actions": array(ref("AsyncActionBase")),
            "has_more": boolean(),
        },
        title="Async Actions List Response Body",
    ),
}
