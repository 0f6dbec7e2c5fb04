"""Voucher request bodies and the voucher object as Voucherify shows it (INCENTIVES.md §1.4).

What campaigns and vouchers share (the discount, the gift, the loyalty card, the validity
windows) is defined here once; `campaigns.schemas` builds on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.errors import APIError, InvalidPayload, NotFound
from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime, render_optional_datetime
from patron.kit.validation import check_json_value, check_metadata, check_text
from patron.validation_rules.schemas import AssignmentsList

VoucherType = Literal["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"]
Text = Annotated[str, fields.text()]
Metadata = Annotated[dict[str, Any], fields.metadata("Custom attributes.")]
# Credits (cents) and points: at most 10^13, so that sums over a customer's cards stay exact.
Amount = Annotated[int, Meta(ge=0, le=10**13)]
Number = Annotated[float, Meta(ge=0, le=10**13)] | Annotated[int, Meta(ge=0, le=10**13)]
Day = Annotated[int, Meta(ge=0, le=6)]

DiscountEffect = Literal[
    "APPLY_TO_ORDER",
    "APPLY_TO_ITEMS",
    "APPLY_TO_ITEMS_PROPORTIONALLY",
    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
    "APPLY_TO_ITEMS_BY_QUANTITY",
    "ADD_MISSING_ITEMS",
    "ADD_NEW_ITEMS",
    "ADD_MANY_ITEMS",
    "ADD_SAME_ITEMS",
]
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


class InvalidVoucher(APIError):
    status = 400
    key = "invalid_voucher"
    message = "Invalid voucher"


class DuplicateFound(APIError):
    status = 409
    key = "duplicate_found"
    message = "Duplicated resource found"


class Discount(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """What a discount code takes off (amounts in cents, `percent_off` in percent)."""

    type: Literal["AMOUNT", "UNIT", "PERCENT", "FIXED"]
    amount_off: Number | UnsetType = UNSET
    amount_off_formula: Text | UnsetType = UNSET
    aggregated_amount_limit: Amount | UnsetType = UNSET
    effect: DiscountEffect | UnsetType = UNSET
    is_dynamic: bool | UnsetType = UNSET
    unit_off: Amount | UnsetType = UNSET
    unit_off_formula: Text | UnsetType = UNSET
    unit_type: Text | UnsetType = UNSET
    product: dict[str, Any] | UnsetType = UNSET
    sku: dict[str, Any] | UnsetType = UNSET
    units: list[dict[str, Any]] | UnsetType = UNSET
    percent_off: (
        Annotated[float, Meta(ge=0, le=100)] | Annotated[int, Meta(ge=0, le=100)] | UnsetType
    ) = UNSET
    percent_off_formula: Text | UnsetType = UNSET
    amount_limit: Number | UnsetType = UNSET
    fixed_amount: Number | UnsetType = UNSET
    fixed_amount_formula: Text | UnsetType = UNSET


class Gift(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """A gift card's credits, in cents."""

    amount: Number | UnsetType | None = UNSET
    balance: Number | UnsetType | None = UNSET
    subtracted_amount: Amount | UnsetType | None = UNSET
    effect: Literal["APPLY_TO_ORDER", "APPLY_TO_ITEMS"] | UnsetType | None = UNSET


class LoyaltyCard(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """A loyalty card's initial points."""

    points: Amount | UnsetType | None = UNSET
    balance: Amount | UnsetType | None = UNSET
    expiration_rules: dict[str, Any] | UnsetType | None = UNSET


class RedemptionLimit(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    quantity: Annotated[int, Meta(ge=0, le=2**31 - 1)] | UnsetType | None = UNSET
    redeemed_quantity: Count | UnsetType | None = UNSET


class ValidityTimeframe(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Recurring windows: the voucher is valid for `duration` every `interval` (ISO 8601)."""

    duration: Annotated[str, fields.pattern(_DURATION.pattern)] | UnsetType = UNSET
    interval: Annotated[str, fields.pattern(_DURATION.pattern)] | UnsetType = UNSET


class DailyHours(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    start_time: Annotated[str, fields.pattern(_TIME.pattern)]
    expiration_time: Annotated[str, fields.pattern(_TIME.pattern)]
    days_of_week: list[Day]


class ValidityHours(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    daily: list[DailyHours] | UnsetType = UNSET


class CodeConfigBody(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """How codes are generated (`vouchers.codes`)."""

    length: Annotated[int, Meta(ge=1, le=100)] | UnsetType = UNSET
    charset: str | UnsetType = UNSET
    prefix: str | UnsetType = UNSET
    postfix: str | UnsetType = UNSET
    pattern: str | UnsetType = UNSET
    initial_count: int | UnsetType = UNSET


class Validity(msgspec.Struct, omit_defaults=True, kw_only=True):
    """When a code may be used; null means no bound."""

    start_date: datetime | UnsetType | None = UNSET
    expiration_date: datetime | UnsetType | None = UNSET
    validity_timeframe: ValidityTimeframe | UnsetType | None = UNSET
    validity_day_of_week: list[Day] | UnsetType | None = UNSET
    validity_hours: ValidityHours | UnsetType | None = UNSET


class VoucherFields(Validity, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """What a voucher body may set (create and update)."""

    category: Text | UnsetType | None = UNSET
    category_id: Text | UnsetType | None = UNSET
    active: bool | UnsetType | None = UNSET
    additional_info: Text | UnsetType | None = UNSET
    metadata: Metadata | UnsetType | None = UNSET
    redemption: RedemptionLimit | UnsetType | None = UNSET
    type: VoucherType | UnsetType | None = UNSET
    discount: Discount | UnsetType | None = UNSET
    gift: Gift | UnsetType | None = UNSET
    loyalty_card: LoyaltyCard | UnsetType | None = UNSET
    validation_rules: list[Text] | UnsetType | None = UNSET


class VoucherCreate(VoucherFields, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/vouchers[/{code}]: a standalone voucher, or one added to a campaign."""

    code: Annotated[str, fields.text(max_length=200, min_length=1)] | UnsetType | None = UNSET
    campaign: Text | UnsetType | None = UNSET
    campaign_id: Text | UnsetType | None = UNSET
    code_config: CodeConfigBody | UnsetType | None = UNSET


class VoucherUpdate(VoucherFields, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """PUT /v1/vouchers/{code}: only the fields sent change. The JS SDK sends the voucher's
    `code` too, which is ignored: a code never changes."""

    code: Annotated[str, fields.text(max_length=200, min_length=1)] | UnsetType | None = UNSET
    unset_metadata_fields: list[Text] | UnsetType | None = UNSET


class CampaignVoucherCreate(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """POST /v1/campaigns/{id}/vouchers[/{code}]: what the new codes get beyond the template
    (`code`: the one code to add, when the path names none)."""

    code: Annotated[str, fields.text(max_length=200, min_length=1)] | UnsetType | None = UNSET
    category: Text | UnsetType | None = UNSET
    category_id: Text | UnsetType | None = UNSET
    metadata: Metadata | UnsetType | None = UNSET
    redemption: RedemptionLimit | UnsetType | None = UNSET
    additional_info: Text | UnsetType | None = UNSET
    start_date: datetime | UnsetType | None = UNSET
    expiration_date: datetime | UnsetType | None = UNSET
    code_config: CodeConfigBody | UnsetType | None = UNSET


Code = Annotated[str, fields.text(max_length=200, min_length=1)]
# Codes an import or a bulk update takes at once.
MAX_BULK_VOUCHERS = 10_000


class CodeMetadata(msgspec.Struct, forbid_unknown_fields=True):
    """An element of POST /v1/vouchers/bulk/async: a code and the metadata merged into it."""

    code: Code
    metadata: Metadata


class MetadataBulk(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/vouchers/metadata/async: the metadata merged into each of the codes."""

    codes: Annotated[list[Code], Meta(min_length=1, max_length=MAX_BULK_VOUCHERS)]
    metadata: Metadata


class BalanceUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/vouchers/{code}/balance: credits (cents) or points to add (negative: remove)."""

    amount: Annotated[int, Meta(ge=-(10**13), le=10**13)]
    source_id: Text | None = None
    reason: Text | None = None


def given(value: Any) -> Any:
    """A field's value, with null and absent both None (create bodies: null means unset)."""
    return None if value is UNSET else value


def check_voucher_fields(body: VoucherFields) -> None:
    """What msgspec's types cannot say about a voucher body."""
    for name in ("category", "additional_info"):
        value = getattr(body, name)
        if isinstance(value, str):
            check_text(value, f".{name}")
    if isinstance(body.metadata, dict):
        check_metadata(body.metadata)
    check_category(body.category_id)
    check_validation_rules(body.validation_rules)
    check_validity(body)
    check_discount(body.discount, ".discount")


def check_discount(discount: object, path: str) -> None:
    """A discount's free-form parts (`product`, `sku`, `units`) hold only JSON PostgreSQL can
    store (no NUL, bounded depth). Raises InvalidPayload."""
    if isinstance(discount, Discount):
        for name in ("product", "sku", "units"):
            value = getattr(discount, name)
            if not isinstance(value, UnsetType):
                check_json_value(value, f"{path}.{name}")


def check_category(category_id: object) -> None:
    """Categories are not kept yet: a `category_id` names none (404, not silently ignored)."""
    if isinstance(category_id, str):
        raise NotFound(
            f"Cannot find category with id {category_id}",
            resource_id=category_id,
            resource_type="category",
        )


def check_validation_rules(rule_ids: object) -> None:
    """`validation_rules` in a campaign or voucher body: at most MAX_VALIDATION_RULES ids; the
    service assigns them (`validation_rules.service.assign_rules`, 404 for a missing one)."""
    if isinstance(rule_ids, list) and len(rule_ids) > MAX_VALIDATION_RULES:
        raise InvalidPayload(
            f"Property .validation_rules holds at most {MAX_VALIDATION_RULES} rule ids"
        )


# Rules a campaign or voucher body may assign at once.
MAX_VALIDATION_RULES = 50


def check_validity(body: Validity) -> None:
    start, end = given(body.start_date), given(body.expiration_date)
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        raise InvalidPayload("expiration_date must not be earlier than start_date")
    for value in (start, end):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidPayload("Dates must carry a time zone (e.g. a trailing Z)")


def discount_dict(discount: Discount) -> dict[str, Any]:
    """A discount as stored and shown; refuses one that lacks the value its type needs."""
    needs = {"AMOUNT": "amount_off", "PERCENT": "percent_off", "FIXED": "fixed_amount"}
    field = needs.get(discount.type)
    if field is not None and getattr(discount, field) is UNSET:
        formula = getattr(discount, f"{field}_formula", UNSET)
        if formula is UNSET:
            raise InvalidVoucher(f"A {discount.type} discount needs {field}")
    if discount.type == "UNIT" and discount.unit_off is UNSET and discount.units is UNSET:
        raise InvalidVoucher("A UNIT discount needs unit_off or units")
    body: dict[str, Any] = msgspec.to_builtins(discount)
    if "effect" not in body and discount.type in ("AMOUNT", "PERCENT", "FIXED"):
        body["effect"] = "APPLY_TO_ORDER"
    return body


def whole(value: float | int, path: str) -> int:
    """A number of cents or points given as JSON: whole, or a 400 naming it."""
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidPayload(f"Property {path} must be a whole number of cents or points")
        return int(value)
    return value


def voucher_not_found(key: str) -> NotFound:
    return NotFound(f"Cannot find voucher with id {key}", resource_id=key, resource_type="voucher")


# --- the voucher object ------------------------------------------------------------------

# Voucher id (from a row) -> its assets block ({qr: {id, url}, barcode: {id, url}}), or None.
AssetsOf = Callable[[str], dict[str, Any] | None]


def no_assets(voucher_id: str) -> None:
    return None


def render_gift(row: Any) -> dict[str, Any]:
    return {
        "amount": row["gift_amount"],
        "subtracted_amount": row["gift_subtracted"],
        "balance": row["balance"],
        "effect": row["gift_effect"] or "APPLY_TO_ORDER",
    }


def render_loyalty_card(row: Any) -> dict[str, Any]:
    return {
        "points": row["loyalty_points"],
        "balance": row["balance"],
        "next_expiration_date": None,
        "next_expiration_points": None,
        "pending_points": row["loyalty_pending"],
        "expired_points": row["loyalty_expired"],
        "subtracted_points": row["loyalty_subtracted"],
    }


def render_voucher(row: Any, assets_of: AssetsOf = no_assets) -> dict[str, Any]:
    """The voucher object (INCENTIVES.md §1.4) of a row joined with its campaign's `name` as
    `campaign_name` and the campaign's effective `code_config`."""
    voucher_id = row["id"]
    code = row["code"]
    kind = row["type"]
    redemption: dict[str, Any] = {
        "quantity": row["redemption_quantity"],
        "redeemed_quantity": row["redeemed_quantity"],
    }
    if kind == "LOYALTY_CARD":
        redemption["redeemed_points"] = row["redeemed_points"]
    redemption["object"] = "list"
    redemption["url"] = f"/v1/vouchers/{code}/redemptions?page=1&limit=10"
    return {
        "id": voucher_id,
        "code": code,
        "campaign": row["campaign_name"],
        "campaign_id": row["campaign_id"],
        "category": row["category"],
        "category_id": None,
        "categories": [],
        "type": kind,
        "discount": row["discount"] if kind == "DISCOUNT_VOUCHER" else None,
        "gift": render_gift(row) if kind == "GIFT_VOUCHER" else None,
        "loyalty_card": render_loyalty_card(row) if kind == "LOYALTY_CARD" else None,
        "start_date": render_optional_datetime(row["start_date"]),
        "expiration_date": render_optional_datetime(row["expiration_date"]),
        "validity_timeframe": row["validity_timeframe"],
        "validity_day_of_week": row["validity_day_of_week"],
        "validity_hours": row["validity_hours"],
        "active": row["active"],
        "additional_info": row["additional_info"],
        "metadata": row["metadata"],
        "assets": assets_of(voucher_id),
        "is_referral_code": row["is_referral_code"],
        "created_at": render_datetime(row["created_at"]),
        "updated_at": render_optional_datetime(row["updated_at"]),
        "holder_id": row["holder_id"],
        "referrer_id": row["referrer_id"],
        "redemption": redemption,
        "publish": {
            "object": "list",
            "count": row["publish_count"],
            "url": f"/v1/vouchers/{code}/publications?page=1&limit=10",
        },
        "code_config": row["code_config"] or row["campaign_code_config"],
        "object": "voucher",
    }


def render_transaction(row: Any) -> dict[str, Any]:
    """A voucher transaction (`vtx_`), as `GET /v1/vouchers/{code}/transactions` lists it."""
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "voucher_id": row["voucher_id"],
        "campaign_id": row["campaign_id"],
        "source": row["source"],
        "reason": row["reason"],
        "type": row["type"],
        "details": row["details"],
        "related_transaction_id": row["related_transaction_id"],
        "created_at": render_datetime(row["created_at"]),
    }


# --- response Structs (the OpenAPI document's schemas) ------------------------------------


class VoucherRedemption(msgspec.Struct, forbid_unknown_fields=True):
    quantity: Annotated[int | None, Meta(description="`null`: unlimited.")]
    redeemed_quantity: Count
    object: Literal["list"]
    url: str
    redeemed_points: Count | UnsetType = UNSET


class VoucherPublish(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    count: Count
    url: str


class GiftObject(msgspec.Struct, forbid_unknown_fields=True):
    """Credits in cents: `balance` = `amount` - `subtracted_amount` - redeemed."""

    amount: Count
    subtracted_amount: Count
    balance: Count
    effect: Literal["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]


class LoyaltyCardObject(msgspec.Struct, forbid_unknown_fields=True):
    """Points: `balance` = `points` - `expired_points` - `subtracted_points` - redeemed."""

    points: Count
    balance: Count
    next_expiration_date: str | None
    next_expiration_points: Count | None
    pending_points: Count
    expired_points: Count
    subtracted_points: Count


class AssetLink(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    url: Annotated[str, Meta(description="An image Patron serves, with no credentials needed.")]


class VoucherAssets(msgspec.Struct, forbid_unknown_fields=True):
    qr: AssetLink
    barcode: AssetLink


class VoucherObject(msgspec.Struct, forbid_unknown_fields=True):
    """The voucher object (`render_voucher`; INCENTIVES.md §1.4)."""

    id: Annotated[str, Meta(examples=["v_xyz"])]
    code: str
    campaign: Annotated[str | None, Meta(description="The campaign's name.")]
    campaign_id: str | None
    category: str | None
    category_id: None
    categories: Annotated[list[dict[str, Any]], Meta(max_length=0)]
    type: VoucherType
    discount: dict[str, Any] | None
    gift: GiftObject | None
    loyalty_card: LoyaltyCardObject | None
    start_date: Moment | None
    expiration_date: Moment | None
    validity_timeframe: dict[str, Any] | None
    validity_day_of_week: list[int] | None
    validity_hours: dict[str, Any] | None
    active: bool
    additional_info: str | None
    metadata: dict[str, Any]
    assets: VoucherAssets | None
    is_referral_code: bool
    created_at: Moment
    updated_at: Moment | None
    holder_id: Annotated[str | None, Meta(description="The customer it is published to.")]
    referrer_id: str | None
    redemption: VoucherRedemption
    publish: VoucherPublish
    code_config: dict[str, Any]
    object: Literal["voucher"]
    # Shown by create, get and update (not in lists): INCENTIVES.md §3.
    validation_rules_assignments: AssignmentsList | UnsetType = UNSET


class VouchersList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["vouchers"]
    vouchers: list[VoucherObject]
    total: Count


class BalanceObject(msgspec.Struct, forbid_unknown_fields=True):
    """A balance change: `amount` the change, `total` lifetime credits or points after it,
    `balance` what is available after it."""

    amount: int
    total: Count
    balance: Count
    type: Literal["gift_voucher", "loyalty_card"]
    operation_type: Literal["MANUAL"]
    object: Literal["balance"]
    related_object: dict[str, Any]


class TransactionObject(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(examples=["vtx_xyz"])]
    source_id: str | None
    voucher_id: str
    campaign_id: str | None
    source: str | None
    reason: str | None
    type: str
    details: dict[str, Any]
    related_transaction_id: str | None
    created_at: Moment


class TransactionsList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[TransactionObject]
    has_more: bool
    more_starting_after: str | UnsetType = UNSET


class Accepted(msgspec.Struct, forbid_unknown_fields=True):
    async_action_id: str


class RedeemableEntry(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["voucher"]
    voucher: VoucherObject
    status: Literal["ACTIVE", "USED", "DISABLED", "NOT_ACTIVE_YET", "EXPIRED", "NO_BALANCE"]


class CustomerRedeemable(msgspec.Struct, forbid_unknown_fields=True):
    """A code the customer holds (`vouchers.redeemables.render_redeemable`)."""

    id: Annotated[str, Meta(examples=["rh_xyz"])]
    created_at: Moment
    redeemable_id: str
    redeemable_object: Literal["voucher"]
    customer_id: str
    holder_role: Literal["OWNER", "REFERRER", "REFEREE"]
    campaign_id: str | None
    campaign_type: str | None
    voucher_type: VoucherType
    redeemable: RedeemableEntry
    object: Literal["customer_redeemable"]


class RedeemablesList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[CustomerRedeemable]
    total: Count
    has_more: bool
    more_starting_after: str | UnsetType = UNSET
