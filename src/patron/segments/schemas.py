"""Segment request bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from patron.kit.validation import check_json_value, check_text

SegmentType = Literal["static", "passive", "auto-update"]


class SegmentCreate(msgspec.Struct):
    """Body of `POST /v1/segments`: static with `customers`, else a `filter`."""

    name: Annotated[str, Meta(min_length=1, max_length=1000)]
    type: SegmentType
    customers: list[Annotated[str, Meta(min_length=1, max_length=1000)]] | None = None
    filter: dict[str, Any] | None = None


def check_segment(body: SegmentCreate) -> None:
    """Text PostgreSQL can store (no NUL, no lone surrogates) in the name, ids and filter."""
    check_text(body.name, ".name")
    for index, key in enumerate(body.customers or ()):
        check_text(key, f".customers[{index}]")
    if body.filter is not None:
        check_json_value(body.filter, ".filter")
