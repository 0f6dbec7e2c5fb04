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


def _project(row: asyncpg.Record) -> ProjectRow:
    return ProjectRow(
        id=row["id"], name=row["name"], app_id=row["app_id"], app_token_hash=row["app_token_hash"]
    )


async def insert(
    conn: Connection, *, project_id: str, name: str, app_id: str, app_token_hash: bytes
) -> ProjectRow:
    row = await conn.fetchrow(
        """
        INSERT INTO projects (id, name, app_id, app_token_hash)
        VALUES ($1, $2, $3, $4)
        RETURNING id, name, app_id, app_token_hash
        """,
        project_id,
        name,
        app_id,
        app_token_hash,
    )
    assert row is not None
    return _project(row)


async def find_by_app_id(conn: Connection, app_id: str) -> ProjectRow | None:
    row = await conn.fetchrow(
        "SELECT id, name, app_id, app_token_hash FROM projects WHERE app_id = $1", app_id
    )
    return None if row is None else _project(row)


async def find_by_id_or_app_id(conn: Connection, key: str) -> ProjectRow | None:
    row = await conn.fetchrow(
        "SELECT id, name, app_id, app_token_hash FROM projects WHERE id = $1 OR app_id = $1"
        " ORDER BY id = $1 DESC LIMIT 1",
        key,
    )
    return None if row is None else _project(row)


async def set_token_hash(conn: Connection, project_id: str, app_token_hash: bytes) -> None:
    await conn.execute(
        "UPDATE projects SET app_token_hash = $2 WHERE id = $1", project_id, app_token_hash
    )


async def lock_table(conn: Connection) -> None:
    """Serialise project creation (for `create_first`)."""
    await conn.execute("LOCK TABLE projects IN SHARE ROW EXCLUSIVE MODE")


async def count(conn: Connection) -> int:
    value = await conn.fetchval("SELECT count(*) FROM projects")
    return int(value)
