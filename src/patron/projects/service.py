"""Projects and their server-side credentials. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import time

import msgspec

from patron.db.pool import Connection, Pool
from patron.errors import Unauthorized
from patron.kit import ids
from patron.projects import repository
from patron.projects.repository import ProjectRow


class Credentials(msgspec.Struct, frozen=True):
    project_id: str
    name: str
    app_id: str
    app_token: str


class Project(msgspec.Struct, frozen=True):
    """The tenant a request acts for."""

    id: str
    name: str
    app_id: str


def hash_token(token: str) -> bytes:
    # Tokens are 256-bit random strings, so a fast hash is as strong as a slow one here.
    return hashlib.sha256(token.encode()).digest()


async def create(
    conn: Connection, name: str, *, app_id: str | None = None, app_token: str | None = None
) -> Credentials:
    """Create a project; its token is returned here once and never stored in plain text."""
    token = app_token or ids.app_token()
    row = await repository.insert(
        conn,
        project_id=ids.project_id(),
        name=name,
        app_id=app_id or ids.app_id(),
        app_token_hash=hash_token(token),
    )
    return Credentials(project_id=row.id, name=row.name, app_id=row.app_id, app_token=token)


async def ensure(
    conn: Connection, *, app_id: str, app_token: str, name: str = "default"
) -> Project:
    """Make sure a project with exactly these credentials exists."""
    row = await repository.find_by_app_id(conn, app_id)
    if row is None:
        created = await create(conn, name, app_id=app_id, app_token=app_token)
        return Project(id=created.project_id, name=created.name, app_id=created.app_id)
    if not hmac.compare_digest(row.app_token_hash, hash_token(app_token)):
        await repository.set_token_hash(conn, row.id, hash_token(app_token))
    return Project(id=row.id, name=row.name, app_id=row.app_id)


async def create_first(conn: Connection) -> Credentials | None:
    """Create a first project when there is none, so that a fresh install works at once."""
    await repository.lock_table(conn)
    if await repository.count(conn) > 0:
        return None
    return await create(conn, "default")


async def find(conn: Connection, key: str) -> Project | None:
    """A project by its id or its app id (for operators' commands)."""
    row = await repository.find_by_id_or_app_id(conn, key)
    return None if row is None else Project(id=row.id, name=row.name, app_id=row.app_id)


class Authenticator:
    """Checks `X-App-Id` / `X-App-Token`, remembering each project's hash for a short while."""

    def __init__(self, pool: Pool, *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ProjectRow]] = {}

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
        cached = self._cache.get(app_id)
        if cached is not None and cached[0] > now:
            row: ProjectRow | None = cached[1]
        else:
            async with self._pool.acquire() as conn:
                row = await repository.find_by_app_id(conn, app_id)
            if row is not None:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[app_id] = (now + self._ttl, row)
        if row is None or not hmac.compare_digest(row.app_token_hash, hash_token(app_token)):
            raise Unauthorized()
        return Project(id=row.id, name=row.name, app_id=row.app_id)
