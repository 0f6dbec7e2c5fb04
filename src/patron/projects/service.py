"""Projects and their server-side credentials. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import msgspec

from patron.db.pool import Connection, Pool
from patron.errors import Unauthorized
from patron.kit import ids
from patron.projects import repository
from patron.projects.repository import ClientKeyRow


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

    Runs in the caller's transaction, which it holds the projects' table lock in. Raises
    DuplicateName when a project has that name (checked under that lock, so two concurrent
    creations cannot both pass).
    """
    await repository.lock_table(conn)
    if await repository.find_by_name(conn, name) is not None:
        raise DuplicateName(f"a project named {name!r} exists already; choose another name")
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
        row = await repository.insert(
            conn,
            project_id=ids.project_id(),
            name=name,
            app_id=app_id,
            app_token_hash=hash_token(app_token),
        )
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
    the old one no longer matches the stored hash. Raises UnknownProject."""
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


class ClientAuthenticator:
    """Checks `X-Client-Application-Id` / `X-Client-Token`, caching keys for a short while."""

    def __init__(self, pool: Callable[[], Pool], *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ClientKeyRow]] = {}

    async def authenticate(self, key_id: str | None, token: str | None) -> ClientKey:
        if not key_id or not token or len(key_id) > 200 or len(token) > 200 or "\x00" in key_id:
            raise Unauthorized()
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            row: ClientKeyRow | None = cached[1]
        else:
            async with self._pool().acquire() as conn:
                row = await repository.find_client_key(conn, key_id)
            if row is not None:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key_id] = (now + self._ttl, row)
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
    """Checks `X-App-Id` / `X-App-Token`, remembering each project for a short while."""

    def __init__(self, pool: Callable[[], Pool], *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        # app id -> (expiry, stored token hash, the project), or None for an unknown app id
        self._cache: dict[str, tuple[float, bytes, Project]] = {}

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
        if cached is None or cached[0] <= now:
            async with self._pool().acquire() as conn:
                row = await repository.find_by_app_id(conn, app_id)
            if row is None:
                _token_matches(None, app_token)  # the same constant-time work as a wrong token
                raise Unauthorized()
            if len(self._cache) > 10_000:
                self._cache.clear()
            project = _project(row)
            cached = self._cache[app_id] = (now + self._ttl, row.app_token_hash, project)
        if not _token_matches(cached[1], app_token):
            raise Unauthorized()
        return cached[2]
