"""What every route needs of its request: the authenticated project, who acts, the transaction."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Request

from patron.activities.service import Actor, EventSource
from patron.db.pool import Connection, Pool
from patron.db.pool import read as pool_read
from patron.db.pool import snapshot as pool_snapshot
from patron.db.pool import transaction as pool_transaction
from patron.errors import Unauthorized
from patron.kit.context import request_id_of
from patron.projects.asgi import CLIENT_KEY, PROJECT_KEY
from patron.projects.service import ClientKey, Project


def project_of(request: Request[Any, Any, Any]) -> Project:
    """The project the `Authentication` layer found for this request's credentials.

    A plain call in the route rather than a Litestar dependency: resolving dependencies and
    validating them into the handler's signature cost more per request than the work they
    stand for (bench/README.md, "Session 4").
    """
    project = request.scope.get(PROJECT_KEY)
    if not isinstance(project, Project):
        raise Unauthorized()
    return project


def actor_of(request: Request[Any, Any, Any]) -> Actor:
    """Who acts: the project's server key, or a client key from a customer's page."""
    project = project_of(request)
    client_key = request.scope.get(CLIENT_KEY)
    if isinstance(client_key, ClientKey):
        source = EventSource(channel="CLIENT_API", app_id=client_key.id, key_name=client_key.name)
    else:
        source = EventSource(channel="API", app_id=project.app_id)
    return Actor(
        project_id=project.id, source=source, request_id=request_id_of(request.scope) or ""
    )


def transaction(request: Request[Any, Any, Any]) -> AbstractAsyncContextManager[Connection]:
    """The request's one transaction (`db.pool.transaction`), as a block in the route.

    A block rather than a dependency, so that a route can read and check its input before it
    takes a database connection (the routes that take a body do: a slow or bad request holds
    none) and build its response after the commit. (Measured by server CPU per request, it
    costs the same as the generator dependency it replaced: bench/README.md.)
    """
    pool: Pool = request.app.state.pool
    return pool_transaction(pool)


def read(request: Request[Any, Any, Any]) -> AbstractAsyncContextManager[Connection]:
    """A connection for a read of one statement, outside any transaction (`db.pool.read`)."""
    pool: Pool = request.app.state.pool
    return pool_read(pool)


def snapshot(request: Request[Any, Any, Any]) -> AbstractAsyncContextManager[Connection]:
    """A read-only transaction of one snapshot, for a page and its total (`db.pool.snapshot`)."""
    pool: Pool = request.app.state.pool
    return pool_snapshot(pool)


def connection(request: Request[Any, Any, Any]) -> AbstractAsyncContextManager[Connection]:
    """A connection outside any transaction, for a write whose service opens the transaction
    itself, and only when it needs more than one statement (`writes.customers.upsert`)."""
    pool: Pool = request.app.state.pool
    return pool_read(pool)
