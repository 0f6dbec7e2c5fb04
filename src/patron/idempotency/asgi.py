"""The ASGI layer that makes POST requests with an `Idempotency-Key` header safe to retry.

It sits after authentication (it needs the project, `PROJECT_KEY` in the scope) and before
routing, so that every POST route has it. Other methods, requests without the header, and
paths no route serves go through untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from litestar.utils import normalize_path

from patron.config import MAX_BODY_BYTES
from patron.db.pool import Pool
from patron.errors import (
    JSON_CONTENT_TYPE,
    UNEXPECTED,
    APIError,
    InvalidIdempotencyKey,
    PayloadTooLarge,
)
from patron.idempotency.repository import Answer
from patron.idempotency.service import IdempotencyKeys, Replay
from patron.kit import json
from patron.kit.context import request_id_of
from patron.projects.asgi import CLIENT_KEY, PROJECT_KEY

logger = logging.getLogger("patron.idempotency")

ASGIApp = Any

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
# Stripe's limit on a key's length, in characters.
MAX_KEY_LENGTH = 255
# A body larger than this waits on disk rather than in memory (the CSV import's up to 2 GiB).
SPOOL_BYTES = MAX_BODY_BYTES
READ_BYTES = 1024 * 1024


# Request headers a route reads besides the body (createCustomer's double opt-in).
FINGERPRINTED_HEADERS = (b"x-voucherify-double-opt-in",)


def _space_of(scope: dict[str, Any]) -> str:
    """The key space of the request's credentials, put before its key: the project's app
    credentials (`app:`), or one client key (`client:<id>:`). A client key is public (it is in
    a page's source): its callers share neither keys nor answers with the app's, nor with
    another client key's."""
    client_key = scope.get(CLIENT_KEY)
    return "app:" if client_key is None else f"client:{client_key.id}:"


class Idempotency:
    """Runs a POST with an `Idempotency-Key` once per project and key, and replays its answer.

    The request's body is read first (up to its route's limit) and fingerprinted with its
    method, path and query string; a multipart body's boundary is left out of the fingerprint,
    since clients draw a new one for every attempt. Then the key is claimed
    (`IdempotencyKeys.begin`): a free key runs the request, whose answer (any status below 500)
    is stored before it is sent; a 5xx releases the key, so a retry runs again. A retry of a
    done request gets the stored answer with `Idempotent-Replayed: true`.

    Errors: 400 `invalid_idempotency_key` (empty, or longer than 255 characters), 413 for a
    body over the route's limit, 409 `idempotency_key_in_use`, 422 `idempotency_key_reused`.
    """

    def __init__(self, app: ASGIApp, pool: Callable[[], Pool], *, wait_seconds: float) -> None:
        self.app = app
        # Outer layers name a refused request's route through the app's router (kit/asgi.py).
        self.asgi_router = getattr(app, "asgi_router", None)
        self.keys = IdempotencyKeys(pool, wait_seconds=wait_seconds)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or PROJECT_KEY not in scope:
            await self.app(scope, receive, send)
            return
        raw_key = next((value for name, value in scope["headers"] if name == HEADER), None)
        routed = None if raw_key is None else self._route(scope)
        if raw_key is None or routed is None:
            await self.app(scope, receive, send)  # no key, or no route: nothing to keep
            return
        template, limit = routed
        scope["path_template"] = template
        key = raw_key.decode("latin-1")
        if not key or len(key) > MAX_KEY_LENGTH:
            await _send_error(
                scope,
                send,
                InvalidIdempotencyKey(
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters long"
                ),
            )
            return
        body = _Body(_boundary(scope))
        try:
            complete = await body.read(receive, limit)
            if not complete:
                return  # the client left before sending its body: nobody to answer
            if body.size > limit:
                await _send_error(
                    scope,
                    send,
                    PayloadTooLarge(
                        f"Payload content length greater than maximum allowed: {limit}"
                    ),
                )
                return
            await self._keep(scope, receive, send, key, body)
        finally:
            body.close()

    def _route(self, scope: dict[str, Any]) -> tuple[str, int] | None:
        """The template of the POST route `scope` goes to and its body limit in bytes; None
        when no route takes it (the router then answers 404 or 405)."""
        if self.asgi_router is None:
            return None
        try:
            routed = self.asgi_router.handle_routing(
                path=normalize_path(scope["path"]), method="POST"
            )
        except Exception:  # Litestar's NotFound / MethodNotAllowed
            return None
        handler = routed[1]
        resolve = getattr(handler, "resolve_request_max_body_size", None)
        limit = resolve() if resolve is not None else None
        return routed[-1], limit if isinstance(limit, int) else MAX_BODY_BYTES

    async def _keep(
        self, scope: dict[str, Any], receive: Any, send: Any, key: str, body: _Body
    ) -> None:
        project_id = scope[PROJECT_KEY].id
        key = _space_of(scope) + key
        path = scope["path"].encode("utf-8", "surrogatepass")
        fingerprint = hashlib.sha256(b"POST\0" + path + b"\0" + scope["query_string"] + b"\0")
        # Headers that change what a route does are part of the request.
        for name in FINGERPRINTED_HEADERS:
            value = next((value for sent, value in scope["headers"] if sent == name), None)
            fingerprint.update(b"\0" if value is None else b"\1" + value + b"\0")
        fingerprint.update(body.digest)
        try:
            outcome = await self.keys.begin(project_id, key, fingerprint=fingerprint.digest())
        except APIError as error:
            await _send_error(scope, send, error)
            return
        except Exception:
            logger.exception("idempotency key failed request_id=%s", request_id_of(scope))
            await _send_error(scope, send, APIError(UNEXPECTED))
            return
        if isinstance(outcome, Replay):
            await _send_answer(send, outcome.answer, replayed=True)
            return
        owner = outcome.owner
        replay = body.replay(receive)
        captured: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            captured.append(message)

        try:
            await self.app(scope, replay, capture)
        except BaseException:
            await self.keys.release(project_id, key, owner=owner)
            raise
        answer = _answer(captured)
        if answer is None or answer.status >= 500:
            # A bug or an outage: the write rolled back, so a retry must run it again.
            await self.keys.release(project_id, key, owner=owner)
            for message in captured:
                await send(message)
            return
        try:
            await self.keys.finish(project_id, key, owner=owner, answer=answer)
        except Exception:
            # The write is done: the client gets its answer; a retry waits until the key is
            # taken over as abandoned.
            logger.exception("idempotent answer not stored request_id=%s", request_id_of(scope))
        await _send_answer(send, answer, replayed=False)


def _answer(messages: list[dict[str, Any]]) -> Answer | None:
    """The whole response in the ASGI `messages` an app sent, None when it never completed."""
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None:
        return None
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    if not bodies or bodies[-1].get("more_body", False):
        return None
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in start.get("headers", ())
        if name.lower() != b"content-length"
    ]
    return Answer(
        status=start["status"],
        headers=headers,
        body=b"".join(m.get("body", b"") for m in bodies),
    )


async def _send_answer(send: Any, answer: Answer, *, replayed: bool) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    if replayed:
        headers.append(REPLAYED_HEADER)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _send_error(scope: dict[str, Any], send: Any, error: APIError) -> None:
    body = json.encode(error.body(request_id_of(scope)))
    headers = [("content-type", JSON_CONTENT_TYPE), *error.headers.items()]
    await _send_answer(send, Answer(error.status, headers, body), replayed=False)


def _boundary(scope: dict[str, Any]) -> bytes | None:
    """The multipart boundary of the request's body, as it appears in it (`--` and the
    boundary parameter), None for any other body."""
    content_type = next((v for n, v in scope["headers"] if n == b"content-type"), b"")
    kind, _, parameters = content_type.partition(b";")
    if kind.strip().lower() != b"multipart/form-data":
        return None
    for parameter in parameters.split(b";"):
        name, _, value = parameter.strip().partition(b"=")
        if name.strip().lower() == b"boundary" and value.strip().strip(b'"'):
            return b"--" + value.strip().strip(b'"')
    return None


class _Body:
    """A request body read ahead of the app, its SHA-256 digest, and its replay to the app.

    Kept in memory up to `SPOOL_BYTES`, on disk beyond (written and read in a thread). With a
    multipart `boundary`, the digest leaves out every occurrence of the boundary.
    """

    def __init__(self, boundary: bytes | None) -> None:
        self.size = 0
        self._hash = hashlib.sha256()
        self._boundary = boundary
        self._pending = b""  # a tail that may begin a boundary finished by the next chunk
        self._chunks: list[bytes] = []
        self._file: IO[bytes] | None = None

    @property
    def digest(self) -> bytes:
        return self._hash.digest()

    async def read(self, receive: Any, limit: int) -> bool:
        """Read the whole body (or up to just past `limit`); False if the client left first."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            self.size += len(chunk)
            if self.size > limit:
                return True
            await self._add(chunk)
            if not message.get("more_body", False):
                self._hash.update(self._pending)
                return True

    async def _add(self, chunk: bytes) -> None:
        if self._boundary is None:
            self._hash.update(chunk)
        else:
            self._hash_without_boundary(chunk)
        if self._file is None and self.size > SPOOL_BYTES:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            chunks, self._chunks = self._chunks, []
            await asyncio.to_thread(self._file.writelines, chunks)
        if self._file is not None:
            await asyncio.to_thread(self._file.write, chunk)
        else:
            self._chunks.append(chunk)

    def _hash_without_boundary(self, chunk: bytes) -> None:
        assert self._boundary is not None
        data = self._pending + chunk
        position = 0
        while (found := data.find(self._boundary, position)) != -1:
            self._hash.update(data[position:found])
            position = found + len(self._boundary)
        keep = max(position, len(data) - (len(self._boundary) - 1))
        self._hash.update(data[position:keep])
        self._pending = data[keep:]

    def replay(self, receive: Any) -> Callable[[], Any]:
        """A `receive` giving the app the body read, then what `receive` gives (a disconnect)."""
        chunks = self._chunks_to_replay()

        async def replayed() -> dict[str, Any]:
            chunk = await anext(chunks, None)
            if chunk is None:
                return await receive()  # type: ignore[no-any-return]
            more, body = chunk
            return {"type": "http.request", "body": body, "more_body": more}

        return replayed

    async def _chunks_to_replay(self) -> AsyncIterator[tuple[bool, bytes]]:
        if self._file is None:
            body = b"".join(self._chunks)
            self._chunks = []
            yield False, body
            return
        file = self._file
        await asyncio.to_thread(file.seek, 0)
        while True:
            chunk = await asyncio.to_thread(file.read, READ_BYTES)
            if len(chunk) < READ_BYTES:
                yield False, chunk
                return
            yield True, chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
