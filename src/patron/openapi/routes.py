"""`GET /openapi.json`, and the API reference page over it at `GET /docs`: no credentials."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from patron.errors import JSON_CONTENT_TYPE
from patron.kit import json
from patron.openapi import docs
from patron.openapi.document import document_of
from patron.openapi.operation import Content, operation

PAGE = Content((docs.PAGE_TYPE,), docs.PAGE_CACHE_CONTROL)
SCRIPT = Content((docs.SCRIPT_TYPE,), docs.ASSET_CACHE_CONTROL)
STYLE = Content((docs.STYLE_TYPE,), docs.ASSET_CACHE_CONTROL)


@operation(
    "openapi",
    "System",
    response=dict[str, Any],
    response_description="The OpenAPI 3.1 document of every endpoint Patron serves.",
    public=True,
    description="This document; no credentials needed.",
)
@get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Patron's OpenAPI document: every endpoint with its request and response schemas."""
    encoded: bytes | None = request.app.state.get("openapi_encoded")
    if encoded is None:
        encoded = json.encode(document_of(request.app))
        request.app.state["openapi_encoded"] = encoded
    return Response(content=encoded, status_code=200, media_type=JSON_CONTENT_TYPE)


@operation(
    "api-reference",
    "System",
    response=PAGE,
    response_description="An HTML page rendering this document with Swagger UI.",
    public=True,
    description="The API reference for a browser; no credentials needed, and no other host"
    " is asked for anything.",
)
@get("/docs", include_in_schema=False)
async def api_reference() -> Response[bytes]:
    """The API reference: this document, readable in a browser."""
    return Response(
        content=docs.PAGE,
        status_code=200,
        media_type=docs.PAGE_TYPE,
        headers={
            "cache-control": docs.PAGE_CACHE_CONTROL,
            "content-security-policy": docs.PAGE_POLICY,
            "x-content-type-options": "nosniff",
        },
    )


@operation(
    "api-reference-script",
    "System",
    response=SCRIPT,
    response_description="Swagger UI's script, as its package ships it.",
    public=True,
)
@get(f"{docs.ASSETS_PATH}/{docs.SCRIPT}", include_in_schema=False)
async def api_reference_script() -> Response[bytes]:
    """Swagger UI's script, for the API reference page."""
    return _asset(docs.SCRIPT, docs.SCRIPT_TYPE)


@operation(
    "api-reference-style",
    "System",
    response=STYLE,
    response_description="Swagger UI's style sheet, as its package ships it.",
    public=True,
)
@get(f"{docs.ASSETS_PATH}/{docs.STYLE}", include_in_schema=False)
async def api_reference_style() -> Response[bytes]:
    """Swagger UI's style sheet, for the API reference page."""
    return _asset(docs.STYLE, docs.STYLE_TYPE)


def _asset(name: str, media_type: str) -> Response[bytes]:
    return Response(
        content=docs.asset(name),
        status_code=200,
        media_type=media_type,
        headers={
            "cache-control": docs.ASSET_CACHE_CONTROL,
            "x-content-type-options": "nosniff",
        },
    )
