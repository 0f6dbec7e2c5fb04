"""SQL for consent definitions and groups."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from patron.db.pool import Connection

Row = asyncpg.Record


async def list_consents(conn: Connection, project_id: str) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        "SELECT id, name, description, category, created_at, updated_at FROM consents"
        " WHERE project_id = $1 ORDER BY created_at, id",
        project_id,
    )
    return rows


async def list_groups(conn: Connection, project_id: str) -> Sequence[Row]:
    rows: Sequence[Row] = await conn.fetch(
        "SELECT id, name, description, consents, created_at, updated_at FROM consent_groups"
        " WHERE project_id = $1 ORDER BY created_at, id",
        project_id,
    )
    return rows


async def consent_ids(conn: Connection, project_id: str) -> set[str]:
    rows = await conn.fetch("SELECT id FROM consents WHERE project_id = $1", project_id)
    return {row["id"] for row in rows}


async def insert_consent(
    conn: Connection,
    project_id: str,
    *,
    consent_id: str,
    name: str,
    description: str | None,
    category: str | None,
) -> None:
    await conn.execute(
        """
        INSERT INTO consents (project_id, id, name, description, category, created_at)
        VALUES ($1, $2, $3, $4, $5, date_trunc('milliseconds', clock_timestamp()))
        """,
        project_id,
        consent_id,
        name,
        description,
        category,
    )


async def insert_group(
    conn: Connection,
    project_id: str,
    *,
    group_id: str,
    name: str,
    description: str | None,
    consents: list[str],
) -> None:
    await conn.execute(
        """
        INSERT INTO consent_groups (project_id, id, name, description, consents, created_at)
        VALUES ($1, $2, $3, $4, $5, date_trunc('milliseconds', clock_timestamp()))
        """,
        project_id,
        group_id,
        name,
        description,
        consents,
    )
