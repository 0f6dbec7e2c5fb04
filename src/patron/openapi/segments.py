"""Segments: static, passive and auto-update; a customer's segments."""

from __future__ import annotations

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
    json_body,
    json_response,
    limit_parameter,
    link,
    no_content,
    obj,
    operation,
    or_null,
    path_parameter,
    query_parameter,
    query_text,
    ref,
    string,
    text,
    timestamp,
)
from patron.openapi.customers import CUSTOMER_ID

TAG = "Segments"
TYPES = ["static", "passive", "auto-update"]

SEGMENT_ID = path_parameter("segmentId", "The segment's id (`seg_…`).")

FILTER = obj(
    {"junction": enum(["and", "or"], description="How the conditions combine.")},
    closed=False,
    description='Voucherify\'s filter language: `{"junction": "and", "<path>":'
    ' {"conditions": {"$op": [values]}}}`, where a path is `name`, `email`, `source_id`,'
    " `created_at`, `birthdate`, `address.*`, `metadata.<key>`, `events.<name>.count`, …;"
    " a key holding a `junction` is a nested group. An unknown path or operator, or a value"
    " of the wrong kind, is a 400 naming it.",
)

SEGMENT = exact(
    {
        "id": string(example="seg_xyz"),
        "name": string(),
        "created_at": timestamp(),
        "updated_at": timestamp(nullable=True),
        "type": enum(TYPES),
        "filter": free_object(nullable=True, description="`null` for a static segment."),
        "initial_sync_status": const("DONE"),
        "object": const("segment"),
    },
    title="Segment",
)

_SEGMENT_LINKS = {
    "GetSegment": link("get-segment", "Read the segment.", segmentId="$response.body#/id"),
    "DeleteSegment": link("delete-segment", "Delete the segment.", segmentId="$response.body#/id"),
}


def _condition_values(field: str, ops: list[str]) -> list[Schema]:
    return [
        query_parameter(
            f"filters[{field}][conditions][${op}]",
            array(query_text()),
            f"Only segments whose {field} is one of these.",
        )
        for op in ops
    ]


PATHS: dict[str, Schema] = {
    "/v1/segments": {
        "post": operation(
            "create-segment",
            "Create Segment",
            TAG,
            description="A `static` segment lists its customers (ids or source_ids; 404 for an"
            " unknown one); `passive` and `auto-update` segments have a `filter`. Static and"
            " auto-update segments get their members now; auto-update ones record"
            " `customer.segment.entered`/`left` activities.",
            request_body=json_body(ref("SegmentsCreateRequestBody"), "The segment."),
            responses={
                "200": json_response(ref("Segment"), "The segment.", _SEGMENT_LINKS),
                **errors("NotFound"),
            },
        ),
        "get": operation(
            "list-segment",
            "List Segments",
            TAG,
            description="Segments, newest first unless `order=created_at`. Any other query"
            " parameter is a 400.",
            parameters=[
                limit_parameter(),
                query_parameter(
                    "order", enum(["created_at", "-created_at"]), "Sort order (`-created_at`)."
                ),
                query_parameter(
                    "starting_after", query_text(), "A segment id: the page continues after it."
                ),
                query_parameter("ids", array(query_text()), "Only these segments."),
                query_parameter(
                    "filters[junction]",
                    enum(["and", "or"]),
                    "Accepted; the filters combine with `and`.",
                ),
                *_condition_values("id", ["in", "is"]),
                *_condition_values("name", ["in", "is"]),
                query_parameter(
                    "filters[type][conditions][$in]",
                    array(enum(TYPES)),
                    "Only segments of these types.",
                ),
                query_parameter(
                    "filters[type][conditions][$is]",
                    array(enum(TYPES)),
                    "Only segments of this type.",
                ),
                date_parameter(
                    "filters[created_at][conditions][$before]", "Created before this moment."
                ),
                date_parameter(
                    "filters[created_at][conditions][$after]", "Created after this moment."
                ),
            ],
            responses={
                "200": json_response(ref("SegmentsListResponseBody"), "A page of segments."),
                **errors("InvalidQueryParams"),
            },
        ),
    },
    "/v1/segments/{segmentId}": {
        "parameters": [SEGMENT_ID],
        "get": operation(
            "get-segment",
            "Get Segment",
            TAG,
            description="The segment, without its members (list customers with `segment_id`).",
            responses={
                "200": json_response(ref("Segment"), "The segment."),
                **errors("NotFound"),
            },
        ),
        "delete": operation(
            "delete-segment",
            "Delete Segment",
            TAG,
            responses={"204": no_content("Deleted."), **errors("NotFound")},
        ),
    },
    "/v1/customers/{customerId}/segments": {
        "parameters": [CUSTOMER_ID],
        "get": operation(
            "list-customer-segments",
            "List Customer's Segments",
            TAG,
            description="The segments the customer is in. For an unknown customer this is no"
            " 404, as in Voucherify: the filter segments a customer with no data would match.",
            responses={
                "200": json_response(
                    ref("CustomersSegmentsListResponseBody"), "The customer's segments."
                )
            },
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "Segment": SEGMENT,
    "SegmentsCreateRequestBody": obj(
        {
            "name": text(1000, min_length=1, description="Not blank."),
            "type": enum(TYPES),
            "customers": or_null(
                array(
                    text(1000, min_length=1),
                    description="Static segments only (required there): customer ids or"
                    " source_ids.",
                )
            ),
            "filter": or_null(FILTER),
        },
        ["name", "type"],
        closed=False,
        title="Segments Create Request Body",
    ),
    "SegmentsListResponseBody": exact(
        {
            "object": const("list"),
            "data_ref": const("data"),
            "data": array(ref("Segment")),
            "total": integer(minimum=0),
            "has_more": boolean(),
        },
        title="Segments List Response Body",
    ),
    "CustomersSegmentsListResponseBody": exact(
        {
            "object": const("list"),
            "data_ref": const("data"),
            "data": array(exact({"id": string(), "name": string(), "object": const("segment")})),
            "total": integer(minimum=0),
        },
        title="Customers Segments List Response Body",
    ),
}
