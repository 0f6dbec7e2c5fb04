"""Generating a campaign's codes (`vouchers.service.generate_for_campaign`): whole batches, and a
batch that meets a taken code. Each test works in a transaction it rolls back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asyncpg import Record

from patron.db.pool import Connection, connect
from patron.kit import ids
from patron.vouchers import codes
from patron.vouchers import service as vouchers
from tests.conftest import RunningServer, create_project, run


async def campaign(conn: Connection, project_id: str, name: str) -> Record:
    """A new discount campaign of the default code_config, as `campaigns.repository` reads it."""
    row: Record | None = await conn.fetchrow(
        "INSERT INTO campaigns (project_id, id, name, campaign_type, type, voucher)"
        " VALUES ($1, $2, $3, 'DISCOUNT_COUPONS', 'AUTO_UPDATE', $4) RETURNING *",
        project_id,
        ids.campaign_id(),
        name,
        {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 10},
            "redemption": {"quantity": None},
            "code_config": codes.effective_code_config(None),
            "is_referral_code": False,
        },
    )
    assert row is not None
    return row


def in_rolled_back_transaction(
    server: RunningServer, work: Callable[[Connection, str], Awaitable[None]]
) -> None:
    project_id = create_project(server.db).project_id

    async def scenario() -> None:
        conn = await connect(server.db.dsn)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await work(conn, project_id)
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    run(scenario())


class TestGenerateForCampaign:
    def test_a_large_batch_of_a_vast_space_goes_in_whole(self, server: RunningServer) -> None:
        async def work(conn: Connection, project_id: str) -> None:
            whole = await campaign(conn, project_id, "Whole")
            made = await vouchers.generate_for_campaign(conn, project_id, whole, 1500)
            assert len(made) == len(set(made)) == 1500
            stored = await conn.fetch(
                "SELECT code FROM vouchers WHERE project_id = $1 AND campaign_id = $2",
                project_id,
                whole["id"],
            )
            assert sorted(row["code"] for row in stored) == sorted(made)

        in_rolled_back_transaction(server, work)

    def test_a_taken_code_is_skipped_and_drawn_again(
        self, server: RunningServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real_generate = codes.generate
        drawn: list[int] = []

        def generate_with_a_taken_code(config: Any, count: int) -> list[str]:
            drawn.append(count)
            fresh = real_generate(config, count)
            return ["TAKEN123", *fresh[1:]] if len(drawn) == 1 else fresh

        async def work(conn: Connection, project_id: str) -> None:
            await conn.execute(
                "INSERT INTO vouchers (project_id, id, code, campaign_id, type)"
                " VALUES ($1, $2, 'TAKEN123', 'camp_other', 'DISCOUNT_VOUCHER')",
                project_id,
                ids.voucher_id(),
            )
            taken = await campaign(conn, project_id, "Taken")
            monkeypatch.setattr(codes, "generate", generate_with_a_taken_code)
            made = await vouchers.generate_for_campaign(conn, project_id, taken, 1500)
            assert drawn == [1500, 1]  # the plain batch undone, its free codes kept, one more
            assert len(set(made)) == 1500
            assert "TAKEN123" not in made
            rows = await conn.fetch(
                "SELECT campaign_id, count(*) FROM vouchers WHERE project_id = $1"
                " GROUP BY campaign_id",
                project_id,
            )
            counts = {row["campaign_id"]: row["count"] for row in rows}
            assert counts == {taken["id"]: 1500, "camp_other": 1}

        in_rolled_back_transaction(server, work)
