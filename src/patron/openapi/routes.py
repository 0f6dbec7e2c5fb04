"""`GET /openapi.json`: the document, without credentials."""

from __future__ import annotations

from functools import cache

from litestar import Response, get

from patron.errors import JSON_CONTENT_TYPE
from patron.kit import json
from patron.openapi import document


@cache
def _encoded() -> bytes:
    return json.encode(document())


@get("/openapi.json", include_in_schema=False)
async def openapi_document() -> Response[bytes]:
    """Patron's OpenAPI document: every endpoint with its request and response schemas."""
    return Response(content=_encoded(), status_code=200, media_type=JSON_CONTENT_TYPE)
