"""`GET /openapi.json`: the document, without credentials."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from patron.errors import JSON_CONTENT_TYPE
from patron.kit import json
from patron.openapi.document import document_of
from patron.openapi.operation import operation


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
