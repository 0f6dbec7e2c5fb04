"""The limit server: Patron's SQL work per request with no framework around it.

A raw ASGI app over one asyncpg pool. Each route runs the same service calls as Patron's route
(so the same statements, in one transaction, the activity row included) and encodes the same
JSON, but without Litestar's routing, dependency injection and middleware, without Patron's
outer layers (request ids, access log, authentication cache), and with minimal input handling.
It serves the customer endpoints of `bench.http_bench`'s cases and `POST /v1/publications`.
`Patron / limit` is therefore what the framework and those layers cost.

    .venv/bin/python -m bench.limit_server --dsn postgresql://… --project proj_… [--port 8001]
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import parse_qsl, unquote

import msgspec
import uvicorn

from patron.activities import service as activities
from patron.activities.service import Actor, EventSource, TimelineFilters
from patron.customers import service as customers
from patron.customers.schemas import CustomerCreate, CustomerUpdate
from patron.customers.service import ListFilters
from patron.db.pool import Pool, create_pool, read, snapshot, transaction
from patron.kit import json
from patron.kit.collector import settle_after_startup
from patron.publications import service as publications
from patron.publications.schemas import PublicationCreate

JSON = [(b"content-type", b"application/json; charset=utf-8")]


class LimitApp:
    def __init__(self, dsn: str, project_id: str) -> None:
        self.dsn = dsn
        self.project_id = project_id
        self.pool: Pool | None = None
        self.actor = Actor(project_id, EventSource("API", "bench"), "v-limit")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await create_pool(self.dsn, min_size=2, max_size=20)
                    settle_after_startup()  # as Patron does
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    assert self.pool is not None
                    await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload = await self.handle(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": JSON})
        await send({"type": "http.response.body", "body": json.encode(payload)})

    async def handle(self, scope: dict[str, Any], body: bytes) -> tuple[int, Any]:
        assert self.pool is not None
        method = scope["method"]
        parts = scope["raw_path"].decode().strip("/").split("/")
        params = dict(parse_qsl(scope["query_string"].decode()))
        # The same connection use as Patron's routes: writes in a transaction, a list in one
        # read-only snapshot, single reads outside any transaction.
        if parts == ["v1", "customers"] and method == "POST":
            payload = msgspec.json.decode(body, type=CustomerCreate)
            async with read(self.pool) as conn:  # the write path opens its transaction
                return 200, await customers.upsert(conn, self.actor, payload=payload)
        if parts == ["v1", "publications"] and method == "POST":
            publication = msgspec.json.decode(body, type=PublicationCreate)
            async with read(self.pool) as conn:  # publish opens its transactions
                return 200, await publications.publish(
                    conn, self.actor, body=publication, join_once=None
                )
        if parts == ["v1", "customers"] and method == "GET":
            filters = ListFilters(
                limit=int(params.get("limit", 10)),
                city=params.get("city"),
                email=params.get("email"),
                name=params.get("name"),
            )
            async with snapshot(self.pool) as conn:
                return 200, await customers.list_customers(conn, self.project_id, filters)
        if len(parts) == 3 and method == "GET":
            async with read(self.pool) as conn:
                return 200, await customers.get(conn, self.project_id, unquote(parts[2]))
        if len(parts) == 3 and method == "PUT":
            update = msgspec.json.decode(body, type=CustomerUpdate)
            async with transaction(self.pool) as conn:
                return 200, await customers.update(
                    conn, self.actor, unquote(parts[2]), payload=update
                )
        if len(parts) == 4 and parts[3] == "activity" and method == "GET":
            async with read(self.pool) as conn:
                customer_id = await customers.resolve_id(conn, self.project_id, unquote(parts[2]))
                filters_ = TimelineFilters(limit=int(params.get("limit", 10)))
                page = await activities.timeline_page(conn, self.project_id, customer_id, filters_)
                return 200, page
        return 404, {"code": 404}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        LimitApp(args.dsn, args.project),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
