"""HTTP routes for orders."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.async_actions import service as async_actions
from patron.async_actions.schemas import ACCEPTED_LINKS, ORDERS_IMPORT, AsyncActionAccepted
from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.errors import InvalidPayload
from patron.kit import query
from patron.kit.http import json_response, key_or_404, read_json
from patron.kit.validation import check_json_value
from patron.openapi.operation import Link, PathParameter, operation
from patron.orders import service
from patron.orders.schemas import (
    MAX_IMPORT_ORDERS,
    ImportRows,
    OrderCreate,
    OrderObject,
    OrdersList,
    OrderUpdate,
    check_order,
)

TAG = "Orders"
PATH = {"order_id": PathParameter("orderId", "The order's `id` or `source_id`.")}
_BY_ID = {"orderId": "$response.body#/id"}
ORDER_LINKS = {
    "GetOrder": Link("get-order", "Read the order.", _BY_ID),
    "UpdateOrder": Link("update-order", "Change the order.", _BY_ID),
}

LIMIT = query.limit()
PAGE = query.page(100)
ORDER = query.Choice("order", "Sort order (`-created_at`).", service.LIST_ORDERS)


def order_key(raw: str) -> str:
    return key_or_404(raw, service.not_found)


class OrderRoutes(Controller):
    path = "/v1/orders"

    @operation(
        "create-order",
        TAG,
        body=OrderCreate,
        body_description="The order.",
        response=OrderObject,
        response_description="The order.",
        links=ORDER_LINKS,
        errors=("NotFound",),
        description="Creates an order, or updates the one with the same `id` or `source_id`; its"
        " `customer` and `referrer` are upserted as by POST /v1/customers.",
    )
    @post("/", status_code=200)
    async def create_order(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Create an order, or update the one with the same `id` or `source_id`."""
        actor = actor_of(request)
        payload: OrderCreate = await read_json(request, OrderCreate)
        check_order(payload)
        async with transaction(request) as conn:
            order = await service.upsert(conn, actor, payload=payload)
        return json_response(order)

    @operation(
        "list-orders",
        TAG,
        query=(LIMIT, PAGE, ORDER),
        response=OrdersList,
        response_description="A page of orders.",
        errors=("InvalidQueryParams",),
    )
    @get("/")
    async def list_orders(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Orders, newest first by default, a page at a time."""
        project = project_of(request)
        async with snapshot(request) as conn:
            params = request.query_params
            body = await service.list_orders(
                conn,
                project.id,
                limit=LIMIT.parse(params),
                page=PAGE.parse(params),
                order=ORDER.parse(params) or "-created_at",
            )
            return json_response(body)

    @operation(
        "import-orders",
        TAG,
        body=ImportRows,
        body_description="The orders.",
        response=AsyncActionAccepted,
        response_description="Queued.",
        links=ACCEPTED_LINKS,
        description=f"Queues an import of up to {MAX_IMPORT_ORDERS:,} historical orders; no"
        " activities are recorded. An element that is not a valid order is reported in the async"
        " action's `result`.",
    )
    @post("/import", status_code=200)
    async def import_orders(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue an import of up to 2,000 historical orders (no activities are recorded)."""
        actor = actor_of(request)
        rows: list[Any] = await read_json(request, ImportRows)
        if len(rows) > MAX_IMPORT_ORDERS:
            raise InvalidPayload(f"At most {MAX_IMPORT_ORDERS} orders can be imported at once")
        check_json_value(rows, "")
        async with transaction(request) as conn:
            action_id = await async_actions.enqueue(
                conn, actor, action_type=ORDERS_IMPORT, rows=rows
            )
        return json_response({"async_action_id": action_id})

    @operation(
        "get-order",
        TAG,
        path=PATH,
        response=OrderObject,
        response_description="The order.",
        links=ORDER_LINKS,
        errors=("NotFound",),
    )
    @get("/{order_id:str}")
    async def get_order(
        self,
        order_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Get an order by `id` or `source_id`."""
        project = project_of(request)
        async with read(request) as conn:
            return json_response(await service.get(conn, project.id, order_key(order_id)))

    @operation(
        "update-order",
        TAG,
        path=PATH,
        body=OrderUpdate,
        body_description="What to change.",
        response=OrderObject,
        response_description="The order, changed.",
        errors=("NotFound",),
        description="Changes only the properties sent.",
    )
    @put("/{order_id:str}")
    async def update_order(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[str],
    ) -> ASGIApp:
        """Change only the fields sent."""
        actor = actor_of(request)
        payload: OrderUpdate = await read_json(request, OrderUpdate)
        check_order(payload)
        key = order_key(order_id)
        async with transaction(request) as conn:
            order = await service.update(conn, actor, key, payload=payload)
        return json_response(order)
