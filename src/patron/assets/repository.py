"""SQL for assets: the code of a live voucher."""

from __future__ import annotations

from patron.db.pool import Connection


async def find_code(conn: Connection, project_id: str, voucher_id: str) -> str | None:
    """The code of the voucher; None when there is none or it is deleted (binned included)."""
    code: str | None = await conn.fetchval(
        "SELECT code FROM vouchers WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL",
        project_id,
        voucher_id,
    )
    return code
