"""Authentication in front of the whole `/v1` API, routed or not, and CORS for `/client/v1`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from patron.db.pool import Pool
from patron.errors import JSON_CONTENT_TYPE, UNEXPECTED, APIError, Forbidden, TooManyRequests
from patron.kit import json
from patron.kit.asgi import route_template
from patron.kit.context import request_id_of
from patron.kit.ratelimit import ClientRateLimit
from patron.projects import repository
from patron.projects.service import Authenticator, ClientAuthenticator, normalize_origin

PROJECT_KEY = "patron.project"
CLIENT_KEY = "patron.client_key"

logger = logging.getLogger("patron.errors")

ASGIApp = Any


# Vouchers' QR codes and barcodes: their URLs carry their own credential (assets/tokens.py).
PUBLIC_PREFIX = "/v1/assets/"
# Client routes: client credentials, an allowed origin, a rate limit, and CORS for browsers.
CLIENT_PREFIX = "/client/v1/"

# What a browser is told a page of an allowed origin may send to a client route. The headers
# are what the JS client SDK (`VoucherifyClientSide`, @voucherify/sdk 2.9.0) sends beyond the
# CORS-safelisted ones: its credentials and channel on every call, `Content-Type:
# application/json` with a body, and `X-Voucherify-Double-Opt-In` from `createCustomer(…, true)`;
# and `Idempotency-Key`, which a page may send on its POSTs (idempotency/asgi.py).
ALLOWED_METHODS = "GET, POST, PUT"
ALLOWED_HEADERS = (
    "Content-Type, X-Client-Application-Id, X-Client-Token, X-Voucherify-Channel,"
    " X-Voucherify-Double-Opt-In, Idempotency-Key"
)
# What a page may read of a response besides the safelisted headers: how long to wait after a
# 429, the request id that names the request in Patron's log, and whether an answer is a replay.
EXPOSED_HEADERS = "Retry-After, X-Request-Id, Idempotent-Replayed"
# Seconds a browser may reuse a preflight's answer: two hours, the most Chromium honours. Every
# request is still checked against its key's origins, and its response carries its own
# `Access-Control-Allow-Origin`, so a longer cache lets nothing through.
PREFLIGHT_MAX_AGE = 7200
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

    Client routes (`/client/v1/`) take client credentials instead, and answer browsers' CORS
    preflights (`_client`, `_preflight`).
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        client_authenticator: ClientAuthenticator,
        client_limit: ClientRateLimit,
        client_origins: ClientOrigins,
    ) -> None:
        self.app = app
        self._authenticator = authenticator
        self._client_authenticator = client_authenticator
        self._client_limit = client_limit
        self._client_origins = client_origins

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CLIENT_PREFIX):
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

        CORS: a browser's preflight is answered by `_preflight`. Every other response carries
        `Vary: Origin` and, when the request's `Origin` is allowed, `Access-Control-Allow-Origin`
        echoing it: allowed by the request's key once it is authenticated, and, for a request
        refused before that is known (401, 403, 429), by any client key of the installation, so
        that the page can read why it was refused.
        """
        request_id = request_id_of(scope)
        headers = dict(scope["headers"])
        origin = _text(headers.get(b"origin"))
        if (
            scope.get("method") == "OPTIONS"
            and origin is not None
            and b"access-control-request-method" in headers
        ):
            await self._preflight(scope, send, origin)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        try:
            wait = await self._client_limit.retry_after(ip)
        except Exception:
            # Outside the router, so handle_exception would not see it: the same logged 500.
            logger.exception("client rate limit failed request_id=%s", request_id)
            await self._refuse_client(scope, send, origin, APIError(UNEXPECTED))
            return
        if wait is not None:
            error = TooManyRequests(
                f"At most {self._client_limit.limit} requests per "
                f"{self._client_limit.seconds:g} seconds from one client",
                headers={"retry-after": str(wait)},
            )
            await self._refuse_client(scope, send, origin, error)
            return
        authenticator = self._client_authenticator
        try:
            key = await authenticator.authenticate(
                _text(headers.get(b"x-client-application-id")),
                _text(headers.get(b"x-client-token")),
            )
            if not origin or normalize_origin(origin) not in key.allowed_origins:
                raise Forbidden(f"Origin {origin or '(none)'} is not allowed for this client key")
        except APIError as error:
            await self._refuse_client(scope, send, origin, error)
            return
        scope[PROJECT_KEY] = key.project
        scope[CLIENT_KEY] = key
        await self.app(scope, receive, _with_cors(send, origin))

    async def _refuse_client(
        self, scope: dict[str, Any], send: Any, origin: str | None, error: APIError
    ) -> None:
        """`_refuse` for a client route, readable by the page when any key allows its origin."""
        allowed = origin is not None and await self._origin_allowed(scope, origin)
        await self._refuse(scope, _with_cors(send, origin if allowed else None), error)

    async def _origin_allowed(self, scope: dict[str, Any], origin: str) -> bool:
        """Whether any client key allows `origin`; False, logged, when that cannot be known."""
        try:
            return await self._client_origins.allowed(origin)
        except Exception:
            logger.exception("client origin check failed request_id=%s", request_id_of(scope))
            return False

    async def _preflight(self, scope: dict[str, Any], send: Any, origin: str) -> None:
        """A browser's CORS preflight (`OPTIONS` with `Origin` and
        `Access-Control-Request-Method`) to any path under `/client/v1/`, routed or not.

        It carries no credentials, so it is answered by the origin alone: 204 with the methods
        and headers a page may send, for `PREFLIGHT_MAX_AGE` seconds, when some client key of the
        installation allows the origin; 403 without CORS headers otherwise, which the browser
        turns into a network error for the page. An unknown path gets the same answer as a known
        one, so nothing about the API is learned without credentials. Preflights are not counted
        by the client rate limit: a page's request may need one each, and they change nothing.
        """
        if not await self._origin_allowed(scope, origin):
            error = Forbidden(f"Origin {origin} is not allowed for client requests")
            await self._refuse(scope, _with_cors(send, None), error)
            return
        scope["path_template"] = route_template(self.app, scope)
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


class ClientOrigins:
    """Whether any client key of the installation, of any project, allows a page's origin.

    What a CORS preflight is answered by (it carries no credentials), and whether a client
    request refused before its key is known may be read by its page. An allowed origin is
    remembered for `ttl_seconds`; any other costs one query each time, like an unknown app id.
    """

    def __init__(self, pool: Callable[[], Pool], *, ttl_seconds: float = 30.0) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._allowed: dict[str, float] = {}  # normalized origin -> expiry (monotonic)

    async def allowed(self, origin: str) -> bool:
        """Raises what the pool raises when the database cannot be reached."""
        normalized = normalize_origin(origin)
        if not normalized or len(normalized) > 200 or "\x00" in normalized:
            return False
        now = time.monotonic()
        expiry = self._allowed.get(normalized)
        if expiry is not None and expiry > now:
            return True
        async with self._pool().acquire() as conn:
            found = await repository.origin_allowed(conn, normalized)
        if found:
            if len(self._allowed) > 10_000:
                self._allowed.clear()
            self._allowed[normalized] = now + self._ttl
        return found


def _with_cors(send: Any, allowed_origin: str | None) -> Any:
    """`send` adding `Vary: Origin` to the response, and the CORS headers that let a page of
    `allowed_origin` (as its browser sent it) read it, unless None."""
    added = [(b"vary", b"Origin")]
    if allowed_origin is not None:
        added += [
            (b"access-control-allow-origin", allowed_origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
        ]

    async def send_with_cors(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *added]}
        await send(message)

    return send_with_cors


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
