"""Custom events, server-side and client-side, and the client-side API's guards."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials, create_client_key
from tests.conftest import (
    TEST_SETTINGS,
    Database,
    RunningServer,
    _serve,
    create_project,
    run,
    sdk_client,
)
from tests.factories import create_customer

ORIGIN = "https://shop.example"


@dataclasses.dataclass
class ClientCredentials:
    key_id: str
    token: str

    def headers(self, origin: str | None = ORIGIN) -> dict[str, str]:
        headers = {"X-Client-Application-Id": self.key_id, "X-Client-Token": self.token}
        if origin is not None:
            headers["origin"] = origin
        return headers


def make_client_key(db: Database, project: Credentials) -> ClientCredentials:
    from patron.db.pool import connect

    async def work() -> ClientCredentials:
        conn = await connect(db.dsn)
        try:
            key_id, token, _ = await create_client_key(
                conn, project.project_id, name="web", origins=[ORIGIN, "http://localhost:3000"]
            )
            return ClientCredentials(key_id, token)
        finally:
            await conn.close()

    result: ClientCredentials = run(work())
    return result


@pytest.fixture
def client_key(server: RunningServer, project: Credentials) -> ClientCredentials:
    return make_client_key(server.db, project)


def event_count(db: Database, project: Credentials, event: str) -> int:
    value = db.fetchval(
        "SELECT coalesce(sum(count), 0) FROM customer_event_counts"
        " WHERE project_id = $1 AND event = $2",
        project.project_id,
        event,
    )
    return int(value)


class TestTrackCustomEvent:
    def test_sdk_creates_the_customer_and_records_the_event(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        with sdk_client(server, project) as client:
            api: Any = voucherify.EventsApi(client)
            event = api.track_custom_event(
                events_create_request_body=voucherify.EventsCreateRequestBody(
                    event="payment_placed",
                    customer=voucherify.Customer(source_id="ev-1", name="Eve"),
                    metadata={"amount": 10},
                )
            )
        assert event.object == "event"
        assert event.type == "payment_placed"
        assert event.customer.source_id == "ev-1"
        assert event.customer.object == "customer"
        assert event.metadata == {"amount": 10}
        assert event.referral is None
        activity = http.get("/v1/customers/ev-1/activity").json()["data"]
        assert [a["type"] for a in activity] == ["customer.custom_event", "customer.created"]
        assert activity[0]["data"]["event"] == {
            "type": "payment_placed",
            "metadata": {"amount": 10},
        }
        assert event_count(server.db, project, "payment_placed") == 1

    def test_counts_per_customer_and_name(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        customer = create_customer(http)
        for _ in range(3):
            body = {"event": "viewed", "customer": {"id": customer["id"]}}
            assert http.post("/v1/events", json=body).status_code == 200
        assert (
            server.db.fetchval(
                "SELECT count FROM customer_event_counts WHERE customer_id = $1 AND event = $2",
                customer["id"],
                "viewed",
            )
            == 3
        )

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            ({"customer": {"source_id": "x"}}, "event"),
            ({"event": "e"}, "customer"),
            ({"event": "", "customer": {}}, ".event"),
            (
                {"event": "e", "customer": {}, "referral": {}},
                "should have required property 'code'",
            ),
            ({"event": "e", "customer": {}, "loyalty": {}}, ".loyalty"),
            ({"event": "e", "customer": {"email": "bad"}}, ".email"),
        ],
    )
    def test_bad_events(
        self,
        http: httpx.Client,
        server: RunningServer,
        project: Credentials,
        body: dict[str, Any],
        fragment: str,
    ) -> None:
        response = http.post("/v1/events", json=body)
        assert response.status_code == 400
        assert fragment in response.json()["details"]
        assert http.get("/v1/customers").json()["total"] == 0

    def test_unknown_customer_id_is_404(self, http: httpx.Client) -> None:
        response = http.post("/v1/events", json={"event": "e", "customer": {"id": "cust_no"}})
        assert response.status_code == 404
        assert response.json()["resource_type"] == "customer"


class TestClientSideEvents:
    def test_sdk_client_side_event(
        self,
        server: RunningServer,
        project: Credentials,
        client_key: ClientCredentials,
        http: httpx.Client,
    ) -> None:
        configuration = voucherify.Configuration(
            host=server.base_url,
            api_key={
                "X-Client-Application-Id": client_key.key_id,
                "X-Client-Token": client_key.token,
            },
        )
        with voucherify.ApiClient(configuration) as client:
            api: Any = voucherify.ClientSideApi(client)
            event = api.track_custom_event_client_side(
                origin=ORIGIN,
                client_events_create_request_body=voucherify.ClientEventsCreateRequestBody(
                    event="signed_up", customer=voucherify.Customer(source_id="web-1")
                ),
            )
        assert event.object == "event"
        activity = http.get("/v1/customers/web-1/activity").json()["data"][0]
        assert activity["type"] == "customer.custom_event"
        assert activity["data"]["event_source"]["channel"] == "CLIENT_API"
        assert activity["data"]["event_source"]["api_key"]["app_id"] == client_key.key_id

    @pytest.mark.parametrize("origin", ["https://evil.example", None, "https://shop.example.evil"])
    def test_origin_must_be_allowed(
        self,
        server: RunningServer,
        project: Credentials,
        client_key: ClientCredentials,
        origin: str | None,
    ) -> None:
        response = httpx.post(
            f"{server.base_url}/client/v1/events",
            headers=client_key.headers(origin),
            json={"event": "e", "customer": {"source_id": "x"}},
        )
        assert response.status_code == 403
        assert response.json()["key"] == "forbidden"
        assert event_count(server.db, project, "e") == 0

    def test_origin_forms_that_match(
        self, server: RunningServer, client_key: ClientCredentials
    ) -> None:
        for origin in ("https://SHOP.example/", "http://localhost:3000", "shop.example"):
            response = httpx.post(
                f"{server.base_url}/client/v1/events",
                headers=client_key.headers(origin),
                json={"event": "e", "customer": {"source_id": "x"}},
            )
            assert response.status_code == 200, origin

    def test_keys_open_only_their_own_routes(
        self, server: RunningServer, project: Credentials, client_key: ClientCredentials
    ) -> None:
        body = {"event": "e", "customer": {"source_id": "x"}}
        server_keys = {
            "X-App-Id": project.app_id,
            "X-App-Token": project.app_token,
            "origin": ORIGIN,
        }
        assert (
            httpx.post(
                f"{server.base_url}/client/v1/events", headers=server_keys, json=body
            ).status_code
            == 401
        )
        assert (
            httpx.post(
                f"{server.base_url}/v1/events", headers=client_key.headers(), json=body
            ).status_code
            == 401
        )
        assert (
            httpx.get(f"{server.base_url}/v1/customers", headers=client_key.headers()).status_code
            == 401
        )
        wrong = ClientCredentials(client_key.key_id, "wrong")
        assert (
            httpx.post(
                f"{server.base_url}/client/v1/events", headers=wrong.headers(), json=body
            ).status_code
            == 401
        )
        assert event_count(server.db, project, "e") == 0


@dataclasses.dataclass
class LimitedServer:
    base_url: str
    db: Database
    project: Credentials
    client_key: ClientCredentials


@pytest.fixture
def limited_server(fresh_database: Database) -> Iterator[LimitedServer]:
    """A server with the default limit on a database of its own: the counts live in the
    database, and other tests' client requests from 127.0.0.1 must not count here."""
    settings = TEST_SETTINGS.model_copy(update={"client_rate_limit": 5, "client_rate_seconds": 5.0})
    project = create_project(fresh_database)
    client_key = make_client_key(fresh_database, project)
    for base_url in _serve(fresh_database.dsn, settings):
        yield LimitedServer(base_url, fresh_database, project, client_key)


class TestClientRateLimit:
    def test_six_requests_in_five_seconds(self, limited_server: LimitedServer) -> None:
        base_url, client_key = limited_server.base_url, limited_server.client_key
        body = {"event": "limited", "customer": {"source_id": "rl"}}
        statuses = []
        for _ in range(5):
            statuses.append(
                httpx.post(
                    f"{base_url}/client/v1/events", headers=client_key.headers(), json=body
                ).status_code
            )
        refused = httpx.post(
            f"{base_url}/client/v1/events", headers=client_key.headers(), json=body
        )
        assert statuses == [200] * 5
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 5
        assert refused.json()["code"] == 429
        assert event_count(limited_server.db, limited_server.project, "limited") == 5
        # Server routes are not limited.
        project = limited_server.project
        headers = {"X-App-Id": project.app_id, "X-App-Token": project.app_token}
        assert httpx.get(f"{base_url}/v1/customers", headers=headers).status_code == 200


class TestEventShapes:
    """What the event's customer shows for what was never set: the Java SDK's
    `snapshots/Events/CreatedCustomEvent.snapshot.json` holds `"metadata": null` for a customer
    sent without metadata (a missing key, as its model shows one) and `"metadata": {}` for the
    event sent without any; the customer object leaves it out (JS SDK `customers.spec.ts`)."""

    def test_customer_without_metadata_leaves_it_out(
        self, server: RunningServer, project: Credentials
    ) -> None:
        with sdk_client(server, project) as client:
            api: Any = voucherify.EventsApi(client)
            response = api.track_custom_event_without_preload_content(
                events_create_request_body=voucherify.EventsCreateRequestBody(
                    event="test-event", customer=voucherify.Customer(source_id="test-customer")
                )
            )
        assert response.status == 200
        body = json.loads(response.data)
        assert body["customer"] == {
            "id": body["customer"]["id"],
            "source_id": "test-customer",
            "name": None,
            "email": None,
            "object": "customer",
        }
        assert (body["referral"], body["loyalty"], body["metadata"]) == (None, None, {})
        parsed: Any = voucherify.EventsCreateResponseBody.from_json(response.data.decode())
        assert parsed.customer.metadata is None

    def test_customer_metadata_is_shown(self, server: RunningServer, project: Credentials) -> None:
        with sdk_client(server, project) as client:
            api: Any = voucherify.EventsApi(client)
            event = api.track_custom_event(
                events_create_request_body=voucherify.EventsCreateRequestBody(
                    event="e",
                    customer=voucherify.Customer(source_id="c", metadata={"tier": "gold"}),
                )
            )
        assert event.customer.metadata == {"tier": "gold"}
