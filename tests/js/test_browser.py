"""A real browser against Patron's client API (issue 17): headless Chromium (Debian's `chromium`
package, `/usr/bin/chromium`) driven by `playwright-core` (tests/js/package.json) opens a shop's
page (tests/js/page/index.html) served from another origin than Patron's, which tracks a custom
event with the JS client SDK's browser bundle (`dist/voucherifysdk.umd.production.min.js`).

The browser does the CORS work itself: its preflight, and its check of the answer's
`Access-Control-Allow-Origin`. A page of an origin the client key allows gets its event
recorded; a page of another origin is stopped by the browser and nothing is written.

Without `/usr/bin/chromium` the tests are skipped, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.projects.service import Credentials
from tests.conftest import RunningServer
from tests.events.test_routes import ClientCredentials
from tests.js.conftest import HERE, skip_or_fail
from tests.projects.test_cors import client_key_for

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = HERE / "browser.cjs"
MODULES = HERE / "node_modules"
# The page, and the browser bundle with the two globals it expects (`axios`, `Qs`).
PAGE_FILES = (
    HERE / "page" / "index.html",
    MODULES / "@voucherify" / "sdk" / "dist" / "voucherifysdk.umd.production.min.js",
    MODULES / "axios" / "dist" / "axios.min.js",
    MODULES / "qs" / "dist" / "qs.js",
)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium"
            " (`apt-get install chromium`)"
        )
    return CHROMIUM


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The shop's server logs nothing: the test reports what matters."""


@pytest.fixture(scope="module")
def page_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Starts web servers of the shop's page on 127.0.0.1, each on a port (an origin) of its own,
    unlike Patron's: each call gives another server's page URL."""
    root = tmp_path_factory.mktemp("page")
    for source in PAGE_FILES:
        shutil.copyfile(source, root / source.name)
    handler = functools.partial(_QuietHandler, directory=str(root))
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/index.html"

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def origin_of(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


Track = Callable[[str, ClientCredentials, str], dict[str, Any]]


@pytest.fixture
def track(node: str, chromium: Path, server: RunningServer) -> Track:
    """Opens the page at a URL in Chromium and tracks the event `event` of customer `source_id`
    from it with the key given; answers what the page saw (`result` or `error`)."""

    def run(page: str, key: ClientCredentials, event: str) -> dict[str, Any]:
        given = {
            "chromium": str(chromium),
            "page": page,
            "options": {
                "clientApplicationId": key.key_id,
                "clientSecretKey": key.token,
                "apiUrl": server.base_url,
            },
            "event": event,
            "customer": {"source_id": f"{event}-visitor", "name": "Page Visitor"},
            "metadata": {"path": "/checkout"},
        }
        done = subprocess.run(
            [node, str(SCRIPT), json.dumps(given)],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{done.stdout}{done.stderr}"
        answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        assert answer["origin"] == origin_of(page)
        assert origin_of(page) != server.base_url
        return answer

    return run


def custom_events(http: httpx.Client, source_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/v1/customers/{source_id}/activity")
    assert response.status_code == 200, response.text
    return [a for a in response.json()["data"] if a["type"] == "customer.custom_event"]


class TestBrowserPage:
    def test_a_page_of_an_allowed_origin_tracks_an_event(
        self,
        track: Track,
        page_site: Callable[[], str],
        server: RunningServer,
        project: Credentials,
        http: httpx.Client,
    ) -> None:
        page = page_site()
        key = client_key_for(server.db, project, [origin_of(page)])
        answer = track(page, key, "browsed")
        assert "error" not in answer, answer
        assert answer["messages"] == []
        event = answer["result"]
        assert event["object"] == "event"
        assert event["type"] == "browsed"
        assert event["customer"]["source_id"] == "browsed-visitor"
        customer = http.get("/v1/customers/browsed-visitor")
        assert customer.status_code == 200
        assert customer.json()["name"] == "Page Visitor"
        [activity] = custom_events(http, "browsed-visitor")
        assert activity["data"]["event"] == {"type": "browsed", "metadata": {"path": "/checkout"}}
        source = activity["data"]["event_source"]
        assert source["channel"] == "CLIENT_API"
        assert source["api_key"]["app_id"] == key.key_id

    def test_a_page_of_another_origin_is_stopped_by_the_browser(
        self,
        track: Track,
        page_site: Callable[[], str],
        server: RunningServer,
        project: Credentials,
        http: httpx.Client,
    ) -> None:
        allowed, other = page_site(), page_site()
        key = client_key_for(server.db, project, [origin_of(allowed)])
        answer = track(other, key, "blocked")
        # No key allows the page's origin: the preflight is refused, so the browser never sends
        # the request and the page sees a network error, without a status.
        assert answer["error"]["message"] == "Network Error", answer
        assert answer["error"]["code"] == "ERR_NETWORK"
        [blocked] = [m for m in answer["messages"] if "blocked by CORS policy" in m]
        assert f"from origin '{origin_of(other)}'" in blocked
        assert "/client/v1/events" in blocked
        assert "Response to preflight request doesn't pass access control check" in blocked
        assert http.get("/v1/customers/blocked-visitor").status_code == 404
        assert custom_events_total(server, project) == 0

    def test_a_page_of_another_keys_origin_reads_the_403(
        self,
        track: Track,
        page_site: Callable[[], str],
        server: RunningServer,
        project: Credentials,
        http: httpx.Client,
    ) -> None:
        mine, theirs = page_site(), page_site()
        key = client_key_for(server.db, project, [origin_of(mine)])
        client_key_for(server.db, project, [origin_of(theirs)])
        answer = track(theirs, key, "refused")
        # The preflight passes (a key allows the origin), the request is refused by its own key,
        # and the refusal carries CORS headers, so the page can read why.
        assert answer["error"]["code"] == 403, answer
        assert answer["error"]["key"] == "forbidden"
        assert http.get("/v1/customers/refused-visitor").status_code == 404


def custom_events_total(server: RunningServer, project: Credentials) -> int:
    value = server.db.fetchval(
        "SELECT coalesce(sum(count), 0) FROM customer_event_counts WHERE project_id = $1",
        project.project_id,
    )
    return int(value)
