"""Request dependencies: the authenticated project, and the request's one transaction."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from patron.activities.service import Actor, EventSource
from patron.db.pool import Connection, Pool
from patron.errors import Unauthorized
from patron.kit.context import request_id_of
from patron.projects.asgi import CLIENT_KEY, PROJECT_KEY
from patron.projects.service import ClientKey, Project


async def provide_project(request: Request[Any, Any, Any]) -> Project:
    """The project the `Authentication` layer found for this request's credentials."""
    project = request.scope.get(PROJECT_KEY)
    if not isinstance(project, Project):
        raise Unauthorized()
    return project


async def provide_actor(
    request: Request[Any, Any, Any], project: NamedDependency[Project]
) -> Actor:
    """Who acts: the project's server key, or a client key from a customer's page."""
    client_key = request.scope.get(CLIENT_KEY)
    if isinstance(client_key, ClientKey):
        source = EventSource(channel="CLIENT_API", app_id=client_key.id, key_name=client_key.name)
    else:
        source = EventSource(channel="API", app_id=project.app_id)
    return Actor(
        project_id=project.id, source=source, request_id=request_id_of(request.scope) or ""
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
