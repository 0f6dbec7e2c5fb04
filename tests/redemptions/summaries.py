"""What `patron summaries check` computes, for one project: every stored customer aggregate
(summary.orders, the balances of the cards held, summary.redemptions) against its sources."""

from __future__ import annotations

from typing import Any

from patron.db.pool import connect
from patron.writes import repository
from tests.conftest import Database, run


def differences(db: Database, project_id: str) -> list[dict[str, Any]]:
    """The differences `patron summaries check` reports for this project (the same queries,
    fixing nothing; only this project's, so that other tests' projects cost nothing)."""

    async def work() -> list[dict[str, Any]]:
        conn = await connect(db.dsn)
        try:
            rows = [
                row
                for row in await repository.orders_summary_differences(conn)
                if row["project_id"] == project_id
            ]
            rows += await repository.held_balance_differences(conn, project_id)
            rows += await repository.redemption_counter_differences(conn, project_id)
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    found: list[dict[str, Any]] = run(work())
    return found


def assert_consistent(db: Database, project_id: str) -> None:
    found = differences(db, project_id)
    assert found == [], found
