"""Order request bodies and the order object as Voucherify shows it.

The request Structs are what the routes decode into; the response Structs (`OrderObject`,
`OrdersList`) describe what `render_order` and the service produce. Both are the OpenAPI
document's schemas (`patron.openapi`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.customers.schemas import CustomerCreate, Text, check_fields
from patron.errors import InvalidPayload
from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.time import HOUR, date_pattern, render_datetime, render_optional_datetime
from patron.kit.validation import check_metadata, check_text

Money = Annotated[int, Meta(ge=0, le=10**15)]
Quantity = Annotated[int, Meta(ge=0, le=10**9)]
Status = Literal["CREATED", "PAID", "CANCELED", "FULFILLED"]

COUNTED_STATUSES = frozenset(["PAID", "FULFILLED"])
MAX_ITEMS = 500
MAX_IMPORT_ORDERS = 2000

ItemMetadata = Annotated[dict[str, Any], fields.metadata("The item's custom attributes.")]


# An order's `created_at` must be written in one of these years, whatever its offset: so it
# renders in ISO 8601 in UTC. The OpenAPI document states the same as a pattern.
FIRST_YEAR, LAST_YEAR = 1900, 9998
_YEAR = "(?:19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = "(?:(?:19|[2-9][0-9])(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
# RFC 3339 as msgspec reads a datetime: `T`, `t` or a space; seconds required; offset optional.
CREATED_AT_PATTERN = (
    f"^{date_pattern(_YEAR, _LEAP_YEAR)}[Tt ]{HOUR}:[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,9}})?"
    f"(?:[Zz]|[+-]{HOUR}:?[0-5][0-9])?$"
)


class ProductRef(msgspec.Struct, omit_defaults=True):
    """A product an item names (kept as sent)."""

    id: Text | None = None
    source_id: Text | None = None
    override: bool | None = None
    name: Text | None = None
    metadata: ItemMetadata | None = None
    price: Money | None = None


class SkuRef(msgspec.Struct, omit_defaults=True):
    """A SKU an item names (kept as sent)."""

    id: Text | None = None
    source_id: Text | None = None
    override: bool | None = None
    sku: Text | None = None
    price: Money | None = None
    metadata: ItemMetadata | None = None


class OrderItem(msgspec.Struct, omit_defaults=True):
    """An order's item; amounts are integers in the smallest currency unit."""

    sku_id: Text | None = None
    product_id: Text | None = None
    related_object: Literal["product", "sku"] | None = None
    source_id: Text | None = None
    quantity: Quantity | None = None
    discount_quantity: Quantity | None = None
    initial_quantity: Quantity | None = None
    amount: Money | None = None
    discount_amount: Money | None = None
    initial_amount: Money | None = None
    price: Money | None = None
    product: ProductRef | None = None
    sku: SkuRef | None = None
    metadata: ItemMetadata | None = None


class OrderFields(msgspec.Struct):
    """What a client may set on an order; UNSET means "not sent"."""

    source_id: Annotated[str, fields.text(500, min_length=1)] | UnsetType | None = UNSET
    status: (
        Annotated[Status, Meta(description="`CREATED` when a new order leaves it out.")] | UnsetType
    ) = UNSET
    amount: Money | UnsetType | None = UNSET
    initial_amount: Money | UnsetType | None = UNSET
    discount_amount: Money | UnsetType | None = UNSET
    items: Annotated[list[OrderItem], Meta(max_length=MAX_ITEMS)] | UnsetType | None = UNSET
    metadata: (
        Annotated[dict[str, Any], fields.metadata("The order's custom attributes.")]
        | UnsetType
        | None
    ) = UNSET
    created_at: (
        Annotated[
            datetime,
            fields.pattern(
                CREATED_AT_PATTERN,
                "For historical orders: RFC 3339 (UTC without an offset), written in the years"
                f" {FIRST_YEAR} to {LAST_YEAR} (`check_order`).",
                examples=["2024-01-02T03:04:05Z"],
            ),
        ]
        | UnsetType
    ) = UNSET
    referrer_id: Text | UnsetType | None = UNSET
    customer: CustomerCreate | UnsetType | None = UNSET
    referrer: CustomerCreate | UnsetType | None = UNSET


class OrderCreate(OrderFields):
    """Body of `POST /v1/orders`: create, or upsert by `id` or `source_id`."""

    id: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=200,
                description="The `id` of an existing order to update (404 if none).",
                extra_json_schema={"pattern": fields.NO_NUL},
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class OrderUpdate(OrderFields):
    """Body of `PUT /v1/orders/{id}`."""


def check_order(order: OrderFields) -> None:
    """Text PostgreSQL can store, bounded dates and metadata, everywhere in the order."""
    if isinstance(order.created_at, datetime) and not (
        FIRST_YEAR <= order.created_at.year <= LAST_YEAR
    ):
        raise InvalidPayload(
            f"Property .created_at must be in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    for name in ("source_id", "referrer_id"):
        value = getattr(order, name)
        if isinstance(value, str):
            check_text(value, f".{name}")
    if isinstance(order, OrderCreate) and isinstance(order.id, str):
        check_text(order.id, ".id")
    if isinstance(order.metadata, dict):
        check_metadata(order.metadata)
    for name in ("customer", "referrer"):
        value = getattr(order, name)
        if isinstance(value, CustomerCreate):
            check_fields(value)
    if isinstance(order.items, list):
        for index, item in enumerate(order.items):
            check_metadata(msgspec.to_builtins(item), f".items[{index}]")


ImportRows = Annotated[
    list[Any],
    fields.json_values(
        "The orders, each like `OrderCreate`; an element that is not a valid order is reported in"
        " the async action's `result`.",
        max_items=MAX_IMPORT_ORDERS,
    ),
]


def render_items(items: list[OrderItem]) -> list[dict[str, Any]]:
    """Items as stored and shown: each with its amount (price * quantity when not given)."""
    rendered = []
    for item in items:
        data: dict[str, Any] = {"object": "order_item", **msgspec.to_builtins(item)}
        amount = item.amount
        if amount is None and item.price is not None and item.quantity is not None:
            amount = item.price * item.quantity
        if amount is not None:
            data["amount"] = amount
            data["subtotal_amount"] = amount - (item.discount_amount or 0)
        rendered.append(data)
    return rendered


def items_amount(items: list[dict[str, Any]]) -> int | None:
    amounts = [item["amount"] for item in items if item.get("amount") is not None]
    return sum(amounts) if amounts else None


def totals(row: Any) -> dict[str, int]:
    """The derived amounts: discounts on items and on the order, and what is left to pay."""
    amount = row["amount"]
    items_discount = sum(item.get("discount_amount") or 0 for item in row["items"])
    discount = row["discount_amount"] or 0
    result = {
        "items_discount_amount": items_discount,
        "total_discount_amount": discount + items_discount,
    }
    if amount is not None:
        result["total_amount"] = max(0, amount - discount - items_discount)
    return result


def counted_amount(status: str, row: Any) -> int | None:
    """What the order adds to its customer's summary: the total to pay, if PAID or FULFILLED."""
    if status not in COUNTED_STATUSES:
        return None
    derived = totals(row)
    return int(derived.get("total_amount", 0))


def _discounted(row: Any) -> bool:
    """Whether a discount was sent: on the order, or on one of its items."""
    return row["discount_amount"] is not None or any(
        item.get("discount_amount") is not None for item in row["items"]
    )


def render_order(row: Any) -> dict[str, Any]:
    """The order object. What was never set is left out, as the live API leaves it out (the PHP
    SDK's `createdOrder.json` and the Java SDK's `CreatedOrder` snapshots hold `null` for each,
    what their models show for a missing key, where a sent `{}` shows as `{}`): the amounts not
    sent, `items_discount_amount` and `total_discount_amount` while no discount was sent (the
    spec's order example leaves them out too), and an empty `metadata`. The column cannot tell
    "never set" from `{}` (migration orders: NOT NULL DEFAULT '{}'), so an empty metadata is
    left out however it came to be."""
    order: dict[str, Any] = {
        "id": row["id"],
        "source_id": row["source_id"],
        "created_at": render_datetime(row["created_at"]),
        "updated_at": render_optional_datetime(row["updated_at"]),
        "status": row["status"],
    }
    for name in ("amount", "initial_amount", "discount_amount"):
        if row[name] is not None:
            order[name] = row[name]
    derived = totals(row)
    if not _discounted(row):
        del derived["items_discount_amount"], derived["total_discount_amount"]
    order.update(derived)
    order["items"] = row["items"]
    if row["metadata"]:
        order["metadata"] = row["metadata"]
    order["customer_id"] = row["customer_id"]
    order["referrer_id"] = row["referrer_id"]
    if row["customer_id"] is not None:
        order["customer"] = {"id": row["customer_id"], "object": "customer"}
    if row["referrer_id"] is not None:
        order["referrer"] = {"id": row["referrer_id"], "object": "customer"}
    order["object"] = "order"
    return order


# --- the order object (responses) ----------------------------------------------------------------


class OrderItemObject(msgspec.Struct):
    """The item as sent (`OrderItem`), with `amount` (price times quantity when not sent) and
    `subtotal_amount` (`render_items`)."""

    object: Literal["order_item"]
    subtotal_amount: int | UnsetType = UNSET


class CustomerReference(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    object: Literal["customer"]


class OrderObject(msgspec.Struct, forbid_unknown_fields=True):
    """The order object (`render_order`)."""

    id: Annotated[str, Meta(examples=["ord_xyz"])]
    source_id: str | None
    created_at: Moment
    updated_at: Moment | None
    status: Status
    items: list[OrderItemObject]
    customer_id: str | None
    referrer_id: str | None
    object: Literal["order"]
    amount: Count | UnsetType = UNSET
    initial_amount: Count | UnsetType = UNSET
    discount_amount: Count | UnsetType = UNSET
    total_amount: (
        Annotated[int, Meta(ge=0, description="`amount` less all discounts; present when it is.")]
        | UnsetType
    ) = UNSET
    customer: CustomerReference | UnsetType = UNSET
    referrer: CustomerReference | UnsetType = UNSET
    items_discount_amount: (
        Annotated[Count, Meta(description="Present when a discount was sent.")] | UnsetType
    ) = UNSET
    total_discount_amount: (
        Annotated[Count, Meta(description="Present when a discount was sent.")] | UnsetType
    ) = UNSET
    metadata: (
        Annotated[dict[str, Any], Meta(description="Left out while the order has none.")]
        | UnsetType
    ) = UNSET


class OrdersList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of orders (`service.list_orders`)."""

    object: Literal["list"]
    data_ref: Literal["orders"]
    orders: list[OrderObject]
    total: Count
