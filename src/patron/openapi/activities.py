"""A customer's activity timeline: `/activity` (cursor) and the legacy `/activities` (total)."""

from __future__ import annotations

from patron.activities.schemas import (
    ACTIVITY_TYPES,
    CAMPAIGN_TYPES,
    CATEGORIES,
    LEGACY_ONLY_TYPES,
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
    query_parameter,
    query_text,
    ref,
    string,
    timestamp,
)
from patron.openapi.customers import CUSTOMER_ID

TAG = "Customers"


def _activity(types: frozenset[str], title: str) -> Schema:
    return exact(
        {
            "id": string(example="evcus_0c9e8d2f1a2b3c4d5e"),
            "type": enum(types),
            "data": free_object(
                description="What happened (e.g. `customer`, `order`), and `event_source`: the"
                " channel and credentials that caused it."
            ),
            "created_at": timestamp(),
            "group_id": string(description="The id of the request that caused it."),
        },
        title=title,
    )


def _filters(*, legacy: bool) -> list[Schema]:
    orders = ["created_at", "-created_at"]
    if legacy:
        orders += ["updated_at", "-updated_at", "type", "-type", "code", "-code", "campaign"]
        orders += ["-campaign", "category", "-category"]
    parameters = [
        limit_parameter(),
        query_parameter("order", enum(orders), "Sort order (`-created_at`)."),
        query_parameter(
            "starting_after_id",
            query_text(),
            "The id of an activity of this customer: the page starts after it (400 when this"
            " customer has no such activity).",
        ),
    ]
    if legacy:
        parameters.append(date_parameter("starting_after", "Activities before this moment."))
    return [
        *parameters,
        date_parameter("start_date", "Activities at or after this moment."),
        date_parameter("end_date", "Activities at or before this moment."),
        query_parameter("type", enum(ACTIVITY_TYPES), "Only activities of this type."),
        query_parameter("category", enum(CATEGORIES), "Only `ACTION`s or only `EFFECT`s."),
        query_parameter("campaign_id", query_text(), "Only activities about this campaign."),
        query_parameter(
            "campaign_type", enum(CAMPAIGN_TYPES), "Only activities about such campaigns."
        ),
    ]


PATHS: dict[str, Schema] = {
    "/v1/customers/{customerId}/activity": {
        "parameters": [CUSTOMER_ID],
        "get": operation(
            "list-customer-activity",
            "List Customer Activity",
            TAG,
            description="The customer's activities, newest first; pass `more_starting_after`"
            " as `starting_after_id` for the next page. Consent activities are left out.",
            parameters=_filters(legacy=False),
            responses={
                "200": json_response(
                    ref("CustomersActivityListResponseBody"), "A page of activities."
                ),
                **errors("InvalidQueryParams", "NotFound"),
            },
        ),
    },
    "/v1/customers/{customerId}/activities": {
        "parameters": [CUSTOMER_ID],
        "get": operation(
            "list-customer-activities",
            "List Customer Activities",
            TAG,
            deprecated=True,
            description="Deprecated: the customer's activities with a `total`, consent"
            " activities included.",
            parameters=_filters(legacy=True),
            responses={
                "200": json_response(
                    ref("CustomersActivitiesListResponseBody"), "A page of activities."
                ),
                **errors("InvalidQueryParams", "NotFound"),
            },
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "CustomerActivity": _activity(ACTIVITY_TYPES, "Customer Activity"),
    "CustomerActivityLegacy": _activity(
        ACTIVITY_TYPES | LEGACY_ONLY_TYPES, "Customer Activity (legacy listing)"
    ),
    "CustomersActivityListResponseBody": obj(
        {
            "object": const("list"),
            "data_ref": const("data"),
            "data": array(ref("CustomerActivity")),
            "has_more": boolean(),
            "more_starting_after": string(
                description="Present when `has_more`: the last activity's id."
            ),
        },
        ["object", "data_ref", "data", "has_more"],
        title="Customers Activity List Response Body",
    ),
    "CustomersActivitiesListResponseBody": exact(
        {
            "object": const("list"),
            "data_ref": const("data"),
            "data": array(ref("CustomerActivityLegacy")),
            "total": integer(minimum=0),
        },
        title="Customers Activities List Response Body",
    ),
}
