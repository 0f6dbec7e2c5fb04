"""The asyncpg pool, its type codecs, and the one transaction of each request."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from patron.kit import json

T = TypeVar("T")

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    PoolConnection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # asyncpg's classes are generic only in its stubs
    from asyncpg.pool import PoolConnectionProxy

    Connection = asyncpg.Connection
    PoolConnection = PoolConnectionProxy
    Pool = asyncpg.Pool


def _encode_jsonb(value: Any) -> bytes:
    # jsonb's binary wire format is a version byte (1) followed by the JSON text.
    return b"\x01" + json.encode(value)


def _decode_jsonb(data: bytes) -> Any:
    return json.decode(data[1:])


async def _init_connection(conn: Connection) -> None:
    # Binary codecs, so that COPY (always binary in asyncpg) can carry JSON columns too.
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=json.encode, decoder=json.decode, schema="pg_catalog", format="binary"
    )


async def connect(dsn: str) -> asyncpg.Connection[asyncpg.Record]:
    """A single connection with Patron's codecs, for commands and tools outside the server."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn, server_settings={"application_name": "patron", "timezone": "UTC"}
    )
    await _init_connection(conn)
    return conn


async def retrying_deadlocks(
    conn: Connection, work: Callable[[], Awaitable[T]], *, attempts: int = 5
) -> T:
    """Run `work` in a savepoint, and run it again when PostgreSQL picks it as a deadlock's
    victim: rolling back to the savepoint releases every lock it took, so the other side goes
    on, and the retry starts clean. For changes whose lock order cannot be known up front."""
    for attempt in range(1, attempts + 1):
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            result = await work()
        except asyncpg.DeadlockDetectedError:
            await savepoint.rollback()
            if attempt == attempts:
                raise
            await asyncio.sleep(0.01 * attempt * (1 + random.random()))
            continue
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()
        return result
    raise AssertionError("unreachable")


async def _keep_session(conn: Connection) -> None:
    """The pool's reset of a connection it gets back: nothing beyond what asyncpg always does
    (roll back a transaction left open, forget listeners).

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release: a round trip per request for state that requests never leave behind (they
    take transaction-level locks and `SET LOCAL` only). The one user of session state, the
    async-action worker, holds its connection and resets it itself before giving it back.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> Pool:
    pool: Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"application_name": "patron", "timezone": "UTC"},
    )
    return pool


@asynccontextmanager
async def read(pool: Pool) -> AsyncIterator[Connection]:
    """A connection for a read of one statement: no transaction, so no `BEGIN`/`COMMIT`."""
    async with pool.acquire() as conn:
        yield conn


@asynccontextmanager
async def snapshot(pool: Pool) -> AsyncIterator[Connection]:
    """A read-only transaction whose statements all see one snapshot (a page and its total
    agree), begun in one statement (`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield conn


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """A request's one transaction: committed when the block ends, rolled back if it raises.

    Routes open it around their service call and build their response after it, so a client
    never reads a response whose effects are not yet committed (see
    `patron.dependencies.transaction`).
    """
    async with pool.acquire() as conn, conn.transaction():
        yield conn


class DatabaseUnreachable(Exception):
    """PostgreSQL could not be reached or refused Patron; the message is one line for the
    operator, naming the host and what to check, and never the password."""


def unreachable(dsn: str, exc: BaseException) -> DatabaseUnreachable | None:
    """The one-line `DatabaseUnreachable` for a failure to connect to `dsn`, or None when `exc`
    is not one (a bug, a failed query: let it go on as it is).

    Covers what `asyncpg.connect` / `create_pool` raise before a connection is usable: OSError
    (refused, unknown host, unreachable network), a timeout, and PostgreSQL's refusals of the
    login (password, unknown role or database, too many connections).
    """
    where = host_of(dsn)
    check = "check that PostgreSQL runs there and PATRON_DATABASE_URL's host and port"
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        reason, check = "refused the login", "check PATRON_DATABASE_URL's user and password"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        reason, check = "has no such database", "check the database name in PATRON_DATABASE_URL"
    elif isinstance(exc, asyncpg.TooManyConnectionsError):
        reason = "has no connection left"
        check = "check its max_connections against PATRON_POOL_MAX_SIZE x PATRON_WORKERS"
    elif isinstance(exc, TimeoutError):
        reason = "did not answer in time"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "refused the connection"
    elif isinstance(exc, socket.gaierror):
        reason, check = "is an unknown host name", "check PATRON_DATABASE_URL's host"
    elif isinstance(exc, OSError):
        reason = f"could not be reached ({exc.strerror or type(exc).__name__})"
    elif isinstance(exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InterfaceError):
        reason = f"could not be connected to ({type(exc).__name__})"
    else:
        return None
    return DatabaseUnreachable(f"PostgreSQL at {where} {reason}: {check}")


def host_of(dsn: str) -> str:
    """`host:port` of a postgresql:// URL (asyncpg's defaults when missing), without user or
    password; the socket folder for a Unix-socket URL."""
    try:
        parts = urlsplit(dsn)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "PATRON_DATABASE_URL's host"
    query = dict(parse_qsl(parts.query))
    host = host or query.get("host") or "localhost"
    port = port or int(query.get("port", "5432") or 5432)
    return host if host.startswith("/") else f"{host}:{port}"


@asynccontextmanager
async def reaching(dsn: str) -> AsyncIterator[None]:
    """Turns a failure to connect to `dsn` inside the block into `DatabaseUnreachable`
    (`unreachable`); anything else passes through."""
    try:
        yield
    except Exception as exc:
        error = unreachable(dsn, exc)
        if error is None:
            raise
        raise error from None
