"""HTTP routes for segments."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.customers.schemas import CUSTOMER_PATH
from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.errors import InvalidQueryParams
from patron.kit import query
from patron.kit.http import json_response, key_or_404, path_key, read_json
from patron.openapi.operation import Link, PathParameter, operation
from patron.segments import service
from patron.segments.schemas import (
    CustomerSegmentsList,
    SegmentCreate,
    SegmentObject,
    SegmentsList,
    check_segment,
)
from patron.segments.service import ListFilters

TAG = "Segments"
PATH = {"segment_id": PathParameter("segmentId", "The segment's id (`seg_…`).")}
_BY_ID = {"segmentId": "$response.body#/id"}
SEGMENT_LINKS = {
    "GetSegment": Link("get-segment", "Read the segment.", _BY_ID),
    "DeleteSegment": Link("delete-segment", "Delete the segment.", _BY_ID),
}

# What `GET /v1/segments` reads: limit, order, ids, starting_after, and the deepObject
# filters[<field>][conditions][<op>] on id, type, name and created_at.
_KNOWN_PARAMETER = re.compile(
    r"limit|order|starting_after|ids(\[[0-9]*\])?|filters\[junction\]"
    r"|filters\[(id|type|name)\]\[conditions\]\[\$(in|is)\](\[[0-9]*\])?"
    r"|filters\[created_at\]\[conditions\]\[\$(before|after)\]"
)


LIMIT = query.limit()
ORDER = query.Choice("order", "Sort order (`-created_at`).", ("created_at", "-created_at"))
STARTING_AFTER = query.Text("starting_after", "A segment id: the page continues after it.")
IDS = query.Texts("ids", "Only these segments.")
JUNCTION = query.Junction(
    "filters[junction]", "Accepted; the filters combine with `and`.", ("and", "or")
)


def _conditions(field: str, **details: Any) -> tuple[query.Texts, query.Texts]:
    """`filters[<field>][conditions][$in]` and `[$is]`: both a list of values."""
    return (
        query.Texts(f"filters[{field}][conditions][$in]", **details),
        query.Texts(f"filters[{field}][conditions][$is]", **details),
    )


ID_CONDITIONS = _conditions("id", description="Only segments whose id is one of these.")
NAME_CONDITIONS = _conditions("name", description="Only segments whose name is one of these.")
TYPE_CONDITIONS = _conditions(
    "type", description="Only segments of these types.", allowed=service.SEGMENT_TYPES
)
CREATED_BEFORE = query.Timestamp(
    "filters[created_at][conditions][$before]", "Created before this moment."
)
CREATED_AFTER = query.Timestamp(
    "filters[created_at][conditions][$after]", "Created after this moment."
)


def _values(
    params: query.QueryParams, conditions: tuple[query.Texts, ...]
) -> tuple[str, ...] | None:
    found: tuple[str, ...] = ()
    for condition in reversed(conditions):  # $is first, as before
        found += condition.parse(params) or ()
    return found or None


def _list_filters(request: Request[Any, Any, Any]) -> ListFilters:
    params = query.filter_words_read(request.query_params)
    for key in params:
        if not _KNOWN_PARAMETER.fullmatch(key):
            raise InvalidQueryParams(f"Unknown query parameter {key}")
    ids = (IDS.parse(params) or ()) + (_values(params, ID_CONDITIONS) or ())
    types = _values(params, TYPE_CONDITIONS)
    if types is not None and any(value not in service.SEGMENT_TYPES for value in types):
        raise InvalidQueryParams(
            "Query parameter filters[type] must be one of: " + ", ".join(service.SEGMENT_TYPES)
        )
    order = ORDER.parse(params) or "-created_at"
    JUNCTION.parse(params)  # checked; the filters all apply
    return ListFilters(
        limit=LIMIT.parse(params),
        ascending=order == "created_at",
        ids=ids or None,
        types=types,
        names=_values(params, NAME_CONDITIONS),
        created_before=CREATED_BEFORE.parse(params),
        created_after=CREATED_AFTER.parse(params),
        starting_after=STARTING_AFTER.parse(params) or None,
    )


class SegmentRoutes(Controller):
    path = "/v1/segments"

    @operation(
        "create-segment",
        TAG,
        body=SegmentCreate,
        body_description="The segment.",
        response=SegmentObject,
        response_description="The segment.",
        links=SEGMENT_LINKS,
        errors=("NotFound",),
        description="A `static` segment lists its customers (ids or source_ids; 404 for an"
        " unknown one); `passive` and `auto-update` segments have a `filter`. Static and"
        " auto-update segments get their members now; auto-update ones record"
        " `customer.segment.entered`/`left` activities.",
    )
    @post("/", status_code=200)
    async def create_segment(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Create a static segment from customer ids, or a passive or auto-update one."""
        actor = actor_of(request)
        body: SegmentCreate = await read_json(request, SegmentCreate)
        check_segment(body)
        async with transaction(request) as conn:
            segment = await service.create(conn, actor, body=body)
        return json_response(segment)

    @operation(
        "list-segment",
        TAG,
        query=(
            LIMIT,
            ORDER,
            STARTING_AFTER,
            IDS,
            JUNCTION,
            *ID_CONDITIONS,
            *NAME_CONDITIONS,
            *TYPE_CONDITIONS,
            CREATED_BEFORE,
            CREATED_AFTER,
        ),
        response=SegmentsList,
        response_description="A page of segments.",
        errors=("InvalidQueryParams",),
        description="Segments, newest first unless `order=created_at`. Any other query"
        " parameter is a 400.",
    )
    @get("/")
    async def list_segments(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """List segments, newest first unless `order=created_at`."""
        project = project_of(request)
        async with snapshot(request) as conn:
            filters = _list_filters(request)
            return json_response(await service.list_segments(conn, project.id, filters))

    @operation(
        "get-segment",
        TAG,
        path=PATH,
        response=SegmentObject,
        response_description="The segment.",
        errors=("NotFound",),
    )
    @get("/{segment_id:str}")
    async def get_segment(
        self,
        segment_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """Get a segment (without its members: list customers with `segment_id` for those)."""
        project = project_of(request)
        async with read(request) as conn:
            return json_response(
                await service.get(conn, project.id, key_or_404(segment_id, service.not_found))
            )

    @operation(
        "delete-segment", TAG, path=PATH, response_description="Deleted.", errors=("NotFound",)
    )
    @delete("/{segment_id:str}", status_code=204)
    async def delete_segment(
        self,
        segment_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> None:
        """Delete a segment."""
        actor = actor_of(request)
        async with transaction(request) as conn:
            await service.delete(conn, actor, key_or_404(segment_id, service.not_found))


@operation(
    "list-customer-segments",
    TAG,
    path=CUSTOMER_PATH,
    response=CustomerSegmentsList,
    response_description="The customer's segments.",
    description="The segments the customer is in. For an unknown customer this is no 404, as in"
    " Voucherify: the filter segments a customer with no data would match.",
)
@get("/v1/customers/{customer_id:str}/segments")
async def list_customer_segments(
    customer_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> ASGIApp:
    """The segments a customer is in (for an unknown id: those a customer with no data is in)."""
    project = project_of(request)
    async with snapshot(request) as conn:
        key = path_key(customer_id) or customer_id
        return json_response(await service.customer_segments(conn, project.id, key))
