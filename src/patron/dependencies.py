"""Request dependencies: the authenticated project, and the request's one transaction."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from patron.activities.service import Actor, EventSource
from patron.db.pool import Connection, Pool
from patron.kit.context import request_id_of
from patron.projects.service import Authenticator, Project


async def provide_project(request: Request[Any, Any, Any]) -> Project:
    """The project whose `X-App-Id` / `X-App-Token` the request carries, or a 401."""
    authenticator: Authenticator = request.app.state.authenticator
    headers = request.headers
    return await authenticator.authenticate(headers.get("x-app-id"), headers.get("x-app-token"))


async def provide_actor(
    request: Request[Any, Any, Any], project: NamedDependency[Project]
) -> Actor:
    return Actor(
        project_id=project.id,
        source=EventSource(channel="API", app_id=project.app_id),
        request_id=request_id_of(request.scope) or "",
    )


async def provide_conn(
    state: State, project: NamedDependency[Project]
) -> AsyncGenerator[Connection, None]:
    """One transaction per request, opened after authentication.

    Litestar closes this generator before the response is sent: a client never reads a response
    whose effects are not yet committed, and an exception rolls everything back.
    """
    pool: Pool = state.pool
    async with pool.acquire() as conn, conn.transaction():
        yield conn
