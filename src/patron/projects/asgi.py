"""Authentication in front of the whole `/v1` API, routed or not."""

from __future__ import annotations

from typing import Any

from patron.errors import JSON_CONTENT_TYPE, APIError
from patron.kit import json
from patron.kit.context import request_id_of
from patron.projects.service import Authenticator

PROJECT_KEY = "patron.project"

ASGIApp = Any


class Authentication:
    """Checks `X-App-Id` / `X-App-Token` on every `/v1` request before routing.

    Doing it ahead of the router means an unknown route or method under `/v1` answers 401 to an
    unauthenticated caller as well, so nothing about the API is learned without credentials.
    """

    def __init__(self, app: ASGIApp, authenticator: Any) -> None:
        self.app = app
        self._authenticator = authenticator

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        authenticator: Authenticator = self._authenticator()
        headers = dict(scope["headers"])
        app_id = headers.get(b"x-app-id")
        app_token = headers.get(b"x-app-token")
        try:
            scope[PROJECT_KEY] = await authenticator.authenticate(
                app_id.decode("latin-1") if app_id is not None else None,
                app_token.decode("latin-1") if app_token is not None else None,
            )
        except APIError as error:
            await _send_error(send, error, request_id_of(scope))
            return
        await self.app(scope, receive, send)


async def _send_error(send: Any, error: APIError, request_id: str | None) -> None:
    body = json.encode(error.body(request_id))
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", JSON_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
