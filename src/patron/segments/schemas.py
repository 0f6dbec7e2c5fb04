"""Segment request bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

SegmentType = Literal["static", "passive", "auto-update"]


class SegmentCreate(msgspec.Struct):
    """Body of `POST /v1/segments`: static with `customers`, else a `filter`."""

    name: Annotated[str, Meta(min_length=1, max_length=1000)]
    type: SegmentType
    customers: list[Annotated[str, Meta(min_length=1, max_length=1000)]] | None = None
    filter: dict[str, Any] | None = None
