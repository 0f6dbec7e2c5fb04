"""The export object as Voucherify shows it, its request bodies, and the fields an export takes.

Source: the OpenAPI spec's `ExportsCreateRequestBody`, `ExportCustomerBase`/`ExportOrderBase`
(fields `ExportCustomerFields`/`ExportOrderFields`, orders `ExportCustomerOrder`/
`ExportOrderOrder`), `ExportBase`, `ExportsListResponseBody` and `OrdersExportCreateRequestBody`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.kit.fields import Moment
from patron.kit.time import render_datetime

CUSTOMER = "customer"
ORDER = "order"
EXPORTED_OBJECTS = (CUSTOMER, ORDER)

# `metadata` expands into one column per metadata key of the exported rows; `metadata.<key>`
# asks for one key.
METADATA = "metadata"
METADATA_PREFIX = "metadata."

CUSTOMER_FIELDS = (
    "name",
    "id",
    "description",
    "email",
    "source_id",
    "created_at",
    "address_city",
    "address_state",
    "address_line_1",
    "address_line_2",
    "address_country",
    "address_postal_code",
    "redemptions_total_redeemed",
    "redemptions_total_failed",
    "redemptions_total_succeeded",
    "redemptions_total_rolled_back",
    "redemptions_total_rollback_failed",
    "redemptions_total_rollback_succeeded",
    "orders_total_amount",
    "orders_total_count",
    "orders_average_amount",
    "orders_last_order_amount",
    "orders_last_order_date",
    "loyalty_points",
    "loyalty_referred_customers",
    "updated_at",
    "phone",
    "birthday",
    "metadata",
    "birthdate",
)
ORDER_FIELDS = (
    "id",
    "source_id",
    "created_at",
    "updated_at",
    "status",
    "amount",
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "total_amount",
    "customer_id",
    "referrer_id",
    "metadata",
)
FIELDS = {CUSTOMER: CUSTOMER_FIELDS, ORDER: ORDER_FIELDS}
# What an export without `fields` holds (the spec's "Defaults" table).
DEFAULT_FIELDS = {CUSTOMER: ("name", "source_id"), ORDER: ("id", "source_id", "status")}


def _both_ways(*names: str) -> tuple[str, ...]:
    return tuple(order for name in names for order in (f"-{name}", name))


ORDERS = {
    CUSTOMER: _both_ways("name", "id", "email", "source_id", "created_at", "updated_at"),
    ORDER: _both_ways("created_at", "updated_at", "status"),
}
# Without `order`: the newest first, as Voucherify's examples show (`-created_at`).
DEFAULT_ORDER = "-created_at"
LIST_ORDERS = ("created_at", "-created_at", "status", "-status")

# --- requests ----------------------------------------------------------------------------------


class ExportParameters(msgspec.Struct, forbid_unknown_fields=True):
    """What to export: columns, row filter and row order."""

    order: (
        Annotated[str, Meta(description="A sort order of the object, `-` for descending.")]
        | UnsetType
        | None
    ) = UNSET
    fields: (
        Annotated[
            list[str],
            Meta(
                max_length=200,
                description="The CSV's columns, in order: the object's export fields;"
                " `metadata` expands into one column per metadata key, `metadata.<key>` is one.",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    filters: (
        Annotated[
            dict[str, Any], Meta(description="Rows to export, in the filter language of segments.")
        ]
        | UnsetType
        | None
    ) = UNSET
    response_format: Literal["CSV"] | UnsetType = UNSET
    # Voucher exports' campaign; the SDKs send it as null.
    campaign_id: UnsetType | None = UNSET


class ExportCreate(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/exports."""

    exported_object: Literal["customer", "order"]
    parameters: ExportParameters | UnsetType | None = UNSET


class OrderExportCreate(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/orders/export: an export of orders."""

    parameters: ExportParameters | UnsetType | None = UNSET


# --- responses ---------------------------------------------------------------------------------


class ExportResult(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, Meta(description="The CSV's download URL; its `token` is the credential.")]


class StoredParameters(msgspec.Struct, forbid_unknown_fields=True):
    order: str
    fields: list[str]
    filters: dict[str, Any]
    response_format: Literal["CSV"] | UnsetType = UNSET


class ExportObject(msgspec.Struct, forbid_unknown_fields=True):
    """An export (`render_export`)."""

    id: Annotated[str, Meta(examples=["exp_CGnCVltmWjI9V1pGlnunw2Nf"])]
    object: Literal["export"]
    created_at: Moment
    status: Literal["SCHEDULED", "IN_PROGRESS", "DONE", "ERROR"]
    channel: str
    exported_object: Literal["customer", "order"]
    parameters: StoredParameters
    result: ExportResult | None
    user_id: str | None


class ExportsList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of exports."""

    object: Literal["list"]
    data_ref: Literal["exports"]
    exports: list[ExportObject]
    total: Annotated[int, Meta(ge=0)]


def render_export(row: Any, *, url: str | None, status: str | None = None) -> dict[str, Any]:
    """The export object of a stored row; `url` its download URL (None: `result` is null);
    `status` in place of the stored one (the create response's `SCHEDULED`)."""
    created_at: datetime = row["created_at"]
    return {
        "id": row["id"],
        "object": "export",
        "created_at": render_datetime(created_at),
        "status": status or row["status"],
        "channel": row["channel"],
        "exported_object": row["exported_object"],
        "parameters": _shown_parameters(row["parameters"]),
        "result": None if url is None else {"url": url},
        "user_id": row["user_id"],
    }


def _shown_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The stored parameters as the export object shows them: each `metadata.<key>` field as
    `metadata`, once, in its place. The spec's field enums (`ExportsGetResponseBody`) have no
    `metadata.<key>`, and the Python SDK 6.1.1 refuses an export, and so a whole list of them,
    that shows one; the download still has the one column per key asked for."""
    fields = parameters.get("fields")
    if not isinstance(fields, list) or not any(
        isinstance(field, str) and field.startswith("metadata.") for field in fields
    ):
        return parameters
    shown: list[Any] = []
    for field in fields:
        name = "metadata" if isinstance(field, str) and field.startswith("metadata.") else field
        if name not in shown:
            shown.append(name)
    return {**parameters, "fields": shown}
