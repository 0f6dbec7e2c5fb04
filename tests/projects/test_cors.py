"""CORS on client routes (`/client/v1`): browsers' preflights, and `Access-Control-Allow-Origin`
on every client response, refusals included, for origins some client key allows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from patron.db.pool import connect
from patron.projects.asgi import ALLOWED_HEADERS, PREFLIGHT_MAX_AGE
from patron.projects.service import Credentials, create_client_key
from tests.conftest import TEST_SETTINGS, Database, RunningServer, _serve, create_project, run
from tests.events.test_routes import ORIGIN, ClientCredentials, LimitedServer, make_client_key

EVENT = {"event": "cors", "customer": {"source_id": "cors-1"}}


def client_key_for(db: Database, project: Credentials, origins: list[str]) -> ClientCredentials:
    """A client key of `project` that allows exactly `origins`."""

    async def work() -> ClientCredentials:
        conn = await connect(db.dsn)
        try:
            key_id, token, _ = await create_client_key(
                conn, project.project_id, name="cors", origins=origins
            )
            return ClientCredentials(key_id, token)
        finally:
            await conn.close()

    result: ClientCredentials = run(work())
    return result


def unique_origin() -> str:
    """An origin no client key of the shared test installation allows yet."""
    return f"https://{secrets.token_hex(6)}.example"


def preflight(
    base_url: str, path: str, origin: str, *, method: str = "POST", headers: str | None = None
) -> httpx.Response:
    """What a browser sends before a cross-origin request with the JS client SDK's headers."""
    requested = headers or ",".join(
        ["content-type", "x-client-application-id", "x-client-token", "x-voucherify-channel"]
    )
    return httpx.options(
        f"{base_url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": requested,
        },
    )


@pytest.fixture
def client_key(server: RunningServer, project: Credentials) -> ClientCredentials:
    """A key of the test's project for `ORIGIN` and `http://localhost:3000`."""
    return make_client_key(server.db, project)


@pytest.fixture
def limited_server(fresh_database: Database) -> Iterator[LimitedServer]:
    """A server with the default client rate limit, on a database of its own."""
    settings = TEST_SETTINGS.model_copy(update={"client_rate_limit": 5, "client_rate_seconds": 5.0})
    project = create_project(fresh_database)
    key = make_client_key(fresh_database, project)
    for base_url in _serve(fresh_database.dsn, settings):
        yield LimitedServer(base_url, fresh_database, project, key)


@pytest.fixture
def client_http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def allowed_names(header: str) -> set[str]:
    return {name.strip().lower() for name in header.split(",")}


class TestPreflight:
    def test_allowed_origin_is_echoed_with_methods_headers_and_max_age(
        self, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        response = preflight(server.base_url, "/client/v1/events", ORIGIN)
        assert response.status_code == 204
        assert response.content == b""
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert set(response.headers["access-control-allow-methods"].split(", ")) == {
            "GET",
            "POST",
            "PUT",
        }
        assert allowed_names(response.headers["access-control-allow-headers"]) == {
            "content-type",
            "x-client-application-id",
            "x-client-token",
            "x-voucherify-channel",
            "x-voucherify-double-opt-in",
            "idempotency-key",
        }
        assert response.headers["access-control-max-age"] == str(PREFLIGHT_MAX_AGE) == "7200"
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in response.headers

    def test_origin_is_echoed_as_the_browser_sent_it(
        self, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        # The key lists `http://localhost:3000`; a browser compares the echo byte for byte.
        response = preflight(server.base_url, "/client/v1/customers", "http://LOCALHOST:3000")
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "http://LOCALHOST:3000"

    @pytest.mark.parametrize(
        "origin",
        [
            "https://evil.example",
            "https://shop.example.evil",
            "null",
            f"https://{'a' * 300}.example",
        ],
    )
    def test_other_origin_is_refused_without_cors_headers(
        self, server: RunningServer, client_key: ClientCredentials, origin: str
    ) -> None:
        response = preflight(server.base_url, "/client/v1/events", origin)
        assert response.status_code == 403
        body = response.json()
        assert body["key"] == "forbidden"
        assert body["details"] == f"Origin {origin} is not allowed for client requests"
        assert body["request_id"] == response.headers["x-request-id"]
        assert response.headers["vary"] == "Origin"
        assert not any(name.startswith("access-control-") for name in response.headers)

    def test_unknown_path_is_answered_like_a_known_one(
        self, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        known = preflight(server.base_url, "/client/v1/events", ORIGIN)
        unknown = preflight(server.base_url, "/client/v1/no/such/route", ORIGIN, method="DELETE")
        assert unknown.status_code == known.status_code == 204
        drop = {"x-request-id", "date", "server"}
        assert {k: v for k, v in unknown.headers.items() if k not in drop} == {
            k: v for k, v in known.headers.items() if k not in drop
        }
        refused = preflight(server.base_url, "/client/v1/no/such/route", "https://evil.example")
        assert refused.status_code == 403

    def test_needs_no_credentials_and_an_origin_of_any_key_will_do(
        self, server: RunningServer, project: Credentials
    ) -> None:
        origin = unique_origin()
        before = preflight(server.base_url, "/client/v1/events", origin)
        assert before.status_code == 403
        # A key created just now opens its origin at once: a refused origin is not remembered.
        client_key_for(server.db, project, [origin])
        after = preflight(server.base_url, "/client/v1/events", origin)
        assert after.status_code == 204
        assert after.headers["access-control-allow-origin"] == origin

    def test_options_without_request_method_is_no_preflight(
        self, client_http: httpx.Client, client_key: ClientCredentials
    ) -> None:
        # Not a preflight: authenticated like any client request.
        anonymous = client_http.options("/client/v1/events", headers={"Origin": ORIGIN})
        assert anonymous.status_code == 401
        assert anonymous.headers["access-control-allow-origin"] == ORIGIN
        answered = client_http.options("/client/v1/events", headers=client_key.headers())
        assert answered.status_code == 204
        assert answered.headers["allow"] == "OPTIONS, POST"
        assert answered.headers["access-control-allow-origin"] == ORIGIN

    def test_server_routes_answer_no_preflight(
        self, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        response = preflight(server.base_url, "/v1/customers", ORIGIN)
        assert response.status_code == 401
        assert not any(name.startswith("access-control-") for name in response.headers)

    def test_every_header_the_js_client_sdk_sends_is_allowed(self) -> None:
        # VoucherifyClientSide's own headers, and createCustomer's double opt-in.
        sent = {
            "X-Client-Application-Id",
            "X-Client-Token",
            "X-Voucherify-Channel",
            "Content-Type",
            "X-Voucherify-Double-Opt-In",
            "Idempotency-Key",  # not the SDK's: a page's own retries (idempotency/asgi.py)
        }
        assert {name.lower() for name in sent} == allowed_names(ALLOWED_HEADERS)


class TestAllowOriginOnResponses:
    def test_success(self, client_http: httpx.Client, client_key: ClientCredentials) -> None:
        response = client_http.post("/client/v1/events", headers=client_key.headers(), json=EVENT)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["access-control-expose-headers"] == (
            "Retry-After, X-Request-Id, Idempotent-Replayed"
        )
        assert response.headers["vary"] == "Origin"

    def test_route_error_after_authentication(
        self, client_http: httpx.Client, client_key: ClientCredentials
    ) -> None:
        response = client_http.post(
            "/client/v1/events", headers=client_key.headers(), json={"event": "", "customer": {}}
        )
        assert response.status_code == 400
        assert response.headers["access-control-allow-origin"] == ORIGIN

    def test_wrong_token_is_readable_by_an_allowed_origin(
        self, client_http: httpx.Client, client_key: ClientCredentials
    ) -> None:
        wrong = ClientCredentials(client_key.key_id, "wrong")
        response = client_http.post("/client/v1/events", headers=wrong.headers(), json=EVENT)
        assert response.status_code == 401
        assert response.json()["key"] == "unauthorized"
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["vary"] == "Origin"

    def test_origin_of_another_key_is_readable(
        self,
        client_http: httpx.Client,
        server: RunningServer,
        project: Credentials,
        client_key: ClientCredentials,
    ) -> None:
        other = unique_origin()
        client_key_for(server.db, project, [other])
        response = client_http.post(
            "/client/v1/events", headers=client_key.headers(other), json=EVENT
        )
        assert response.status_code == 403
        assert response.json()["details"] == f"Origin {other} is not allowed for this client key"
        assert response.headers["access-control-allow-origin"] == other

    def test_origin_no_key_allows_is_not_readable(
        self, client_http: httpx.Client, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        response = client_http.post(
            "/client/v1/events", headers=client_key.headers("https://evil.example"), json=EVENT
        )
        assert response.status_code == 403
        assert response.headers["vary"] == "Origin"
        assert not any(name.startswith("access-control-") for name in response.headers)

    def test_unknown_route_is_a_readable_401_without_credentials(
        self, client_http: httpx.Client, client_key: ClientCredentials
    ) -> None:
        response = client_http.get("/client/v1/no-such-route", headers={"Origin": ORIGIN})
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == ORIGIN

    def test_too_many_requests_is_readable(self, limited_server: LimitedServer) -> None:
        url = f"{limited_server.base_url}/client/v1/events"
        headers = limited_server.client_key.headers()
        statuses = [httpx.post(url, headers=headers, json=EVENT).status_code for _ in range(5)]
        refused = httpx.post(url, headers=headers, json=EVENT)
        assert statuses == [200] * 5
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == ORIGIN
        assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
        # Preflights are not counted: a refused client still learns its origin is allowed.
        answered = preflight(limited_server.base_url, "/client/v1/events", ORIGIN)
        assert answered.status_code == 204
