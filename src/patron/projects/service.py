"""Projects and their server-side credentials. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from patron.db.pool import Connection, Pool, connect
from patron.errors import Unauthorized
from patron.kit import ids
from patron.projects import repository
from patron.projects.repository import ClientKeyRow

logger = logging.getLogger("patron.projects")


class Credentials(msgspec.Struct, frozen=True):
    project_id: str
    name: str
    app_id: str
    app_token: str


class Project(msgspec.Struct, frozen=True):
    """The tenant a request acts for.

    `asset_key` signs the URLs of its vouchers' QR codes and barcodes
    (`patron.assets.tokens.voucher_assets`); it is left out of the repr, and so of logs.
    """

    id: str
    name: str
    app_id: str
    asset_key: bytes

    def __repr__(self) -> str:
        return f"Project(id={self.id!r}, name={self.name!r}, app_id={self.app_id!r})"


def _project(row: repository.ProjectRow) -> Project:
    return Project(id=row.id, name=row.name, app_id=row.app_id, asset_key=row.asset_key)


def hash_token(token: str) -> bytes:
    # Tokens are 256-bit random strings, so a fast hash is as strong as a slow one here.
    return hashlib.sha256(token.encode()).digest()


# What a token is compared with when no key has the id sent: every refusal then costs the same
# constant-time comparison. (The empty token it hashes is refused before any comparison.)
_NO_KEY = hash_token("")


def _token_matches(stored_hash: bytes | None, token: str) -> bool:
    """Constant-time: how long it takes says nothing about how much of the token was right."""
    expected = _NO_KEY if stored_hash is None else stored_hash
    return hmac.compare_digest(expected, hash_token(token)) and stored_hash is not None


class DuplicateName(Exception):
    """A project of that name exists already: names are unique in an installation."""


class UnknownProject(LookupError):
    """No project, or more than one, answers to the name, id or app id given."""


async def create(
    conn: Connection, name: str, *, app_id: str | None = None, app_token: str | None = None
) -> Credentials:
    """Create a project; its token is returned here once and never stored in plain text.

    Runs in the caller's transaction. Raises DuplicateName when a project has that name: the
    unique index on names (migration 0017_project_names_unique) decides, so two concurrent
    creations cannot both pass; the caller's transaction stays usable after the refusal.
    """
    token = app_token or ids.app_token()
    row = await repository.insert(
        conn,
        project_id=ids.project_id(),
        name=name,
        app_id=app_id or ids.app_id(),
        app_token_hash=hash_token(token),
    )
    if row is None:
        raise DuplicateName(f"a project named {name!r} exists already; choose another name")
    return Credentials(project_id=row.id, name=row.name, app_id=row.app_id, app_token=token)


async def ensure(
    conn: Connection, *, app_id: str, app_token: str, name: str = "default"
) -> Project:
    """Make sure a project with exactly these credentials exists (PATRON_APP_ID and
    PATRON_APP_TOKEN). A new one is named `name`, or `name (2)`, `name (3)`, … when another
    project has that name; a changed token is stored and running servers forget the old one."""
    row = await repository.find_by_app_id(conn, app_id)
    if row is None:
        await repository.lock_table(conn)  # the free name stays free until commit
        row = await repository.insert(
            conn,
            project_id=ids.project_id(),
            name=await repository.free_name(conn, name),
            app_id=app_id,
            app_token_hash=hash_token(app_token),
        )
        if row is None:
            raise DuplicateName(f"no free name for a project named after {name!r}")
    elif not hmac.compare_digest(row.app_token_hash, hash_token(app_token)):
        await repository.set_token_hash(conn, row.id, hash_token(app_token))
    return _project(row)


async def create_first(conn: Connection) -> Credentials | None:
    """Create a first project when there is none, so that a fresh install works at once."""
    await repository.lock_table(conn)
    if await repository.count(conn) > 0:
        return None
    return await create(conn, "default")


async def find(conn: Connection, key: str) -> Project | None:
    """A project by its id, its app id or its name (for operators' commands).

    Raises UnknownProject when only names match and several projects have that name
    (installations from before names were unique).
    """
    rows = await repository.find_by_key(conn, key)
    if not rows:
        return None
    if len(rows) > 1 and key not in (rows[0].id, rows[0].app_id):
        raise UnknownProject(f"{len(rows)} projects are named {key!r}: give its id or app id")
    return _project(rows[0])


async def list_all(conn: Connection) -> list[Project]:
    """Every project of the installation, by name."""
    return [_project(row) for row in await repository.list_all(conn)]


async def rotate_token(conn: Connection, key: str) -> Credentials:
    """Give the project named by `key` (id, app id or name) a new app token, returned here only;
    the old one no longer matches the stored hash. Running servers refuse the old one as soon as
    the caller's transaction commits (a notification, see CredentialListener). Raises
    UnknownProject."""
    project = await find(conn, key)
    if project is None:
        raise UnknownProject(f"no project with name, id or app id {key}")
    token = ids.app_token()
    await repository.set_token_hash(conn, project.id, hash_token(token))
    return Credentials(
        project_id=project.id, name=project.name, app_id=project.app_id, app_token=token
    )


async def asset_key(conn: Connection, project_id: str) -> bytes | None:
    """The 32-byte key that signs the project's asset URLs; None for an unknown project."""
    return await repository.find_asset_key(conn, project_id)


class ClientKey(msgspec.Struct, frozen=True):
    """Client-side credentials: which project, and which page origins may use them."""

    id: str
    name: str
    project: Project
    allowed_origins: frozenset[str]


def normalize_origin(origin: str) -> str:
    """`https://Shop.example:8443/` and `shop.example:8443` name the same origin here."""
    origin = origin.strip().lower()
    if "://" in origin:
        origin = origin.split("://", 1)[1]
    return origin.split("/", 1)[0]


async def create_client_key(
    conn: Connection, project_key: str, *, name: str, origins: list[str]
) -> tuple[str, str, Project]:
    """Create client-side credentials for a project; the token is returned here only."""
    project = await find(conn, project_key)
    if project is None:
        raise UnknownProject(f"no project with name, id or app id {project_key}")
    key_id = ids.client_key_id()
    token = ids.app_token()
    await repository.insert_client_key(
        conn,
        key_id=key_id,
        project_id=project.id,
        name=name,
        token_hash=hash_token(token),
        allowed_origins=sorted({normalize_origin(origin) for origin in origins}),
    )
    return key_id, token, project


async def delete_client_key(conn: Connection, key_id: str) -> None:
    """Delete client-side credentials; running servers refuse them as soon as the caller's
    transaction commits (a notification, see CredentialListener). Raises UnknownClientKey."""
    if not await repository.delete_client_key(conn, key_id):
        raise UnknownClientKey(f"no client key with id {key_id}")


class UnknownClientKey(LookupError):
    """No client key has the id given."""


V = TypeVar("V")


class CredentialCache(Generic[V]):
    """What an authenticator read of a credential, kept for `ttl_seconds` at most, and
    forgotten at once when the credential changes (CredentialListener calls `evict`).

    A read that was under way while something was evicted is not kept (`epoch`): it may have
    seen the credential from before the change. While no notification can arrive (`suspend`,
    until `resume`), nothing is kept at all, and every request reads the database.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, V]] = {}
        self._live = True
        # Moved by every eviction: a read that started at another epoch is not kept.
        self.epoch = 0

    def get(self, key: str, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put(self, key: str, value: V, *, now: float, epoch: int) -> None:
        if epoch != self.epoch or not self._live:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, value)

    def evict(self, key: str) -> None:
        self._entries.pop(key, None)
        self.epoch += 1

    def clear(self) -> None:
        self._entries.clear()
        self.epoch += 1

    def suspend(self) -> None:
        """Forget everything and keep nothing until `resume`."""
        self._live = False
        self.clear()

    def resume(self) -> None:
        """Keep entries again, from an empty cache."""
        self._live = True
        self.clear()


class ClientAuthenticator:
    """Checks `X-Client-Application-Id` / `X-Client-Token`, caching keys (`CredentialCache`)."""

    def __init__(self, pool: Callable[[], Pool], *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        self.cache: CredentialCache[ClientKeyRow] = CredentialCache(ttl_seconds)

    async def authenticate(self, key_id: str | None, token: str | None) -> ClientKey:
        if not key_id or not token or len(key_id) > 200 or len(token) > 200 or "\x00" in key_id:
            raise Unauthorized()
        now = time.monotonic()
        row = self.cache.get(key_id, now)
        if row is None:
            epoch = self.cache.epoch
            async with self._pool().acquire() as conn:
                row = await repository.find_client_key(conn, key_id)
            if row is not None:
                self.cache.put(key_id, row, now=now, epoch=epoch)
        if not _token_matches(None if row is None else row.token_hash, token) or row is None:
            raise Unauthorized()
        return ClientKey(
            id=row.id,
            name=row.name,
            project=Project(
                id=row.project_id,
                name=row.project_name,
                app_id=row.project_app_id,
                asset_key=row.project_asset_key,
            ),
            allowed_origins=frozenset(row.allowed_origins),
        )


class Authenticator:
    """Checks `X-App-Id` / `X-App-Token`, caching each project (`CredentialCache`)."""

    def __init__(self, pool: Callable[[], Pool], *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        # app id -> (stored token hash, the project); an unknown app id is never cached
        self.cache: CredentialCache[tuple[bytes, Project]] = CredentialCache(ttl_seconds)

    async def authenticate(self, app_id: str | None, app_token: str | None) -> Project:
        if (
            not app_id
            or not app_token
            or len(app_id) > 200
            or len(app_token) > 200
            or "\x00" in app_id
        ):
            raise Unauthorized()
        now = time.monotonic()
        cached = self.cache.get(app_id, now)
        if cached is None:
            epoch = self.cache.epoch
            async with self._pool().acquire() as conn:
                row = await repository.find_by_app_id(conn, app_id)
            if row is None:
                _token_matches(None, app_token)  # the same constant-time work as a wrong token
                raise Unauthorized()
            cached = (row.app_token_hash, _project(row))
            self.cache.put(app_id, cached, now=now, epoch=epoch)
        if not _token_matches(cached[0], app_token):
            raise Unauthorized()
        return cached[1]


class CredentialListener:
    """Keeps a server process's credential caches true to the database.

    It LISTENs on `repository.CREDENTIALS_CHANNEL` on a connection of its own (outside the
    pool) and evicts what a notification names: a rotated app token or a deleted client key is
    refused by the next request. The caches keep entries only while it listens: until the
    first LISTEN, and from the moment the connection is lost (or stops answering a check every
    `check_seconds`) until a new LISTEN is in place, they are emptied and keep nothing, so a
    notification missed meanwhile cannot keep an old credential alive. It reconnects with
    jittered exponential backoff (tenacity), up to `max_backoff_seconds` apart, for as long as
    it runs; `run` ends only when cancelled.
    """

    def __init__(
        self,
        dsn: str,
        caches: Mapping[str, CredentialCache[Any]],
        *,
        check_seconds: float = 10.0,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self._dsn = dsn
        # A notification's kind (`project`, `client_key`) -> the cache its key is evicted from
        self._caches = dict(caches)
        self._check_seconds = check_seconds
        self._max_backoff = max_backoff_seconds
        # Set while LISTEN is in place (the caches keep entries), with its session's process id.
        self.listening = asyncio.Event()
        self.backend_pid: int | None = None

    @classmethod
    def of(
        cls, dsn: str, authenticator: Authenticator, client_authenticator: ClientAuthenticator
    ) -> CredentialListener:
        return cls(dsn, {"project": authenticator.cache, "client_key": client_authenticator.cache})

    async def run(self) -> None:
        self._suspend()
        while True:
            try:
                conn = await self._connect()
            except Exception:  # not the database being away: that is retried in _connect
                logger.exception("cannot listen for credential changes; trying again")
                await asyncio.sleep(self._max_backoff)
                continue
            try:
                await self._listen(conn)
            except Exception as exc:
                logger.warning("credential notifications lost (%r); reconnecting", exc)
            finally:
                self._suspend()
                await _close(conn)

    async def _connect(self) -> asyncpg.Connection[asyncpg.Record]:
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.1, max=self._max_backoff, jitter=0.1),
            retry=retry_if_exception_type(
                (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
            ),
            before_sleep=before_sleep_log(logger, logging.WARNING),
        )
        async for attempt in retrying:
            with attempt:
                conn = await connect(self._dsn)
                try:
                    await conn.add_listener(repository.CREDENTIALS_CHANNEL, self._on_notify)
                except BaseException:
                    await _close(conn)
                    raise
                return conn
        raise AssertionError("unreachable: retried forever")

    async def _listen(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        # LISTEN is in place: whatever changed before it may have been missed, so start afresh.
        self.backend_pid = conn.get_server_pid()
        self._resume()
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self._check_seconds)
            except TimeoutError:
                # A connection that silently stopped answering would deliver nothing.
                await conn.fetchval("SELECT 1", timeout=self._check_seconds)
            else:
                raise OSError("the listening connection was closed")

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        kind, _, key = str(payload).partition(":")
        cache = self._caches.get(kind)
        if cache is not None:
            cache.evict(key)
            return
        for cache in self._caches.values():  # unknown: forget everything rather than guess
            cache.clear()

    def _suspend(self) -> None:
        self.listening.clear()
        for cache in self._caches.values():
            cache.suspend()

    def _resume(self) -> None:
        for cache in self._caches.values():
            cache.resume()
        self.listening.set()


async def _close(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    try:
        await asyncio.wait_for(conn.close(), 5)
    except Exception:
        conn.terminate()
