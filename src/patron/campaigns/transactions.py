"""A campaign's balance transactions (those of all its vouchers) and its summary: what
`GET /v1/campaigns/{campaignId}/transactions` and `…/summary` show. INCENTIVES.md §1.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.campaigns import repository as campaigns_repository
from patron.campaigns import transactions_repository as repository
from patron.campaigns.repository import Row
from patron.campaigns.schemas import CampaignObject, campaign_not_found, render_campaign
from patron.db.pool import Connection
from patron.errors import NotFound
from patron.kit.fields import Count
from patron.vouchers.schemas import render_transaction

# (field, operator, value) of a filter (`transactions_repository.OPERATORS`).
Condition = repository.Condition
LIST_ORDERS = frozenset({"id", "-id"})
FILTER_FIELDS = frozenset(repository.COLUMNS)
FILTER_OPERATORS = frozenset(repository.OPERATORS)
# Operators that take a list of values; those that take none.
LIST_OPERATORS = frozenset({"$in", "$not_in"})
VALUELESS_OPERATORS = frozenset({"$has_value", "$is_unknown"})


async def _campaign(conn: Connection, project_id: str, key: str) -> Row:
    row = await campaigns_repository.find(conn, project_id, key)
    if row is None:
        raise campaign_not_found(key)
    return row


async def list_transactions(
    conn: Connection,
    project_id: str,
    key: str,
    *,
    limit: int,
    descending: bool,
    starting_after_id: str | None,
    conditions: Sequence[Condition] = (),
    junction: str = "and",
) -> dict[str, Any]:
    """A page of the transactions of all the vouchers of the campaign `key` (id or name),
    binned vouchers' included, in the order they were made (`descending`: newest first), after
    the transaction `starting_after_id`, matching `conditions` ((field, operator, value) over
    `id` and `voucher_id`, joined by `junction`). Discount campaigns have none. No
    `more_starting_after` key when there is no more (as for a voucher's transactions).

    Raises NotFound for the campaign, or for a `starting_after_id` that is not its."""
    campaign = await _campaign(conn, project_id, key)
    after = None
    if starting_after_id is not None:
        after = await repository.transaction_seq(
            conn, project_id, campaign["id"], starting_after_id
        )
        if after is None:
            raise NotFound(
                f"Cannot find transaction with id {starting_after_id}",
                resource_id=starting_after_id,
                resource_type="voucher_transaction",
            )
    rows = await repository.transactions_page(
        conn,
        project_id,
        campaign["id"],
        conditions=conditions,
        junction=junction,
        limit=limit,
        descending=descending,
        after_seq=after,
    )
    page = rows[:limit]
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [render_transaction(row) for row in page],
        "has_more": len(rows) > limit,
    }
    if len(rows) > limit:
        body["more_starting_after"] = page[-1]["id"]
    return body


def _total(sums: dict[str, int], *types: str) -> int:
    """The size of the moves of these transaction types (removals are stored negative)."""
    return sum(abs(sums.get(kind, 0)) for kind in types)


async def summary(
    conn: Connection,
    project_id: str,
    key: str,
    *,
    since: datetime | None,
    before: datetime | None,
) -> dict[str, Any]:
    """The summary of the campaign `key` (id or name) over what happened in [since, before)
    (UTC; either open), with the fields of its type (the spec's `CampaignsSummary*Campaign`).

    Computed from what is stored: `vouchers_created`/`vouchers_deleted` count its codes made /
    moved to the bin then (codes deleted for good leave no trace); `publications*` its
    publications; gift cards' credits (cents) and loyalty cards' points from the balance
    transactions of its codes (`amount_added` = CREDITS_ADDITION, `amount_subtracted` =
    CREDITS_REMOVAL, `amount_redeemed`/`amount_rolledback` = CREDITS_REDEMPTION/REFUND, and the
    POINTS_* counterparts; `points_rewarded` = POINTS_ACCRUAL + PENDING_POINTS_ACTIVATION),
    `created_vouchers_amount`/`…_points` what the cards made then started with, and
    `amount_deleted`/`points_deleted` the balances of the cards binned then.

    `redemptions*` and `rollbacks*` count the redemptions of its codes (one per code; stored
    failures included) and their rollbacks; `discounted_amount` and `orders_amount` sum what the
    successful ones took off their orders and the orders' amounts, and the `rolledback_`/
    `_rolledback` figures those of the ones rolled back (cents). Validations are not stored, so
    their counts, pending points and referred customers are 0. Raises NotFound.
    """
    campaign = await _campaign(conn, project_id, key)
    campaign_id = campaign["id"]
    vouchers_count = await campaigns_repository.vouchers_count(conn, project_id, campaign_id)
    redeemed = await repository.redemption_figures(
        conn, project_id, campaign_id, since=since, before=before
    )
    body: dict[str, Any] = {
        "object": "campaign_summary",
        "campaign": render_campaign(campaign, vouchers_count),
        **{
            name: int(redeemed[name])
            for name in (
                "redemptions",
                "redemptions_succeeded",
                "redemptions_failed",
                "rollbacks",
                "rollbacks_succeeded",
                "rollbacks_failed",
            )
        },
        "validations": 0,
        "validations_succeeded": 0,
        "validations_failed": 0,
    }
    campaign_type = campaign["campaign_type"]
    if campaign_type == "PROMOTION":
        # Promotions have tiers, not codes: no vouchers or publications of their own.
        body.update(discounted_amount=0, rolledback_discounted_amount=0)
        body.update(orders_amount=0, orders_rolledback_amount=0)
        return body
    figures = await repository.voucher_figures(
        conn, project_id, campaign_id, since=since, before=before
    )
    publications = await repository.publication_counts(
        conn, project_id, campaign_id, since=since, before=before
    )
    body.update(
        vouchers_created=int(figures["vouchers_created"]),
        vouchers_deleted=int(figures["vouchers_deleted"]),
        publications=int(publications["total"]),
        publications_succeeded=int(publications["succeeded"]),
        publications_failed=int(publications["failed"]),
    )
    if campaign_type == "DISCOUNT_COUPONS":
        body.update(
            discounted_amount=int(redeemed["discounted"]),
            rolledback_discounted_amount=int(redeemed["rolledback_discounted"]),
        )
    elif campaign_type == "GIFT_VOUCHERS":
        sums = await repository.transaction_sums(
            conn, project_id, campaign_id, since=since, before=before
        )
        body.update(
            created_vouchers_amount=int(figures["created_vouchers_amount"]),
            amount_added=_total(sums, "CREDITS_ADDITION"),
            amount_deleted=int(figures["amount_deleted"]),
            amount_redeemed=_total(sums, "CREDITS_REDEMPTION"),
            amount_rolledback=_total(sums, "CREDITS_REFUND"),
            amount_subtracted=_total(sums, "CREDITS_REMOVAL"),
        )
    elif campaign_type == "LOYALTY_PROGRAM":
        sums = await repository.transaction_sums(
            conn, project_id, campaign_id, since=since, before=before
        )
        body.update(
            created_vouchers_points=int(figures["created_vouchers_points"]),
            points_deleted=int(figures["points_deleted"]),
            points_subtracted=_total(sums, "POINTS_REMOVAL"),
            points_added=_total(sums, "POINTS_ADDITION"),
            points_rewarded=_total(sums, "POINTS_ACCRUAL", "PENDING_POINTS_ACTIVATION"),
            points_redeemed=_total(sums, "POINTS_REDEMPTION"),
            points_rolledback=_total(sums, "POINTS_REFUND"),
            points_expired=_total(sums, "POINTS_EXPIRATION"),
            points_transferred_out=_total(sums, "POINTS_TRANSFER_OUT"),
            points_transferred_in=_total(sums, "POINTS_TRANSFER_IN"),
            pending_points_added=0,
            pending_points_subtracted=0,
            pending_points_activated=_total(sums, "PENDING_POINTS_ACTIVATION"),
            pending_points_canceled=0,
        )
    elif campaign_type == "REFERRAL_PROGRAM":
        body["referred_customers"] = 0
    body.update(
        orders_amount=int(redeemed["orders"]),
        orders_rolledback_amount=int(redeemed["orders_rolledback"]),
    )
    return body


# --- the summary object (the OpenAPI document's schema) -------------------------------------

Figure = Count | UnsetType
Cents = Annotated[int, Meta(ge=0, description="Cents.")] | UnsetType


class CampaignSummary(msgspec.Struct, forbid_unknown_fields=True):
    """A campaign's summary (`summary`): the counts every campaign has, then those of its type
    (discount, gift, loyalty, referral), each absent from the others."""

    object: Literal["campaign_summary"]
    campaign: CampaignObject
    redemptions: Annotated[int, Meta(ge=0, description="Redemptions of its codes, one per code.")]
    redemptions_succeeded: Count
    redemptions_failed: Count
    rollbacks: Count
    rollbacks_succeeded: Count
    rollbacks_failed: Count
    validations: Count
    validations_succeeded: Count
    validations_failed: Count
    orders_amount: Annotated[int, Meta(ge=0, description="Cents.")]
    orders_rolledback_amount: Annotated[int, Meta(ge=0, description="Cents.")]
    vouchers_created: Figure = UNSET
    vouchers_deleted: Figure = UNSET
    publications: Figure = UNSET
    publications_succeeded: Figure = UNSET
    publications_failed: Figure = UNSET
    discounted_amount: Cents = UNSET
    rolledback_discounted_amount: Cents = UNSET
    created_vouchers_amount: Cents = UNSET
    amount_added: Cents = UNSET
    amount_deleted: Cents = UNSET
    amount_redeemed: Cents = UNSET
    amount_rolledback: Cents = UNSET
    amount_subtracted: Cents = UNSET
    created_vouchers_points: Figure = UNSET
    points_deleted: Figure = UNSET
    points_subtracted: Figure = UNSET
    points_added: Figure = UNSET
    points_rewarded: Figure = UNSET
    points_redeemed: Figure = UNSET
    points_rolledback: Figure = UNSET
    points_expired: Figure = UNSET
    points_transferred_out: Figure = UNSET
    points_transferred_in: Figure = UNSET
    pending_points_added: Figure = UNSET
    pending_points_subtracted: Figure = UNSET
    pending_points_activated: Figure = UNSET
    pending_points_canceled: Figure = UNSET
    referred_customers: Figure = UNSET
