"""What every operation of the document shares, kept by hand: Voucherify's error body and
responses, credentials, the `origin` header, and free-form JSON (`JsonValue`).

Everything else in the document is derived from the routes' types (`patron.openapi.document`).
"""

from __future__ import annotations

from typing import Any

from patron.kit.fields import NO_NUL

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(
    schema: Schema, description: str, links: dict[str, Schema] | None = None
) -> Schema:
    response: Schema = {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": schema}},
    }
    if links:
        response["links"] = links
    return response


def no_content(description: str) -> Schema:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }


def errors(*names: str) -> dict[str, Schema]:
    """The error responses an operation can give, from `components.responses`. `Refused` (any
    400 key) wins over the other 400s, which it covers."""
    ordered = sorted(names, key=lambda name: name == "Refused")
    return {ERROR_STATUS[name]: {"$ref": f"#/components/responses/{name}"} for name in ordered}


# Operations served under `/v1` (server credentials) and `/client/v1` (client credentials).
SERVER_ERRORS = ("Unauthorized",)
CLIENT_ERRORS = ("Unauthorized", "Forbidden", "TooManyRequests")
BODY_ERRORS = ("InvalidPayload", "PayloadTooLarge", "UnsupportedMediaType")

SERVER_SECURITY: list[Schema] = [{"X-App-Id": [], "X-App-Token": []}]
CLIENT_SECURITY: list[Schema] = [{"X-Client-Application-Id": [], "X-Client-Token": []}]

ORIGIN_PARAMETER: Schema = {
    "name": "origin",
    "in": "header",
    "required": True,
    "description": "The page's origin; it must be one of the client key's allowed origins (403"
    " otherwise).",
    "schema": {"type": "string", "minLength": 1, "example": "https://shop.example"},
}


# On every POST served with credentials (patron.idempotency); the README tells the rules.
IDEMPOTENCY_KEY_PARAMETER: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the POST safe to retry, per project, for 24 hours: a retry with the"
    " same key, method, path, query and body gets the first answer again (any status below"
    " 500), marked `Idempotent-Replayed: true`, and does not run again. The same key with"
    " another request is a 422 (`idempotency_key_reused`); a retry while the first request still"
    " runs waits for its answer, then is a 409 (`idempotency_key_in_use`). An empty key or one"
    " longer than 255 characters is a 400 (`invalid_idempotency_key`).",
    # No example: a tool trying the document's examples would send one key to every POST.
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _string(*, nullable: bool = False, **keywords: Any) -> Schema:
    return {"type": ["string", "null"] if nullable else "string", **keywords}


# --- the error body ------------------------------------------------------------------------------

ERROR: Schema = {
    "type": "object",
    "title": "Error Object",
    "properties": {
        "code": {"type": "integer", "description": "The HTTP status code."},
        "key": _string(description="What kind of error it is, e.g. `not_found`."),
        "message": _string(description="A short human-readable message."),
        "details": _string(description="What exactly went wrong, e.g. which property."),
        "request_id": _string(
            nullable=True,
            example="v-0a885062c80375740f",
            description="The request's id, also in the `X-Request-Id` header and the log.",
        ),
        "resource_id": _string(description="The identifier as the caller sent it."),
        "resource_type": _string(description="e.g. `customer`, `order`, `async_action`."),
    },
    "required": ["code", "key", "message", "request_id"],
    "additionalProperties": False,
    "description": "Voucherify's error body, which every failure has.",
}


def _error(status: int, key: str, message: str) -> Schema:
    """The error body with its status code, key and message fixed."""
    return {
        "allOf": [
            ref("Error"),
            {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "enum": [status]},
                    "key": {"type": "string", "enum": [key]},
                    "message": {"type": "string", "enum": [message]},
                },
            },
        ]
    }


def _error_response(description: str, schema: Schema, headers: Schema | None = None) -> Schema:
    response = json_response(schema, description)
    if headers:
        response["headers"].update(headers)
    return response


ERROR_STATUS = {
    "InvalidPayload": "400",
    "InvalidQueryParams": "400",
    "Unauthorized": "401",
    "Forbidden": "403",
    "NotFound": "404",
    "Refused": "400",
    "Conflict": "409",
    "PayloadTooLarge": "413",
    "UnsupportedMediaType": "415",
    "TooManyRequests": "429",
    "ServiceUnavailable": "503",
    "IdempotencyKeyInUse": "409",
    "IdempotencyKeyReused": "422",
}

IDEMPOTENCY_ERRORS = ("IdempotencyKeyInUse", "IdempotencyKeyReused")

ERROR_RESPONSES: dict[str, Schema] = {
    "InvalidPayload": _error_response(
        "The body is not valid JSON, is nested deeper than 32 levels, or a property is invalid;"
        " `details` names it.",
        _error(400, "invalid_payload", "Invalid payload"),
    ),
    "InvalidQueryParams": _error_response(
        "A query parameter is invalid; `details` names it.",
        _error(400, "invalid_query_params", "Invalid query params"),
    ),
    "Unauthorized": _error_response(
        "Missing or wrong credentials.", _error(401, "unauthorized", "Unauthorized")
    ),
    "Forbidden": _error_response(
        "The `origin` header is not one of the client key's allowed origins.",
        _error(403, "forbidden", "Forbidden"),
    ),
    "NotFound": _error_response(
        "No such resource in this project; `resource_id` and `resource_type` say which.",
        _error(404, "not_found", "Resource not found"),
    ),
    "Refused": _error_response(
        "The body or a business rule refuses the request; `key` says which (e.g."
        " `invalid_payload`, `invalid_campaign`, `invalid_voucher`, `invalid_code_config`,"
        " `gift_amount_exceeded`) and `details` why.",
        ref("Error"),
    ),
    "Conflict": _error_response(
        "The name or code is taken (`duplicate_found`).",
        _error(409, "duplicate_found", "Duplicated resource found"),
    ),
    "PayloadTooLarge": _error_response(
        "The body is larger than the endpoint takes (10 MiB for JSON). Both shapes are given:"
        " Voucherify's error body and its gateway's `statusCode`/`error`.",
        {
            "type": "object",
            "properties": {
                "code": {"type": "integer", "enum": [413]},
                "key": {"type": "string", "enum": ["request_entity_too_large"]},
                "message": {"type": "string", "enum": ["Request Entity Too Large"]},
                "details": _string(),
                "request_id": _string(nullable=True),
                "statusCode": {"type": "integer", "enum": [413]},
                "error": {"type": "string", "enum": ["Request Entity Too Large"]},
            },
            "required": ["code", "key", "message", "request_id", "statusCode", "error"],
            "additionalProperties": False,
        },
    ),
    "UnsupportedMediaType": _error_response(
        "The body's Content-Type is not one the endpoint takes.",
        _error(415, "unsupported_media_type", "Unsupported media type"),
    ),
    "TooManyRequests": _error_response(
        "Too many client-side requests from this IP address; retry after `Retry-After` seconds.",
        _error(429, "too_many_requests", "Too many requests hit the API too quickly."),
        {
            "Retry-After": {
                "description": "Seconds to wait before the next request.",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    ),
    "ServiceUnavailable": _error_response(
        "The database is unreachable or not migrated to the version this server expects.",
        _error(503, "service_unavailable", "Service unavailable"),
    ),
    "IdempotencyKeyInUse": _error_response(
        "A request with this `Idempotency-Key` is still running after the retry's wait"
        " (PATRON_IDEMPOTENCY_WAIT_SECONDS); retry later.",
        _error(409, "idempotency_key_in_use", "Idempotency key in use"),
    ),
    "IdempotencyKeyReused": _error_response(
        "This `Idempotency-Key` was first sent with another request (method, path, query or body).",
        _error(422, "idempotency_key_reused", "Idempotency key reused"),
    ),
}

# Free-form JSON (metadata, bulk rows) as Patron takes it: no NUL character in any string or
# key. The depth (32 levels) and size (1 MiB) limits are stated in prose: JSON Schema has no
# keyword for either.
JSON_VALUE: Schema = {
    "description": "Any JSON value without NUL characters.",
    "anyOf": [
        {"type": "null"},
        {"type": "string", "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": ref("JsonValue")},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": ref("JsonValue"),
        },
    ],
}

SCHEMAS: dict[str, Schema] = {"Error": ERROR, "JsonValue": JSON_VALUE}
