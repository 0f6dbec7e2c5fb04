"""The codes a customer holds (`GET /v1/customers/{id}/redeemables`; INCENTIVES.md §1.4), and
the lookups other lists filter by."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from patron.campaigns import repository as campaigns_repository
from patron.campaigns.schemas import campaign_not_found
from patron.db.pool import Connection
from patron.vouchers import repository
from patron.vouchers.repository import Row
from patron.vouchers.schemas import AssetsOf, no_assets, render_voucher, voucher_not_found


def status_of(row: Row, now: datetime) -> str:
    """A held code's status: the first of DISABLED, NOT_ACTIVE_YET, EXPIRED, USED,
    NO_BALANCE that applies, else ACTIVE."""
    if not row["active"]:
        return "DISABLED"
    if row["start_date"] is not None and row["start_date"] > now:
        return "NOT_ACTIVE_YET"
    if row["expiration_date"] is not None and row["expiration_date"] < now:
        return "EXPIRED"
    quantity = row["redemption_quantity"]
    if quantity is not None and row["redeemed_quantity"] >= quantity:
        return "USED"
    if row["type"] != "DISCOUNT_VOUCHER" and not row["balance"]:
        return "NO_BALANCE"
    return "ACTIVE"


def render_redeemable(row: Row, now: datetime, assets_of: AssetsOf) -> dict[str, Any]:
    """A held code as the redeemables list shows it; `created_at` is when it was last given
    (its last change) or made."""
    voucher = render_voucher(row, assets_of)
    return {
        "id": "rh_" + row["id"].removeprefix("v_"),
        "created_at": voucher["updated_at"] or voucher["created_at"],
        "redeemable_id": row["id"],
        "redeemable_object": "voucher",
        "customer_id": row["holder_id"],
        "holder_role": "REFERRER" if row["is_referral_code"] else "OWNER",
        "campaign_id": row["campaign_id"],
        "campaign_type": row["campaign_type"],
        "voucher_type": row["type"],
        "redeemable": {
            "type": "voucher",
            "voucher": voucher,
            "status": status_of(row, now),
        },
        "object": "customer_redeemable",
    }


async def list_held(
    conn: Connection,
    project_id: str,
    customer_id: str,
    *,
    limit: int,
    descending: bool,
    starting_after_id: str | None,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """A page of the codes a customer holds, by id, with the cursor the SDKs use
    (`starting_after_id` takes a redeemable's `id` or its voucher's)."""
    after = None
    if starting_after_id is not None:
        after = "v_" + starting_after_id.removeprefix("rh_").removeprefix("v_")
    rows = await repository.held_page(
        conn, project_id, customer_id, limit=limit, after_id=after, descending=descending
    )
    page = rows[:limit]
    now = datetime.now(UTC)
    data = [render_redeemable(row, now, assets_of) for row in page]
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": data,
        "total": await repository.held_count(conn, project_id, customer_id),
        "has_more": len(rows) > limit,
    }
    if len(rows) > limit:
        body["more_starting_after"] = data[-1]["id"]
    return body


async def campaign_id_of(conn: Connection, project_id: str, key: str) -> str:
    """The id of the live campaign with this id or name. Raises NotFound."""
    row = await campaigns_repository.find(conn, project_id, key)
    if row is None:
        raise campaign_not_found(key)
    campaign_id: str = row["id"]
    return campaign_id


async def voucher_id_of(conn: Connection, project_id: str, key: str) -> str:
    """The id of the live voucher with this code or id. Raises NotFound."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise voucher_not_found(key)
    voucher_id: str = row["id"]
    return voucher_id
