"""HTTP routes for async actions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from patron.async_actions import service
from patron.dependencies import transaction
from patron.kit import query
from patron.kit.http import json_response, key_or_404
from patron.projects.service import Project


class AsyncActionRoutes(Controller):
    path = "/v1/async-actions"

    @get("/")
    async def list_async_actions(
        self,
        request: Request[Any, Any, Any],
        project: NamedDependency[Project],
    ) -> Response[bytes]:
        """The project's async actions, newest first (without their results)."""
        async with transaction(request) as conn:
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
        project: NamedDependency[Project],
    ) -> Response[bytes]:
        """One async action with its status, progress and result."""
        async with transaction(request) as conn:
            key = key_or_404(async_action_id, service.not_found)
            return json_response(await service.get(conn, project.id, key))
