"""Consents: definitions, a customer's choices in system_metadata, and their activities."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.consents import service as consents
from patron.db.pool import connect
from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, run
from tests.events.test_routes import make_client_key
from tests.factories import create_customer


def define(server: RunningServer, project: Credentials) -> tuple[str, str]:
    async def work() -> tuple[str, str]:
        conn = await connect(server.db.dsn)
        try:
            news = await consents.create_consent(
                conn, project.project_id, name="Newsletter", category="marketing"
            )
            sms = await consents.create_consent(conn, project.project_id, name="SMS")
            await consents.create_group(
                conn, project.project_id, name="All marketing", consents=[news, sms]
            )
            return news, sms
        finally:
            await conn.close()

    result: tuple[str, str] = run(work())
    return result


@pytest.fixture
def defined(server: RunningServer, project: Credentials) -> tuple[str, str]:
    return define(server, project)


def consents_of(http: httpx.Client, customer: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/v1/customers/{customer}").json()
    return body


class TestListConsents:
    def test_server_and_client_lists(
        self,
        http: httpx.Client,
        server: RunningServer,
        project: Credentials,
        defined: tuple[str, str],
    ) -> None:
        body = http.get("/v1/consents").json()
        assert body["consents"]["object"] == "list"
        assert body["consents"]["total"] == 2
        assert [c["id"] for c in body["consents"]["data"]] == list(defined)
        assert body["consents"]["data"][0]["object"] == "consent"
        assert body["consents"]["data"][0]["category"] == "marketing"
        assert body["groups"]["data"][0]["consents"] == list(defined)
        assert body["groups"]["data"][0]["object"] == "consent_group"
        key = make_client_key(server.db, project)
        client = httpx.get(f"{server.base_url}/client/v1/consents", headers=key.headers())
        assert client.json() == body
        assert (
            httpx.get(
                f"{server.base_url}/client/v1/consents", headers=key.headers("https://evil.example")
            ).status_code
            == 403
        )


class TestUpdateCustomerConsents:
    def test_given_and_revoked(self, http: httpx.Client, defined: tuple[str, str]) -> None:
        news, sms = defined
        customer = create_customer(http)
        response = http.put(
            f"/v1/customers/{customer['source_id']}/consents", json={news: True, sms: False}
        )
        assert response.status_code == 204
        assert response.content == b""
        after = consents_of(http, customer["id"])
        stored = after["system_metadata"]["consents"]
        assert stored[news]["value"] is True
        assert stored[sms]["value"] is False
        # Never unsubscribed, so giving a consent changes nothing there.
        assert "unsubscribed" not in stored
        assert after["email_unsubscribed"] is False
        legacy = http.get(f"/v1/customers/{customer['id']}/activities").json()["data"]
        assert {a["type"] for a in legacy} >= {
            "customer.consents.given",
            "customer.consents.revoked",
        }
        given = next(a for a in legacy if a["type"] == "customer.consents.given")
        assert list(given["data"]["consents"]) == [news]
        current = http.get(f"/v1/customers/{customer['id']}/activity", params={"limit": 100})
        assert not any(a["type"].startswith("customer.consents") for a in current.json()["data"])

    def test_sdk_activity_listing_still_works(
        self, http: httpx.Client, customers_api: Any, defined: tuple[str, str]
    ) -> None:
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}/consents", json={defined[0]: True})
        page = customers_api.list_customer_activity(customer_id=customer["id"], limit=100)
        assert [a.type for a in page.data] == ["customer.created"]

    def test_unsubscribed_revokes_every_consent(
        self, http: httpx.Client, defined: tuple[str, str]
    ) -> None:
        news, sms = defined
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}/consents", json={news: True, sms: True})
        http.put(f"/v1/customers/{customer['id']}/consents", json={"unsubscribed": True})
        after = consents_of(http, customer["id"])
        stored = after["system_metadata"]["consents"]
        assert (stored[news]["value"], stored[sms]["value"]) == (False, False)
        assert stored["unsubscribed"]["value"] is True
        assert after["email_unsubscribed"] is True

    def test_client_side_update(
        self,
        http: httpx.Client,
        server: RunningServer,
        project: Credentials,
        defined: tuple[str, str],
    ) -> None:
        customer = create_customer(http)
        key = make_client_key(server.db, project)
        response = httpx.put(
            f"{server.base_url}/client/v1/customers/{customer['source_id']}/consents",
            headers=key.headers(),
            json={defined[1]: True},
        )
        assert response.status_code == 204
        assert (
            consents_of(http, customer["id"])["system_metadata"]["consents"][defined[1]]["value"]
            is True
        )
        assert (
            httpx.put(
                f"{server.base_url}/client/v1/customers/{customer['id']}/consents",
                headers=key.headers("https://evil.example"),
                json={defined[1]: False},
            ).status_code
            == 403
        )

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            ({}, "cannot be empty"),
            ({"cnst_unknown": True}, "cnst_unknown"),
            ({"unsubscribed": "yes"}, "unsubscribed"),
            ([], "object"),
        ],
    )
    def test_bad_bodies(
        self, http: httpx.Client, defined: tuple[str, str], body: Any, fragment: str
    ) -> None:
        customer = create_customer(http)
        response = http.put(f"/v1/customers/{customer['id']}/consents", json=body)
        assert response.status_code == 400
        assert fragment in response.json()["details"]
        assert consents_of(http, customer["id"])["system_metadata"] == {}

    def test_unknown_customer(self, http: httpx.Client, defined: tuple[str, str]) -> None:
        response = http.put("/v1/customers/nobody/consents", json={defined[0]: True})
        assert response.status_code == 404


def legacy_activities(http: httpx.Client, customer_id: str) -> list[dict[str, Any]]:
    """The customer's consent activities on the legacy list, oldest first."""
    page = http.get(
        f"/v1/customers/{customer_id}/activities", params={"order": "created_at", "limit": 100}
    )
    assert page.status_code == 200, page.text
    return [a for a in page.json()["data"] if a["type"].startswith("customer.consents.")]


def changes(activity: dict[str, Any]) -> dict[str, bool]:
    return {name: entry["value"] for name, entry in activity["data"]["consents"].items()}


class TestConsentActivities:
    """Every change of a customer's consents is one activity per direction on `/activities`;
    a request that changes nothing records nothing."""

    def test_unsubscribing_a_customer_who_never_gave_a_consent(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        response = http.put(f"/v1/customers/{customer['id']}/consents", json={"unsubscribed": True})
        assert response.status_code == 204
        [revoked] = legacy_activities(http, customer["id"])
        assert revoked["type"] == "customer.consents.revoked"
        assert changes(revoked) == {"unsubscribed": True}
        after = consents_of(http, customer["id"])
        assert after["email_unsubscribed"] is True
        assert revoked["data"]["customer"]["email_unsubscribed"] is True
        stored = after["system_metadata"]["consents"]["unsubscribed"]
        assert revoked["data"]["consents"]["unsubscribed"] == stored

    def test_unsubscribing_with_consents_defined_revokes_them_in_one_activity(
        self, http: httpx.Client, defined: tuple[str, str]
    ) -> None:
        news, sms = defined
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}/consents", json={"unsubscribed": True})
        [revoked] = legacy_activities(http, customer["id"])
        assert revoked["type"] == "customer.consents.revoked"
        assert changes(revoked) == {"unsubscribed": True, news: False, sms: False}

    def test_setting_what_is_set_records_nothing(
        self, http: httpx.Client, defined: tuple[str, str]
    ) -> None:
        news, _ = defined
        customer = create_customer(http)
        path = f"/v1/customers/{customer['id']}/consents"
        http.put(path, json={news: True})
        before = consents_of(http, customer["id"])
        for body in ({news: True}, {news: True, "unsubscribed": False}, {"unsubscribed": False}):
            assert http.put(path, json=body).status_code == 204
        assert [a["type"] for a in legacy_activities(http, customer["id"])] == [
            "customer.consents.given"
        ]
        after = consents_of(http, customer["id"])
        assert after["system_metadata"] == before["system_metadata"]
        assert after["updated_at"] == before["updated_at"]
        http.put(path, json={"unsubscribed": True})
        http.put(path, json={"unsubscribed": True})
        assert [a["type"] for a in legacy_activities(http, customer["id"])] == [
            "customer.consents.given",
            "customer.consents.revoked",
        ]

    def test_only_what_changes_is_listed(
        self, http: httpx.Client, defined: tuple[str, str]
    ) -> None:
        news, sms = defined
        customer = create_customer(http)
        path = f"/v1/customers/{customer['id']}/consents"
        http.put(path, json={"unsubscribed": True})
        http.put(path, json={news: True, sms: False})
        first, given = legacy_activities(http, customer["id"])
        assert first["type"] == "customer.consents.revoked"
        # sms was refused already; giving news clears unsubscribed.
        assert given["type"] == "customer.consents.given"
        assert changes(given) == {news: True, "unsubscribed": False}
        assert consents_of(http, customer["id"])["email_unsubscribed"] is False

    def test_client_side_changes_are_recorded_the_same_way(
        self,
        http: httpx.Client,
        server: RunningServer,
        project: Credentials,
        defined: tuple[str, str],
    ) -> None:
        customer = create_customer(http)
        key = make_client_key(server.db, project)
        for body in ({"unsubscribed": True}, {"unsubscribed": True}):
            response = httpx.put(
                f"{server.base_url}/client/v1/customers/{customer['source_id']}/consents",
                headers=key.headers(),
                json=body,
            )
            assert response.status_code == 204
        [revoked] = legacy_activities(http, customer["id"])
        assert revoked["type"] == "customer.consents.revoked"
        assert changes(revoked)["unsubscribed"] is True
        assert revoked["data"]["event_source"]["channel"] == "CLIENT_API"

    def test_no_other_write_sets_consents(self, http: httpx.Client) -> None:
        """Customer bodies (create, upsert, update, bulk) and CSV imports have no consents: a
        `system_metadata` or `unsubscribed` sent there changes nothing of them."""
        sneaky = {"system_metadata": {"consents": {"unsubscribed": {"value": True}}}}
        customer = create_customer(http, **sneaky)
        http.put(f"/v1/customers/{customer['id']}", json={"name": "x", **sneaky})
        http.post("/v1/customers", json={"source_id": customer["source_id"], **sneaky})
        bulk = http.post(
            "/v1/customers/bulk/async", json=[{"source_id": customer["source_id"], **sneaky}]
        )
        wait_done(http, bulk.json()["async_action_id"])
        csv = f"Source_id,unsubscribed\n{customer['source_id']},true\n"
        imported = http.post("/v1/customers/importCSV", files={"file": ("c.csv", csv)})
        wait_done(http, imported.json()["async_action_id"])
        after = consents_of(http, customer["id"])
        assert after["system_metadata"] == {}
        assert after["email_unsubscribed"] is False
        assert after["metadata"] == {"unsubscribed": True}
        assert legacy_activities(http, customer["id"]) == []
