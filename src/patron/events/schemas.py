"""Custom event request bodies and the event object (`render_event`, and its Struct for the
OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.customers.schemas import CustomerCreate, Text, check_fields
from patron.errors import InvalidPayload
from patron.kit import fields
from patron.kit.validation import check_metadata, check_text

EventName = Annotated[str, fields.text(300, min_length=1, description="The event's name.")]
# `code` is required: `check_event` says so with Voucherify's message, the document here.
_CODE_REQUIRED = Meta(extra_json_schema={"required": ["code"]})


class Referral(msgspec.Struct):
    """Accepted, but nothing is credited yet (no referral programs)."""

    code: Annotated[str, fields.text(description="The referral code the visitor came with.")] | (
        UnsetType
    ) = UNSET
    referrer_id: Text | UnsetType | None = UNSET


class Loyalty(msgspec.Struct):
    """Accepted, but nothing is credited yet (no loyalty programs)."""

    code: Annotated[str, fields.text(description="The loyalty card to credit.")] | UnsetType = UNSET


class EventCreate(msgspec.Struct):
    """Body of `POST /v1/events` and `POST /client/v1/events`. The customer is upserted as by
    POST /v1/customers (created when unknown; an unknown `id` is a 404)."""

    event: EventName
    customer: CustomerCreate
    # On the union: msgspec drops a Meta on a struct's reference inside one (`required` holds
    # only for an object, so null still passes).
    referral: Annotated[Referral | None, _CODE_REQUIRED] | UnsetType = UNSET
    loyalty: Annotated[Loyalty | None, _CODE_REQUIRED] | UnsetType = UNSET
    metadata: (
        Annotated[dict[str, Any], fields.metadata("The event's custom attributes.")]
        | UnsetType
        | None
    ) = UNSET


def check_event(body: EventCreate) -> None:
    check_text(body.event, ".event")
    check_fields(body.customer)
    if isinstance(body.referral, Referral):
        if isinstance(body.referral.code, UnsetType):
            raise InvalidPayload("Property .referral should have required property 'code'")
        check_text(body.referral.code, ".referral.code")
    if isinstance(body.loyalty, Loyalty):
        if isinstance(body.loyalty.code, UnsetType):
            raise InvalidPayload("Property .loyalty should have required property 'code'")
        check_text(body.loyalty.code, ".loyalty.code")
    if isinstance(body.metadata, dict):
        check_metadata(body.metadata)


def render_event(name: str, customer: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The event object. Its customer leaves `metadata` out while the customer has none, as
    the customer object does (`render_customer_fields`; the Java SDK's `CreatedCustomEvent`
    snapshot holds `null` there, what its model shows for a missing key). The event's own
    `metadata` is `{}` when none was sent, as that snapshot holds."""
    brief: dict[str, Any] = {
        "id": customer["id"],
        "source_id": customer["source_id"],
        "name": customer["name"],
        "email": customer["email"],
    }
    if customer.get("metadata"):
        brief["metadata"] = customer["metadata"]
    brief["object"] = "customer"
    return {
        "object": "event",
        "type": name,
        "customer": brief,
        # Referral and loyalty programs do not exist yet, so nothing is credited.
        "referral": None,
        "loyalty": None,
        "metadata": metadata,
    }


class EventCustomer(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    source_id: str | None
    name: str | None
    email: str | None
    object: Literal["customer"]
    metadata: (
        Annotated[dict[str, Any], Meta(description="Left out while the customer has none.")]
        | UnsetType
    ) = UNSET


class EventObject(msgspec.Struct, forbid_unknown_fields=True):
    """The event object (`render_event`)."""

    object: Literal["event"]
    type: Annotated[str, Meta(description="The event's name.")]
    customer: EventCustomer
    referral: None
    loyalty: None
    metadata: dict[str, Any]
