"""Publication request bodies and the publication object as Voucherify shows it
(INCENTIVES.md §2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.customers.schemas import CustomerCreate, check_fields
from patron.errors import APIError, InvalidPayload
from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime
from patron.kit.validation import check_metadata, check_text
from patron.vouchers.schemas import Metadata, Text, VoucherObject

MAX_COUNT = 50


class PublicationRefused(APIError):
    """A publication that cannot be made: stored as a failed publication, then answered."""

    status = 400
    key = "publication_refused"
    message = "Publication refused"


class MissingVouchers(PublicationRefused):
    key = "missing_vouchers"
    message = "Missing vouchers"


class VoucherAlreadyPublished(PublicationRefused):
    key = "voucher_already_published"
    message = "Voucher already published"


class VoucherCannotBePublished(PublicationRefused):
    key = "voucher_cannot_be_published"
    message = "Voucher cannot be published"


class NoVoucherSuitable(PublicationRefused):
    key = "no_voucher_suitable_for_publication"
    message = "No voucher suitable for publication"


class DuplicateSourceId(PublicationRefused):
    key = "duplicate_source_id"
    message = "Duplicate source_id"


class TooManyVouchersRequested(PublicationRefused):
    key = "too_many_vouchers_requested"
    message = "Too many vouchers requested"


class PublicationCampaign(msgspec.Struct, forbid_unknown_fields=True):
    """The campaign to publish from (its name or id) and how many codes (1 to 50)."""

    name: Annotated[str, fields.text(max_length=1000, min_length=1)]
    count: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET


class PublicationCreate(msgspec.Struct):
    """POST /v1/publications: a customer (upserted) and a code, or a campaign to take codes
    from. Unknown properties are ignored; null means not given."""

    customer: CustomerCreate
    voucher: Text | UnsetType | None = UNSET
    campaign: PublicationCampaign | Text | UnsetType | None = UNSET
    source_id: Annotated[str, fields.text(max_length=1000, min_length=1)] | UnsetType | None = UNSET
    channel: Text | UnsetType | None = UNSET
    metadata: Metadata | UnsetType | None = UNSET


def check_publication(body: PublicationCreate) -> None:
    check_fields(body.customer)
    for name in ("voucher", "source_id", "channel"):
        value = getattr(body, name)
        if isinstance(value, str):
            check_text(value, f".{name}")
    if isinstance(body.metadata, dict):
        check_metadata(body.metadata)
    campaign = body.campaign
    if (
        isinstance(campaign, PublicationCampaign)
        and isinstance(campaign.count, int)
        and campaign.count > MAX_COUNT
    ):
        raise TooManyVouchersRequested(f"At most {MAX_COUNT} codes can be published at once")
    if not isinstance(body.customer, CustomerCreate):
        raise InvalidPayload("Property .customer is required")


def render_publication(row: Any, *, for_list: bool) -> dict[str, Any]:
    """A stored publication: as `POST /v1/publications` answers it (`channel` always `API`, as
    the Python SDK requires), or as `GET /v1/publications` lists it (the caller's channel)."""
    vouchers: list[dict[str, Any]] = row["vouchers"]
    publication: dict[str, Any] = {
        "id": row["id"],
        "object": "publication",
        "created_at": render_datetime(row["created_at"]),
        "customer_id": row["customer_id"],
        "tracking_id": (row["customer"] or {}).get("source_id"),
        "metadata": row["metadata"],
        "channel": (row["channel"] or "API") if for_list else "API",
        "source_id": row["source_id"],
        "result": row["result"],
        "customer": row["customer"],
        "vouchers_id": list(row["voucher_ids"]),
    }
    if row["result"] == "FAILURE":
        publication["failure_code"] = row["failure_code"]
        publication["failure_message"] = row["failure_message"]
    elif len(vouchers) == 1:
        publication["voucher"] = vouchers[0] if not for_list else _listed_voucher(vouchers[0])
        if for_list:
            publication["vouchers"] = [vouchers[0]["code"]]
    else:
        publication["vouchers"] = [voucher["code"] for voucher in vouchers]
    return publication


def _listed_voucher(voucher: dict[str, Any]) -> dict[str, Any]:
    listed = {
        "code": voucher["code"],
        "object": "voucher",
        "campaign": voucher["campaign"],
        "is_referral_code": voucher["is_referral_code"],
    }
    for name in ("discount", "gift", "loyalty_card"):
        if voucher.get(name) is not None:
            listed[name] = voucher[name]
    return listed


def customer_brief(customer: dict[str, Any]) -> dict[str, Any]:
    """The customer as a publication shows it; `metadata` left out while the customer has none,
    as the customer object leaves it out (`render_customer_fields`; the PHP SDK's
    `createdPublication.json` snapshot holds `null` there, what its model shows for a missing
    key, beside the publication's own `"metadata": {}`)."""
    brief = {
        "id": customer["id"],
        "name": customer["name"],
        "email": customer["email"],
        "source_id": customer["source_id"],
    }
    if customer.get("metadata"):
        brief["metadata"] = customer["metadata"]
    brief["object"] = "customer"
    return brief


class PublicationCustomer(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str | None
    email: str | None
    source_id: str | None
    object: Literal["customer"]
    metadata: (
        Annotated[dict[str, Any], Meta(description="Left out while the customer has none.")]
        | UnsetType
    ) = UNSET


class PublicationCreated(msgspec.Struct, forbid_unknown_fields=True):
    """A publication as it is made (`render_publication`): `voucher` for one code, `vouchers`
    (codes) for several; `channel` is always `API`."""

    id: Annotated[str, Meta(examples=["pub_xyz"])]
    object: Literal["publication"]
    created_at: Moment
    customer_id: str | None
    tracking_id: Annotated[str | None, Meta(description="The customer's source_id.")]
    metadata: dict[str, Any]
    channel: Literal["API"]
    source_id: str | None
    result: Literal["SUCCESS"]
    customer: PublicationCustomer | None
    vouchers_id: list[str]
    voucher: VoucherObject | UnsetType = UNSET
    vouchers: list[str] | UnsetType = UNSET


class PublicationObject(msgspec.Struct, forbid_unknown_fields=True):
    """A publication as listed: the caller's channel; `failure_code` and `failure_message`
    for a failed one."""

    id: Annotated[str, Meta(examples=["pub_xyz"])]
    object: Literal["publication"]
    created_at: Moment
    customer_id: str | None
    tracking_id: Annotated[str | None, Meta(description="The customer's source_id.")]
    metadata: dict[str, Any]
    channel: str
    source_id: str | None
    result: Literal["SUCCESS", "FAILURE"]
    customer: PublicationCustomer | None
    vouchers_id: list[str]
    voucher: (
        Annotated[dict[str, Any], Meta(description="Code, campaign and value.")] | UnsetType
    ) = UNSET
    vouchers: list[str] | UnsetType = UNSET
    failure_code: str | UnsetType = UNSET
    failure_message: str | UnsetType = UNSET


class PublicationsList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["publications"]
    publications: list[PublicationObject]
    total: Count
