"""HTTP routes for a customer's activity timeline."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.activities import service
from patron.activities.schemas import (
    ACTIVITY_TYPES,
    CAMPAIGN_TYPES,
    CATEGORIES,
    ActivityPage,
    LegacyActivityPage,
)
from patron.activities.service import TimelineFilters
from patron.customers import service as customers
from patron.customers.schemas import CUSTOMER_PATH as PATH
from patron.dependencies import project_of, read, snapshot
from patron.kit import query
from patron.kit.http import json_response
from patron.openapi.operation import operation

# The legacy endpoint's order values name columns activities do not have; these map them.
_LEGACY_ORDERS = {
    "updated_at": "created_at",
    "-updated_at": "-created_at",
    "code": "campaign",
    "-code": "-campaign",
}


LIMIT = query.limit()
_SORT = "Sort order (`-created_at`)."
ORDER = query.Choice("order", _SORT, frozenset(["created_at", "-created_at"]))
LEGACY_ORDER = query.Choice("order", _SORT, service.LEGACY_ORDERS | frozenset(_LEGACY_ORDERS))
STARTING_AFTER_ID = query.Text(
    "starting_after_id",
    "The id of an activity of this customer: the page starts after it (400 when this customer"
    " has no such activity).",
)
STARTING_AFTER = query.Timestamp("starting_after", "Activities before this moment.")
START_DATE = query.Timestamp("start_date", "Activities at or after this moment.")
END_DATE = query.Timestamp("end_date", "Activities at or before this moment.")
TYPE = query.Choice("type", "Only activities of this type.", ACTIVITY_TYPES)
CATEGORY = query.Choice("category", "Only `ACTION`s or only `EFFECT`s.", CATEGORIES)
CAMPAIGN_ID = query.Text("campaign_id", "Only activities about this campaign.")
CAMPAIGN_TYPE = query.Choice(
    "campaign_type", "Only activities about such campaigns.", CAMPAIGN_TYPES
)
FILTERS = (START_DATE, END_DATE, TYPE, CATEGORY, CAMPAIGN_ID, CAMPAIGN_TYPE)


def _filters(params: Any, *, legacy: bool) -> TimelineFilters:
    order = (LEGACY_ORDER if legacy else ORDER).parse(params) or "-created_at"
    return TimelineFilters(
        limit=LIMIT.parse(params),
        order=_LEGACY_ORDERS.get(order, order),
        starting_after_id=STARTING_AFTER_ID.parse(params),
        starting_after=STARTING_AFTER.parse(params) if legacy else None,
        start_date=START_DATE.parse(params),
        end_date=END_DATE.parse(params),
        activity_type=TYPE.parse(params),
        category=CATEGORY.parse(params),
        campaign_id=CAMPAIGN_ID.parse(params),
        campaign_type=CAMPAIGN_TYPE.parse(params),
    )


class ActivityRoutes(Controller):
    path = "/v1/customers/{customer_id:str}"

    @operation(
        "list-customer-activity",
        "Customers",
        path=PATH,
        query=(LIMIT, ORDER, STARTING_AFTER_ID, *FILTERS),
        response=ActivityPage,
        response_description="A page of activities.",
        errors=("InvalidQueryParams", "NotFound"),
        description="The customer's activities, newest first; pass `more_starting_after` as"
        " `starting_after_id` for the next page. Consent activities are left out.",
    )
    @get("/activity")
    async def list_customer_activity(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[str],
    ) -> ASGIApp:
        """A customer's activities, newest first, with a `starting_after_id` cursor."""
        project = project_of(request)
        async with read(request) as conn:
            filters = _filters(request.query_params, legacy=False)
            resolved = await customers.resolve_id(
                conn, project.id, customers.key_from_path(customer_id)
            )
            return json_response(await service.timeline_page(conn, project.id, resolved, filters))

    @operation(
        "list-customer-activities",
        "Customers",
        path=PATH,
        query=(LIMIT, LEGACY_ORDER, STARTING_AFTER_ID, STARTING_AFTER, *FILTERS),
        response=LegacyActivityPage,
        response_description="A page of activities.",
        errors=("InvalidQueryParams", "NotFound"),
        deprecated=True,
        description="Deprecated: the customer's activities with a `total`, consent activities"
        " included.",
    )
    @get("/activities")
    async def list_customer_activities(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[str],
    ) -> ASGIApp:
        """Deprecated: a customer's activities with a `total`."""
        project = project_of(request)
        async with snapshot(request) as conn:
            filters = _filters(request.query_params, legacy=True)
            resolved = await customers.resolve_id(
                conn, project.id, customers.key_from_path(customer_id)
            )
            return json_response(await service.legacy_page(conn, project.id, resolved, filters))
