"""Segment request bodies, and the segment objects' Structs for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.validation import check_json_value, check_text

SegmentType = Literal["static", "passive", "auto-update"]

# The filter's grammar is checked by `segments.filters` (a 400 naming the path or operator).
Filter = Annotated[
    dict[str, Any],
    Meta(
        description='Voucherify\'s filter language: `{"junction": "and", "<path>":'
        ' {"conditions": {"$op": [values]}}}`, where a path is `name`, `email`, `source_id`,'
        " `created_at`, `birthdate`, `address.*`, `metadata.<key>`, `events.<name>.count`, …;"
        " a key holding a `junction` is a nested group. The junction and the operators are read in"
        " any letter case. An unknown path or operator, or a value of the wrong kind, is a 400"
        " naming it.",
        extra_json_schema={
            "properties": {
                "junction": {
                    "type": "string",
                    "pattern": "^(?:[Aa][Nn][Dd]|[Oo][Rr])$",
                    "description": "How the conditions combine: `and` or `or`, in any letter"
                    " case (Voucherify's examples write `AND`).",
                }
            }
        },
    ),
]


class SegmentCreate(msgspec.Struct):
    """Body of `POST /v1/segments`: static with `customers`, else a `filter`."""

    name: Annotated[str, fields.text(1000, min_length=1, description="Not blank.")]
    type: SegmentType
    customers: (
        Annotated[
            list[Annotated[str, fields.text(1000, min_length=1)]],
            Meta(description="Static segments only (required there): customer ids or source_ids."),
        ]
        | None
    ) = None
    filter: Filter | None = None


def check_segment(body: SegmentCreate) -> None:
    """Text PostgreSQL can store (no NUL, no lone surrogates) in the name, ids and filter."""
    check_text(body.name, ".name")
    for index, key in enumerate(body.customers or ()):
        check_text(key, f".customers[{index}]")
    if body.filter is not None:
        check_json_value(body.filter, ".filter")


# --- the segment objects (responses) -------------------------------------------------------------


class SegmentObject(msgspec.Struct, forbid_unknown_fields=True):
    """The segment object (`service.render`)."""

    id: Annotated[str, Meta(examples=["seg_xyz"])]
    name: str
    created_at: Moment
    updated_at: Moment | None
    type: SegmentType
    filter: Annotated[dict[str, Any], Meta(description="`null` for a static segment.")] | None
    initial_sync_status: Literal["DONE"]
    object: Literal["segment"]


class SegmentsList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of segments (`service.list_segments`)."""

    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[SegmentObject]
    total: Count
    has_more: bool


class CustomerSegment(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str
    object: Literal["segment"]


class CustomerSegmentsList(msgspec.Struct, forbid_unknown_fields=True):
    """The segments a customer is in (`service.customer_segments`)."""

    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[CustomerSegment]
    total: Count
