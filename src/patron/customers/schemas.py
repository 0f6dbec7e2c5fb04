"""Customer request bodies and the customer object as Voucherify shows it.

The request Structs are what the routes decode into; the response Structs (`CustomerObject`, …)
describe what `render_customer` and the service produce. Both are the OpenAPI document's
schemas (`patron.openapi`); `tests/openapi/test_responses.py` holds real responses to them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.errors import InvalidPayload, NotFound
from patron.kit import fields
from patron.kit.fields import MAX_INDEXED_BYTES as MAX_INDEXED_BYTES  # csv_import reads them here
from patron.kit.fields import MAX_TEXT as MAX_TEXT
from patron.kit.fields import Count, Moment
from patron.kit.time import DATE_PATTERN, render_date, render_datetime, render_optional_datetime
from patron.kit.validation import check_metadata, check_text
from patron.openapi.operation import PathParameter

Text = Annotated[str, fields.text()]
SourceId = Annotated[str, fields.text(1024, min_length=1, indexed=True)]
# Every route under /v1/customers/{customer_id}, of any domain, names its path parameter so.
CUSTOMER_PATH = {
    "customer_id": PathParameter(
        "customerId",
        "The customer's `id` or `source_id` (percent-encoded; a source_id may be an e-mail"
        " address).",
    )
}
MAX_EMAIL = 254
# Something, `@`, a domain with a dot; no spaces or control characters. Spelled out rather than
# with `\s`, whose meaning differs between regex engines: the OpenAPI document states it too.
_EMAIL_PART = r"[^@\x00-\x20\x7f]+"
EMAIL_PATTERN = rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$"
_EMAIL = re.compile(EMAIL_PATTERN)
# The pattern is applied by `check_fields`, with Voucherify's message.
Email = Annotated[
    str,
    Meta(
        max_length=MAX_EMAIL,
        description="E-mail address.",
        extra_json_schema={"pattern": EMAIL_PATTERN},
    ),
]
# A date in a body, `YYYY-MM-DD` (msgspec reads the years 0001 to 9999, as the pattern says).
CalendarDate = Annotated[date, fields.pattern(DATE_PATTERN)]


def is_email(text: str) -> bool:
    return _EMAIL.fullmatch(text) is not None


ADDRESS_FIELDS = ("city", "state", "line_1", "line_2", "country", "postal_code")


class Address(msgspec.Struct):
    """The customer's address, kept with the keys it was sent, as they were sent (`null`
    included); `null` for the whole address clears it."""

    city: Annotated[str, fields.text(indexed=True, description="City.")] | UnsetType | None = UNSET
    state: Annotated[str, fields.text(description="State.")] | UnsetType | None = UNSET
    line_1: Annotated[str, fields.text(description="First line of the address.")] | (
        UnsetType | None
    ) = UNSET
    line_2: Annotated[str, fields.text(description="Second line of the address.")] | (
        UnsetType | None
    ) = UNSET
    country: Annotated[str, fields.text(description="Country.")] | UnsetType | None = UNSET
    postal_code: Annotated[str, fields.text(description="Postal code.")] | UnsetType | None = UNSET


def sent_address(address: Address) -> dict[str, Any]:
    """The keys the address was sent with, as sent (`null` kept), in ADDRESS_FIELDS order.

    The live API keeps them so: the JS SDK's `customers.spec.ts` ("Should update address in bulk
    properly") reads `{"city": "New York", "country": "US"}` back exactly as it sent it, and
    then `{"city": null, "country": null}` as that, not as a `null` address."""
    return {
        name: value for name in ADDRESS_FIELDS if (value := getattr(address, name)) is not UNSET
    }


class CustomerFields(msgspec.Struct):
    """The fields a client may set; UNSET means "not sent", None means "clear it"."""

    name: (
        Annotated[str, fields.text(indexed=True, description="First and last name.")]
        | UnsetType
        | None
    ) = UNSET
    description: (
        Annotated[str, fields.text(description="Anything to remember about the customer.")]
        | UnsetType
        | None
    ) = UNSET
    email: Email | UnsetType | None = UNSET
    phone: Annotated[str, fields.text(description="Phone number.")] | UnsetType | None = UNSET
    birthdate: (
        Annotated[CalendarDate, Meta(description="Birth date, `YYYY-MM-DD`.")] | UnsetType | None
    ) = UNSET
    birthday: (
        Annotated[CalendarDate, Meta(description="Deprecated alias of `birthdate`.")]
        | UnsetType
        | None
    ) = UNSET
    address: Address | UnsetType | None = UNSET
    metadata: (
        Annotated[
            dict[str, Any],
            fields.metadata(
                "Custom attributes; sent, it replaces the stored metadata whole (`null` clears it)."
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class CustomerCreate(CustomerFields):
    """Body of `POST /v1/customers`: every property is optional; only the ones sent change.
    Unknown properties are ignored."""

    id: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=200,
                description="The `id` of an existing customer to update (404 if there is none);"
                " it wins over `source_id`.",
                extra_json_schema={"pattern": fields.NO_NUL},
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    source_id: (
        Annotated[
            str,
            fields.text(
                1024,
                min_length=1,
                indexed=True,
                description="The shop's own identifier; an existing customer with it is updated.",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


BulkRows = Annotated[
    list[Any],
    fields.json_values(
        "Customers, each like `CustomerCreate` with a `source_id`; an element that is not a valid"
        " customer is reported in the async action's `result`."
    ),
]


class CustomerUpdate(CustomerFields):
    """Body of `PUT /v1/customers/{id}`: only the properties sent change; `null` clears one. A
    `source_id` sent here is ignored: it cannot change."""


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
            value = sent_address(value)
        elif column == "metadata" and value is None:
            value = {}
        values[column] = value
    return values


# --- the customer object (responses) ------------------------------------------------------------


class AddressObject(msgspec.Struct, forbid_unknown_fields=True):
    """A stored address: the keys it was sent with, as sent (`null` kept), no others
    (`sent_address`)."""

    city: str | UnsetType | None = UNSET
    state: str | UnsetType | None = UNSET
    line_1: str | UnsetType | None = UNSET
    line_2: str | UnsetType | None = UNSET
    country: str | UnsetType | None = UNSET
    postal_code: str | UnsetType | None = UNSET


class GiftRedemptions(msgspec.Struct, forbid_unknown_fields=True):
    redeemed_amount: Count
    amount_to_go: Count


class LoyaltyCardRedemptions(msgspec.Struct, forbid_unknown_fields=True):
    redeemed_points: Count
    points_to_go: Count


class RedemptionsSummary(msgspec.Struct, forbid_unknown_fields=True):
    """The counters are zero until redemptions exist; `amount_to_go` and `points_to_go` are
    the balances of the gift and loyalty cards the customer holds."""

    total_redeemed: Count
    total_failed: Count
    total_succeeded: Count
    total_rolled_back: Count
    total_rollback_failed: Count
    total_rollback_succeeded: Count
    gift: GiftRedemptions
    loyalty_card: LoyaltyCardRedemptions


class OrdersSummary(msgspec.Struct, forbid_unknown_fields=True):
    """PAID and FULFILLED orders (`render_orders_summary`); amounts in the smallest currency
    unit."""

    total_amount: Count
    total_count: Count
    average_amount: Count
    last_order_amount: Count
    last_order_date: Moment | UnsetType = UNSET


class CustomerSummary(msgspec.Struct, forbid_unknown_fields=True):
    redemptions: RedemptionsSummary
    orders: OrdersSummary


# An object that is always empty in this release.
Empty = Annotated[dict[str, Any], Meta(extra_json_schema={"additionalProperties": False})]


class LoyaltyCampaignSummary(msgspec.Struct, forbid_unknown_fields=True):
    points: Annotated[Count, Meta(description="The balance of the customer's card, in points.")]


class LoyaltySummary(msgspec.Struct, forbid_unknown_fields=True):
    points: Annotated[Count, Meta(description="The balances of the loyalty cards held.")]
    referred_customers: Count
    campaigns: Annotated[
        dict[str, LoyaltyCampaignSummary],
        Meta(description="Per loyalty program the customer holds a card of, by its name."),
    ]


class Referrals(msgspec.Struct, forbid_unknown_fields=True):
    total: Count
    campaigns: Annotated[list[dict[str, Any]], Meta(max_length=0, description="Empty.")]


class CustomerObject(msgspec.Struct, forbid_unknown_fields=True):
    """The customer object (`render_customer`)."""

    id: Annotated[str, Meta(description="`cust_` and 24 letters or digits.", examples=["cust_xyz"])]
    source_id: str | None
    name: str | None
    description: str | None
    email: str | None
    phone: str | None
    birthdate: date | None
    address: Annotated[AddressObject, Meta(description="`null` when none was sent.")] | None
    summary: CustomerSummary
    loyalty: LoyaltySummary
    referrals: Referrals
    system_metadata: Annotated[
        dict[str, Any],
        Meta(description="`consents` holds the legacy consents as `{id: {date, value}}`."),
    ]
    created_at: Moment
    updated_at: Annotated[Moment, Meta(description="`null` until the first change.")] | None
    email_unsubscribed: bool
    assets: Annotated[
        None,
        Meta(
            description="`null`: there is no customer-facing page yet, so no URL (the live API"
            " sends `null` when it has none)."
        ),
    ]
    object: Literal["customer"]
    birthday: Annotated[date, Meta(description="Present only when it was set.")] | UnsetType = UNSET
    metadata: (
        Annotated[
            dict[str, Any],
            Meta(
                description="Left out while the customer has none (never set, or cleared), as"
                " the live API leaves it out."
            ),
        ]
        | UnsetType
    ) = UNSET


class CustomersList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of customers (`service.list_customers`)."""

    object: Literal["list"]
    data_ref: Literal["customers"]
    customers: list[CustomerObject]
    total: Count
    has_more: bool


class ErasedCounts(msgspec.Struct, forbid_unknown_fields=True):
    """How many of each were erased."""

    events: Count
    customer_events: Count
    daily_events: Count
    segments: Count
    orders: Count
    order_events: Annotated[
        None,
        Meta(
            description="`null`: no order events are kept, so none are counted (the live API"
            " sends no count either)."
        ),
    ]
    customer: Count


class PermanentDeletion(msgspec.Struct, forbid_unknown_fields=True):
    """What a permanent deletion erased (`service.delete_permanently`)."""

    id: Annotated[str, Meta(examples=["del_xyz"])]
    created_at: Moment
    related_object_id: Annotated[str, Meta(description="The customer's id.")]
    related_object: Literal["customer"]
    status: Literal["DONE"]
    data_json: ErasedCounts
    object: Annotated[Literal["pernament_deletion"], Meta(description="Spelled as in Voucherify.")]


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
    """The stored address with the keys it was sent with (`sent_address`), in ADDRESS_FIELDS
    order (jsonb keeps its own)."""
    if address is None:
        return None
    return {field: address[field] for field in ADDRESS_FIELDS if field in address}


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


# The stored counters summary.redemptions is rendered from (migration 0015).
REDEMPTION_COUNTERS = (
    "redemptions_succeeded",
    "redemptions_failed",
    "rollbacks_succeeded",
    "rollbacks_failed",
    "gift_redeemed",
    "loyalty_redeemed",
)


def render_redemptions_summary(row: Any) -> dict[str, Any]:
    """summary.redemptions (INCENTIVES.md §0.1, §4.5): counters moved by every redemption and
    rollback, one per redeemable (writes/redemptions.py); `amount_to_go` and `points_to_go` are
    the balances of the gift and loyalty cards the customer holds (writes/vouchers.py)."""
    succeeded = row["redemptions_succeeded"]
    failed = row["redemptions_failed"]
    rollbacks_succeeded = row["rollbacks_succeeded"]
    rollbacks_failed = row["rollbacks_failed"]
    return {
        "total_redeemed": succeeded + failed,
        "total_failed": failed,
        "total_succeeded": succeeded,
        "total_rolled_back": rollbacks_succeeded + rollbacks_failed,
        "total_rollback_failed": rollbacks_failed,
        "total_rollback_succeeded": rollbacks_succeeded,
        "gift": {"redeemed_amount": row["gift_redeemed"], "amount_to_go": row["gift_balance"]},
        "loyalty_card": {
            "redeemed_points": row["loyalty_redeemed"],
            "points_to_go": row["loyalty_balance"],
        },
    }


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
    "gift_balance": 0,
    "loyalty_balance": 0,
    "loyalty_campaigns": {},
    **{column: 0 for column in REDEMPTION_COUNTERS},
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
    """The customer object's first part: its ids and the fields clients set.

    `metadata` is left out while it is empty (never set, or cleared): the live API leaves it
    out of a customer created without it (the JS SDK's `customers.spec.ts`, "Should not return
    metadata after creating new customer", asserts the property is absent; the PHP and Java
    SDKs' `createdCustomer` snapshots hold `null`, what their models show for a missing key).
    The column cannot tell "never set" from `{}` (migration customers_core: NOT NULL DEFAULT
    '{}'), so an empty metadata is left out however it came to be."""
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
    if row["metadata"]:
        customer["metadata"] = row["metadata"]
    return customer


def render_customer(row: Any) -> dict[str, Any]:
    """The customer object exactly as the contract shows it."""
    customer = render_customer_fields(row)
    customer.update(
        {
            "summary": {
                "redemptions": render_redemptions_summary(row),
                "orders": render_orders_summary(row),
            },
            "loyalty": {
                "points": row["loyalty_balance"],
                "referred_customers": 0,
                "campaigns": row["loyalty_campaigns"],
            },
            "referrals": {"total": 0, "campaigns": []},
            "system_metadata": row["system_metadata"],
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_optional_datetime(row["updated_at"]),
        }
    )
    consents = (row["system_metadata"] or {}).get("consents") or {}
    customer["email_unsubscribed"] = (consents.get("unsubscribed") or {}).get("value") is True
    # No customer-facing page exists yet, so there is no URL: the live API's `assets` is `null`
    # then (the PHP SDK's `createdCustomer.json` and the Java SDK's `CreatedCustomer` snapshots).
    customer["assets"] = None
    customer["object"] = "customer"
    return customer


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
