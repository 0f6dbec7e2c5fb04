"""Log lines: the JSON format, the access log, and refused requests naming their route."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from patron.app import create_app
from patron.config import Settings
from patron.errors import Unauthorized
from patron.kit.asgi import RequestContext
from patron.kit.logs import JSONFormatter
from patron.projects.asgi import Authentication

TOKEN = "secret-app-token-123"
EMAIL = "bob@example.com"


class _Refusing:
    """An authenticator that refuses every credential, without a database."""

    async def authenticate(self, app_id: str | None, app_token: str | None) -> Any:
        raise Unauthorized("The credentials are wrong")


class _NoLimit:
    """A client rate limit that lets every request through, without a database."""

    limit = 5
    seconds = 5.0

    async def retry_after(self, ip: str) -> int | None:
        return None


class _NoOrigin:
    """No client key allows any origin, without a database."""

    async def allowed(self, origin: str) -> bool:
        return False


def _asgi(*, access_log: bool) -> Any:
    app = create_app(Settings(), "postgresql://unused")
    refusing: Any = _Refusing()
    limit: Any = _NoLimit()
    origins: Any = _NoOrigin()
    authentication = Authentication(app, refusing, refusing, limit, origins)
    return RequestContext(authentication, access_log=access_log)


@contextmanager
def _json_lines(level: int) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    # Patron's own lines (httpx, the test's client, logs the URLs it requests).
    root = logging.getLogger("patron")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _requests(asgi: Any) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"X-App-Id": "app", "X-App-Token": TOKEN}
            return [
                await client.get(f"/v1/customers/{EMAIL}", headers=headers),
                await client.get("/openapi.json", params={"email": EMAIL}, headers=headers),
                await client.get(
                    "/client/v1/consents",
                    params={"email": EMAIL},
                    headers={"X-Client-Token": TOKEN},
                ),
            ]

    return asyncio.run(run())


def _parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    assert lines
    return [json.loads(line) for line in lines]


class TestJSONFormat:
    def test_every_line_parses_and_holds_no_token_or_email(self) -> None:
        with _json_lines(logging.DEBUG) as stream:
            responses = _requests(_asgi(access_log=True))
        assert [r.status_code for r in responses][:2] == [401, 200]
        for line in _parsed(stream):
            assert {"time", "level", "logger", "message"} <= set(line)
            text = json.dumps(line)
            assert TOKEN not in text
            assert EMAIL not in text
            assert "bob" not in text

    def test_an_exception_is_its_type_and_frames_only(self) -> None:
        logger = logging.getLogger("patron.test")
        with _json_lines(logging.INFO) as stream:
            try:
                raise ValueError(f"Key (source_id)=({EMAIL}) already exists")
            except ValueError:
                logger.exception("failed request_id=v-1")
        (line,) = _parsed(stream)
        assert "ValueError (message withheld)" in line["exception"]
        assert EMAIL not in json.dumps(line)


class TestAccessLog:
    def test_a_line_per_request_with_its_fields(self) -> None:
        with _json_lines(logging.INFO) as stream:
            (_, ok, _) = _requests(_asgi(access_log=True))
        access = [line for line in _parsed(stream) if line["logger"] == "patron.access"]
        (line,) = [line for line in access if line["status"] == 200]
        assert line["method"] == "GET"
        assert line["route"] == "/openapi.json"
        assert isinstance(line["duration_ms"], float)
        assert line["request_id"] == ok.headers["x-request-id"]
        assert line["message"].startswith("GET /openapi.json 200 ")

    def test_off_by_default_successes_are_not_logged_at_info(self) -> None:
        with _json_lines(logging.INFO) as stream:
            _requests(_asgi(access_log=False))
        statuses = [line.get("status") for line in _parsed(stream)]
        assert 200 not in statuses


class TestRefusedRequests:
    def test_a_401_names_the_route_template(self) -> None:
        with _json_lines(logging.INFO) as stream:
            (refused, _, client_refused) = _requests(_asgi(access_log=False))
        assert refused.status_code == 401
        lines = {line["request_id"]: line for line in _parsed(stream) if "request_id" in line}
        line = lines[refused.headers["x-request-id"]]
        assert line["status"] == 401
        assert line["route"].startswith("/v1/customers/{")
        assert "(no route)" not in line["message"]
        client_line = lines[client_refused.headers["x-request-id"]]
        assert client_line["status"] == 401
        assert client_line["route"] == "/client/v1/consents"

    def test_an_unknown_route_stays_unnamed(self) -> None:
        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=_asgi(access_log=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get("/v1/nothing-here", headers={"X-App-Token": TOKEN})

        with _json_lines(logging.INFO) as stream:
            response = asyncio.run(run())
        assert response.status_code == 401
        (line,) = [line for line in _parsed(stream) if line.get("status") == 401]
        assert line["route"] == "(no route)"
