"""Consents' request body and the list `GET /v1/consents` answers (`service.list_all`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from patron.kit.fields import Count, Moment

# Checked by `service.update_customer_consents`, with Voucherify's messages.
Choices = Annotated[
    dict[str, Any],
    Meta(
        description='`{"cnst_…": true|false, "unsubscribed": true}`: each key a consent id of the'
        " project (400 otherwise) or `unsubscribed`; `unsubscribed: true` revokes every consent,"
        " and giving any consent clears it.",
        extra_json_schema={"minProperties": 1, "additionalProperties": {"type": "boolean"}},
    ),
]


class ConsentObject(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(examples=["cnst_xyz"])]
    name: str
    description: str | None
    category: str | None
    created_at: Moment
    updated_at: Moment | None
    object: Literal["consent"]


class ConsentGroup(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(examples=["cnstgr_xyz"])]
    name: str
    description: str | None
    consents: Annotated[list[str], Meta(description="The ids of its consents.")]
    created_at: Moment
    updated_at: Moment | None
    object: Literal["consent_group"]


class ConsentGroupsPage(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[ConsentGroup]
    total: Count


class ConsentsPage(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[ConsentObject]
    total: Count


class ConsentsList(msgspec.Struct, forbid_unknown_fields=True):
    """The project's consent groups and consents."""

    groups: ConsentGroupsPage
    consents: ConsentsPage
