"""SQL for validation rules and their assignments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.db.pool import Connection
from patron.db.where import Where, count_rows, fetch_page

Row = asyncpg.Record

_NOW = "date_trunc('milliseconds', clock_timestamp())"
# Columns a rule's create and update set.
COLUMNS = frozenset({"name", "rules", "error", "applicable_to", "type", "context_type"})


async def insert(conn: Connection, project_id: str, rule_id: str, values: dict[str, Any]) -> Row:
    columns = [name for name in values if name in COLUMNS]
    placeholders = ", ".join(f"${number}" for number in range(3, len(columns) + 3))
    row = await conn.fetchrow(
        f"""
        INSERT INTO validation_rules (project_id, id, {", ".join(columns)}, created_at)
        VALUES ($1, $2, {placeholders}, {_NOW})
        RETURNING *
        """,
        project_id,
        rule_id,
        *(values[name] for name in columns),
    )
    assert row is not None
    return row


async def find(
    conn: Connection, project_id: str, rule_id: str, *, for_update: bool = False
) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM validation_rules WHERE project_id = $1 AND id = $2{lock}",
        project_id,
        rule_id,
    )


async def existing_ids(conn: Connection, project_id: str, rule_ids: Sequence[str]) -> set[str]:
    """Which of the ids name a rule of the project."""
    rows = await conn.fetch(
        "SELECT id FROM validation_rules WHERE project_id = $1 AND id = ANY($2::text[])",
        project_id,
        list(rule_ids),
    )
    return {row["id"] for row in rows}


async def update(
    conn: Connection, project_id: str, rule_id: str, values: dict[str, Any]
) -> Row | None:
    columns = [name for name in values if name in COLUMNS]
    assignments = "".join(f"{name} = ${number}, " for number, name in enumerate(columns, 3))
    return await conn.fetchrow(
        f"""
        UPDATE validation_rules SET {assignments}updated_at = {_NOW}
        WHERE project_id = $1 AND id = $2
        RETURNING *
        """,
        project_id,
        rule_id,
        *(values[name] for name in columns),
    )


async def delete(conn: Connection, project_id: str, rule_id: str) -> bool:
    """Delete a rule and (by cascade) its assignments; False when there was none."""
    deleted = await conn.fetchval(
        "DELETE FROM validation_rules WHERE project_id = $1 AND id = $2 RETURNING id",
        project_id,
        rule_id,
    )
    return deleted is not None


ORDERINGS = {
    "created_at": "created_at, id",
    "-created_at": "created_at DESC, id DESC",
    "updated_at": "updated_at NULLS FIRST, id",
    "-updated_at": "updated_at DESC NULLS LAST, id DESC",
    "name": "name, id",
    "-name": "name DESC, id DESC",
}
FILTERS = {
    "start_date": "created_at >= {}",
    "end_date": "created_at <= {}",
}


def _where(project_id: str, filters: dict[str, datetime]) -> Where:
    return Where(["project_id = $1"], [project_id]).filtered(FILTERS, filters)


async def list_page(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, datetime],
    order: str,
    limit: int,
    offset: int,
) -> Sequence[Row]:
    where = _where(project_id, filters)
    return await fetch_page(
        conn, "validation_rules", where, ORDERINGS[order], limit=limit, offset=offset
    )


async def count(conn: Connection, project_id: str, *, filters: dict[str, datetime]) -> int:
    return await count_rows(conn, "validation_rules", _where(project_id, filters))


async def assignments_counts(
    conn: Connection, project_id: str, rule_ids: Sequence[str]
) -> dict[str, int]:
    """How many assignments each rule has (rules without any are left out)."""
    rows = await conn.fetch(
        """
        SELECT rule_id, count(*) AS total FROM validation_rule_assignments
        WHERE project_id = $1 AND rule_id = ANY($2::text[])
        GROUP BY rule_id
        """,
        project_id,
        list(rule_ids),
    )
    return {row["rule_id"]: int(row["total"]) for row in rows}


# --- assignments ---


async def insert_assignment(
    conn: Connection,
    project_id: str,
    assignment_id: str,
    *,
    rule_id: str,
    related_object_type: str,
    related_object_id: str,
) -> Row | None:
    """Assign a rule; None when it is assigned to that object already."""
    return await conn.fetchrow(
        f"""
        INSERT INTO validation_rule_assignments
            (project_id, id, rule_id, related_object_type, related_object_id, created_at)
        VALUES ($1, $2, $3, $4, $5, {_NOW})
        ON CONFLICT (project_id, rule_id, related_object_type, related_object_id) DO NOTHING
        RETURNING *
        """,
        project_id,
        assignment_id,
        rule_id,
        related_object_type,
        related_object_id,
    )


async def find_assignment(
    conn: Connection,
    project_id: str,
    *,
    rule_id: str,
    related_object_type: str,
    related_object_id: str,
) -> Row | None:
    return await conn.fetchrow(
        """
        SELECT * FROM validation_rule_assignments
        WHERE project_id = $1 AND rule_id = $2 AND related_object_type = $3
            AND related_object_id = $4
        """,
        project_id,
        rule_id,
        related_object_type,
        related_object_id,
    )


async def delete_assignment(
    conn: Connection, project_id: str, rule_id: str, assignment_id: str
) -> bool:
    deleted = await conn.fetchval(
        """
        DELETE FROM validation_rule_assignments
        WHERE project_id = $1 AND rule_id = $2 AND id = $3
        RETURNING id
        """,
        project_id,
        rule_id,
        assignment_id,
    )
    return deleted is not None


ASSIGNMENT_ORDERINGS = {
    "created_at": "created_at, id",
    "-created_at": "created_at DESC, id DESC",
}
ASSIGNMENT_FILTERS = {
    "rule_id": "rule_id = {}",
    "related_object_id": "related_object_id = {}",
}


def _assignments_where(project_id: str, filters: dict[str, str]) -> Where:
    return Where(["project_id = $1"], [project_id]).filtered(ASSIGNMENT_FILTERS, filters)


async def list_assignments(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, str],
    order: str,
    limit: int,
    offset: int,
) -> Sequence[Row]:
    where = _assignments_where(project_id, filters)
    rows: Sequence[Row] = await conn.fetch(
        f"SELECT * FROM validation_rule_assignments WHERE {where.sql}"
        f" ORDER BY {ASSIGNMENT_ORDERINGS[order]}" + where.page(),
        *where.args,
        limit,
        offset,
    )
    return rows


async def count_assignments(conn: Connection, project_id: str, *, filters: dict[str, str]) -> int:
    where = _assignments_where(project_id, filters)
    value = await conn.fetchval(
        f"SELECT count(*) FROM validation_rule_assignments WHERE {where.sql}", *where.args
    )
    return int(value)


async def rules_for(
    conn: Connection, project_id: str, related_object_ids: Sequence[str]
) -> list[Row]:
    """Every rule assigned to any of the objects (a voucher and its campaign), each once, oldest
    first. One statement, on `validation_rule_assignments_object_idx` and the rules' key."""
    rows = await conn.fetch(
        """
        SELECT * FROM validation_rules
        WHERE project_id = $1 AND id IN (
            SELECT rule_id FROM validation_rule_assignments
            WHERE project_id = $1 AND related_object_id = ANY($2::text[])
        )
        ORDER BY created_at, id
        """,
        project_id,
        list(related_object_ids),
    )
    return list(rows)
