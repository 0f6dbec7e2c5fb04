"""The outermost ASGI layer: a request id for every request, in the response and the log."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from litestar.utils import normalize_path

from patron.kit import ids
from patron.kit.context import REQUEST_ID_KEY
from patron.kit.metrics import RequestMeter

ASGIApp = Any

access_log = logging.getLogger("patron.access")

# Methods named in metrics' labels; any other (a client may send any token) counts as OTHER, so
# that no client can grow the number of series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(app: Any, scope: dict[str, Any]) -> str | None:
    """The template of the route (`/v1/customers/{customer_id:str}`) that Litestar `app` would
    route `scope` to, found without running it; None when no route matches.

    For the log line of a request refused before routing (authentication, origin): it names
    the route like any other line, and still never the raw path.
    """
    router = getattr(app, "asgi_router", None)
    if router is None:
        return None
    try:
        routed = router.handle_routing(path=normalize_path(scope["path"]), method=scope["method"])
    except Exception:  # Litestar's NotFound / MethodNotAllowed: no route to name
        return None
    template: str = routed[-1]
    return template


class RequestContext:
    """Gives each HTTP request an id, returns it as `X-Request-Id`, and logs a line per request.

    The log line names the route template, never the raw path: a path may carry a customer's
    e-mail as its source_id. Refused and failed requests are logged at INFO and above; the
    others at DEBUG, or at INFO when `access_log` (PATRON_ACCESS_LOG) is on. Each line also
    carries its fields (`method`, `route`, `status`, `duration_ms`, `request_id`, `failed`) for
    the JSON format (kit/logs.py). With `metrics` on (PATRON_METRICS), each request is also
    counted by method, route template and status, and its duration observed (kit/metrics.py).
    """

    def __init__(self, app: ASGIApp, *, access_log: bool = False, metrics: bool = False) -> None:
        self.app = app
        self._success_level = logging.INFO if access_log else logging.DEBUG
        self._meter = RequestMeter() if metrics else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path")
        if raw_path:
            # Route on the path as sent, so that an id holding an encoded "/" stays one
            # segment; routes percent-decode their identifiers themselves.
            with contextlib.suppress(UnicodeDecodeError):
                scope["path"] = raw_path.decode("ascii")
        request_id = ids.request_id()
        scope[REQUEST_ID_KEY] = request_id
        header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        # 499 ("client closed request") stays when no response was ever started: the client
        # went away first (as load generators do when they stop), which is no server error.
        status = 499

        async def send_with_request_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        failure: str | None = None
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException as exc:
            failure = type(exc).__name__
            raise
        finally:
            # Successful requests are logged at DEBUG unless the access log is on (a line per
            # request costs throughput); every error is logged at INFO or above.
            level = (
                self._success_level
                if status < 400
                else logging.INFO
                if status < 500
                else logging.WARNING
            )
            if failure:
                level = logging.WARNING
            if self._meter is not None:
                method = scope["method"]
                self._meter.record(
                    method if method in _METHODS else "OTHER",
                    scope.get("path_template") or "(no route)",
                    status,
                    time.perf_counter() - started,
                )
            if access_log.isEnabledFor(level):
                route = scope.get("path_template") or "(no route)"
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                access_log.log(
                    level,
                    "%s %s %d %.1fms request_id=%s%s",
                    scope["method"],
                    route,
                    status,
                    duration_ms,
                    request_id,
                    f" failed={failure}" if failure else "",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                        "request_id": request_id,
                        "failed": failure,
                    },
                )
