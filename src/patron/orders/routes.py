"""HTTP routes for orders."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.async_actions import service as async_actions
from patron.async_actions.schemas import ORDERS_IMPORT
from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.errors import InvalidPayload
from patron.kit import query
from patron.kit.http import json_response, key_or_404, read_json
from patron.kit.validation import check_json_value
from patron.orders import service
from patron.orders.schemas import OrderCreate, OrderUpdate, check_order

MAX_IMPORT_ORDERS = 2000


def order_key(raw: str) -> str:
    return key_or_404(raw, service.not_found)


class OrderRoutes(Controller):
    path = "/v1/orders"

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
                limit=query.integer(params, "limit", default=10, minimum=1, maximum=100),
                page=query.integer(params, "page", default=1, minimum=1, maximum=100),
                order=query.choice(params, "order", service.LIST_ORDERS) or "-created_at",
            )
            return json_response(body)

    @post("/import", status_code=200)
    async def import_orders(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Queue an import of up to 2,000 historical orders (no activities are recorded)."""
        actor = actor_of(request)
        rows: list[Any] = await read_json(request, list[Any])
        if len(rows) > MAX_IMPORT_ORDERS:
            raise InvalidPayload(f"At most {MAX_IMPORT_ORDERS} orders can be imported at once")
        check_json_value(rows, "")
        async with transaction(request) as conn:
            action_id = await async_actions.enqueue(
                conn, actor, action_type=ORDERS_IMPORT, rows=rows
            )
        return json_response({"async_action_id": action_id})

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
