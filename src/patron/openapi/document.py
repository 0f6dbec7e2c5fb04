"""Build the OpenAPI document by walking the app's routes and reading each one's `Operation`.

Request and response schemas come from the msgspec types the operations name
(`msgspec.json.schema_components`, constraints and `Meta` descriptions included); the only
schemas kept by hand are the error body and free-form JSON (`patron.openapi.common`). A route
without an `@operation` is an error (`UndescribedRoute`): the document describes every route
served, or it is not built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import BaseRoute, HTTPRoute

from patron.kit.fields import MAX_BYTES
from patron.openapi import common
from patron.openapi.operation import Content, FileUpload, Operation, operation_of

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "put", "post", "delete", "patch")
CLIENT_PREFIX = "/client/"
_PATH_PARAMETER = re.compile(r"\{(\w+)(?::[^}]+)?\}")

INFO: Schema = {
    "title": "Patron",
    "version": "0.1.0",
    "summary": "A self-hosted customer engine that speaks Voucherify's REST API.",
    "description": (
        "Every endpoint Patron serves, with the bodies it accepts and answers. Server"
        " routes (`/v1`) take `X-App-Id` and `X-App-Token`; client routes (`/client/v1`)"
        " take `X-Client-Application-Id`, `X-Client-Token` and an allowed `origin`. Every"
        " failure has Voucherify's error body (`Error`). Bodies are JSON of at most"
        " 10 MiB; text may not hold NUL characters; `metadata` may nest 32 levels and"
        " take 1 MiB."
    ),
    "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
}

TAGS: list[Schema] = [
    {"name": "Customers"},
    {"name": "Segments"},
    {"name": "Orders"},
    {"name": "Events"},
    {"name": "Async Actions"},
    {
        "name": "Assets",
        "description": "Images of vouchers' codes, linked from a voucher's `assets`. Their URLs"
        " carry their own credential, so they need no headers and can be put in `<img>` tags"
        " and e-mails.",
    },
    {"name": "Consents", "description": "Legacy, kept for the JS SDK."},
    {"name": "System"},
]


class UndescribedRoute(Exception):
    """A route is served without an `@operation`, or its description is incomplete."""


@dataclass(frozen=True)
class Served:
    """One method of one route as served, with its description."""

    path: str  # Litestar's template: `/v1/customers/{customer_id:str}`
    method: str  # lower case: `get`
    handler: HTTPRouteHandler
    operation: Operation

    @property
    def client(self) -> bool:
        return self.path.startswith(CLIENT_PREFIX)

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id + ("-client-side" if self.client else "")

    @property
    def template(self) -> str:
        """The path as the document writes it: `/v1/customers/{customerId}`."""

        def rename(match: re.Match[str]) -> str:
            parameter = self.operation.path.get(match.group(1))
            if parameter is None:
                raise UndescribedRoute(
                    f"{self.path}: path parameter {match.group(1)} is not in"
                    f" {self.operation.operation_id}'s `path`"
                )
            return "{" + parameter.name + "}"

        return _PATH_PARAMETER.sub(rename, self.path)


def served(routes: Iterable[BaseRoute]) -> list[Served]:
    """Every method of every HTTP route in `routes`, with its `Operation`.

    Raises UndescribedRoute naming every route served without an `@operation`.
    """
    found: list[Served] = []
    undescribed: list[str] = []
    for route in routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            methods = [m.lower() for m in handler.http_methods if m.lower() in METHODS]
            if not methods:
                continue  # Litestar's own OPTIONS handler
            described = operation_of(handler)
            if described is None:
                undescribed.extend(f"{m.upper()} {route.path}" for m in methods)
                continue
            found.extend(Served(route.path, method, handler, described) for method in methods)
    if undescribed:
        raise UndescribedRoute(
            "routes served without an @operation (patron.openapi.operation): "
            + ", ".join(sorted(undescribed))
        )
    return found


def build(routes: Iterable[BaseRoute]) -> Schema:
    """The document of every HTTP route in `routes` (an app's `routes`)."""
    found = served(routes)
    types = _types(item.operation for item in found)
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    _bound_bytes(schemas)
    _bound_bytes(components)
    for component in components.values():
        if "description" in component:  # a class's docstring
            component["description"] = " ".join(component["description"].split())
    schema_of = dict(zip(types, schemas, strict=True))
    for name in common.SCHEMAS:
        if name in components:
            raise UndescribedRoute(f"schema {name} is both derived and kept by hand")
    paths: dict[str, Schema] = {}
    for one in sorted(found, key=lambda one: one.path):
        item = paths.setdefault(one.template, {})
        if one.method in item:
            raise UndescribedRoute(f"{one.method.upper()} {one.template} is served twice")
        item[one.method] = _operation(one, schema_of)
    operation_ids = {one.operation_id for one in found}
    for one in found:
        for link in one.operation.links.values():
            if link.operation_id not in operation_ids:
                raise UndescribedRoute(
                    f"{one.operation_id} links to {link.operation_id}, which is not served"
                )
    return {
        "openapi": OPENAPI_VERSION,
        "info": INFO,
        "tags": TAGS,
        "security": common.SERVER_SECURITY,
        "paths": paths,
        "components": {
            "schemas": dict(sorted({**common.SCHEMAS, **components}.items())),
            "responses": common.ERROR_RESPONSES,
            "headers": {
                "X-Request-Id": {
                    "description": "The request's id, as in error bodies and the server's log.",
                    "schema": {"type": "string"},
                }
            },
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", "name": name}
                for name in ("X-App-Id", "X-App-Token", "X-Client-Application-Id", "X-Client-Token")
            },
        },
    }


def _bound_bytes(schema: Any) -> None:
    """Make every `x-max-bytes` bound (`patron.kit.fields.text`) a `maxLength` too, in place."""
    if isinstance(schema, dict):
        limit = schema.get(MAX_BYTES)
        if isinstance(limit, int):
            schema["maxLength"] = min(schema.get("maxLength", limit), limit)
        for value in schema.values():
            _bound_bytes(value)
    elif isinstance(schema, list):
        for value in schema:
            _bound_bytes(value)


def _types(operations: Iterable[Operation]) -> list[Any]:
    """Every body and response type named, each once, in a stable order."""
    types: list[Any] = []
    for described in operations:
        for kind in (described.body, described.response):
            if (
                kind is not None
                and not isinstance(kind, FileUpload | Content)
                and kind not in types
            ):
                types.append(kind)
    return types


def _summary(handler: HTTPRouteHandler, described: Operation) -> str:
    doc = (handler.fn.__doc__ or "").strip()
    if not doc:
        raise UndescribedRoute(f"{described.operation_id}: the route has no docstring")
    return " ".join(doc.split())


def _operation(one: Served, schema_of: dict[Any, Schema]) -> Schema:
    described, client = one.operation, one.client
    op: Schema = {
        "operationId": one.operation_id,
        "summary": _summary(one.handler, described),
        "tags": [described.tag],
    }
    if described.description is not None:
        op["description"] = described.description
    if described.deprecated:
        op["deprecated"] = True
    parameters: list[Schema] = [common.ORIGIN_PARAMETER] if client else []
    parameters += [described.path[name].openapi() for name in _PATH_PARAMETER.findall(one.path)]
    parameters += [parameter.openapi() for parameter in described.query]
    idempotent = one.method == "post" and not described.public
    if idempotent:
        parameters.append(common.IDEMPOTENCY_KEY_PARAMETER)
    if parameters:
        op["parameters"] = parameters
    if client:
        op["security"] = common.CLIENT_SECURITY
    elif described.public:
        op["security"] = []
    if described.body is not None:
        op["requestBody"] = _request_body(described, schema_of)
    status = str(one.handler.status_code)
    responses: Schema = {}
    if described.response is None:
        responses[status] = common.no_content(described.response_description)
    elif isinstance(described.response, Content):
        responses[status] = described.response.openapi(described.response_description)
    else:
        # A link leads to a server operation: client credentials cannot follow it.
        links = {} if client else {n: link.openapi() for n, link in described.links.items()}
        responses[status] = common.json_response(
            schema_of[described.response], described.response_description, links
        )
    if not described.public:
        responses.update(common.errors(*(common.CLIENT_ERRORS if client else common.SERVER_ERRORS)))
    if described.body is not None:
        responses.update(common.errors(*common.BODY_ERRORS))
    if idempotent:
        responses.update(common.errors(*common.IDEMPOTENCY_ERRORS))
    # Last: an operation's own errors (e.g. `Refused`, any 400 key) take the place of the
    # general ones that share their status.
    responses.update(common.errors(*described.errors))
    op["responses"] = dict(sorted(responses.items()))
    return op


def _request_body(described: Operation, schema_of: dict[Any, Schema]) -> Schema:
    if isinstance(described.body, FileUpload):
        upload = described.body
        schema: Schema = {
            "type": "object",
            "properties": {
                upload.field: {
                    "type": "string",
                    "contentMediaType": upload.media_type,
                    "description": upload.description,
                }
            },
            "required": [upload.field],
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return {
        "required": True,
        "description": described.body_description,
        "content": {"application/json": {"schema": schema_of[described.body]}},
    }


def document_of(app: Litestar) -> dict[str, Any]:
    """The document of `app`'s routes (built on the first call, then kept in its state)."""
    built: dict[str, Any] | None = app.state.get("openapi_document")
    if built is None:
        built = build(app.routes)
        app.state["openapi_document"] = built
    return built
