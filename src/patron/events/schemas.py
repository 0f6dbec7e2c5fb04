"""Custom event request bodies and the event object."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.customers.schemas import CustomerCreate, Text, check_fields
from patron.errors import InvalidPayload
from patron.kit.validation import check_metadata, check_text

EventName = Annotated[str, Meta(min_length=1, max_length=300)]


class Referral(msgspec.Struct):
    code: Text | UnsetType = UNSET
    referrer_id: Text | UnsetType | None = UNSET


class Loyalty(msgspec.Struct):
    code: Text | UnsetType = UNSET


class EventCreate(msgspec.Struct):
    """Body of `POST /v1/events` and `POST /client/v1/events`."""

    event: EventName
    customer: CustomerCreate
    referral: Referral | UnsetType | None = UNSET
    loyalty: Loyalty | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET


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
    return {
        "object": "event",
        "type": name,
        "customer": {
            "id": customer["id"],
            "source_id": customer["source_id"],
            "name": customer["name"],
            "email": customer["email"],
            "metadata": customer["metadata"],
            "object": "customer",
        },
        # Referral and loyalty programs do not exist yet, so nothing is credited.
        "referral": None,
        "loyalty": None,
        "metadata": metadata,
    }
