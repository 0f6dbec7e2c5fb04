"""HTTP routes for segments."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.errors import InvalidQueryParams
from patron.kit import query
from patron.kit.http import json_response, key_or_404, path_key, read_json
from patron.segments import service
from patron.segments.schemas import SegmentCreate, check_segment
from patron.segments.service import ListFilters

# What `GET /v1/segments` reads: limit, order, ids, starting_after, and the deepObject
# filters[<field>][conditions][<op>] on id, type, name and created_at.
_KNOWN_PARAMETER = re.compile(
    r"limit|order|starting_after|ids(\[[0-9]*\])?|filters\[junction\]"
    r"|filters\[(id|type|name)\]\[conditions\]\[\$(in|is)\](\[[0-9]*\])?"
    r"|filters\[created_at\]\[conditions\]\[\$(before|after)\]"
)


def _values(params: query.QueryParams, field: str) -> tuple[str, ...] | None:
    found: tuple[str, ...] = ()
    for op in ("$is", "$in"):
        found += query.texts(params, f"filters[{field}][conditions][{op}]") or ()
    return found or None


def _list_filters(request: Request[Any, Any, Any]) -> ListFilters:
    params = request.query_params
    for key in params:
        if not _KNOWN_PARAMETER.fullmatch(key):
            raise InvalidQueryParams(f"Unknown query parameter {key}")
    ids = (query.texts(params, "ids") or ()) + (_values(params, "id") or ())
    types = _values(params, "type")
    if types is not None and any(value not in service.SEGMENT_TYPES for value in types):
        raise InvalidQueryParams(
            "Query parameter filters[type] must be one of: " + ", ".join(service.SEGMENT_TYPES)
        )
    order = query.choice(params, "order", ("created_at", "-created_at")) or "-created_at"
    query.choice(params, "filters[junction]", ("and", "or"))  # checked; the filters all apply
    return ListFilters(
        limit=query.integer(params, "limit", default=10, minimum=1, maximum=100),
        ascending=order == "created_at",
        ids=ids or None,
        types=types,
        names=_values(params, "name"),
        created_before=query.timestamp(params, "filters[created_at][conditions][$before]"),
        created_after=query.timestamp(params, "filters[created_at][conditions][$after]"),
        starting_after=query.text(params, "starting_after") or None,
    )


class SegmentRoutes(Controller):
    path = "/v1/segments"

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
