"""HTTP routes for async actions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.async_actions import service
from patron.async_actions.schemas import AsyncAction, AsyncActionsList
from patron.dependencies import project_of, read, snapshot
from patron.kit import query
from patron.kit.http import json_response, key_or_404
from patron.openapi.operation import PathParameter, operation

TAG = "Async Actions"
LIMIT = query.limit()
END_DATE = query.Timestamp("end_date", "Only actions created at or before this moment.")


class AsyncActionRoutes(Controller):
    path = "/v1/async-actions"

    @operation(
        "list-async-actions",
        TAG,
        query=(LIMIT, END_DATE),
        response=AsyncActionsList,
        response_description="A page of actions.",
        errors=("InvalidQueryParams",),
        description="The project's async actions, newest first, without their results.",
    )
    @get("/")
    async def list_async_actions(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """The project's async actions, newest first (without their results)."""
        project = project_of(request)
        async with snapshot(request) as conn:
            params = request.query_params
            limit = LIMIT.parse(params)
            end_date = END_DATE.parse(params)
            body = await service.list_actions(conn, project.id, limit=limit, end_date=end_date)
            return json_response(body)

    @operation(
        "get-async-action",
        TAG,
        path={"async_action_id": PathParameter("asyncActionId", "The action's id (`aa_…`).")},
        response=AsyncAction,
        response_description="The action, with its result.",
        errors=("NotFound",),
    )
    @get("/{async_action_id:str}")
    async def get_async_action(
        self,
        async_action_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """One async action with its status, progress and result."""
        project = project_of(request)
        async with read(request) as conn:
            key = key_or_404(async_action_id, service.not_found)
            return json_response(await service.get(conn, project.id, key))
