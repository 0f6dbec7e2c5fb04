"""Redemptions and rollbacks on the write path: what they change on the vouchers they use and
on the customers they count for (INCENTIVES.md §4.5), in the caller's transaction.

Lock order, as everywhere: the segments hold (`writes.customers.hold`), customer rows by id
(the redeeming customer and the holders of the codes), then vouchers by id, then the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers.schemas import render_customer
from patron.db.pool import Connection
from patron.kit import ids
from patron.vouchers import repository as vouchers_repository
from patron.vouchers.repository import Row
from patron.writes import customers as customer_writes
from patron.writes import repository


async def use_voucher(
    conn: Connection,
    actor: Actor,
    voucher: Row,
    *,
    uses: int,
    credits: int,
    points: int,
    transaction_type: str | None,
    details: dict[str, Any],
    source: str | None,
    checked: tuple[str | None, str | None] | None = None,
) -> Row | None:
    """Count a redemption (`uses` 1, credits/points taken, positive) or a rollback (`uses` -1,
    credits/points given back, negative) on a voucher locked by the caller. Records the
    `CREDITS_REDEMPTION`/`CREDITS_REFUND` (or `POINTS_…`) transaction when a balance moves
    (INCENTIVES.md §1.5). Returns the voucher after. The holder's balances are the caller's to
    refresh (`refresh_balances`). `checked`: the voucher is not locked yet, and was checked with
    this holder and session key (`vouchers.repository.apply_redemption`); None when it changed
    meanwhile."""
    after = await vouchers_repository.apply_redemption(
        conn,
        actor.project_id,
        voucher["id"],
        uses=uses,
        credits=credits,
        points=points,
        checked=checked,
    )
    if after is None:
        return None
    moved = credits or points
    if moved and transaction_type is not None:
        kind = "gift_voucher" if voucher["type"] == "GIFT_VOUCHER" else "loyalty_card"
        total = after["gift_amount"] if kind == "gift_voucher" else after["loyalty_points"]
        balance = {
            "type": kind,
            "total": total,
            "object": "balance",
            ("amount" if kind == "gift_voucher" else "points"): -moved,
            "balance": after["balance"],
            "related_object": {"id": voucher["id"], "type": "voucher"},
        }
        await vouchers_repository.insert_transaction(
            conn,
            actor.project_id,
            transaction_id=ids.voucher_transaction_id(),
            voucher_id=voucher["id"],
            campaign_id=voucher["campaign_id"],
            source_id=None,
            source=source,
            reason=None,
            transaction_type=transaction_type,
            amount=-moved,
            details={"balance": balance, **details},
        )
    return after


async def refresh_balances(conn: Connection, actor: Actor, holder_ids: Sequence[str]) -> list[str]:
    """Recompute the card balances of these holders (locked by the caller) after their cards
    were spent or refunded; returns those whose values changed (to settle)."""
    if not holder_ids:
        return []
    return await repository.refresh_held_balances(conn, actor.project_id, sorted(set(holder_ids)))


async def count(
    conn: Connection,
    actor: Actor,
    customer_id: str,
    *,
    succeeded: int = 0,
    failed: int = 0,
    rollbacks_succeeded: int = 0,
    rollbacks_failed: int = 0,
    gift: int = 0,
    points: int = 0,
) -> None:
    """Move a locked customer's summary.redemptions counters: redemptions and rollbacks, one
    per redeemable; `gift` (cents) and `points` spent (negative when given back)."""
    await repository.move_redemption_counters(
        conn,
        actor.project_id,
        customer_id,
        succeeded=succeeded,
        failed=failed,
        rollbacks_succeeded=rollbacks_succeeded,
        rollbacks_failed=rollbacks_failed,
        gift=gift,
        points=points,
    )


async def check_counters(conn: Connection, *, fix: bool) -> list[dict[str, Any]]:
    """Every customer whose stored summary.redemptions counters differ from the stored
    redemptions and rollbacks, with both figures (`patron summaries check`). With `fix`, each
    project's differing customers are locked and recomputed in a transaction of their own."""
    differences: list[dict[str, Any]] = []
    for project_id in await repository.project_ids(conn):
        rows = await repository.redemption_counter_differences(conn, project_id)
        if not rows:
            continue
        differences.extend({"project_id": project_id, **dict(row)} for row in rows)
        if fix:
            customer_ids = [row["id"] for row in rows]
            async with conn.transaction():
                await customer_writes.lock_many(conn, project_id, customer_ids)
                await repository.recompute_redemption_counters(conn, project_id, customer_ids)
    return differences


async def count_redemption(
    conn: Connection,
    actor: Actor,
    customer_id: str,
    *,
    succeeded: int,
    failed: int,
    gift: int,
    order_amount: int | None,
) -> dict[str, Any] | None:
    """Move a locked customer's summary.redemptions for a redemption (`succeeded` and `failed`
    codes, `gift` cents spent) and, when it created a counted order, summary.orders by that
    order (`order_amount`, cents), in one statement. Returns the customer as the API shows it
    after, for the redemption's activities (None if the customer is gone)."""
    row = await repository.count_redemption(
        conn,
        actor.project_id,
        customer_id,
        succeeded=succeeded,
        failed=failed,
        gift=gift,
        points=0,
        order_amount=order_amount,
    )
    return None if row is None else render_customer(row)


async def store(
    conn: Connection,
    actor: Actor,
    records: list[dict[str, Any]],
    created_at: datetime,
    items: Sequence[tuple[str, str, dict[str, Any], tuple[str, str] | None]],
) -> None:
    """Store a redemption's records (successes, failures, a stacked parent; dicts of the
    redemption columns) dated `created_at` (UTC), and its customer's activities (customer id,
    type, data, campaign), in one statement."""
    await repository.store_redemptions(
        conn, actor.project_id, records, created_at, activities.prepare_several(actor, items)
    )
