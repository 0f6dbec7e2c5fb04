"""Customer request bodies and the customer object as Voucherify shows it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.errors import InvalidPayload, NotFound
from patron.kit.time import render_date, render_datetime, render_optional_datetime
from patron.kit.validation import check_metadata, check_text

MAX_TEXT = 4096

Text = Annotated[str, Meta(max_length=MAX_TEXT)]
SourceId = Annotated[str, Meta(min_length=1, max_length=1024)]
MAX_EMAIL = 254
Email = Annotated[str, Meta(max_length=MAX_EMAIL)]
# Something, `@`, a domain with a dot; no spaces or control characters. Spelled out rather than
# with `\s`, whose meaning differs between regex engines: the OpenAPI document states it too.
_EMAIL_PART = r"[^@\x00-\x20\x7f]+"
EMAIL_PATTERN = rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$"
_EMAIL = re.compile(EMAIL_PATTERN)


def is_email(text: str) -> bool:
    return _EMAIL.fullmatch(text) is not None


ADDRESS_FIELDS = ("city", "state", "line_1", "line_2", "country", "postal_code")


class Address(msgspec.Struct, omit_defaults=True):
    city: Text | None = None
    state: Text | None = None
    line_1: Text | None = None
    line_2: Text | None = None
    country: Text | None = None
    postal_code: Text | None = None


class CustomerFields(msgspec.Struct):
    """The fields a client may set; UNSET means "not sent", None means "clear it"."""

    name: Text | UnsetType | None = UNSET
    description: Text | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    phone: Text | UnsetType | None = UNSET
    birthdate: date | UnsetType | None = UNSET
    birthday: date | UnsetType | None = UNSET
    address: Address | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET


class CustomerCreate(CustomerFields):
    """Body of `POST /v1/customers`: create, or upsert by `id` or `source_id`."""

    id: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType | None = UNSET
    source_id: SourceId | UnsetType | None = UNSET


class CustomerUpdate(CustomerFields):
    """Body of `PUT /v1/customers/{id}`; a `source_id` sent here is ignored (it is immutable)."""


# The columns a client can change, in the order the repository writes them.
MUTABLE_COLUMNS = (
    "name",
    "description",
    "email",
    "phone",
    "birthdate",
    "birthday",
    "address",
    "metadata",
)


def column_values(fields: CustomerFields) -> dict[str, Any]:
    """The columns this body sets, as the repository stores them."""
    values: dict[str, Any] = {}
    for column in MUTABLE_COLUMNS:
        value = getattr(fields, column)
        if value is UNSET:
            continue
        if column == "address" and value is not None:
            value = msgspec.structs.asdict(value)
            value = {k: v for k, v in value.items() if v is not None} or None
        elif column == "metadata" and value is None:
            value = {}
        values[column] = value
    return values


EMPTY_SUMMARY: dict[str, Any] = {
    "redemptions": {
        "total_redeemed": 0,
        "total_failed": 0,
        "total_succeeded": 0,
        "total_rolled_back": 0,
        "total_rollback_failed": 0,
        "total_rollback_succeeded": 0,
        "gift": {"redeemed_amount": 0, "amount_to_go": 0},
        "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
    },
    "orders": {"total_amount": 0, "total_count": 0, "average_amount": 0, "last_order_amount": 0},
}


def render_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {field: address.get(field) for field in ADDRESS_FIELDS}


def render_orders_summary(row: Any) -> dict[str, Any]:
    """summary.orders from the stored totals (moved by every change to an order)."""
    total = int(row.get("orders_total_amount") or 0)  # numeric: it may pass 2^63
    count = row.get("orders_total_count") or 0
    summary: dict[str, Any] = {
        "total_amount": total,
        "total_count": count,
        "average_amount": total // count if count else 0,
        "last_order_amount": row.get("orders_last_amount") or 0,
    }
    last = row.get("orders_last_date")
    if last is not None:
        summary["last_order_date"] = render_datetime(last)
    return summary


def customer_not_found(key: str) -> NotFound:
    """The 404 for a customer id or source_id that names no live customer."""
    return NotFound(
        f"Cannot find customer with id {key}", resource_id=key, resource_type="customer"
    )


# A new customer's columns before the client's values (what the table's defaults give).
NEW_CUSTOMER_COLUMNS: dict[str, Any] = {
    **{column: None for column in MUTABLE_COLUMNS},
    "metadata": {},
    "system_metadata": {},
    "updated_at": None,
    "deleted_at": None,
    "orders_total_amount": 0,
    "orders_total_count": 0,
    "orders_last_amount": 0,
    "orders_last_date": None,
}


def new_customer_row(
    customer_id: str, source_id: str | None, values: dict[str, Any], created_at: datetime
) -> dict[str, Any]:
    """The row a customer created with these column values will have (a dict)."""
    row = {**NEW_CUSTOMER_COLUMNS, **values, "id": customer_id, "source_id": source_id}
    row["created_at"] = created_at
    if row["metadata"] is None:
        row["metadata"] = {}
    return row


def render_customer_fields(row: Any) -> dict[str, Any]:
    """The customer object's first part: its ids and the fields clients set."""
    customer: dict[str, Any] = {
        "id": row["id"],
        "source_id": row["source_id"],
        "name": row["name"],
        "description": row["description"],
        "email": row["email"],
        "phone": row["phone"],
        "birthdate": render_date(row["birthdate"]),
    }
    if row["birthday"] is not None:
        customer["birthday"] = render_date(row["birthday"])
    customer["address"] = render_address(row["address"])
    customer["metadata"] = row["metadata"]
    return customer


def render_customer(row: Any) -> dict[str, Any]:
    """The customer object exactly as the contract shows it."""
    customer = render_customer_fields(row)
    customer.update(
        {
            # Redemptions and loyalty are not yet recorded in this release.
            "summary": {
                "redemptions": dict(EMPTY_SUMMARY["redemptions"]),
                "orders": render_orders_summary(row),
            },
            "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
            "referrals": {"total": 0, "campaigns": []},
            "system_metadata": row["system_metadata"],
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_optional_datetime(row["updated_at"]),
        }
    )
    consents = (row["system_metadata"] or {}).get("consents") or {}
    customer["email_unsubscribed"] = (consents.get("unsubscribed") or {}).get("value") is True
    # No customer-facing page exists yet, so there is no URL to put in the assets.
    customer["assets"] = {}
    customer["object"] = "customer"
    return customer


# Indexed text must fit a btree entry (about 2,700 bytes); these bounds leave room.
MAX_INDEXED_BYTES = 1000


def check_indexed(value: object, path: str) -> None:
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_INDEXED_BYTES:
        raise InvalidPayload(f"Property {path} is longer than {MAX_INDEXED_BYTES} bytes")


def check_fields(fields: CustomerFields) -> None:
    """What msgspec's types cannot say: text PostgreSQL can store and index, bounded metadata."""
    for name in ("name", "description", "email", "phone"):
        value = getattr(fields, name)
        if isinstance(value, str):
            check_text(value, f".{name}")
    check_indexed(fields.name, ".name")
    if isinstance(fields.address, Address):
        check_indexed(fields.address.city, ".address.city")
    source_id = getattr(fields, "source_id", None)
    if isinstance(source_id, str):
        check_text(source_id, ".source_id")
        check_indexed(source_id, ".source_id")
    if isinstance(fields.email, str) and not is_email(fields.email):
        raise InvalidPayload("Property .email must be an e-mail address")
    if isinstance(fields, CustomerCreate):
        for name in ("id", "source_id"):
            value = getattr(fields, name)
            if isinstance(value, str):
                check_text(value, f".{name}")
    if isinstance(fields.address, Address):
        for name in ADDRESS_FIELDS:
            value = getattr(fields.address, name)
            if isinstance(value, str):
                check_text(value, f".address.{name}")
    if isinstance(fields.metadata, dict):
        check_metadata(fields.metadata)
