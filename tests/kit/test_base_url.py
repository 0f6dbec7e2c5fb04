"""`base_url`: where clients reach the server, for the URLs it hands out (vouchers' assets)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from litestar import Litestar, Request
from litestar.types import HTTPScope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from patron.app import create_app
from patron.config import Settings
from patron.kit.http import base_url


def _app(environ: dict[str, str]) -> Litestar:
    return create_app(Settings.from_env(environ), "postgresql://unused")


def _scope(app: Litestar, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/v1/vouchers/v_1",
        "raw_path": b"/v1/vouchers/v_1",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("10.0.0.5", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "litestar_app": app,
    }
    scope.update(overrides)
    return scope


def _base_url(app: Litestar, headers: dict[str, str], **overrides: Any) -> str:
    return base_url(Request(cast("HTTPScope", _scope(app, headers, **overrides))))


class TestWithPublicURL:
    @pytest.mark.parametrize(
        "configured", ["https://vouchers.example", "https://vouchers.example/", " https://x.io// "]
    )
    def test_the_setting_wins_without_its_trailing_slash(self, configured: str) -> None:
        app = _app({"PATRON_PUBLIC_URL": configured})
        found = _base_url(app, {"host": "internal:8000"}, scheme="http")
        assert found == configured.strip().rstrip("/")
        assert not found.endswith("/")

    def test_a_path_is_kept(self) -> None:
        app = _app({"PATRON_PUBLIC_URL": "https://shop.example/patron/"})
        assert _base_url(app, {"host": "internal"}) == "https://shop.example/patron"

    @pytest.mark.parametrize("configured", ["vouchers.example", "ftp://x.example", "https://"])
    def test_anything_but_an_http_url_is_refused(self, configured: str) -> None:
        with pytest.raises(ValueError, match="PATRON_PUBLIC_URL"):
            Settings.from_env({"PATRON_PUBLIC_URL": configured})

    def test_empty_means_unset(self) -> None:
        assert Settings.from_env({"PATRON_PUBLIC_URL": ""}).public_url is None


class TestWithoutPublicURL:
    def test_the_requests_scheme_and_host(self) -> None:
        app = _app({})
        assert _base_url(app, {"host": "shop.example:8443"}, scheme="https") == (
            "https://shop.example:8443"
        )
        assert _base_url(app, {"host": "127.0.0.1:8000"}) == "http://127.0.0.1:8000"
        assert _base_url(app, {"host": "[::1]:8000"}) == "http://[::1]:8000"

    def test_the_root_path_the_server_is_mounted_at(self) -> None:
        app = _app({})
        assert _base_url(app, {"host": "shop.example"}, root_path="/api/") == (
            "http://shop.example/api"
        )

    @pytest.mark.parametrize(
        "host", ["", "evil.example/path?", "a b", "x@evil.example", "shop.example:99999999"]
    )
    def test_a_host_header_that_cannot_be_in_a_url_gives_the_servers_address(
        self, host: str
    ) -> None:
        headers = {"host": host} if host else {}
        assert _base_url(_app({}), headers) == "http://10.0.0.5:8000"
        assert _base_url(_app({}), headers, server=("::1", 8000)) == "http://[::1]:8000"
        assert _base_url(_app({}), headers, server=None) == "http://localhost"

    def test_the_scheme_a_trusted_proxy_forwards(self) -> None:
        """uvicorn's proxy-headers layer (on by default, trusting 127.0.0.1) sets the scheme
        from `X-Forwarded-Proto`; base_url reads it from there."""
        app = _app({})
        seen: list[str] = []

        async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
            seen.append(base_url(Request(cast("HTTPScope", scope))))

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            pass

        headers = {"host": "shop.example", "x-forwarded-proto": "https"}
        for client, expected in (("127.0.0.1", "https"), ("203.0.113.9", "http")):
            proxied = ProxyHeadersMiddleware(inner, trusted_hosts="127.0.0.1")  # type: ignore[arg-type]
            scope = _scope(app, headers, client=(client, 50000))
            asyncio.run(proxied(scope, receive, send))  # type: ignore[arg-type]
            assert seen.pop() == f"{expected}://shop.example"
