"""HTTP plumbing shared by every domain's routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from litestar import Request, Response

from patron.errors import JSON_CONTENT_TYPE, APIError, UnsupportedMediaType
from patron.kit import json
from patron.kit.validation import decode_body


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json") or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: Request[Any, Any, Any], target: type[Any]) -> Any:
    """The request's JSON body decoded into `target`; a 415 for any other media type."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            f"Content-Type {content_type} is not supported here; send application/json"
        )
    return decode_body(await request.body(), target)


async def read_optional_json(request: Request[Any, Any, Any], target: type[Any]) -> Any:
    """`read_json`, with an empty body (or `null`) read as `target()`: for routes whose body
    the SDKs may leave out."""
    body = await request.body()
    if not body.strip() or body.strip() == b"null":
        return target()
    return await read_json(request, target)


_JSON_CONTENT_TYPE = (b"content-type", JSON_CONTENT_TYPE.encode())


class JSONResponse:
    """A JSON answer as a bare ASGI app: what a route returns (annotated `ASGIApp`).

    Litestar hands an ASGI app returned by a route straight to the server, where a `Response`
    goes through its general machinery (header mappings, cookies, media-type and encoder
    resolution) first: about a quarter of the framework's cost of a GET, for two messages that
    are always the same shape here (bench/README.md, "Session 4").
    """

    __slots__ = ("body", "status")

    def __init__(self, body: bytes, status: int) -> None:
        self.body = body
        self.status = status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    _JSON_CONTENT_TYPE,
                    (b"content-length", str(len(self.body)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(json.encode(body), status)


def key_or_404(raw: str, not_found: Callable[[str], APIError]) -> str:
    """The percent-decoded identifier in a path segment, or that resource's 404."""
    key = path_key(raw)
    if key is None:
        raise not_found(raw)
    return key


def path_key(raw: str) -> str | None:
    """A percent-decoded identifier from the path; None when it cannot name anything stored.

    The outermost layer routes on the still-encoded path, so an id such as `a%2Fb` stays one
    segment and is decoded only here.
    """
    try:
        key = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if not key or "\x00" in key or len(key) > 1024:
        return None
    return key


# The app's state entry holding `Settings.public_url` (PATRON_PUBLIC_URL), set by `create_app`.
PUBLIC_URL = "public_url"
# A Host header that can stand in a URL: a name or IPv4 address, or an IPv6 one in brackets,
# and a port. Anything else (a client can send any bytes) is not put into URLs.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def base_url(request: Request[Any, Any, Any]) -> str:
    """Where the client reaches this server, without a trailing slash: PATRON_PUBLIC_URL when
    set, else the request's scheme and Host header, and the app's root path.

    Behind a proxy, uvicorn sets the scheme from `X-Forwarded-Proto` when the proxy is trusted
    (`--forwarded-allow-ips` / FORWARDED_ALLOW_IPS, 127.0.0.1 by default); the proxy must pass
    the Host header on, or PATRON_PUBLIC_URL be set. The Host header is the client's to choose,
    so a server reached under several names, or by untrusted clients, should set it too. A
    missing or malformed Host header gives the address the server listens on.
    """
    configured: str | None = request.app.state.get(PUBLIC_URL)
    if configured:
        return configured
    scope = request.scope
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        server = scope.get("server")
        if server is None:
            host = "localhost"
        else:
            address, port = server[0], server[1]
            address = f"[{address}]" if ":" in address else address
            host = address if port is None else f"{address}:{port}"
    root_path = str(scope.get("root_path", "")).rstrip("/")
    return f"{scope.get('scheme', 'http')}://{host}{root_path}"


_PARAMETER_TYPE = re.compile(r"\{(\w+):[^}]+\}")


async def answer_options(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Answer `OPTIONS` with every method of the path in `Allow` (a `before_request` hook).

    Litestar's own answer lists only the methods registered before its OPTIONS handler was
    made, so a path served by several handlers would advertise too few.
    """
    if request.method != "OPTIONS":
        return None
    template = request.scope.get("path_template")
    for route in request.app.routes:
        if _PARAMETER_TYPE.sub(r"{\1}", route.path) == template:
            allowed = ", ".join(sorted(getattr(route, "methods", ())))
            return Response(content=b"", status_code=204, headers={"allow": allowed})
    return None
