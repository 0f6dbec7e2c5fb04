"""The idempotency layer around an app whose answers the test chooses: what is kept and what not.

The served app never answers 5xx on purpose, so these cases wrap a small ASGI app of the
test's own in the real layer, on the real database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from patron.db.pool import Pool, create_pool
from patron.idempotency.asgi import Idempotency
from patron.projects.asgi import PROJECT_KEY
from patron.projects.service import Credentials, Project
from tests.conftest import RunningServer, run


class Counting:
    """An app answering the statuses given in turn, counting its runs, body echoed back."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.runs = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        status = self.statuses[min(self.runs, len(self.statuses) - 1)]
        self.runs += 1
        headers = [(b"content-type", b"text/plain"), (b"x-run", str(self.runs).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        # Two body messages: the layer must keep the whole body.
        await send({"type": "http.response.body", "body": body[:1], "more_body": True})
        await send({"type": "http.response.body", "body": body[1:]})


async def call(
    app: Any, project: Project | None, body: bytes, key: str | None = "k"
) -> tuple[int, dict[bytes, bytes], bytes]:
    headers = [] if key is None else [(b"idempotency-key", key.encode())]
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/customers",
        "query_string": b"",
        "headers": headers,
    }
    if project is not None:
        scope[PROJECT_KEY] = project
    # The body in two messages, as a server may deliver it; then nothing until a disconnect.
    incoming = [
        {"type": "http.request", "body": body[:2], "more_body": True},
        {"type": "http.request", "body": body[2:], "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        if not incoming:
            await asyncio.Event().wait()
        return incoming.pop(0)

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    return (
        start["status"],
        dict(start["headers"]),
        b"".join(m.get("body", b"") for m in messages[1:]),
    )


class Routed:
    """`Counting` behind a Litestar-like router that knows POST /v1/customers."""

    def __init__(self, app: Counting) -> None:
        self.app = app
        self.asgi_router = self

    def handle_routing(self, path: str, method: str) -> tuple[Any, ...]:
        if (path, method) != ("/v1/customers", "POST"):
            raise LookupError(path)
        return (self.app, None, path, {}, "/v1/customers")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def layer_for(pool: Pool, app: Counting) -> Idempotency:
    return Idempotency(Routed(app), lambda: pool, wait_seconds=1.0)


def the_project(credentials: Credentials) -> Project:
    return Project(id=credentials.project_id, name="t", app_id=credentials.app_id, asset_key=b"")


class TestWhatIsKept:
    def test_a_5xx_releases_the_key_so_the_retry_runs_again(
        self, server: RunningServer, project: Credentials
    ) -> None:
        app = Counting(500, 201)

        async def scenario() -> list[tuple[int, dict[bytes, bytes], bytes]]:
            pool = await create_pool(server.db.dsn, min_size=1, max_size=2)
            try:
                layer = layer_for(pool, app)
                return [await call(layer, the_project(project), b"hello") for _ in range(3)]
            finally:
                await pool.close()

        failed, retried, replayed = run(scenario())
        assert failed[0] == 500
        assert b"idempotent-replayed" not in failed[1]
        assert retried[0] == 201
        assert retried[2] == b"hello"
        assert replayed[0] == 201
        assert replayed[1][b"idempotent-replayed"] == b"true"
        assert replayed[1][b"x-run"] == b"2"
        assert replayed[1][b"content-length"] == b"5"
        assert replayed[2] == b"hello"
        assert app.runs == 2

    def test_without_a_project_the_header_is_ignored(self, server: RunningServer) -> None:
        app = Counting(200)

        async def scenario() -> None:
            pool = await create_pool(server.db.dsn, min_size=1, max_size=1)
            try:
                layer = layer_for(pool, app)
                for _ in range(2):
                    status, headers, _ = await call(layer, None, b"x")
                    assert status == 200
                    assert b"idempotent-replayed" not in headers
            finally:
                await pool.close()

        run(scenario())
        assert app.runs == 2
