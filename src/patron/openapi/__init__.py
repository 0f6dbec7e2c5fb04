"""Patron's OpenAPI document, served at `/openapi.json`: every endpoint, as Patron serves it.

The document is kept by hand, one module per domain, each with its `PATHS` and `SCHEMAS`; a new
domain adds a module and an entry to `DOMAINS`. `tests/openapi/` checks that every route is
described, and fuzzes the live server against the document (schemathesis).
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

from patron.openapi import (
    activities,
    async_actions,
    common,
    consents,
    customers,
    events,
    orders,
    segments,
    system,
)

DOMAINS: tuple[ModuleType, ...] = (
    customers,
    activities,
    async_actions,
    orders,
    events,
    consents,
    segments,
    system,
)

OPENAPI_VERSION = "3.1.0"


@cache
def document() -> dict[str, Any]:
    """The whole document (built once; treat it as read-only)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(common.SCHEMAS)
    for domain in DOMAINS:
        for path, item in domain.PATHS.items():
            if path in paths:
                raise ValueError(f"{path} is described by two domains")
            paths[path] = item
        for name, schema in domain.SCHEMAS.items():
            if name in schemas:
                raise ValueError(f"schema {name} is defined twice")
            schemas[name] = schema
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
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
        },
        "tags": [
            {"name": "Customers"},
            {"name": "Segments"},
            {"name": "Orders"},
            {"name": "Events"},
            {"name": "Async Actions"},
            {"name": "Consents", "description": "Legacy, kept for the JS SDK."},
            {"name": "System"},
        ],
        "security": common.SERVER_SECURITY,
        "paths": paths,
        "components": {
            "schemas": schemas,
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
