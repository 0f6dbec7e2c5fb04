"""The customers API, driven through the official Python SDK and, where it falls short, httpx."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, NotFoundException

from patron.projects.service import Credentials
from tests.conftest import RunningServer
from tests.factories import create_customer, customer_body, scroll

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

ZERO_SUMMARY = {
    "redemptions": {
        "total_redeemed": 0,
        "total_failed": 0,
        "total_succeeded": 0,
        "total_rolled_back": 0,
        "total_rollback_failed": 0,
        "total_rollback_succeeded": 0,
        "gift": {"redeemed_amount": 0, "amount_to_go": 0},
        "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
    },
    "orders": {"total_amount": 0, "total_count": 0, "average_amount": 0, "last_order_amount": 0},
}


def error_body(exc: ApiException) -> dict[str, Any]:
    assert exc.body is not None
    body: dict[str, Any] = json.loads(exc.body)
    return body


class TestCreateCustomer:
    def test_sdk_create_returns_the_full_customer_object(self, customers_api: Any) -> None:
        body = customer_body()
        created = customers_api.create_customer(
            customers_create_request_body=voucherify.CustomersCreateRequestBody.from_dict(body)
        )
        assert created.id.startswith("cust_")
        assert len(created.id) == 29
        assert created.object == "customer"
        assert created.source_id == body["source_id"]
        assert created.name == "Bob Smith"
        assert created.birthdate == date(1990, 1, 31)
        assert created.address.city == "New York"
        assert created.metadata == {"lang": "en", "test": True}
        assert created.summary.orders.total_amount == 0
        assert created.loyalty.points == 0
        assert created.referrals.total == 0

    def test_wire_format_matches_the_contract(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers", json=customer_body())
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        customer = response.json()
        assert customer["summary"] == ZERO_SUMMARY
        assert customer["loyalty"] == {"points": 0, "referred_customers": 0, "campaigns": {}}
        assert customer["referrals"] == {"total": 0, "campaigns": []}
        assert customer["system_metadata"] == {}
        assert customer["birthdate"] == "1990-01-31"
        assert ISO_MS.match(customer["created_at"])
        assert customer["updated_at"] is None
        # `null` with no URL, as the live API answers (PHP SDK `createdCustomer.json`, Java SDK
        # `CreatedCustomer.snapshot.json`).
        assert customer["assets"] is None
        assert customer["object"] == "customer"

    def test_without_identifiers_creates_an_anonymous_customer(self, http: httpx.Client) -> None:
        first = http.post("/v1/customers", json={"name": "Anon"}).json()
        second = http.post("/v1/customers", json={"name": "Anon"}).json()
        assert first["source_id"] is None
        assert first["id"] != second["id"]

    def test_empty_object_creates_a_customer(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers", json={})
        assert response.status_code == 200
        # The live API leaves out a metadata never set (JS SDK `customers.spec.ts`, "Should not
        # return metadata after creating new customer"), and answers `address: null` ("Should
        # return address equal to null after creating new customer").
        assert "metadata" not in response.json()
        assert response.json()["address"] is None

    def test_existing_source_id_updates_only_sent_fields(self, http: httpx.Client) -> None:
        original = create_customer(http)
        response = http.post(
            "/v1/customers", json={"source_id": original["source_id"], "name": "Robert"}
        )
        assert response.status_code == 200
        updated = response.json()
        assert updated["id"] == original["id"]
        assert updated["name"] == "Robert"
        assert updated["email"] == original["email"]
        assert updated["address"] == original["address"]
        assert updated["metadata"] == original["metadata"]
        assert ISO_MS.match(updated["updated_at"])
        assert updated["created_at"] == original["created_at"]

    def test_id_wins_over_source_id(self, http: httpx.Client) -> None:
        first = create_customer(http)
        second = create_customer(http)
        response = http.post(
            "/v1/customers",
            json={"id": first["id"], "source_id": second["source_id"], "name": "By id"},
        )
        assert response.status_code == 200
        assert response.json()["id"] == first["id"]
        assert response.json()["source_id"] == first["source_id"]
        assert http.get(f"/v1/customers/{second['id']}").json()["name"] == "Bob Smith"

    def test_unknown_id_is_not_found(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers", json={"id": "cust_missing", "name": "x"})
        assert response.status_code == 404
        body = response.json()
        assert body["resource_id"] == "cust_missing"
        assert body["resource_type"] == "customer"

    def test_identical_upsert_changes_nothing(self, http: httpx.Client) -> None:
        body = customer_body()
        created = http.post("/v1/customers", json=body).json()
        again = http.post("/v1/customers", json=body).json()
        assert again == created
        activity = http.get(f"/v1/customers/{created['id']}/activity").json()
        assert [a["type"] for a in activity["data"]] == ["customer.created"]

    def test_birthday_alias_is_kept_apart(self, http: httpx.Client) -> None:
        customer = create_customer(http, birthday="1985-05-06")
        assert customer["birthday"] == "1985-05-06"
        assert customer["birthdate"] == "1990-01-31"


class TestGetCustomer:
    @pytest.mark.parametrize(
        "source_id",
        ["alice.morgan@email.com", "a+b@example.com", "with/slash", "with space", "zażółć?#&%"],
    )
    def test_by_id_or_awkward_source_id(self, customers_api: Any, source_id: str) -> None:
        created = customers_api.create_customer(
            customers_create_request_body=voucherify.CustomersCreateRequestBody(
                source_id=source_id, name="Alice"
            )
        )
        assert created.source_id == source_id
        by_id = customers_api.get_customer(customer_id=created.id)
        by_source = customers_api.get_customer(customer_id=source_id)
        assert by_id.id == by_source.id == created.id

    def test_unknown_customer_is_a_404_in_voucherify_shape(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        with pytest.raises(NotFoundException) as caught:
            customers_api.get_customer(customer_id="someone@example.com")
        body = error_body(caught.value)
        assert body["code"] == 404
        assert body["key"] == "not_found"
        assert body["message"] == "Resource not found"
        assert body["details"] == "Cannot find customer with id someone@example.com"
        assert body["resource_id"] == "someone@example.com"
        assert body["resource_type"] == "customer"
        assert re.match(r"^v-[0-9a-f]{18}$", body["request_id"])

        response = http.get("/v1/customers/cust_nope")
        assert response.json()["request_id"] == response.headers["x-request-id"]


class TestUpdateCustomer:
    def test_sdk_update_changes_only_sent_fields(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        created = create_customer(http)
        updated = customers_api.update_customer(
            customer_id=created["source_id"],
            customers_update_request_body=voucherify.CustomersUpdateRequestBody(
                name="Robert Smith", metadata={"lang": "pl"}
            ),
        )
        assert updated.id == created["id"]
        assert updated.name == "Robert Smith"
        assert updated.metadata == {"lang": "pl"}
        assert updated.email == created["email"]
        assert updated.address.city == "New York"

    def test_explicit_null_clears_a_field(self, http: httpx.Client) -> None:
        created = create_customer(http)
        response = http.put(
            f"/v1/customers/{created['id']}",
            json={"address": None, "name": None, "metadata": None, "birthdate": None},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["address"] is None
        assert body["name"] is None
        assert "metadata" not in body  # cleared: left out, as a customer without any is
        assert body["birthdate"] is None
        assert body["email"] == created["email"]

    def test_sdk_explicit_none_clears_a_field(self, customers_api: Any, http: httpx.Client) -> None:
        created = create_customer(http)
        request = voucherify.CustomersUpdateRequestBody(address=None)
        updated = customers_api.update_customer(
            customer_id=created["id"], customers_update_request_body=request
        )
        assert updated.address is None
        assert updated.name == created["name"]

    def test_source_id_in_the_body_is_ignored(self, http: httpx.Client) -> None:
        created = create_customer(http)
        response = http.put(
            f"/v1/customers/{created['source_id']}",
            json={"source_id": "changed", "name": "JS SDK style"},
        )
        assert response.status_code == 200
        assert response.json()["source_id"] == created["source_id"]
        assert response.json()["name"] == "JS SDK style"

    def test_unknown_customer(self, http: httpx.Client) -> None:
        response = http.put("/v1/customers/nobody", json={"name": "x"})
        assert response.status_code == 404
        assert response.json()["resource_id"] == "nobody"


class TestDeleteCustomer:
    def test_sdk_delete_then_gone_from_every_read(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        created = create_customer(http, email="gone@example.com")
        assert customers_api.delete_customer(customer_id=created["id"]) is None
        with pytest.raises(NotFoundException):
            customers_api.get_customer(customer_id=created["id"])
        with pytest.raises(NotFoundException):
            customers_api.get_customer(customer_id=created["source_id"])
        assert http.get(f"/v1/customers/{created['id']}/activity").status_code == 404
        listed = http.get("/v1/customers", params={"email": "gone@example.com"}).json()
        assert listed["customers"] == []
        assert listed["total"] == 0
        assert http.get("/v1/customers").json()["total"] == 0
        assert http.put(f"/v1/customers/{created['id']}", json={"name": "x"}).status_code == 404
        assert http.delete(f"/v1/customers/{created['id']}").status_code == 404

    def test_delete_answers_204_without_body(self, http: httpx.Client) -> None:
        created = create_customer(http)
        response = http.delete(f"/v1/customers/{created['source_id']}")
        assert response.status_code == 204
        assert response.content == b""

    def test_source_id_can_name_a_new_customer(self, http: httpx.Client) -> None:
        created = create_customer(http)
        http.delete(f"/v1/customers/{created['id']}")
        again = create_customer(http, source_id=created["source_id"])
        assert again["id"] != created["id"]
        assert http.get(f"/v1/customers/{created['source_id']}").json()["id"] == again["id"]


class TestPermanentDeletion:
    def test_sdk_permanent_deletion_erases_customer_and_activities(
        self, customers_api: Any, http: httpx.Client, server: RunningServer
    ) -> None:
        created = create_customer(http)
        http.put(f"/v1/customers/{created['id']}", json={"name": "Second"})
        result = customers_api.customer_permanently_deletion(customer_id=created["source_id"])
        assert result.id.startswith("del_")
        assert result.object == "pernament_deletion"
        assert result.related_object == "customer"
        assert result.related_object_id == created["id"]
        assert result.status == "DONE"
        assert result.data_json.customer == 1
        assert result.data_json.customer_events == 2
        assert result.data_json.orders == 0
        assert (
            server.db.fetchval(
                "SELECT count(*) FROM customer_activities WHERE customer_id = $1", created["id"]
            )
            == 0
        )
        assert (
            server.db.fetchval("SELECT count(*) FROM customers WHERE id = $1", created["id"]) == 0
        )
        with pytest.raises(NotFoundException):
            customers_api.get_customer(customer_id=created["id"])
        reborn = create_customer(http, source_id=created["source_id"])
        assert reborn["id"] != created["id"]
        activity = http.get(f"/v1/customers/{reborn['id']}/activity").json()
        assert [a["type"] for a in activity["data"]] == ["customer.created"]

    def test_erases_an_already_deleted_customer(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        created = create_customer(http)
        http.delete(f"/v1/customers/{created['id']}")
        response = http.post(f"/v1/customers/{created['source_id']}/permanent-deletion")
        assert response.status_code == 200
        assert response.json()["data_json"]["customer_events"] == 2
        assert (
            server.db.fetchval(
                "SELECT count(*) FROM customer_activities WHERE customer_id = $1", created["id"]
            )
            == 0
        )
        assert http.get("/v1/customers").json()["total"] == 0

    def test_by_source_id_erases_every_customer_that_had_it(
        self, http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        first = create_customer(http, source_id="gdpr@example.com")
        http.delete(f"/v1/customers/{first['id']}")
        second = create_customer(http, source_id="gdpr@example.com")
        http.delete(f"/v1/customers/{second['id']}")
        third = create_customer(http, source_id="gdpr@example.com")
        response = http.post("/v1/customers/gdpr@example.com/permanent-deletion")
        assert response.status_code == 200
        body = response.json()
        assert body["related_object_id"] == third["id"]
        assert body["data_json"]["customer"] == 3
        assert body["data_json"]["customer_events"] == 5
        assert (
            server.db.fetchval(
                "SELECT count(*) FROM customers WHERE project_id = $1 AND source_id = $2",
                project.project_id,
                "gdpr@example.com",
            )
            == 0
        )
        assert (
            server.db.fetchval(
                "SELECT count(*) FROM customer_activities"
                " WHERE project_id = $1 AND data::text LIKE '%gdpr@example.com%'",
                project.project_id,
            )
            == 0
        )
        assert http.get("/v1/customers").json()["total"] == 0

    def test_unknown_customer(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers/nobody/permanent-deletion")
        assert response.status_code == 404
        assert response.json()["resource_type"] == "customer"


def _ids(page: dict[str, Any]) -> list[str]:
    return [c["id"] for c in page["customers"]]


class TestListCustomers:
    def test_sdk_list_with_email_filter(self, customers_api: Any, http: httpx.Client) -> None:
        target = create_customer(http, email="bob@example.com")
        create_customer(http, email="other@example.com")
        page = customers_api.list_customers(
            limit=10,
            page=1,
            email="bob@example.com",
            order=voucherify.ParameterOrderListCustomers.MINUS_CREATED_AT,
        )
        assert page.object == "list"
        assert page.data_ref == "customers"
        assert [c.id for c in page.customers] == [target["id"]]
        assert page.total == 1
        assert page.has_more is False

    def test_default_is_newest_first_ten(self, http: httpx.Client) -> None:
        created = [create_customer(http)["id"] for _ in range(12)]
        page = http.get("/v1/customers").json()
        assert _ids(page) == list(reversed(created))[:10]
        assert page["total"] == 12
        assert page["has_more"] is True

    def test_pages_and_has_more(self, http: httpx.Client) -> None:
        created = [create_customer(http)["id"] for _ in range(5)]
        pages = [
            http.get("/v1/customers", params={"limit": 2, "page": n, "order": "created_at"}).json()
            for n in (1, 2, 3, 4)
        ]
        assert [_ids(p) for p in pages] == [created[0:2], created[2:4], created[4:5], []]
        assert [p["has_more"] for p in pages] == [True, True, False, False]
        assert {p["total"] for p in pages} == {5}

    def test_city_and_name_filters(self, http: httpx.Client) -> None:
        warsaw = create_customer(http, name="Ann", address={"city": "Warsaw"})
        create_customer(http, name="Ann", address={"city": "Paris"})
        create_customer(http, name="Tom", address={"city": "Warsaw"})
        assert (
            http.get("/v1/customers", params={"city": "Warsaw", "name": "Ann"}).json()["customers"][
                0
            ]["id"]
            == warsaw["id"]
        )
        assert http.get("/v1/customers", params={"city": "Warsaw"}).json()["total"] == 2
        assert http.get("/v1/customers", params={"name": "Ann"}).json()["total"] == 2

    def test_sdk_date_filters(self, customers_api: Any, http: httpx.Client) -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        created = create_customer(http)
        after = datetime.now(UTC) + timedelta(seconds=1)
        found = customers_api.list_customers(created_at_after=before, created_at_before=after)
        assert [c.id for c in found.customers] == [created["id"]]
        naive = customers_api.list_customers(created_at_after=before.replace(tzinfo=None))
        assert naive.total == 1
        assert customers_api.list_customers(created_at_before=before).total == 0
        assert customers_api.list_customers(updated_at_after=before).total == 0
        http.put(f"/v1/customers/{created['id']}", json={"name": "changed"})
        assert customers_api.list_customers(updated_at_after=before).total == 1
        assert customers_api.list_customers(updated_at_before=before).total == 0

    @pytest.mark.parametrize(
        "value",
        [
            "2016-11-16",
            "2016-11-16T00:00:00Z",
            "2016-11-16T00:00:00.000Z",
            "2016-11-16T00:00:00.000000+0000",
            "2016-11-16T01:00:00+01:00",
            "2016-11-16T00:00:00.000000",
        ],
    )
    def test_every_date_form_the_sdks_send(self, http: httpx.Client, value: str) -> None:
        create_customer(http)
        response = http.get("/v1/customers", params={"created_at[after]": value})
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 1
        encoded = http.get(f"/v1/customers?created_at%5Bbefore%5D={value.replace('+', '%2B')}")
        assert encoded.status_code == 200
        assert encoded.json()["total"] == 0

    @pytest.mark.parametrize(
        ("order", "key", "reverse"),
        [
            ("created_at", "created_at", False),
            ("-created_at", "created_at", True),
            ("source_id", "source_id", False),
            ("-source_id", "source_id", True),
        ],
    )
    def test_orders(self, http: httpx.Client, order: str, key: str, reverse: bool) -> None:
        for source_id in ("b-2", "c-3", "a-1"):
            create_customer(http, source_id=source_id)
        page = http.get("/v1/customers", params={"order": order}).json()["customers"]
        values = [c[key] for c in page]
        assert values == sorted(values, reverse=reverse)

    def test_order_by_updated_at(self, http: httpx.Client) -> None:
        first, second, third = (create_customer(http) for _ in range(3))
        http.put(f"/v1/customers/{second['id']}", json={"name": "x"})
        http.put(f"/v1/customers/{first['id']}", json={"name": "y"})
        newest = _ids(http.get("/v1/customers", params={"order": "-updated_at"}).json())
        assert newest == [first["id"], second["id"], third["id"]]
        oldest = _ids(http.get("/v1/customers", params={"order": "updated_at"}).json())
        assert oldest == [third["id"], second["id"], first["id"]]

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"limit": "ten"},
            {"page": 0},
            {"page": 100},
            {"order": "name"},
            {"created_at[before]": "yesterday"},
            {"updated_at[after]": "2021-02-30"},
            {"starting_after": "2021-13-01T00:00:00Z"},
        ],
    )
    def test_bad_query_values(self, http: httpx.Client, params: dict[str, Any]) -> None:
        response = http.get("/v1/customers", params=params)
        assert response.status_code == 400
        body = response.json()
        assert body["key"] == "invalid_query_params"
        assert next(iter(params)) in body["details"]


class TestScrollContract:
    def test_both_directions_see_every_customer_exactly_once(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        # Created concurrently, so many land in the same millisecond of wall time. Patron dates
        # them apart while one of the last 8 milliseconds is free, and pages never end inside
        # a millisecond; a page of one could still split two customers of one millisecond
        # (README, "What lists and scrolls guarantee"), hence no limit of 1 here.
        with httpx.Client(base_url=server.base_url, headers=http.headers) as client:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                created = set(
                    pool.map(
                        lambda _: client.post("/v1/customers", json={"name": "s"}).json()["id"],
                        range(23),
                    )
                )
        for limit in (4, 10):
            descending = scroll(http, ascending=False, limit=limit)
            ascending = scroll(http, ascending=True, limit=limit)
            assert len(descending) == len(set(descending)) == 23
            assert set(descending) == created
            assert ascending == list(reversed(descending))

    def test_cursor_direction_follows_order(self, http: httpx.Client) -> None:
        first, second, third = (create_customer(http) for _ in range(3))
        middle = second["created_at"]
        before = http.get("/v1/customers", params={"starting_after": middle}).json()
        assert _ids(before) == [first["id"]]
        assert before["total"] == 3
        after = http.get(
            "/v1/customers", params={"starting_after": middle, "order": "created_at"}
        ).json()
        assert _ids(after) == [third["id"]]
