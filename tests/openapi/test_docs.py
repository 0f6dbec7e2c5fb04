"""`GET /docs`: the API reference, served whole by Patron, with no credentials and no CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from patron.app import openapi_document
from patron.openapi import docs

_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


class _References(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def _references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return parser.found


class TestApiReference:
    def test_answers_html_without_credentials(self, anonymous_http: httpx.Client) -> None:
        response = anonymous_http.get("/docs")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>Patron API reference</title>" in response.text
        assert '"/openapi.json"' in response.text

    def test_references_no_other_host(self, anonymous_http: httpx.Client) -> None:
        response = anonymous_http.get("/docs")
        own = str(anonymous_http.base_url).rstrip("/")
        foreign = [url for url in _URL.findall(response.text) if not url.startswith(own)]
        assert foreign == []
        assert all(ref.startswith("/docs/assets/") for ref in _references(response.text))

    def test_policy_allows_this_origin_only(self, anonymous_http: httpx.Client) -> None:
        policy = anonymous_http.get("/docs").headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "http" not in policy

    def test_every_asset_it_references_is_served(self, anonymous_http: httpx.Client) -> None:
        page = anonymous_http.get("/docs").text
        expected = {
            f"{docs.ASSETS_PATH}/{docs.SCRIPT}": "text/javascript; charset=utf-8",
            f"{docs.ASSETS_PATH}/{docs.STYLE}": "text/css; charset=utf-8",
        }
        assert set(_references(page)) == set(expected)
        for path, content_type in expected.items():
            response = anonymous_http.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == content_type
            assert response.headers["cache-control"] == docs.ASSET_CACHE_CONTROL
            assert len(response.content) > 10_000

    def test_unknown_asset_is_not_found(self, anonymous_http: httpx.Client) -> None:
        assert anonymous_http.get(f"{docs.ASSETS_PATH}/swagger-editor.js").status_code == 404


class TestDocumentDescribesIt:
    def test_the_page_and_its_assets_are_public_operations(self) -> None:
        paths = openapi_document()["paths"]
        for path in (
            "/docs",
            f"{docs.ASSETS_PATH}/{docs.SCRIPT}",
            f"{docs.ASSETS_PATH}/{docs.STYLE}",
        ):
            assert paths[path]["get"]["security"] == []
