"""The request's identity, carried in the ASGI scope from the outermost layer inward."""

from __future__ import annotations

from typing import Any

REQUEST_ID_KEY = "patron.request_id"


def request_id_of(scope: Any) -> str | None:
    value = scope.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else None
