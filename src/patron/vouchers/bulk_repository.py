"""SQL for changes to many vouchers at once (`vouchers.bulk`)."""

from __future__ import annotations

from typing import Any

from patron.db.pool import Connection


async def merge_metadata(
    conn: Connection, project_id: str, metadata_by_code: dict[str, dict[str, Any]]
) -> set[str]:
    """Merge each code's metadata into the live voucher with that code (top-level keys replace
    the stored ones) and stamp updated_at; returns the codes found. The vouchers are locked in
    id order, as every statement that locks several does."""
    if not metadata_by_code:
        return set()
    rows = await conn.fetch(
        """
        WITH given AS (
            SELECT key AS code, value AS metadata FROM jsonb_each($2::jsonb)
        ), locked AS (
            SELECT v.id, given.metadata FROM vouchers v
            JOIN given ON given.code = v.code
            WHERE v.project_id = $1 AND v.deleted_at IS NULL
            ORDER BY v.id
            FOR UPDATE OF v
        )
        UPDATE vouchers v SET metadata = v.metadata || locked.metadata, updated_at = now()
        FROM locked
        WHERE v.project_id = $1 AND v.id = locked.id
        RETURNING v.code
        """,
        project_id,
        metadata_by_code,
    )
    return {row["code"] for row in rows}
