"""What `patron summaries check` computes, for one project: every stored customer aggregate
(summary.orders, the balances of the cards held, summary.redemptions) against its sources."""

from __future__ import annotations

from typing import Any

from patron.db.pool import connect
from patron.orders import service as orders
from patron.writes import redemptions, vouchers
from tests.conftest import Database, run


def differences(db: Database, project_id: str) -> list[dict[str, Any]]:
    """The differences `patron summaries check` reports for this project (fixing nothing)."""

    async def work() -> list[dict[str, Any]]:
        conn = await connect(db.dsn)
        try:
            found = await orders.check_summaries(conn, fix=False)
            found += await vouchers.check_held_balances(conn, fix=False)
            found += await redemptions.check_counters(conn, fix=False)
        finally:
            await conn.close()
        return [row for row in found if row["project_id"] == project_id]

    found: list[dict[str, Any]] = run(work())
    return found


def assert_consistent(db: Database, project_id: str) -> None:
    found = differences(db, project_id)
    assert found == [], found
