"""HTTP routes for exports, and the download of their CSV.

The download (`GET /v1/exports/{id}?token=…`) needs no app credentials: the token is its
credential, and the `Authentication` layer lets exactly that request through
(`patron.projects.asgi.is_export_download`). The same path without `token` is Get Export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath
from litestar.response import Stream
from litestar.types import ASGIApp

from patron.dependencies import actor_of, project_of, read, snapshot, transaction
from patron.errors import TooManyRequests
from patron.exports import service
from patron.exports.schemas import (
    LIST_ORDERS,
    ORDER,
    ExportCreate,
    ExportObject,
    ExportParameters,
    ExportsList,
    OrderExportCreate,
)
from patron.kit import query
from patron.kit.http import base_url, json_response, key_or_404, path_key, read_json
from patron.openapi.operation import PathParameter, operation

TAG = "Exports"
PATH = {"export_id": PathParameter("exportId", "The export's id (`exp_…`).")}
LIMIT = query.limit()
PAGE = query.page(100)
ORDER_BY = query.Choice("order", "Sort order (`-created_at`).", LIST_ORDERS)
TOKEN = query.Text(
    "token",
    "The download token of the export's `result.url`: with it, the answer is the export's CSV"
    " (`text/plain`), and no app credentials are needed.",
)


def export_key(raw: str) -> str:
    return key_or_404(raw, service.not_found)


async def _create(
    request: Request[Any, Any, Any], exported_object: str, parameters: ExportParameters
) -> ASGIApp:
    actor = actor_of(request)
    project = project_of(request)
    async with transaction(request) as conn:
        body = await service.create(
            conn,
            actor,
            exported_object=exported_object,
            parameters=parameters,
            asset_key=project.asset_key,
        )
    return json_response(body)


class ExportRoutes(Controller):
    path = "/v1/exports"

    @operation(
        "create-export",
        TAG,
        body=ExportCreate,
        body_description="What to export.",
        response=ExportObject,
        response_description="The export, `SCHEDULED`.",
        errors=("Refused",),
        description="Creates an export of customers or orders. Patron keeps the export's"
        " parameters, not a file: the CSV is read from the database when it is downloaded."
        " A field the object has not is a 400 `invalid_export_fields`.",
    )
    @post("/", status_code=200)
    async def create_export(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Create an export of customers or orders."""
        payload: ExportCreate = await read_json(request, ExportCreate)
        parameters = payload.parameters or ExportParameters()
        return await _create(request, payload.exported_object, parameters)

    @operation(
        "list-exports",
        TAG,
        query=(LIMIT, PAGE, ORDER_BY),
        response=ExportsList,
        response_description="A page of exports.",
        errors=("InvalidQueryParams",),
    )
    @get("/")
    async def list_exports(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """The project's exports, newest first by default."""
        project = project_of(request)
        params = request.query_params
        limit, page = LIMIT.parse(params), PAGE.parse(params)
        order = ORDER_BY.parse(params) or "-created_at"
        async with snapshot(request) as conn:
            body = await service.list_exports(
                conn,
                project.id,
                limit=limit,
                page=page,
                order=order,
                base_url=base_url(request),
                asset_key=project.asset_key,
            )
        return json_response(body)

    @operation(
        "get-export",
        TAG,
        path=PATH,
        query=(TOKEN,),
        response=ExportObject,
        response_description="The export, with its download URL.",
        errors=("NotFound",),
        description="Without `token`: the export. With `token` (Download Export, the URL of"
        " its `result`): its CSV as `text/plain`, streamed as it is read; 401 for a token that"
        " does not open this export, or an export that does not exist (any more).",
    )
    @get("/{export_id:str}")
    async def get_export(
        self, request: Request[Any, Any, Any], export_id: FromPath[str]
    ) -> ASGIApp:
        """Get an export, or with `token`, download its CSV."""
        token = TOKEN.parse(request.query_params)
        if token is not None:
            return await _download(request, path_key(export_id) or "", token)
        project = project_of(request)
        key = export_key(export_id)
        async with read(request) as conn:
            body = await service.get(
                conn, project.id, key, base_url=base_url(request), asset_key=project.asset_key
            )
        return json_response(body)

    @operation("delete-export", TAG, path=PATH, errors=("NotFound",))
    @delete("/{export_id:str}", status_code=204)
    async def delete_export(
        self, request: Request[Any, Any, Any], export_id: FromPath[str]
    ) -> None:
        """Delete an export; its download URL stops working."""
        project = project_of(request)
        key = export_key(export_id)
        async with transaction(request) as conn:
            await service.delete(conn, project.id, key)


# Downloads hold a pooled connection while the file is sent, at the pace the client reads: at
# most a quarter of the pool streams at once in a process (more answer 429 and Retry-After), so
# slow or stalled downloads cannot take every connection from the API.
DOWNLOADS_SHARE = 4
_STREAMING = "patron.export_downloads"


async def _download(request: Request[Any, Any, Any], export_id: str, token: str) -> ASGIApp:
    async with read(request) as conn:
        row = await service.downloadable(conn, export_id, token)
    state = request.app.state
    most = max(1, request.app.state.pool.get_max_size() // DOWNLOADS_SHARE)
    if state.get(_STREAMING, 0) >= most:
        raise TooManyRequests(
            f"At most {most} export downloads stream at once; retry later",
            headers={"retry-after": "5"},
        )

    async def chunks() -> AsyncIterator[bytes]:
        # One snapshot for the whole file; the connection is held while the file is sent.
        state[_STREAMING] = state.get(_STREAMING, 0) + 1
        try:
            async with snapshot(request) as conn:
                async for chunk in service.csv_chunks(conn, row):
                    yield chunk
        finally:
            state[_STREAMING] -= 1

    stream = Stream(
        chunks(),
        media_type="text/plain; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{row["id"]}.csv"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )
    # As an ASGI app, like every other answer of the routes (`kit.http.JSONResponse`).
    return stream.to_asgi_response(None, request)


@operation(
    "create-order-export",
    "Orders",
    body=OrderExportCreate,
    body_description="What to export.",
    response=ExportObject,
    response_description="The export, `SCHEDULED`.",
    errors=("Refused",),
    description="Creates an export of orders: the same as POST /v1/exports with"
    " `exported_object: order`.",
)
@post("/v1/orders/export", status_code=200)
async def create_order_export(request: Request[Any, Any, Any]) -> ASGIApp:
    """Create an export of orders."""
    payload: OrderExportCreate = await read_json(request, OrderExportCreate)
    return await _create(request, ORDER, payload.parameters or ExportParameters())
