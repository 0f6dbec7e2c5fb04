"""The vocabulary each domain's part of the OpenAPI document is written in.

Schemas here describe what Patron accepts and answers, which is mostly what Voucherify's spec
says (its names are kept: `CustomersCreateRequestBody`, `Error`, …) and, where Patron differs,
what Patron does. Request schemas carry every check that JSON Schema can state (lengths, the
NUL character, the e-mail pattern), so a body the document calls valid is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from patron.kit.time import DATE_PATTERN, MOMENT_PATTERN

Schema = dict[str, Any]

# PostgreSQL cannot store the NUL character, so no text anywhere may hold one.
NO_NUL = r"^[^\x00]*$"
MAX_TEXT = 4096


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def text(
    max_length: int = MAX_TEXT,
    *,
    min_length: int = 0,
    nullable: bool = False,
    description: str | None = None,
    pattern: str = NO_NUL,
) -> Schema:
    """Text Patron stores: no NUL characters, at most `max_length` characters."""
    schema: Schema = {"type": "string", "pattern": pattern, "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return _finish(schema, nullable, description)


def string(*, nullable: bool = False, description: str | None = None, **keywords: Any) -> Schema:
    """A string Patron produces (responses) or checks by itself (formats, enums)."""
    return _finish({"type": "string", **keywords}, nullable, description)


def const(value: str, description: str | None = None) -> Schema:
    return _finish({"type": "string", "enum": [value]}, False, description)


def enum(
    values: Iterable[str], *, nullable: bool = False, description: str | None = None
) -> Schema:
    return _finish({"type": "string", "enum": sorted(values)}, nullable, description)


def or_null(schema: Schema) -> Schema:
    """The schema, or JSON null (OpenAPI 3.1: a list of types)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def integer(
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    nullable: bool = False,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _finish(schema, nullable, description)


def calendar_date(*, nullable: bool = False, description: str | None = None) -> Schema:
    """A date `YYYY-MM-DD` in a request body (years 0001 to 9999)."""
    return _finish(
        {"type": "string", "format": "date", "pattern": DATE_PATTERN}, nullable, description
    )


def boolean(description: str | None = None) -> Schema:
    return _finish({"type": "boolean"}, False, description)


def timestamp(*, nullable: bool = False, description: str | None = None) -> Schema:
    """A moment as Patron renders it: ISO 8601 UTC with milliseconds and `Z`."""
    return _finish(
        {"type": "string", "format": "date-time", "example": "2024-01-02T03:04:05.678Z"},
        nullable,
        description,
    )


def obj(
    properties: dict[str, Schema],
    required: Iterable[str] = (),
    *,
    closed: bool = True,
    nullable: bool = False,
    description: str | None = None,
    title: str | None = None,
) -> Schema:
    """An object; `closed` (for responses) means no other property ever appears."""
    schema: Schema = {"type": "object"}
    if title is not None:
        schema["title"] = title
    schema["properties"] = properties
    required = list(required)
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return _finish(schema, nullable, description)


def exact(properties: dict[str, Schema], **keywords: Any) -> Schema:
    """A response object whose every property is always present, and no other."""
    return obj(properties, properties, **keywords)


def array(items: Schema, *, max_items: int | None = None, description: str | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return _finish(schema, False, description)


def free_object(*, nullable: bool = False, description: str | None = None) -> Schema:
    """A JSON object a client chose (metadata), as Patron stores and returns it."""
    return _finish({"type": "object"}, nullable, description)


def _finish(schema: Schema, nullable: bool, description: str | None) -> Schema:
    if nullable:
        schema = or_null(schema)
    if description is not None:
        schema["description"] = description
    return schema


# --- requests and responses ----------------------------------------------------------------------


def json_body(schema: Schema, description: str) -> Schema:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


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


def link(operation_id: str, description: str, **parameters: str) -> Schema:
    """An OpenAPI link: what a response gives the next call (read by stateful fuzzers too)."""
    return {"operationId": operation_id, "description": description, "parameters": parameters}


def path_parameter(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def query_text(description: str | None = None) -> Schema:
    """Text in a query parameter: any length, no NUL character."""
    return _finish({"type": "string", "pattern": NO_NUL}, False, description)


def query_parameter(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def limit_parameter(maximum: int = 100, default: int = 10) -> Schema:
    return query_parameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        f"How many items a page holds (1 to {maximum}; {default} when left out).",
    )


def page_parameter(maximum: int) -> Schema:
    return query_parameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": 1},
        f"Which page to return (1 to {maximum}).",
    )


def date_parameter(name: str, description: str) -> Schema:
    return query_parameter(
        name,
        {"type": "string", "pattern": MOMENT_PATTERN, "example": "2024-01-02T03:04:05Z"},
        description
        + " ISO 8601: a date such as `2024-01-02`, or a date and time (UTC when it has no"
        " offset), in the years 0002 to 9998; anything else is a 400 `invalid_query_params`.",
    )


def errors(*names: str) -> dict[str, Schema]:
    """The error responses an operation can give, from `components.responses`."""
    return {ERROR_STATUS[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


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


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    *,
    responses: dict[str, Schema],
    parameters: list[Schema] | None = None,
    request_body: Schema | None = None,
    client: bool = False,
    deprecated: bool = False,
    description: str | None = None,
) -> Schema:
    """One operation, with the error responses every operation of its kind can give."""
    op: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description is not None:
        op["description"] = description
    if deprecated:
        op["deprecated"] = True
    params = list(parameters or [])
    if client:
        params.insert(0, ORIGIN_PARAMETER)
        op["security"] = CLIENT_SECURITY
    if params:
        op["parameters"] = params
    if request_body is not None:
        op["requestBody"] = request_body
    all_responses = dict(responses)
    all_responses.update(errors(*(CLIENT_ERRORS if client else SERVER_ERRORS)))
    if request_body is not None:
        all_responses.update(errors(*BODY_ERRORS))
    op["responses"] = dict(sorted(all_responses.items()))
    return op


# --- the error body ------------------------------------------------------------------------------

ERROR: Schema = obj(
    {
        "code": integer(description="The HTTP status code."),
        "key": string(description="What kind of error it is, e.g. `not_found`."),
        "message": string(description="A short human-readable message."),
        "details": string(description="What exactly went wrong, e.g. which property."),
        "request_id": string(
            nullable=True,
            description="The request's id, also in the `X-Request-Id` header and the log.",
            example="v-0a885062c80375740f",
        ),
        "resource_id": string(description="The identifier as the caller sent it."),
        "resource_type": string(description="e.g. `customer`, `order`, `async_action`."),
    },
    ["code", "key", "message", "request_id"],
    title="Error Object",
    description="Voucherify's error body, which every failure has.",
)


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
    "PayloadTooLarge": "413",
    "UnsupportedMediaType": "415",
    "TooManyRequests": "429",
    "ServiceUnavailable": "503",
}

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
    "PayloadTooLarge": _error_response(
        "The body is larger than the endpoint takes (10 MiB for JSON). Both shapes are given:"
        " Voucherify's error body and its gateway's `statusCode`/`error`.",
        obj(
            {
                "code": {"type": "integer", "enum": [413]},
                "key": {"type": "string", "enum": ["request_entity_too_large"]},
                "message": {"type": "string", "enum": ["Request Entity Too Large"]},
                "details": string(),
                "request_id": string(nullable=True),
                "statusCode": {"type": "integer", "enum": [413]},
                "error": {"type": "string", "enum": ["Request Entity Too Large"]},
            },
            ["code", "key", "message", "request_id", "statusCode", "error"],
        ),
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

METADATA_LIMITS = (
    " Keys and strings may not hold NUL characters; metadata may nest at most 32 levels and"
    " take at most 1 MiB as JSON (400 `invalid_payload` otherwise)."
)


def metadata(description: str, *, nullable: bool = False) -> Schema:
    """Metadata in a request body."""
    return _finish(
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": ref("JsonValue"),
        },
        nullable,
        description + METADATA_LIMITS,
    )


SCHEMAS: dict[str, Schema] = {"Error": ERROR, "JsonValue": JSON_VALUE}
