"""The outermost ASGI layer: a request id for every request, in the response and the log."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from patron.kit import ids
from patron.kit.context import REQUEST_ID_KEY

ASGIApp = Any

access_log = logging.getLogger("patron.access")


class RequestContext:
    """Gives each HTTP request an id, returns it as `X-Request-Id`, and logs a line per request.

    The log line names the route template, never the raw path: a path may carry a customer's
    e-mail as its source_id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        failure = ""
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException as exc:
            failure = f" failed={type(exc).__name__}"
            raise
        finally:
            # Successful requests are logged at DEBUG (a line per request costs throughput);
            # every error is logged at INFO or above with its request id.
            level = (
                logging.DEBUG if status < 400 else logging.INFO if status < 500 else logging.WARNING
            )
            if failure:
                level = logging.WARNING
            if access_log.isEnabledFor(level):
                access_log.log(
                    level,
                    "%s %s %d %.1fms request_id=%s%s",
                    scope["method"],
                    scope.get("path_template") or "(no route)",
                    status,
                    (time.perf_counter() - started) * 1000,
                    request_id,
                    failure,
                )
