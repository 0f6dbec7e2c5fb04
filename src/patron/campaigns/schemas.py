"""Campaign request bodies and the campaign object as Voucherify shows it (INCENTIVES.md §1.2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.errors import APIError, NotFound
from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime, render_optional_datetime
from patron.kit.validation import check_json_value, check_metadata, check_text
from patron.validation_rules.schemas import AssignmentsList
from patron.vouchers.schemas import (
    CodeConfigBody,
    Discount,
    Gift,
    LoyaltyCard,
    Metadata,
    RedemptionLimit,
    Text,
    Validity,
    VoucherType,
    check_category,
    check_discount,
    check_validation_rules,
    check_validity,
)

CampaignType = Literal[
    "DISCOUNT_COUPONS", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "REFERRAL_PROGRAM", "PROMOTION"
]
CampaignKind = Literal["AUTO_UPDATE", "STATIC", "STANDALONE"]
Status = Literal["DONE", "IN_PROGRESS", "FAILED", "DRAFT", "MODIFYING"]
MAX_VOUCHERS_COUNT = 10_000_000

# The campaign type a voucher type implies, when a campaign is created without one.
CAMPAIGN_TYPE_OF: dict[str, str] = {
    "DISCOUNT_VOUCHER": "DISCOUNT_COUPONS",
    "GIFT_VOUCHER": "GIFT_VOUCHERS",
    "LOYALTY_CARD": "LOYALTY_PROGRAM",
}
# The voucher type each campaign type makes.
VOUCHER_TYPE_OF: dict[str, str] = {
    "DISCOUNT_COUPONS": "DISCOUNT_VOUCHER",
    "GIFT_VOUCHERS": "GIFT_VOUCHER",
    "LOYALTY_PROGRAM": "LOYALTY_CARD",
    "REFERRAL_PROGRAM": "DISCOUNT_VOUCHER",
}


class InvalidCampaign(APIError):
    status = 400
    key = "invalid_campaign"
    message = "Invalid campaign"


class CampaignVoucher(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """The template a campaign's codes are made from."""

    type: VoucherType | UnsetType | None = UNSET
    discount: Discount | UnsetType | None = UNSET
    gift: Gift | UnsetType | None = UNSET
    loyalty_card: LoyaltyCard | UnsetType | None = UNSET
    redemption: RedemptionLimit | UnsetType | None = UNSET
    code_config: CodeConfigBody | UnsetType | None = UNSET
    is_referral_code: bool | UnsetType | None = UNSET


class CampaignFields(Validity, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """What create and update share."""

    description: Text | UnsetType | None = UNSET
    join_once: bool | UnsetType | None = UNSET
    auto_join: bool | UnsetType | None = UNSET
    activity_duration_after_publishing: (
        Annotated[str, fields.pattern(r"^P", "An ISO 8601 duration, e.g. `P24D`.")]
        | UnsetType
        | None
    ) = UNSET
    category: Text | UnsetType | None = UNSET
    category_id: Text | UnsetType | None = UNSET
    metadata: Metadata | UnsetType | None = UNSET
    access_settings: dict[str, Any] | UnsetType | None = UNSET
    referral_program: dict[str, Any] | UnsetType | None = UNSET
    type: CampaignKind | UnsetType | None = UNSET


class CampaignCreate(CampaignFields, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/campaigns."""

    name: Annotated[str, fields.text(max_length=200, min_length=1, indexed=True)] | UnsetType = (
        UNSET
    )
    campaign_type: CampaignType | UnsetType | None = UNSET
    use_voucher_metadata_schema: bool | UnsetType | None = UNSET
    vouchers_count: Annotated[int, Meta(ge=0, le=MAX_VOUCHERS_COUNT)] | UnsetType | None = UNSET
    validation_rules: list[Text] | UnsetType | None = UNSET
    voucher: CampaignVoucher | UnsetType | None = UNSET
    promotion: dict[str, Any] | UnsetType | None = UNSET
    loyalty_tiers_expiration: dict[str, Any] | UnsetType | None = UNSET


class CampaignUpdate(CampaignFields, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """PUT /v1/campaigns/{campaignId}: only the fields sent change; null clears."""

    unset_metadata_fields: list[Text] | UnsetType | None = UNSET
    discount: Discount | UnsetType | None = UNSET
    gift: Gift | UnsetType | None = UNSET
    loyalty_tiers_expiration: dict[str, Any] | UnsetType | None = UNSET
    options: dict[str, Any] | UnsetType | None = UNSET


def check_campaign_fields(body: CampaignFields) -> None:
    for name in ("description", "category"):
        value = getattr(body, name)
        if isinstance(value, str):
            check_text(value, f".{name}")
    if isinstance(body.metadata, dict):
        check_metadata(body.metadata)
    check_category(body.category_id)
    check_validity(body)
    for name in ("promotion", "loyalty_tiers_expiration", "options"):
        value = getattr(body, name, None)
        if isinstance(value, dict):
            check_json_value(value, f".{name}")
    check_discount(getattr(body, "discount", None), ".discount")
    if isinstance(body, CampaignCreate):
        check_validation_rules(body.validation_rules)
        if isinstance(body.voucher, CampaignVoucher):
            check_discount(body.voucher.discount, ".voucher.discount")


def campaign_not_found(key: str) -> NotFound:
    return NotFound(
        f"Cannot find campaign with id {key}", resource_id=key, resource_type="campaign"
    )


def render_campaign(row: Any, vouchers_count: int) -> dict[str, Any]:
    """The campaign object: the stored row and how many live vouchers it holds."""
    template: dict[str, Any] = dict(row["voucher"])
    for name in ("start_date", "expiration_date"):
        template[name] = render_optional_datetime(row[name])
    for name in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
        template[name] = row[name]
    campaign: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "campaign_type": row["campaign_type"],
        "type": row["type"],
        "voucher": template,
        "auto_join": row["auto_join"],
        "join_once": row["join_once"],
        "use_voucher_metadata_schema": row["use_voucher_metadata_schema"],
        "validity_timeframe": row["validity_timeframe"],
        "validity_day_of_week": row["validity_day_of_week"],
        "validity_hours": row["validity_hours"],
        "activity_duration_after_publishing": row["activity_duration_after_publishing"],
        "vouchers_count": vouchers_count,
        "start_date": render_optional_datetime(row["start_date"]),
        "expiration_date": render_optional_datetime(row["expiration_date"]),
        "active": row["active"],
        "metadata": row["metadata"],
        "created_at": render_datetime(row["created_at"]),
        "updated_at": render_optional_datetime(row["updated_at"]),
        "category": row["category"],
        "creation_status": row["creation_status"],
        "vouchers_generation_status": row["vouchers_generation_status"],
        "protected": False,
        "category_id": None,
        "categories": [],
        "object": "campaign",
    }
    if row["referral_program"] is not None:
        campaign["referral_program"] = row["referral_program"]
    if row["loyalty_tiers_expiration"] is not None:
        campaign["loyalty_tiers_expiration"] = row["loyalty_tiers_expiration"]
    return campaign


class CampaignObject(msgspec.Struct, forbid_unknown_fields=True):
    """The campaign object (`render_campaign`)."""

    id: Annotated[str, Meta(examples=["camp_xyz"])]
    name: str
    description: str | None
    campaign_type: CampaignType
    type: CampaignKind
    voucher: Annotated[
        dict[str, Any],
        Meta(description="The template of its codes, with the effective `code_config`."),
    ]
    auto_join: bool
    join_once: bool
    use_voucher_metadata_schema: bool
    validity_timeframe: dict[str, Any] | None
    validity_day_of_week: list[int] | None
    validity_hours: dict[str, Any] | None
    activity_duration_after_publishing: str | None
    vouchers_count: Annotated[Count, Meta(description="Its live vouchers.")]
    start_date: Moment | None
    expiration_date: Moment | None
    active: bool
    metadata: dict[str, Any]
    created_at: Moment
    updated_at: Moment | None
    category: str | None
    creation_status: Status
    vouchers_generation_status: Status
    protected: bool
    category_id: None
    categories: Annotated[list[dict[str, Any]], Meta(max_length=0)]
    object: Literal["campaign"]
    referral_program: dict[str, Any] | UnsetType = UNSET
    loyalty_tiers_expiration: dict[str, Any] | UnsetType = UNSET
    # Shown by create, get and update (not in lists): INCENTIVES.md §3.
    validation_rules_assignments: AssignmentsList | UnsetType = UNSET


class CampaignsList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["campaigns"]
    campaigns: list[CampaignObject]
    total: Count


class Empty(msgspec.Struct, forbid_unknown_fields=True):
    """`{}`: enable and disable answer nothing more."""
