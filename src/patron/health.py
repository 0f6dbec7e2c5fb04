"""`GET /health`: 200 once the database is reachable and migrated."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, get
from litestar.types import ASGIApp

from patron.db import migrate
from patron.db.pool import Pool
from patron.errors import ServiceUnavailable
from patron.kit.http import json_response
from patron.openapi.operation import operation


class Health(msgspec.Struct, forbid_unknown_fields=True):
    """The health check's answer."""

    status: Literal["ok"]
    schema_revision: str


@operation(
    "health",
    "System",
    response=Health,
    response_description="Ready.",
    errors=("ServiceUnavailable",),
    public=True,
    description="200 once the database answers and carries the newest migration; no credentials"
    " needed.",
)
@get("/health", include_in_schema=False)
async def health(request: Request[Any, Any, Any]) -> ASGIApp:
    """Answer 200 when the database answers and carries the newest migration."""
    pool: Pool = request.app.state.pool
    expected: str = request.app.state.schema_revision
    try:
        async with pool.acquire(timeout=5) as conn:
            revision = await migrate.current_revision(conn)
    except Exception as exc:
        raise ServiceUnavailable(f"database unavailable: {type(exc).__name__}") from None
    if revision != expected:
        raise ServiceUnavailable(f"database schema is at {revision}, expected {expected}")
    return json_response({"status": "ok", "schema_revision": revision})
