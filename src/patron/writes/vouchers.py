"""Changes to the cards customers hold, on the write path: publishing a code to a customer,
changing a card's balance, removing held codes. Each locks the holder before the voucher,
changes the voucher, recomputes the holder's `summary.redemptions.gift.amount_to_go`,
`summary.redemptions.loyalty_card.points_to_go`, `loyalty.points` and `loyalty.campaigns` from
the cards they hold (INCENTIVES.md §0.1), records the activity, and settles segment moves, all
in the caller's transaction.

Lock order: the segments lock (`writes.customers.hold`), customer rows by id, then vouchers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers.repository import find_by_id
from patron.customers.schemas import render_customer
from patron.db.pool import Connection
from patron.errors import APIError
from patron.kit import ids
from patron.vouchers import repository as vouchers_repository
from patron.vouchers.repository import Row
from patron.vouchers.schemas import (
    AssetsOf,
    InvalidVoucher,
    no_assets,
    render_transaction,
    render_voucher,
    voucher_not_found,
)
from patron.writes import customers as customer_writes
from patron.writes import repository

_LOCK_ATTEMPTS = 5


class GiftAmountExceeded(APIError):
    status = 400
    key = "gift_amount_exceeded"
    message = "Gift amount exceeded"


class LoyaltyCardPointsExceeded(APIError):
    status = 400
    key = "loyalty_card_points_exceeded"
    message = "Loyalty card points exceeded"


async def refresh_holders(
    conn: Connection, actor: Actor, customer_ids: Sequence[str], *, auto_update: bool
) -> None:
    """Recompute the card balances of these customers (locked by the caller) from the cards
    they hold, and settle their segment moves."""
    if not customer_ids:
        return
    changed = await repository.refresh_held_balances(conn, actor.project_id, customer_ids)
    if changed:
        await customer_writes.settle(conn, actor, changed, auto_update=auto_update)


async def lock_voucher_and_holder(conn: Connection, project_id: str, key: str) -> Row:
    """The live voucher with this code or id, locked, its holder (if any) locked before it.
    Raises NotFound."""
    for _ in range(_LOCK_ATTEMPTS):
        seen = await vouchers_repository.find(conn, project_id, key)
        if seen is None:
            raise voucher_not_found(key)
        if seen["holder_id"] is not None:
            await customer_writes.lock(conn, project_id, seen["holder_id"])
        row = await vouchers_repository.find(conn, project_id, key, for_update=True)
        if row is None:
            raise voucher_not_found(key)
        if row["holder_id"] == seen["holder_id"]:
            return row
    # The holder kept changing under us: one more time, holding every lock the slow way.
    raise voucher_not_found(key)  # pragma: no cover - needs five publications in between


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """A balance change's answer (`BalanceObject`) and the voucher after it."""

    balance: dict[str, Any]
    voucher: Row


async def change_balance(
    conn: Connection,
    actor: Actor,
    *,
    key: str,
    amount: int,
    source_id: str | None,
    reason: str | None,
    source: str | None,
    assets_of: AssetsOf = no_assets,
) -> BalanceChange:
    """Add (`amount` > 0) or remove gift credits (cents) or loyalty points on the card `key`
    (code or id), in the caller's transaction. INCENTIVES.md §1.5.

    Records a `CREDITS_ADDITION`/`CREDITS_REMOVAL` or `POINTS_ADDITION`/`POINTS_REMOVAL`
    transaction and, on the holder, `customer.voucher.gift.balance_added` or
    `customer.voucher.loyalty_card.points_added`. Raises NotFound; InvalidVoucher for a
    discount code or a loyalty card without holder; GiftAmountExceeded or
    LoyaltyCardPointsExceeded when a removal would take the balance below zero.
    """
    auto_update = await customer_writes.hold(conn, actor.project_id)
    row = await lock_voucher_and_holder(conn, actor.project_id, key)
    kind = row["type"]
    if kind == "DISCOUNT_VOUCHER":
        raise InvalidVoucher("Only a gift card's or a loyalty card's balance can change")
    if kind == "LOYALTY_CARD" and row["holder_id"] is None:
        raise InvalidVoucher(
            f"Loyalty card {row['code']} has no holder: publish it to a customer first"
        )
    balance = row["balance"] or 0
    if amount < 0 and -amount > balance:
        error = GiftAmountExceeded if kind == "GIFT_VOUCHER" else LoyaltyCardPointsExceeded
        raise error(f"The balance is {balance}: {-amount} cannot be removed")
    values: dict[str, Any] = {"balance": balance + amount}
    if kind == "GIFT_VOUCHER":
        if amount >= 0:
            values["gift_amount"] = (row["gift_amount"] or 0) + amount
        else:
            values["gift_subtracted"] = (row["gift_subtracted"] or 0) - amount
        transaction_type = "CREDITS_ADDITION" if amount >= 0 else "CREDITS_REMOVAL"
        total = values.get("gift_amount", row["gift_amount"] or 0)
        balance_type = "gift_voucher"
    else:
        if amount >= 0:
            values["loyalty_points"] = (row["loyalty_points"] or 0) + amount
        else:
            values["loyalty_subtracted"] = (row["loyalty_subtracted"] or 0) - amount
        transaction_type = "POINTS_ADDITION" if amount >= 0 else "POINTS_REMOVAL"
        total = values.get("loyalty_points", row["loyalty_points"] or 0)
        balance_type = "loyalty_card"
    updated = await vouchers_repository.update(conn, actor.project_id, row["id"], values)
    answer: dict[str, Any] = {
        "amount": amount,
        "total": total,
        "balance": values["balance"],
        "type": balance_type,
        "operation_type": "MANUAL",
        "object": "balance",
        "related_object": {"type": "voucher", "id": row["id"]},
    }
    transaction = await vouchers_repository.insert_transaction(
        conn,
        actor.project_id,
        transaction_id=ids.voucher_transaction_id(),
        voucher_id=row["id"],
        campaign_id=row["campaign_id"],
        source_id=source_id,
        source=source,
        reason=reason,
        transaction_type=transaction_type,
        amount=amount,
        details={"balance": answer},
    )
    holder = row["holder_id"]
    if holder is not None:
        # The activity, with the customer as changed, before the segment moves it causes.
        changed = await repository.refresh_held_balances(conn, actor.project_id, [holder])
        customer = await find_by_id(conn, actor.project_id, holder)
        if customer is not None:
            activity_type = (
                "customer.voucher.gift.balance_added"
                if kind == "GIFT_VOUCHER"
                else "customer.voucher.loyalty_card.points_added"
            )
            await activities.record(
                conn,
                actor,
                customer_id=holder,
                activity_type=activity_type,
                data={
                    "customer": render_customer(customer),
                    "campaign": campaign_summary(updated),
                    "voucher": render_voucher(updated, assets_of),
                    "balance": answer,
                    "transaction": render_transaction(transaction),
                },
                campaign=campaign_key(updated),
            )
        if changed:
            await customer_writes.settle(conn, actor, changed, auto_update=auto_update)
    return BalanceChange(answer, updated)


async def assign_holder(
    conn: Connection,
    actor: Actor,
    *,
    voucher_id: str,
    customer_id: str,
    expiration_date: datetime | None,
) -> Row:
    """Make the customer (locked by the caller) the holder of a voucher (locked by the caller):
    `holder_id`, `publish.count` + 1, the expiry a campaign's
    `activity_duration_after_publishing` gives; then the customer's card balances. The caller
    records its activity, then settles the customer's segment moves. INCENTIVES.md §2
    (effects)."""
    values: dict[str, Any] = {}
    if expiration_date is not None:
        values["expiration_date"] = expiration_date
    row = await vouchers_repository.publish(
        conn, actor.project_id, voucher_id, customer_id=customer_id, values=values
    )
    if row["type"] in ("GIFT_VOUCHER", "LOYALTY_CARD"):
        await repository.refresh_held_balances(conn, actor.project_id, [customer_id])
    return row


async def release_held(
    conn: Connection, actor: Actor, holder_ids: Sequence[str], *, auto_update: bool
) -> None:
    """After held codes were deleted or binned: their holders' balances, recomputed."""
    await refresh_holders(conn, actor, sorted(set(holder_ids)), auto_update=auto_update)


async def check_held_balances(conn: Connection, *, fix: bool) -> list[dict[str, Any]]:
    """Every customer whose stored `gift_balance`, `loyalty_balance` or `loyalty_campaigns`
    differ from the cards they hold, with both figures (`patron summaries check`). With `fix`,
    each project's differing customers are locked and recomputed in a transaction of their
    own, so that changes a running server makes meanwhile are not overwritten."""
    differences: list[dict[str, Any]] = []
    for project_id in await repository.project_ids(conn):
        rows = await repository.held_balance_differences(conn, project_id)
        if not rows:
            continue
        differences.extend({"project_id": project_id, **dict(row)} for row in rows)
        if fix:
            customer_ids = [row["id"] for row in rows]
            async with conn.transaction():
                await customer_writes.lock_many(conn, project_id, customer_ids)
                await repository.refresh_held_balances(conn, project_id, customer_ids)
    return differences


def campaign_key(row: Row) -> tuple[str, str] | None:
    """(campaign id, campaign type) of a voucher row, for the activity's campaign filters."""
    if row["campaign_id"] is None:
        return None
    return row["campaign_id"], row["campaign_type"]


def campaign_summary(row: Row) -> dict[str, Any] | None:
    """The campaign an activity names: a voucher row's campaign (id, name, type)."""
    if row["campaign_id"] is None:
        return None
    return {
        "id": row["campaign_id"],
        "name": row["campaign_name"],
        "campaign_type": row["campaign_type"],
        "object": "campaign",
    }
