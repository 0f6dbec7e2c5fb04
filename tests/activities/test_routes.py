"""The activity timeline: recorded with every change, listed by the SDK and the legacy endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import NotFoundException

from patron.projects.service import Credentials
from tests.factories import create_customer


def _types(page: dict[str, Any]) -> list[str]:
    return [activity["type"] for activity in page["data"]]


class TestRecordedActivities:
    def test_created_updated_deleted_with_snapshot_and_source(
        self, http: httpx.Client, project: Credentials
    ) -> None:
        response = http.post("/v1/customers", json={"source_id": "s-1", "name": "First"})
        created_request = response.headers["x-request-id"]
        customer = response.json()
        update = http.put(f"/v1/customers/{customer['id']}", json={"name": "Second"})
        page = http.get(f"/v1/customers/{customer['id']}/activity", params={"order": "created_at"})
        created, updated = page.json()["data"]
        assert created["type"] == "customer.created"
        assert created["id"].startswith("evcus_")
        assert len(created["id"]) == 24
        assert created["group_id"] == created_request
        assert created["data"]["customer"]["name"] == "First"
        assert created["data"]["customer"]["id"] == customer["id"]
        assert created["data"]["event_source"] == {
            "channel": "API",
            "api_key": {"name": "server", "app_id": project.app_id},
        }
        assert updated["type"] == "customer.updated"
        assert updated["group_id"] == update.headers["x-request-id"]
        assert updated["data"]["customer"]["name"] == "Second"

    def test_deleted_activity_is_written_with_the_deletion(
        self, http: httpx.Client, server: Any
    ) -> None:
        customer = create_customer(http)
        http.delete(f"/v1/customers/{customer['id']}")
        rows = server.db.fetch(
            "SELECT type, data FROM customer_activities WHERE customer_id = $1 ORDER BY seq",
            customer["id"],
        )
        assert [row["type"] for row in rows] == ["customer.created", "customer.deleted"]


class TestListCustomerActivity:
    def test_sdk_pages_with_starting_after_id(self, customers_api: Any, http: httpx.Client) -> None:
        customer = create_customer(http)
        for n in range(4):
            http.put(f"/v1/customers/{customer['id']}", json={"name": f"n{n}"})
        seen: list[str] = []
        cursor = None
        while True:
            page = customers_api.list_customer_activity(
                customer_id=customer["source_id"], limit=2, starting_after_id=cursor
            )
            assert page.object == "list"
            assert page.data_ref == "data"
            seen += [activity.id for activity in page.data]
            if not page.has_more:
                break
            cursor = page.more_starting_after
        everything = http.get(
            f"/v1/customers/{customer['id']}/activity", params={"limit": 100}
        ).json()
        assert seen == [a["id"] for a in everything["data"]]
        assert len(seen) == 5
        assert _types(everything) == ["customer.updated"] * 4 + ["customer.created"]

    def test_sdk_filters_by_type_category_and_dates(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}", json={"name": "x"})
        page = customers_api.list_customer_activity(
            customer_id=customer["id"], type=voucherify.ParameterCustomerEvent("customer.created")
        )
        assert [a.type for a in page.data] == ["customer.created"]
        action = customers_api.list_customer_activity(
            customer_id=customer["id"], category=voucherify.ParameterActivityCategory("ACTION")
        )
        assert len(action.data) == 2
        effect = customers_api.list_customer_activity(
            customer_id=customer["id"], category=voucherify.ParameterActivityCategory("EFFECT")
        )
        assert effect.data == []
        future = datetime.now(UTC) + timedelta(minutes=1)
        assert (
            customers_api.list_customer_activity(customer_id=customer["id"], start_date=future).data
            == []
        )
        assert (
            len(
                customers_api.list_customer_activity(
                    customer_id=customer["id"], end_date=future
                ).data
            )
            == 2
        )
        assert (
            customers_api.list_customer_activity(
                customer_id=customer["id"], campaign_id="camp_x"
            ).data
            == []
        )

    def test_ascending_order(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}", json={"name": "x"})
        page = http.get(f"/v1/customers/{customer['id']}/activity", params={"order": "created_at"})
        assert _types(page.json()) == ["customer.created", "customer.updated"]
        assert page.json()["has_more"] is False
        assert "more_starting_after" not in page.json()

    def test_unknown_customer(self, customers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            customers_api.list_customer_activity(customer_id="nobody")

    @pytest.mark.parametrize(
        "params",
        [
            {"type": "customer.consents.given"},
            {"category": "BOTH"},
            {"limit": 0},
            {"order": "type"},
            {"start_date": "not-a-date"},
            {"starting_after_id": "evcus_nope"},
            {"campaign_type": "LOTTERY"},
        ],
    )
    def test_bad_query_values(self, http: httpx.Client, params: dict[str, str]) -> None:
        customer = create_customer(http)
        response = http.get(f"/v1/customers/{customer['id']}/activity", params=params)
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"

    def test_another_customers_activity_is_not_a_cursor(self, http: httpx.Client) -> None:
        first = create_customer(http)
        second = create_customer(http)
        foreign = http.get(f"/v1/customers/{second['id']}/activity").json()["data"][0]["id"]
        response = http.get(
            f"/v1/customers/{first['id']}/activity", params={"starting_after_id": foreign}
        )
        assert response.status_code == 400


class TestLegacyActivities:
    def test_total_and_pages(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        for n in range(3):
            http.put(f"/v1/customers/{customer['id']}", json={"name": f"n{n}"})
        page = http.get(
            f"/v1/customers/{customer['source_id']}/activities", params={"limit": 2}
        ).json()
        assert page["object"] == "list"
        assert page["data_ref"] == "data"
        assert page["total"] == 4
        assert len(page["data"]) == 2
        rest = http.get(
            f"/v1/customers/{customer['id']}/activities",
            params={"limit": 10, "starting_after_id": page["data"][-1]["id"]},
        ).json()
        assert len(rest["data"]) == 2
        assert rest["total"] == 4
        assert {a["id"] for a in page["data"]}.isdisjoint({a["id"] for a in rest["data"]})

    def test_order_by_type(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        http.put(f"/v1/customers/{customer['id']}", json={"name": "x"})
        page = http.get(f"/v1/customers/{customer['id']}/activities", params={"order": "-type"})
        assert _types(page.json()) == ["customer.updated", "customer.created"]

    def test_starting_after_date(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        page = http.get(
            f"/v1/customers/{customer['id']}/activities", params={"starting_after": future}
        )
        assert len(page.json()["data"]) == 1
        later = http.get(
            f"/v1/customers/{customer['id']}/activities",
            params={"starting_after": future, "order": "created_at"},
        )
        assert later.json()["data"] == []
