"""Patron's OpenAPI document, served at `/openapi.json`: every endpoint, as Patron serves it.

Each route carries its description (`patron.openapi.operation`: `@operation` with its body and
response types, query parameters and errors) and `patron.openapi.document` builds the document
by walking the app's routes, deriving schemas from the routes' msgspec types.
`tests/openapi/` checks that every route is described, validates real responses against the
document, and fuzzes the live server against it (schemathesis).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from litestar import Litestar

from patron.openapi.document import build


def document_of(app: Litestar) -> dict[str, Any]:
    """The document of `app`'s routes (built on the first call, then kept in its state)."""
    built: dict[str, Any] | None = app.state.get("openapi_document")
    if built is None:
        built = build(app.routes)
        app.state["openapi_document"] = built
    return built


@cache
def document() -> dict[str, Any]:
    """The document of the app `patron serve` builds (read-only; for tests and tools)."""
    # Imported here: the app serves this module's document.
    from patron.app import create_app
    from patron.config import Settings

    return document_of(create_app(Settings(), "postgresql://unused"))
