"""One error hierarchy, rendered as Voucherify's error body by one handler."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from litestar import Request, Response
from litestar.exceptions import HTTPException

from patron.kit import json
from patron.kit.context import request_id_of

logger = logging.getLogger("patron.errors")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class APIError(Exception):
    """An error the client caused (or a server fault), with Voucherify's error fields."""

    status: ClassVar[int] = 500
    key: ClassVar[str] = "internal_server_error"
    message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        details: str | None = None,
        *,
        resource_id: str | None = None,
        resource_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(details or self.message)
        self.details = details
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.headers = headers or {}

    def body(self, request_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.status, "key": self.key, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body["request_id"] = request_id
        if self.resource_id is not None:
            body["resource_id"] = self.resource_id
        if self.resource_type is not None:
            body["resource_type"] = self.resource_type
        return body


class InvalidPayload(APIError):
    status = 400
    key = "invalid_payload"
    message = "Invalid payload"


class InvalidExportFields(InvalidPayload):
    """An export's `fields` names a field its object has not (exports/service.py)."""

    key = "invalid_export_fields"
    message = "Invalid Export"


class InvalidQueryParams(APIError):
    status = 400
    key = "invalid_query_params"
    message = "Invalid query params"


class InvalidCodeConfig(APIError):
    """A voucher `code_config` that cannot be stored or cannot yield the codes asked for."""

    status = 400
    key = "invalid_code_config"
    message = "Invalid code config"


class Unauthorized(APIError):
    status = 401
    key = "unauthorized"
    message = "Unauthorized"


class Forbidden(APIError):
    status = 403
    key = "forbidden"
    message = "Forbidden"


class TooManyRequests(APIError):
    status = 429
    key = "too_many_requests"
    message = "Too many requests hit the API too quickly."


class NotFound(APIError):
    status = 404
    key = "not_found"
    message = "Resource not found"


class MethodNotAllowed(APIError):
    status = 405
    key = "method_not_allowed"
    message = "Method not allowed"


class UnsupportedMediaType(APIError):
    status = 415
    key = "unsupported_media_type"
    message = "Unsupported media type"


class PayloadTooLarge(APIError):
    status = 413
    key = "request_entity_too_large"
    message = "Request Entity Too Large"

    def body(self, request_id: str | None) -> dict[str, Any]:
        # The bulk endpoints' documented 413 is gateway-shaped (statusCode/error/message);
        # carrying both shapes keeps either kind of client happy.
        body = super().body(request_id)
        body["statusCode"] = self.status
        body["error"] = self.message
        return body


class ClientError(APIError):
    """Any other 4xx the framework itself raises."""

    key = "bad_request"
    message = "Bad request"

    def __init__(self, status: int, details: str) -> None:
        super().__init__(details)
        self.status = status  # type: ignore[misc]


class ServiceUnavailable(APIError):
    status = 503
    key = "service_unavailable"
    message = "Service unavailable"


class InvalidIdempotencyKey(APIError):
    """An `Idempotency-Key` header that is empty or longer than 255 characters
    (patron.idempotency)."""

    status = 400
    key = "invalid_idempotency_key"
    message = "Invalid idempotency key"


class IdempotencyKeyInUse(APIError):
    """A retry whose `Idempotency-Key` is still held by the first request after the wait
    (PATRON_IDEMPOTENCY_WAIT_SECONDS); the client may retry later."""

    status = 409
    key = "idempotency_key_in_use"
    message = "Idempotency key in use"


class IdempotencyKeyReused(APIError):
    """An `Idempotency-Key` first sent with another request (method, path, query or body)."""

    status = 422
    key = "idempotency_key_reused"
    message = "Idempotency key reused"


def _response(error: APIError, request_id: str | None) -> Response[bytes]:
    headers = dict(error.headers)
    return Response(
        content=json.encode(error.body(request_id)),
        status_code=error.status,
        media_type=JSON_CONTENT_TYPE,
        headers=headers,
    )


def _from_http_exception(exc: HTTPException, request: Request[Any, Any, Any]) -> APIError:
    status = exc.status_code
    if status == 500 and exc.detail == "client disconnected prematurely":
        # Litestar's word for a client that left while sending its body: nobody will read
        # this answer, and it is no server fault.
        return ClientError(499, "The client closed the connection before sending its body")
    if status == 404:
        return NotFound(f"Cannot find route {request.method} {request.url.path}")
    if status == 405:
        allowed = (exc.headers or {}).get("allow", "")
        details = f"Method {request.method} is not allowed here"
        if allowed:
            details += f"; allowed methods: {allowed}"
        error: APIError = MethodNotAllowed(details)
        if allowed:
            error.headers["allow"] = allowed
        return error
    if status == 413:
        return PayloadTooLarge(f"Payload content length greater than maximum allowed: {10485760}")
    if status == 401:
        return Unauthorized()
    if 400 <= status < 500:
        return ClientError(status, str(exc.detail))
    return APIError()


UNEXPECTED = "An unexpected error occurred; it has been logged."


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Render any exception as Voucherify's error body, with the request id."""
    request_id = request_id_of(request.scope)
    if isinstance(exc, APIError):
        error = exc
    elif isinstance(exc, HTTPException):
        error = _from_http_exception(exc, request)
    else:
        logger.exception("unhandled error request_id=%s", request_id)
        error = APIError(UNEXPECTED)
    return _response(error, request_id)
