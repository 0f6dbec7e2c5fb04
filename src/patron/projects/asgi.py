"""Authentication in front of the whole `/v1` API, routed or not."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from patron.errors import JSON_CONTENT_TYPE, UNEXPECTED, APIError, Forbidden, TooManyRequests
from patron.kit import json
from patron.kit.asgi import route_template
from patron.kit.context import request_id_of
from patron.kit.ratelimit import ClientRateLimit
from patron.projects.service import Authenticator, ClientAuthenticator, normalize_origin

PROJECT_KEY = "patron.project"
CLIENT_KEY = "patron.client_key"

logger = logging.getLogger("patron.errors")

ASGIApp = Any


# Vouchers' QR codes and barcodes: their URLs carry their own credential (assets/tokens.py).
PUBLIC_PREFIX = "/v1/assets/"
# An export's download, `GET /v1/exports/{id}?token=…`: the token is its credential
# (exports/service.py); without `token` the same path is Get Export, which needs the app's.
EXPORTS_PREFIX = "/v1/exports/"


def is_export_download(scope: dict[str, Any]) -> bool:
    """Whether the request is an export's download: GET of one export with a `token`."""
    path: str = scope["path"]
    if scope.get("method") != "GET" or not path.startswith(EXPORTS_PREFIX):
        return False
    export_id = path[len(EXPORTS_PREFIX) :]
    return (
        bool(export_id)
        and "/" not in export_id
        and "token"
        in parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    )


class Authentication:
    """Checks `X-App-Id` / `X-App-Token` on every `/v1` request before routing.

    Doing it ahead of the router means an unknown route or method under `/v1` answers 401 to an
    unauthenticated caller as well, so nothing about the API is learned without credentials.
    Only `/v1/assets/` goes through without them (`PUBLIC_PREFIX`); its routes never read the
    project of the request.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        client_authenticator: ClientAuthenticator,
        client_limit: ClientRateLimit,
    ) -> None:
        self.app = app
        self._authenticator = authenticator
        self._client_authenticator = client_authenticator
        self._client_limit = client_limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/client/v1/"):
            await self._client(scope, receive, send)
            return
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/v1/")
            or scope["path"].startswith(PUBLIC_PREFIX)
            or is_export_download(scope)
        ):
            await self.app(scope, receive, send)
            return
        authenticator = self._authenticator
        headers = dict(scope["headers"])
        app_id = headers.get(b"x-app-id")
        app_token = headers.get(b"x-app-token")
        try:
            scope[PROJECT_KEY] = await authenticator.authenticate(
                app_id.decode("latin-1") if app_id is not None else None,
                app_token.decode("latin-1") if app_token is not None else None,
            )
        except APIError as error:
            await self._refuse(scope, send, error)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: dict[str, Any], send: Any, error: APIError) -> None:
        """Answers `error` without routing, after naming the route the request was for in the
        scope, for its log line (kit/asgi.py)."""
        scope["path_template"] = route_template(self.app, scope)
        await _send_error(send, error, request_id_of(scope))

    async def _client(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Client routes: a rate limit per client IP, client credentials, an allowed origin.

        A refused request is answered here, before the router, so it changes nothing. The limit
        is counted in the database, so it holds across every server process on it.
        """
        request_id = request_id_of(scope)
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        try:
            wait = await self._client_limit.retry_after(ip)
        except Exception:
            # Outside the router, so handle_exception would not see it: the same logged 500.
            logger.exception("client rate limit failed request_id=%s", request_id)
            await self._refuse(scope, send, APIError(UNEXPECTED))
            return
        if wait is not None:
            error = TooManyRequests(
                f"At most {self._client_limit.limit} requests per "
                f"{self._client_limit.seconds:g} seconds from one client",
                headers={"retry-after": str(wait)},
            )
            await self._refuse(scope, send, error)
            return
        headers = dict(scope["headers"])
        authenticator = self._client_authenticator
        try:
            key = await authenticator.authenticate(
                _text(headers.get(b"x-client-application-id")),
                _text(headers.get(b"x-client-token")),
            )
            origin = _text(headers.get(b"origin"))
            if not origin or normalize_origin(origin) not in key.allowed_origins:
                raise Forbidden(f"Origin {origin or '(none)'} is not allowed for this client key")
        except APIError as error:
            await self._refuse(scope, send, error)
            return
        scope[PROJECT_KEY] = key.project
        scope[CLIENT_KEY] = key
        await self.app(scope, receive, send)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def _send_error(send: Any, error: APIError, request_id: str | None) -> None:
    body = json.encode(error.body(request_id))
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", JSON_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *((name.encode(), value.encode()) for name, value in error.headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
