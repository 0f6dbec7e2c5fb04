"""`POST /client/v1/customers`: the JS client SDK's `createCustomer`, the server-side upsert under
client credentials and origin rules. (Driven through the JS SDK itself in tests/js.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers, create_project
from tests.events.test_routes import ORIGIN, ClientCredentials, make_client_key
from tests.factories import customer_body

PATH = "/client/v1/customers"


@pytest.fixture
def page(server: RunningServer, project: Credentials) -> ClientCredentials:
    """A client key of the test's project, for pages of `ORIGIN`."""
    return make_client_key(server.db, project)


def post(
    server: RunningServer,
    key: ClientCredentials,
    body: Any,
    *,
    origin: str | None = ORIGIN,
    **headers: str,
) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}{PATH}", headers={**key.headers(origin), **headers}, json=body
    )


def activity_types(http: httpx.Client, source_id: str) -> list[str]:
    response = http.get(f"/v1/customers/{source_id}/activity")
    assert response.status_code == 200, response.text
    return [item["type"] for item in response.json()["data"]]


class TestCreateCustomerClientSide:
    def test_creates_the_customer_the_server_api_then_reads(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client
    ) -> None:
        body = customer_body(source_id="page-1")
        response = post(server, page, body)
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == ORIGIN
        created = response.json()
        assert created["object"] == "customer"
        assert created["id"].startswith("cust_")
        assert created["source_id"] == "page-1"
        assert created["name"] == body["name"]
        assert created["email"] == body["email"]
        assert created["metadata"] == body["metadata"]
        stored = http.get("/v1/customers/page-1").json()
        assert stored == {**created, "updated_at": stored["updated_at"]}
        [activity] = http.get("/v1/customers/page-1/activity").json()["data"]
        assert activity["type"] == "customer.created"
        assert activity["data"]["event_source"]["channel"] == "CLIENT_API"
        assert activity["data"]["event_source"]["api_key"]["app_id"] == page.key_id

    def test_the_same_source_id_updates_only_the_fields_sent(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client
    ) -> None:
        first = post(server, page, customer_body(source_id="page-2", name="Ann")).json()
        again = post(server, page, {"source_id": "page-2", "phone": "+48 600 000 000"})
        assert again.status_code == 200, again.text
        updated = again.json()
        assert updated["id"] == first["id"]
        assert updated["name"] == "Ann"
        assert updated["email"] == first["email"]
        assert updated["phone"] == "+48 600 000 000"
        assert http.get("/v1/customers", params={"limit": 100}).json()["total"] == 1
        assert activity_types(http, "page-2") == ["customer.updated", "customer.created"]

    def test_the_same_body_rules_as_the_server_api(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client
    ) -> None:
        response = post(server, page, {"source_id": "page-3", "email": "not an e-mail"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_payload"
        assert ".email" in response.json()["details"]
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert http.get("/v1/customers").json()["total"] == 0

    @pytest.mark.parametrize("origin", ["https://evil.example", None])
    def test_origin_not_allowed_writes_nothing(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client, origin: str | None
    ) -> None:
        response = post(server, page, customer_body(source_id="page-4"), origin=origin)
        assert response.status_code == 403
        assert response.json()["key"] == "forbidden"
        assert "access-control-allow-origin" not in response.headers
        assert http.get("/v1/customers/page-4").status_code == 404

    def test_wrong_token_writes_nothing(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client
    ) -> None:
        wrong = ClientCredentials(page.key_id, page.token + "x")
        response = post(server, wrong, customer_body(source_id="page-5"))
        assert response.status_code == 401
        assert http.get("/v1/customers/page-5").status_code == 404

    @pytest.mark.parametrize("value", ["true", "false", ""])
    def test_double_opt_in_is_refused_with_a_400(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client, value: str
    ) -> None:
        response = post(
            server,
            page,
            customer_body(source_id="page-6"),
            **{"X-Voucherify-Double-Opt-In": value},
        )
        assert response.status_code == 400
        error = response.json()
        assert error["key"] == "invalid_payload"
        assert error["details"] == (
            "X-Voucherify-Double-Opt-In is not supported: double opt-in is not implemented yet;"
            " send the request without this header"
        )
        assert error["request_id"] == response.headers["x-request-id"]
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert http.get("/v1/customers/page-6").status_code == 404

    def test_another_projects_customer_is_not_touched(
        self, server: RunningServer, page: ClientCredentials, http: httpx.Client
    ) -> None:
        other = create_project(server.db)
        other_http = httpx.Client(base_url=server.base_url, headers=auth_headers(other))
        with other_http:
            theirs = other_http.post("/v1/customers", json={"source_id": "shared", "name": "B"})
            assert theirs.status_code == 200
            ours = post(server, page, {"source_id": "shared", "name": "A"}).json()
            assert ours["id"] != theirs.json()["id"]
            assert other_http.get("/v1/customers/shared").json()["name"] == "B"
        assert http.get("/v1/customers/shared").json()["name"] == "A"
