"""HTTP routes for async actions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.async_actions import service
from patron.dependencies import project_of, read, snapshot
from patron.kit import query
from patron.kit.http import json_response, key_or_404


class AsyncActionRoutes(Controller):
    path = "/v1/async-actions"

    @get("/")
    async def list_async_actions(
        self,
        request: Request[Any, Any, Any],
    ) -> ASGIApp:
        """The project's async actions, newest first (without their results)."""
        project = project_of(request)
        async with snapshot(request) as conn:
            params = request.query_params
            limit = query.integer(params, "limit", default=10, minimum=1, maximum=100)
            end_date = query.timestamp(params, "end_date")
            body = await service.list_actions(conn, project.id, limit=limit, end_date=end_date)
            return json_response(body)

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
