"""HTTP routes for a customer's activity timeline."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.activities import service
from patron.activities.schemas import ACTIVITY_TYPES, CAMPAIGN_TYPES, CATEGORIES
from patron.activities.service import TimelineFilters
from patron.customers import service as customers
from patron.dependencies import project_of, read, snapshot
from patron.kit import query
from patron.kit.http import json_response

# The legacy endpoint's order values name columns activities do not have; these map them.
_LEGACY_ORDERS = {
    "updated_at": "created_at",
    "-updated_at": "-created_at",
    "code": "campaign",
    "-code": "-campaign",
}


def _filters(params: Any, *, orders: set[str], legacy: bool) -> TimelineFilters:
    order = query.choice(params, "order", orders) or "-created_at"
    return TimelineFilters(
        limit=query.integer(params, "limit", default=10, minimum=1, maximum=100),
        order=_LEGACY_ORDERS.get(order, order),
        starting_after_id=query.text(params, "starting_after_id"),
        starting_after=query.timestamp(params, "starting_after") if legacy else None,
        start_date=query.timestamp(params, "start_date"),
        end_date=query.timestamp(params, "end_date"),
        activity_type=query.choice(params, "type", ACTIVITY_TYPES),
        category=query.choice(params, "category", CATEGORIES),
        campaign_id=query.text(params, "campaign_id"),
        campaign_type=query.choice(params, "campaign_type", CAMPAIGN_TYPES),
    )


class ActivityRoutes(Controller):
    path = "/v1/customers/{customer_id:str}"

    @get("/activity")
    async def list_customer_activity(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[str],
    ) -> ASGIApp:
        """A customer's activities, newest first, with a `starting_after_id` cursor."""
        project = project_of(request)
        async with read(request) as conn:
            filters = _filters(
                request.query_params, orders={"created_at", "-created_at"}, legacy=False
            )
            resolved = await customers.resolve_id(
                conn, project.id, customers.key_from_path(customer_id)
            )
            return json_response(await service.timeline_page(conn, project.id, resolved, filters))

    @get("/activities")
    async def list_customer_activities(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[str],
    ) -> ASGIApp:
        """Deprecated: a customer's activities with a `total`."""
        project = project_of(request)
        async with snapshot(request) as conn:
            orders = set(service.LEGACY_ORDERS) | set(_LEGACY_ORDERS)
            filters = _filters(request.query_params, orders=orders, legacy=True)
            resolved = await customers.resolve_id(
                conn, project.id, customers.key_from_path(customer_id)
            )
            return json_response(await service.legacy_page(conn, project.id, resolved, filters))
