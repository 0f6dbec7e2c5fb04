"""Activity types, categories and the activity object (`render_activity`, and its Structs for
the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime

# Exactly the types the official Python SDK 6.1.1 accepts (CONTRACT.md §6): one other value
# makes its whole `list_customer_activity` call fail.
ACTIVITY_TYPES = frozenset(
    [
        "customer.confirmed",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "customer.referred",
        "customer.custom_event",
        "customer.segment.entered",
        "customer.segment.left",
        *(
            f"customer.{channel}.{outcome}"
            for channel in (
                "sms",
                "email",
                "activecampaign",
                "braze",
                "mailchimp",
                "intercom",
                "shopify",
                "klaviyo",
                "batch",
            )
            for outcome in ("sent", "recovered", "failed")
        ),
        "customer.rewarded",
        "customer.rewarded.loyalty_points",
        "customer.voucher.gift.balance_added",
        "customer.voucher.loyalty_card.pending_points.activated",
        "customer.voucher.loyalty_card.pending_points.added",
        "customer.voucher.loyalty_card.pending_points.canceled",
        "customer.voucher.loyalty_card.pending_points.updated",
        "customer.voucher.loyalty_card.points_activated",
        "customer.voucher.loyalty_card.points_added",
        "customer.voucher.loyalty_card.points_transferred",
        "customer.voucher.loyalty_card.points_expired",
        "customer.voucher.deleted",
        "customer.publication.succeeded",
        "customer.publication.failed",
        "customer.validation.succeeded",
        "customer.validation.failed",
        "customer.redemption.failed",
        "customer.redemption.succeeded",
        "customer.redemption.rollback.failed",
        "customer.redemption.rollback.succeeded",
        "customer.order.canceled",
        "customer.order.created",
        "customer.order.fulfilled",
        "customer.order.paid",
        "customer.order.processing",
        "customer.order.updated",
        "customer.reward_redemptions.created",
        "customer.reward_redemptions.pending",
        "customer.reward_redemptions.completed",
        "customer.reward_redemptions.rolledback",
        "customer.loyalty.updated",
        "customer.loyalty.tier.upgraded",
        "customer.loyalty.tier.downgraded",
        "customer.loyalty.tier.prolonged",
        "customer.loyalty.tier.expiration.changed",
        "customer.loyalty.tier.joined",
        "customer.loyalty.tier.left",
        "customer.holder.assignment.created",
        "customer.holder.assignment.deleted",
    ]
)

# The seeds' consent activities: recorded and listed by the legacy `/activities` endpoint, but
# never by `/activity`, whose Python SDK model rejects them (CONTRACT.md §6).
LEGACY_ONLY_TYPES = frozenset(["customer.consents.given", "customer.consents.revoked"])

CATEGORIES = frozenset(["ACTION", "EFFECT"])

CAMPAIGN_TYPES = frozenset(
    ["PROMOTION", "GIFT_VOUCHERS", "REFERRAL_PROGRAM", "DISCOUNT_COUPONS", "LOYALTY_PROGRAM"]
)

# What a caller does directly is an ACTION; what follows from it is an EFFECT.
_ACTION_PREFIXES = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.confirmed",
    "customer.custom_event",
    "customer.consents.",
    "customer.order.",
    "customer.redemption.",
    "customer.validation.",
    "customer.publication.",
    "customer.reward_redemptions.",
)


def category_of(activity_type: str) -> str:
    return "ACTION" if activity_type.startswith(_ACTION_PREFIXES) else "EFFECT"


def render_activity(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["type"],
        "data": msgspec.Raw(row["data"]),
        "created_at": render_datetime(row["created_at"]),
        "group_id": row["group_id"],
    }


# --- the activity object (responses) -------------------------------------------------------------

_DATA = Meta(
    description="What happened (e.g. `customer`, `order`), and `event_source`: the channel and"
    " credentials that caused it."
)
_ID = Meta(examples=["evcus_0c9e8d2f1a2b3c4d5e"])
_GROUP_ID = Meta(description="The id of the request that caused it.")


class CustomerActivity(msgspec.Struct, forbid_unknown_fields=True):
    """An activity as `/activity` lists it (`render_activity`)."""

    id: Annotated[str, _ID]
    type: Annotated[str, Meta(extra_json_schema={"enum": sorted(ACTIVITY_TYPES)})]
    data: Annotated[dict[str, Any], _DATA]
    created_at: Moment
    group_id: Annotated[str, _GROUP_ID]


class CustomerActivityLegacy(msgspec.Struct, forbid_unknown_fields=True):
    """An activity as the legacy `/activities` lists it, consent activities included."""

    id: Annotated[str, _ID]
    type: Annotated[
        str, Meta(extra_json_schema={"enum": sorted(ACTIVITY_TYPES | LEGACY_ONLY_TYPES)})
    ]
    data: Annotated[dict[str, Any], _DATA]
    created_at: Moment
    group_id: Annotated[str, _GROUP_ID]


class ActivityPage(msgspec.Struct, forbid_unknown_fields=True):
    """A page of a customer's activities (`service.timeline_page`)."""

    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[CustomerActivity]
    has_more: bool
    more_starting_after: (
        Annotated[str, Meta(description="Present when `has_more`: the last activity's id.")]
        | UnsetType
    ) = UNSET


class LegacyActivityPage(msgspec.Struct, forbid_unknown_fields=True):
    """A page of a customer's activities with a `total` (`service.legacy_page`)."""

    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[CustomerActivityLegacy]
    total: Count
