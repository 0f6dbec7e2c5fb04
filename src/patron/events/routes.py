"""HTTP routes for custom events, server-side and client-side."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.types import ASGIApp

from patron.dependencies import actor_of, transaction
from patron.events import service
from patron.events.schemas import EventCreate, EventObject, check_event
from patron.kit.http import json_response, read_json
from patron.openapi.operation import Link, operation


@operation(
    "track-custom-event",
    "Events",
    body=EventCreate,
    body_description="The event.",
    response=EventObject,
    response_description="The event.",
    links={
        "GetCustomer": Link(
            "get-customer", "Read the customer.", {"customerId": "$response.body#/customer/id"}
        )
    },
    errors=("NotFound",),
    description="Records a `customer.custom_event` activity and counts the event for the customer.",
)
@post(["/v1/events", "/client/v1/events"], status_code=200)
async def track_custom_event(
    request: Request[Any, Any, Any],
) -> ASGIApp:
    """Track a custom event of a customer (created when unknown), from the shop's server or,
    with client credentials and an allowed origin, from a customer's browser."""
    actor = actor_of(request)
    body: EventCreate = await read_json(request, EventCreate)
    check_event(body)
    async with transaction(request) as conn:
        event = await service.track(conn, actor, body=body)
    return json_response(event)
