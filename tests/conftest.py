"""Test harness: a real Patron over real HTTP, on the embedded PostgreSQL and, when
PATRON_TEST_DATABASE_URL is set, on that server too. Every test gets a fresh project (tenant),
so tests never share state and tenant isolation is exercised all the time.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
import voucherify

from patron.app import create_asgi
from patron.config import Settings
from patron.db import migrate
from patron.db.embedded import EmbeddedPostgres
from patron.db.pool import connect
from patron.projects import service as projects
from patron.projects.service import Credentials

EXTERNAL_URL = os.environ.get("PATRON_TEST_DATABASE_URL")
BACKENDS = ["embedded", *(["external"] if EXTERNAL_URL else [])]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@dataclass
class Database:
    """Direct access to the database under test, for setting up and checking what the API did."""

    dsn: str

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await connect(self.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return run(self._fetch(sql, *args))  # type: ignore[no-any-return]

    def fetchval(self, sql: str, *args: Any) -> Any:
        rows = self.fetch(sql, *args)
        return rows[0][0] if rows else None


@dataclass
class RunningServer:
    base_url: str
    db: Database
    backend: str


def _external_database(worker: str) -> Iterator[str]:
    """A fresh database on the external server, dropped afterwards. Fails loudly if unreachable."""
    assert EXTERNAL_URL is not None
    name = f"patron_test_{worker}_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(EXTERNAL_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PATRON_TEST_DATABASE_URL={EXTERNAL_URL} cannot be used: {exc!r}")
    base, _, _ = EXTERNAL_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The client-side rate limit (5 requests per 5 seconds per IP) would make tests that share
# 127.0.0.1 depend on each other; it is tested on a server of its own.
TEST_SETTINGS = Settings(
    pool_min_size=1, pool_max_size=10, worker_poll_seconds=0.2, client_rate_limit=1_000_000
)


def _serve(dsn: str, settings: Settings = TEST_SETTINGS) -> Iterator[str]:
    """Patron on an ephemeral port in a background thread, until the session ends."""
    config = uvicorn.Config(
        create_asgi(settings, dsn),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    if request.param == "embedded":
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("patron-data"))
        dsn = embedded.start()
        try:
            migrate.upgrade(dsn)
            for base_url in _serve(dsn):
                yield RunningServer(base_url, Database(dsn), "embedded")
        finally:
            embedded.stop()
    else:
        for dsn in _external_database(worker):
            migrate.upgrade(dsn)
            for base_url in _serve(dsn):
                yield RunningServer(base_url, Database(dsn), "external")


@pytest.fixture
def fresh_database(server: RunningServer) -> Iterator[Database]:
    """A migrated database of its own on the server under test, that no Patron serves."""
    name = f"patron_fresh_{secrets.token_hex(4)}"
    admin = server.db.dsn

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(execute(f'CREATE DATABASE "{name}"'))
    base, slash, rest = admin.partition("?")
    prefix, _, _ = base.rpartition("/")
    dsn = f"{prefix}/{name}{slash}{rest}"
    try:
        migrate.upgrade(dsn)
        yield Database(dsn)
    finally:
        run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_project(db: Database, name: str = "test") -> Credentials:
    """A new project named `name` and a random suffix: names are unique in an installation, and
    tests share one."""

    async def work() -> Credentials:
        conn = await connect(db.dsn)
        try:
            async with conn.transaction():
                return await projects.create(conn, f"{name} {secrets.token_hex(4)}")
        finally:
            await conn.close()

    return run(work())  # type: ignore[no-any-return]


@pytest.fixture
def project(server: RunningServer) -> Credentials:
    """A fresh tenant for this test."""
    return create_project(server.db)


def sdk_client(server: RunningServer, credentials: Credentials) -> voucherify.ApiClient:
    configuration = voucherify.Configuration(
        host=server.base_url,
        api_key={"X-App-Id": credentials.app_id, "X-App-Token": credentials.app_token},
    )
    return voucherify.ApiClient(configuration)


@pytest.fixture
def customers_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.CustomersApi(client)


@pytest.fixture
def campaigns_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.CampaignsApi(client)


@pytest.fixture
def vouchers_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.VouchersApi(client)


def auth_headers(credentials: Credentials) -> dict[str, str]:
    return {"X-App-Id": credentials.app_id, "X-App-Token": credentials.app_token}


@pytest.fixture
def http(server: RunningServer, project: Credentials) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url, headers=auth_headers(project), timeout=30
    ) as client:
        yield client


@pytest.fixture
def anonymous_http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


ProjectFactory = Callable[[], Credentials]


@pytest.fixture
def another_project(server: RunningServer) -> Credentials:
    return create_project(server.db, "other")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
