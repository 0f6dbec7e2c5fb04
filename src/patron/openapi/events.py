"""Custom events, from the shop's server and from customers' browsers."""

from __future__ import annotations

from patron.openapi.common import (
    Schema,
    const,
    errors,
    exact,
    free_object,
    json_body,
    json_response,
    link,
    metadata,
    obj,
    operation,
    ref,
    string,
    text,
)

TAG = "Events"

EVENT_CREATE = obj(
    {
        "event": text(300, min_length=1, description="The event's name."),
        "customer": ref("CustomersCreateRequestBody"),
        "referral": obj(
            {
                "code": text(description="The referral code the visitor came with."),
                "referrer_id": text(nullable=True),
            },
            ["code"],
            closed=False,
            nullable=True,
            description="Accepted, but nothing is credited yet (no referral programs).",
        ),
        "loyalty": obj(
            {"code": text(description="The loyalty card to credit.")},
            ["code"],
            closed=False,
            nullable=True,
            description="Accepted, but nothing is credited yet (no loyalty programs).",
        ),
        "metadata": metadata("The event's custom attributes.", nullable=True),
    },
    ["event", "customer"],
    closed=False,
    title="Events Create Request Body",
    description="The customer is upserted as by POST /v1/customers (created when unknown; an"
    " unknown `id` is a 404).",
)

EVENT = exact(
    {
        "object": const("event"),
        "type": string(description="The event's name."),
        "customer": exact(
            {
                "id": string(),
                "source_id": string(nullable=True),
                "name": string(nullable=True),
                "email": string(nullable=True),
                "metadata": free_object(),
                "object": const("customer"),
            }
        ),
        "referral": {"type": "null"},
        "loyalty": {"type": "null"},
        "metadata": free_object(),
    },
    title="Events Create Response Body",
)


def _track(operation_id: str, summary: str, *, client: bool) -> Schema:
    return operation(
        operation_id,
        summary,
        TAG,
        client=client,
        description="Records a `customer.custom_event` activity and counts the event for the"
        " customer.",
        request_body=json_body(ref("EventsCreateRequestBody"), "The event."),
        responses={
            "200": json_response(
                ref("EventsCreateResponseBody"),
                "The event.",
                {
                    "GetCustomer": link(
                        "get-customer",
                        "Read the customer.",
                        customerId="$response.body#/customer/id",
                    )
                }
                if not client
                else None,
            ),
            **errors("NotFound"),
        },
    )


PATHS: dict[str, Schema] = {
    "/v1/events": {"post": _track("track-custom-event", "Track Custom Event", client=False)},
    "/client/v1/events": {
        "post": _track(
            "track-custom-event-client-side", "Track Custom Event (client-side)", client=True
        )
    },
}

SCHEMAS: dict[str, Schema] = {
    "EventsCreateRequestBody": EVENT_CREATE,
    "EventsCreateResponseBody": EVENT,
}
