"""SQL for a campaign's balance transactions and the figures of its summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from patron.db.pool import Connection

Row = asyncpg.Record

# Filterable fields -> their column.
COLUMNS = {"id": "t.id", "voucher_id": "t.voucher_id"}
# Filter operators -> SQL over a column (`{c}`) and one parameter (`{p}`); the string operators
# of Voucherify's FilterConditionsString.
OPERATORS = {
    "$is": "{c} = {p}",
    "$is_not": "{c} <> {p}",
    "$in": "{c} = ANY({p}::text[])",
    "$not_in": "{c} <> ALL({p}::text[])",
    "$starts_with": "starts_with({c}, {p})",
    "$ends_with": "right({c}, length({p})) = {p}",
    "$contains": "strpos({c}, {p}) > 0",
    "$not_contain": "strpos({c}, {p}) = 0",
    "$has_value": "{c} IS NOT NULL",
    "$is_unknown": "{c} IS NULL",
}
# (field, operator, value): value a list for $in/$not_in, text for the others that take one.
Condition = tuple[str, str, Any]


def _filters(conditions: Sequence[Condition], junction: str, first: int) -> tuple[str, list[Any]]:
    """The conditions as one SQL expression joined by `junction` (and/or), with parameters from
    `$first` on; TRUE when there are none."""
    if not conditions:
        return "TRUE", []
    parts = []
    args: list[Any] = []
    for field, operator, value in conditions:
        template = OPERATORS[operator]
        if "{p}" in template:
            args.append(value)
        parts.append(template.format(c=COLUMNS[field], p=f"${first + len(args) - 1}"))
    glue = " OR " if junction == "or" else " AND "
    return "(" + glue.join(parts) + ")", args


async def transactions_page(
    conn: Connection,
    project_id: str,
    campaign_id: str,
    *,
    conditions: Sequence[Condition],
    junction: str,
    limit: int,
    descending: bool,
    after_seq: int | None,
) -> Sequence[Row]:
    """Up to `limit` + 1 transactions of the campaign's vouchers (deleted ones included) in
    order, after `after_seq` if given, matching the conditions."""
    direction, after = ("DESC", "<") if descending else ("ASC", ">")
    where, args = _filters(conditions, junction, 5)
    rows: Sequence[Row] = await conn.fetch(
        f"""
        SELECT t.* FROM voucher_transactions t
        WHERE t.project_id = $1 AND t.campaign_id = $2
          AND ($4::bigint IS NULL OR t.seq {after} $4) AND {where}
        ORDER BY t.seq {direction} LIMIT $3
        """,
        project_id,
        campaign_id,
        limit + 1,
        after_seq,
        *args,
    )
    return rows


async def transaction_seq(
    conn: Connection, project_id: str, campaign_id: str, transaction_id: str
) -> int | None:
    value = await conn.fetchval(
        "SELECT seq FROM voucher_transactions"
        " WHERE project_id = $1 AND campaign_id = $2 AND id = $3",
        project_id,
        campaign_id,
        transaction_id,
    )
    return None if value is None else int(value)


# Transactions that add to a loyalty card's lifetime `points` (the rest move only its balance).
LIFETIME_POINTS = (
    "POINTS_ADDITION",
    "POINTS_ACCRUAL",
    "POINTS_TRANSFER_IN",
    "PENDING_POINTS_ACTIVATION",
)


async def voucher_figures(
    conn: Connection,
    project_id: str,
    campaign_id: str,
    *,
    since: datetime | None,
    before: datetime | None,
) -> Row:
    """Of the campaign's vouchers (binned ones included): how many were created and binned in
    [since, before); the credits and points the cards created then started with (what they have
    ever had, less what transactions added); the balances of the cards binned then."""
    row: Row | None = await conn.fetchrow(
        """
        WITH added AS (
            SELECT voucher_id,
                   sum(amount) FILTER (WHERE type = 'CREDITS_ADDITION') AS credits,
                   sum(amount) FILTER (WHERE type = ANY($5::text[])) AS points
            FROM voucher_transactions
            WHERE project_id = $1 AND campaign_id = $2
            GROUP BY voucher_id
        ), v AS (
            SELECT v.type, v.balance, v.gift_amount, v.loyalty_points,
                   coalesce(added.credits, 0) AS credits_added,
                   coalesce(added.points, 0) AS points_added,
                   ($3::timestamptz IS NULL OR v.created_at >= $3)
                       AND ($4::timestamptz IS NULL OR v.created_at < $4) AS created,
                   v.deleted_at IS NOT NULL
                       AND ($3::timestamptz IS NULL OR v.deleted_at >= $3)
                       AND ($4::timestamptz IS NULL OR v.deleted_at < $4) AS deleted
            FROM vouchers v LEFT JOIN added ON added.voucher_id = v.id
            WHERE v.project_id = $1 AND v.campaign_id = $2
        )
        SELECT
            count(*) FILTER (WHERE created) AS vouchers_created,
            count(*) FILTER (WHERE deleted) AS vouchers_deleted,
            coalesce(sum(gift_amount - credits_added)
                FILTER (WHERE created AND type = 'GIFT_VOUCHER'), 0) AS created_vouchers_amount,
            coalesce(sum(loyalty_points - points_added)
                FILTER (WHERE created AND type = 'LOYALTY_CARD'), 0) AS created_vouchers_points,
            coalesce(sum(balance) FILTER (WHERE deleted AND type = 'GIFT_VOUCHER'), 0)
                AS amount_deleted,
            coalesce(sum(balance) FILTER (WHERE deleted AND type = 'LOYALTY_CARD'), 0)
                AS points_deleted
        FROM v
        """,
        project_id,
        campaign_id,
        since,
        before,
        list(LIFETIME_POINTS),
    )
    assert row is not None  # an aggregate always has its row
    return row


async def transaction_sums(
    conn: Connection,
    project_id: str,
    campaign_id: str,
    *,
    since: datetime | None,
    before: datetime | None,
) -> dict[str, int]:
    """Transaction type -> the sum of the amounts of the campaign's transactions of that type
    made in [since, before) (signed: removals are negative)."""
    rows = await conn.fetch(
        """
        SELECT type, sum(amount) AS amount FROM voucher_transactions
        WHERE project_id = $1 AND campaign_id = $2
          AND ($3::timestamptz IS NULL OR created_at >= $3)
          AND ($4::timestamptz IS NULL OR created_at < $4)
        GROUP BY type
        """,
        project_id,
        campaign_id,
        since,
        before,
    )
    return {row["type"]: int(row["amount"]) for row in rows}


async def publication_counts(
    conn: Connection,
    project_id: str,
    campaign_id: str,
    *,
    since: datetime | None,
    before: datetime | None,
) -> Row:
    """How many publications from the campaign were made in [since, before): in all
    (`total`), `succeeded` and `failed`."""
    row: Row | None = await conn.fetchrow(
        """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE result = 'SUCCESS') AS succeeded,
               count(*) FILTER (WHERE result = 'FAILURE') AS failed
        FROM publications
        WHERE project_id = $1 AND campaign_id = $2
          AND ($3::timestamptz IS NULL OR created_at >= $3)
          AND ($4::timestamptz IS NULL OR created_at < $4)
        """,
        project_id,
        campaign_id,
        since,
        before,
    )
    assert row is not None  # an aggregate always has its row
    return row


async def redemption_figures(
    conn: Connection,
    project_id: str,
    campaign_id: str,
    *,
    since: datetime | None,
    before: datetime | None,
) -> Row:
    """The redemptions of the campaign's codes and their rollbacks made in [since, before):
    counts (`redemptions`, `…_succeeded`, `…_failed`, `rollbacks`, `…_succeeded`, `…_failed`),
    the discounts and order amounts of the successful ones (`discounted`, `orders`, cents),
    and those of the ones rolled back (`rolledback_discounted`, `orders_rolledback`)."""
    row: Row | None = await conn.fetchrow(
        """
        WITH r AS (
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE result = 'SUCCESS') AS succeeded,
                   count(*) FILTER (WHERE result = 'FAILURE') AS failed,
                   coalesce(sum(discount_amount) FILTER (WHERE result = 'SUCCESS'), 0)
                       AS discounted,
                   coalesce(sum(order_amount) FILTER (WHERE result = 'SUCCESS'), 0) AS orders
            FROM redemptions
            WHERE project_id = $1 AND campaign_id = $2
              AND ($3::timestamptz IS NULL OR created_at >= $3)
              AND ($4::timestamptz IS NULL OR created_at < $4)
        ), b AS (
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE b.result = 'SUCCESS') AS succeeded,
                   count(*) FILTER (WHERE b.result = 'FAILURE') AS failed,
                   coalesce(sum(r.discount_amount) FILTER (WHERE b.result = 'SUCCESS'), 0)
                       AS discounted,
                   coalesce(sum(r.order_amount) FILTER (WHERE b.result = 'SUCCESS'), 0)
                       AS orders
            FROM redemption_rollbacks b
            LEFT JOIN redemptions r ON r.project_id = b.project_id AND r.id = b.redemption_id
            WHERE b.project_id = $1 AND b.campaign_id = $2
              AND ($3::timestamptz IS NULL OR b.created_at >= $3)
              AND ($4::timestamptz IS NULL OR b.created_at < $4)
        )
        SELECT r.total AS redemptions, r.succeeded AS redemptions_succeeded,
               r.failed AS redemptions_failed, r.discounted, r.orders,
               b.total AS rollbacks, b.succeeded AS rollbacks_succeeded,
               b.failed AS rollbacks_failed, b.discounted AS rolledback_discounted,
               b.orders AS orders_rolledback
        FROM r, b
        """,
        project_id,
        campaign_id,
        since,
        before,
    )
    assert row is not None  # aggregates always have their row
    return row
