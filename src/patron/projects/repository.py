"""SQL for projects."""

from __future__ import annotations

import asyncpg
import msgspec

from patron.db.pool import Connection


class ProjectRow(msgspec.Struct, frozen=True):
    id: str
    name: str
    app_id: str
    app_token_hash: bytes
    asset_key: bytes


def _project(row: asyncpg.Record) -> ProjectRow:
    return ProjectRow(
        id=row["id"],
        name=row["name"],
        app_id=row["app_id"],
        app_token_hash=row["app_token_hash"],
        asset_key=row["asset_key"],
    )


# The unique index on projects' names (migration 0017_project_names_unique).
NAME_KEY = "projects_name_key"


async def insert(
    conn: Connection, *, project_id: str, name: str, app_id: str, app_token_hash: bytes
) -> ProjectRow | None:
    """The new project; None when another project has that name already (the caller's
    transaction stays usable: the insert runs in a savepoint)."""
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO projects (id, name, app_id, app_token_hash)
                VALUES ($1, $2, $3, $4)
                RETURNING id, name, app_id, app_token_hash, asset_key
                """,
                project_id,
                name,
                app_id,
                app_token_hash,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == NAME_KEY:
            return None
        raise
    assert row is not None
    return _project(row)


async def find_by_app_id(conn: Connection, app_id: str) -> ProjectRow | None:
    row = await conn.fetchrow(
        "SELECT id, name, app_id, app_token_hash, asset_key FROM projects WHERE app_id = $1",
        app_id,
    )
    return None if row is None else _project(row)


async def find_by_key(conn: Connection, key: str) -> list[ProjectRow]:
    """The projects whose id, app id or name is `key`: those matched by id or app id first."""
    rows = await conn.fetch(
        "SELECT id, name, app_id, app_token_hash, asset_key FROM projects"
        " WHERE id = $1 OR app_id = $1 OR name = $1"
        " ORDER BY id = $1 DESC, app_id = $1 DESC, id",
        key,
    )
    return [_project(row) for row in rows]


async def find_by_name(conn: Connection, name: str) -> ProjectRow | None:
    row = await conn.fetchrow(
        "SELECT id, name, app_id, app_token_hash, asset_key FROM projects WHERE name = $1 LIMIT 1",
        name,
    )
    return None if row is None else _project(row)


async def list_all(conn: Connection) -> list[ProjectRow]:
    rows = await conn.fetch(
        "SELECT id, name, app_id, app_token_hash, asset_key FROM projects ORDER BY name, id"
    )
    return [_project(row) for row in rows]


async def find_asset_key(conn: Connection, project_id: str) -> bytes | None:
    """The key that signs the project's asset URLs; None for an unknown project."""
    key: bytes | None = await conn.fetchval(
        "SELECT asset_key FROM projects WHERE id = $1", project_id
    )
    return key


# Sent in the transaction of every change to a credential, so that it is delivered when (and
# only if) that transaction commits: `project:<app id>` or `client_key:<key id>`. Every server
# process listens, and forgets what it cached under that key (`service.CredentialListener`).
CREDENTIALS_CHANNEL = "patron_credentials"


async def set_token_hash(conn: Connection, project_id: str, app_token_hash: bytes) -> None:
    await conn.execute(
        """
        WITH changed AS (
            UPDATE projects SET app_token_hash = $2 WHERE id = $1 RETURNING app_id
        )
        SELECT pg_notify($3, 'project:' || app_id) FROM changed
        """,
        project_id,
        app_token_hash,
        CREDENTIALS_CHANNEL,
    )


async def free_name(conn: Connection, name: str) -> str:
    """`name`, or the first of `name (2)`, `name (3)`, … that no project has (the form the
    names migration gave to duplicates)."""
    value: str = await conn.fetchval(
        """
        SELECT candidate FROM (
            SELECT 1 AS number, $1::text AS candidate
            UNION ALL
            SELECT number, $1 || ' (' || number || ')' FROM generate_series(2, 10000) AS number
        ) candidates
        WHERE NOT EXISTS (SELECT 1 FROM projects WHERE name = candidate)
        ORDER BY number
        LIMIT 1
        """,
        name,
    )
    return value


class ClientKeyRow(msgspec.Struct, frozen=True):
    id: str
    project_id: str
    project_name: str
    project_app_id: str
    project_asset_key: bytes
    name: str
    token_hash: bytes
    allowed_origins: list[str]


async def insert_client_key(
    conn: Connection,
    *,
    key_id: str,
    project_id: str,
    name: str,
    token_hash: bytes,
    allowed_origins: list[str],
) -> None:
    await conn.execute(
        """
        INSERT INTO client_keys (id, project_id, name, token_hash, allowed_origins)
        VALUES ($1, $2, $3, $4, $5)
        """,
        key_id,
        project_id,
        name,
        token_hash,
        allowed_origins,
    )


async def delete_client_key(conn: Connection, key_id: str) -> bool:
    """Delete a client key; False when there was none of that id."""
    deleted = await conn.fetchval(
        """
        WITH deleted AS (DELETE FROM client_keys WHERE id = $1 RETURNING id)
        SELECT count(pg_notify($2, 'client_key:' || id)) FROM deleted
        """,
        key_id,
        CREDENTIALS_CHANNEL,
    )
    return bool(deleted)


async def find_client_key(conn: Connection, key_id: str) -> ClientKeyRow | None:
    row = await conn.fetchrow(
        """
        SELECT k.id, k.project_id, p.name AS project_name, p.app_id AS project_app_id,
               p.asset_key AS project_asset_key, k.name,
               k.token_hash, k.allowed_origins
        FROM client_keys k JOIN projects p ON p.id = k.project_id
        WHERE k.id = $1
        """,
        key_id,
    )
    if row is None:
        return None
    return ClientKeyRow(
        id=row["id"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        project_app_id=row["project_app_id"],
        project_asset_key=row["project_asset_key"],
        name=row["name"],
        token_hash=row["token_hash"],
        allowed_origins=list(row["allowed_origins"]),
    )


async def lock_table(conn: Connection) -> None:
    """Serialise project creation (for `create_first` and `ensure`)."""
    await conn.execute("LOCK TABLE projects IN SHARE ROW EXCLUSIVE MODE")


async def count(conn: Connection) -> int:
    value = await conn.fetchval("SELECT count(*) FROM projects")
    return int(value)


async def origin_allowed(conn: Connection, origin: str) -> bool:
    """Whether any client key of the installation, of any project, allows `origin` (normalized:
    host and port, lower case)."""
    value = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM client_keys WHERE $1 = ANY (allowed_origins))", origin
    )
    return bool(value)
