"""Consents (legacy: removed from Voucherify's spec in 2024, still called by its JS SDK)."""

from __future__ import annotations

from patron.openapi.common import (
    Schema,
    array,
    const,
    errors,
    exact,
    integer,
    json_body,
    json_response,
    no_content,
    operation,
    ref,
    string,
    timestamp,
)
from patron.openapi.customers import CUSTOMER_ID

TAG = "Consents"


def _list(item: str) -> Schema:
    return exact(
        {
            "object": const("list"),
            "data_ref": const("data"),
            "data": array(ref(item)),
            "total": integer(minimum=0),
        }
    )


CHOICES = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "boolean"},
    "description": '`{"cnst_…": true|false, "unsubscribed": true}`: each key a consent id'
    " of the project (400 otherwise) or `unsubscribed`; `unsubscribed: true` revokes every"
    " consent, and giving any consent clears it.",
}


def _list_operation(operation_id: str, summary: str, *, client: bool) -> Schema:
    return operation(
        operation_id,
        summary,
        TAG,
        client=client,
        deprecated=True,
        responses={"200": json_response(ref("ConsentsListResponseBody"), "Groups and consents.")},
    )


def _update_operation(operation_id: str, summary: str, *, client: bool) -> Schema:
    return operation(
        operation_id,
        summary,
        TAG,
        client=client,
        deprecated=True,
        description="Records the customer's choices in `system_metadata.consents` and as"
        " `customer.consents.given`/`revoked` activities.",
        request_body=json_body(CHOICES, "The choices."),
        responses={"204": no_content("Recorded."), **errors("NotFound")},
    )


PATHS: dict[str, Schema] = {
    "/v1/consents": {"get": _list_operation("list-consents", "List Consents", client=False)},
    "/client/v1/consents": {
        "get": _list_operation(
            "list-consents-client-side", "List Consents (client-side)", client=True
        )
    },
    "/v1/customers/{customerId}/consents": {
        "parameters": [CUSTOMER_ID],
        "put": _update_operation(
            "update-customers-consents", "Update Customer's consents", client=False
        ),
    },
    "/client/v1/customers/{customerId}/consents": {
        "parameters": [CUSTOMER_ID],
        "put": _update_operation(
            "update-customers-consents-client-side",
            "Update Customer's consents (client-side)",
            client=True,
        ),
    },
}

SCHEMAS: dict[str, Schema] = {
    "Consent": exact(
        {
            "id": string(example="cnst_xyz"),
            "name": string(),
            "description": string(nullable=True),
            "category": string(nullable=True),
            "created_at": timestamp(),
            "updated_at": timestamp(nullable=True),
            "object": const("consent"),
        },
        title="Consent",
    ),
    "ConsentGroup": exact(
        {
            "id": string(example="cnstgr_xyz"),
            "name": string(),
            "description": string(nullable=True),
            "consents": array(string(), description="The ids of its consents."),
            "created_at": timestamp(),
            "updated_at": timestamp(nullable=True),
            "object": const("consent_group"),
        },
        title="Consent Group",
    ),
    "ConsentsListResponseBody": exact(
        {"groups": _list("ConsentGroup"), "consents": _list("Consent")},
        title="Consents List Response Body",
    ),
}
