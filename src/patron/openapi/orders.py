"""Orders: create-or-upsert, read, update, list, import."""

from __future__ import annotations

from patron.openapi.common import (
    NO_NUL,
    Schema,
    array,
    boolean,
    const,
    enum,
    errors,
    exact,
    free_object,
    integer,
    json_body,
    json_response,
    limit_parameter,
    link,
    metadata,
    obj,
    operation,
    or_null,
    page_parameter,
    path_parameter,
    query_parameter,
    ref,
    string,
    text,
    timestamp,
)
from patron.openapi.customers import ASYNC_ACTION_LINKS
from patron.orders.routes import MAX_IMPORT_ORDERS
from patron.orders.schemas import CREATED_AT_PATTERN, FIRST_YEAR, LAST_YEAR, MAX_ITEMS

TAG = "Orders"

STATUSES = ["CREATED", "PAID", "CANCELED", "FULFILLED"]
MONEY = integer(minimum=0, maximum=10**15, nullable=True)
QUANTITY = integer(minimum=0, maximum=10**9, nullable=True)

ORDER_ID = path_parameter("orderId", "The order's `id` or `source_id`.")

ITEM_METADATA = metadata("The item's custom attributes.", nullable=True)


def _reference(kind: str) -> Schema:
    """A product or SKU an item names (kept as sent)."""
    properties: dict[str, Schema] = {
        "id": text(nullable=True),
        "source_id": text(nullable=True),
        "override": or_null(boolean()),
    }
    if kind == "product":
        properties["name"] = text(nullable=True)
    else:
        properties["sku"] = text(nullable=True)
    properties["price"] = MONEY
    properties["metadata"] = ITEM_METADATA
    return obj(properties, closed=False, nullable=True)


ORDER_ITEM = obj(
    {
        "sku_id": text(nullable=True),
        "product_id": text(nullable=True),
        "related_object": enum(["product", "sku"], nullable=True),
        "source_id": text(nullable=True),
        "quantity": QUANTITY,
        "discount_quantity": QUANTITY,
        "initial_quantity": QUANTITY,
        "amount": MONEY,
        "discount_amount": MONEY,
        "initial_amount": MONEY,
        "price": MONEY,
        "product": _reference("product"),
        "sku": _reference("sku"),
        "metadata": ITEM_METADATA,
    },
    closed=False,
    title="Order Item",
    description="Amounts are integers in the smallest currency unit.",
)


def _order_fields() -> dict[str, Schema]:
    return {
        "source_id": or_null(
            {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NO_NUL}
        ),
        "status": enum(STATUSES, description="`CREATED` when a new order leaves it out."),
        "amount": MONEY,
        "initial_amount": MONEY,
        "discount_amount": MONEY,
        "items": or_null(array(ref("OrderItem"), max_items=MAX_ITEMS)),
        "metadata": metadata("The order's custom attributes.", nullable=True),
        "created_at": {
            "type": "string",
            "pattern": CREATED_AT_PATTERN,
            "example": "2024-01-02T03:04:05Z",
            "description": "For historical orders: RFC 3339 (UTC without an offset), written in"
            f" the years {FIRST_YEAR} to {LAST_YEAR}.",
        },
        "referrer_id": text(nullable=True),
        "customer": or_null(ref("CustomersCreateRequestBody")),
        "referrer": or_null(ref("CustomersCreateRequestBody")),
    }


_ORDER_LINKS = {
    "GetOrder": link("get-order", "Read the order.", orderId="$response.body#/id"),
    "UpdateOrder": link("update-order", "Change the order.", orderId="$response.body#/id"),
}

_AMOUNT = integer(minimum=0)
_CUSTOMER_REF = exact({"id": string(), "object": const("customer")})

ORDER = obj(
    {
        "id": string(example="ord_xyz"),
        "source_id": string(nullable=True),
        "created_at": timestamp(),
        "updated_at": timestamp(nullable=True),
        "status": enum(STATUSES),
        "amount": _AMOUNT,
        "initial_amount": _AMOUNT,
        "discount_amount": _AMOUNT,
        "items_discount_amount": _AMOUNT,
        "total_discount_amount": _AMOUNT,
        "total_amount": integer(
            minimum=0, description="`amount` less all discounts; present when `amount` is."
        ),
        "items": array(
            obj(
                {"object": const("order_item"), "subtotal_amount": integer()},
                ["object"],
                closed=False,
                description="The item as sent, with `amount` (price times quantity when not sent)"
                " and `subtotal_amount`.",
            )
        ),
        "metadata": free_object(),
        "customer_id": string(nullable=True),
        "referrer_id": string(nullable=True),
        "customer": _CUSTOMER_REF,
        "referrer": _CUSTOMER_REF,
        "object": const("order"),
    },
    [
        "id",
        "source_id",
        "created_at",
        "updated_at",
        "status",
        "items_discount_amount",
        "total_discount_amount",
        "items",
        "metadata",
        "customer_id",
        "referrer_id",
        "object",
    ],
    title="Order",
)

PATHS: dict[str, Schema] = {
    "/v1/orders": {
        "post": operation(
            "create-order",
            "Create Order",
            TAG,
            description="Creates an order, or updates the one with the same `id` or"
            " `source_id`; its `customer` and `referrer` are upserted as by POST /v1/customers.",
            request_body=json_body(ref("OrdersCreateRequestBody"), "The order."),
            responses={
                "200": json_response(ref("Order"), "The order.", _ORDER_LINKS),
                **errors("NotFound"),
            },
        ),
        "get": operation(
            "list-orders",
            "List Orders",
            TAG,
            parameters=[
                limit_parameter(),
                page_parameter(100),
                query_parameter(
                    "order",
                    enum(["created_at", "-created_at", "updated_at", "-updated_at"]),
                    "Sort order (`-created_at`).",
                ),
            ],
            responses={
                "200": json_response(ref("OrdersListResponseBody"), "A page of orders."),
                **errors("InvalidQueryParams"),
            },
        ),
    },
    "/v1/orders/import": {
        "post": operation(
            "import-orders",
            "Import Orders",
            TAG,
            description=f"Queues an import of up to {MAX_IMPORT_ORDERS:,} historical orders (each"
            " like `OrdersCreateRequestBody`); no activities are recorded. An element that is"
            " not a valid order is reported in the async action's `result`.",
            request_body=json_body(
                array(ref("JsonValue"), max_items=MAX_IMPORT_ORDERS), "The orders."
            ),
            responses={
                "200": json_response(
                    ref("AsyncActionAccepted"), "Queued.", dict(ASYNC_ACTION_LINKS)
                )
            },
        ),
    },
    "/v1/orders/{orderId}": {
        "parameters": [ORDER_ID],
        "get": operation(
            "get-order",
            "Get Order",
            TAG,
            responses={
                "200": json_response(ref("Order"), "The order.", _ORDER_LINKS),
                **errors("NotFound"),
            },
        ),
        "put": operation(
            "update-order",
            "Update Order",
            TAG,
            description="Changes only the properties sent.",
            request_body=json_body(ref("OrdersUpdateRequestBody"), "What to change."),
            responses={
                "200": json_response(ref("Order"), "The order, changed."),
                **errors("NotFound"),
            },
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "Order": ORDER,
    "OrderItem": ORDER_ITEM,
    "OrdersCreateRequestBody": obj(
        {
            "id": or_null(
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": NO_NUL,
                    "description": "The `id` of an existing order to update (404 if none).",
                }
            ),
            **_order_fields(),
        },
        closed=False,
        title="Orders Create Request Body",
    ),
    "OrdersUpdateRequestBody": obj(
        _order_fields(), closed=False, title="Orders Update Request Body"
    ),
    "OrdersListResponseBody": exact(
        {
            "object": const("list"),
            "data_ref": const("orders"),
            "orders": array(ref("Order")),
            "total": integer(minimum=0),
        },
        title="Orders List Response Body",
    ),
}
