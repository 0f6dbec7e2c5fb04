"""How many statements a request sends to PostgreSQL, so that round trips cannot creep back.

Patron's app runs in this test's event loop, over a pool whose connections log every statement
they send (asyncpg's query loggers: BEGIN and COMMIT included, and the reset a pool would send
on release).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from bench.overhead import Lifespan

from patron.app import create_asgi
from patron.config import Settings
from patron.db import pool as db_pool
from patron.db.pool import Connection, connect
from patron.projects import service as projects
from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers


@asynccontextmanager
async def _patron(
    dsn: str, credentials: Credentials, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    original: Callable[[Connection], Any] = db_pool._init_connection

    async def logging_init(conn: Connection) -> None:
        await original(conn)
        conn.add_query_logger(lambda record: statements.append(record.query))

    monkeypatch.setattr(db_pool, "_init_connection", logging_init)
    app = create_asgi(Settings(worker=False, pool_min_size=1, pool_max_size=2), dsn)
    lifespan = Lifespan(app)
    await lifespan.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers=auth_headers(credentials),
        ) as client:
            yield client
    finally:
        await lifespan.stop()


async def _new_project(dsn: str) -> Credentials:
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            return await projects.create(conn, f"round trips {secrets.token_hex(4)}")
    finally:
        await conn.close()


def _kinds(statements: list[str]) -> list[str]:
    """Each statement by its first word (a data-modifying WITH counts as one statement)."""
    return [statement.split()[0].rstrip(";").upper() for statement in statements]


class TestRoundTrips:
    def test_get_and_post_customer_send_the_fewest_statements(
        self, server: RunningServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def scenario() -> None:
            credentials = await _new_project(server.db.dsn)
            statements: list[str] = []
            async with _patron(server.db.dsn, credentials, statements, monkeypatch) as client:
                # Warm up: the credentials are cached after the first request.
                warm = await client.post("/v1/customers", json={"source_id": "warm"})
                assert warm.status_code == 200

                statements.clear()
                got = await client.get("/v1/customers/warm")
                assert got.status_code == 200
                # One statement, no transaction around it, no reset after it.
                assert _kinds(statements) == ["SELECT"], statements

                statements.clear()
                new = await client.post("/v1/customers", json={"source_id": "new", "name": "A"})
                assert new.status_code == 200
                # The upsert, its count and its activity are one statement, its own transaction.
                assert _kinds(statements) == ["WITH"], statements

                statements.clear()
                changed = await client.post("/v1/customers", json={"source_id": "new", "name": "B"})
                assert changed.json()["name"] == "B"
                # Read as the creation finds it, then changed if it is still as read: two
                # statements, each its own transaction.
                assert _kinds(statements) == ["WITH", "WITH"], statements

                statements.clear()
                same = await client.post("/v1/customers", json={"source_id": "new", "name": "B"})
                assert same.status_code == 200
                assert _kinds(statements) == ["WITH"], statements

                statements.clear()
                page = await client.get("/v1/customers", params={"limit": 5})
                assert page.json()["total"] == 2
                # BEGIN (one snapshot, read only), the page, its total, COMMIT.
                assert _kinds(statements) == ["BEGIN", "SELECT", "SELECT", "COMMIT"], statements

        asyncio.run(scenario())

    def test_segments_cost_nothing_until_the_project_has_an_auto_update_one(
        self, server: RunningServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def scenario() -> None:
            credentials = await _new_project(server.db.dsn)
            statements: list[str] = []
            async with _patron(server.db.dsn, credentials, statements, monkeypatch) as client:
                await client.post("/v1/customers", json={"source_id": "warm"})
                segment = await client.post(
                    "/v1/segments",
                    json={
                        "name": "named A",
                        "type": "auto-update",
                        "filter": {"name": {"conditions": {"$is": ["A"]}}},
                    },
                )
                assert segment.status_code == 200, segment.text
                statements.clear()
                new = await client.post("/v1/customers", json={"source_id": "a", "name": "A"})
                assert new.status_code == 200
                # Now the write matches the new customer against the segment.
                assert len(statements) > 3
                activities = await client.get("/v1/customers/a/activity")
                types = [activity["type"] for activity in activities.json()["data"]]
                assert "customer.segment.entered" in types

        asyncio.run(scenario())
