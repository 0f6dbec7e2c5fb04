"""Orders through the official SDK, and the summary.orders they feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import NotFoundException

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, sdk_client
from tests.factories import create_customer


@pytest.fixture
def orders_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.OrdersApi(client)


def summary(http: httpx.Client, customer: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/v1/customers/{customer}").json()["summary"]["orders"]
    return body


def activity_types(http: httpx.Client, customer: str) -> list[str]:
    page = http.get(
        f"/v1/customers/{customer}/activity", params={"order": "created_at", "limit": 100}
    )
    return [a["type"] for a in page.json()["data"]]


def post_order(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/orders", json=body)
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


class TestCreateOrder:
    def test_sdk_create_get_update_list(
        self, orders_api: Any, customers_api: Any, http: httpx.Client
    ) -> None:
        created = orders_api.create_order(
            orders_create_request_body=voucherify.OrdersCreateRequestBody(
                source_id="order-1",
                customer=voucherify.Customer(source_id="buyer", name="Buyer"),
                items=[voucherify.OrderItem(product_id="prod_1", quantity=3, price=1500)],
                metadata={"channel": "web"},
            )
        )
        assert created.id.startswith("ord_")
        assert created.object == "order"
        assert created.status == "CREATED"
        assert created.amount == 4500
        assert created.items[0].object == "order_item"
        assert created.items[0].amount == 4500
        assert created.customer.object == "customer"
        buyer = customers_api.get_customer(customer_id="buyer")
        assert created.customer_id == buyer.id
        assert buyer.summary.orders.total_count == 0

        got = orders_api.get_order(order_id="order-1")
        assert got.id == created.id
        paid = orders_api.update_order(
            order_id=created.id,
            orders_update_request_body=voucherify.OrdersUpdateRequestBody(status="PAID"),
        )
        assert paid.status == "PAID"
        assert paid.metadata == {"channel": "web"}
        buyer = customers_api.get_customer(customer_id="buyer")
        assert buyer.summary.orders.total_amount == 4500
        assert buyer.summary.orders.total_count == 1
        assert buyer.summary.orders.last_order_amount == 4500
        assert buyer.summary.orders.last_order_date == created.created_at

        listed = orders_api.list_orders(limit=10, page=1)
        assert listed.object == "list"
        assert listed.data_ref == "orders"
        assert listed.total == 1
        assert [o.id for o in listed.orders] == [created.id]

    def test_upsert_by_source_id_and_id(self, http: httpx.Client) -> None:
        first = post_order(http, source_id="o-2", amount=100)
        again = post_order(http, source_id="o-2", metadata={"x": 1})
        assert again["id"] == first["id"]
        assert again["amount"] == 100
        assert again["metadata"] == {"x": 1}
        by_id = post_order(http, id=first["id"], amount=300)
        assert by_id["id"] == first["id"]
        assert by_id["amount"] == 300
        missing = http.post("/v1/orders", json={"id": "ord_missing"})
        assert missing.status_code == 404
        assert missing.json()["resource_type"] == "order"

    def test_unknown_order(self, orders_api: Any) -> None:
        with pytest.raises(NotFoundException):
            orders_api.get_order(order_id="nope")

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "SHIPPED"},
            {"amount": -1},
            {"amount": 1.5},
            {"items": [{"quantity": -2}]},
            {"items": [{"price": 10**15, "quantity": 10**6}]},
            {"items": [{"related_object": "bundle"}]},
            {"items": [{}] * 501},
            {"customer": {"email": "nope"}},
            {"metadata": {"k": "a\u0000"}},
        ],
    )
    def test_bad_orders(self, http: httpx.Client, body: dict[str, Any]) -> None:
        response = http.post("/v1/orders", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["key"] == "invalid_payload"
        assert http.get("/v1/orders").json()["total"] == 0


class TestSummaryOrders:
    def test_every_status_transition(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        order = post_order(http, amount=1000, customer={"id": customer["id"]})
        assert summary(http, customer["id"])["total_count"] == 0
        for status, count, amount in [
            ("PAID", 1, 1000),
            ("FULFILLED", 1, 1000),
            ("CANCELED", 0, 0),
            ("CREATED", 0, 0),
            ("FULFILLED", 1, 1000),
        ]:
            http.put(f"/v1/orders/{order['id']}", json={"status": status})
            current = summary(http, customer["id"])
            assert (current["total_count"], current["total_amount"]) == (count, amount), status
        assert activity_types(http, customer["id"]) == [
            "customer.created",
            "customer.order.created",
            "customer.order.updated",
            "customer.order.paid",
            "customer.order.updated",
            "customer.order.fulfilled",
            "customer.order.updated",
            "customer.order.canceled",
            "customer.order.updated",
            "customer.order.updated",
            "customer.order.fulfilled",
        ]

    def test_amount_changes_move_totals_by_the_difference(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        a = post_order(http, amount=1000, status="PAID", customer={"id": customer["id"]})
        post_order(http, amount=2001, status="PAID", customer={"id": customer["id"]})
        assert summary(http, customer["id"])["average_amount"] == 1500
        http.put(f"/v1/orders/{a['id']}", json={"amount": 1500})
        current = summary(http, customer["id"])
        assert current["total_amount"] == 3501
        assert current["average_amount"] == 1750
        assert current["last_order_amount"] == 2001

    def test_discounts_count_what_is_paid(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        order = post_order(
            http,
            status="PAID",
            discount_amount=200,
            customer={"id": customer["id"]},
            items=[{"quantity": 1, "price": 1000, "discount_amount": 100}],
        )
        assert order["total_amount"] == 700
        assert order["total_discount_amount"] == 300
        assert summary(http, customer["id"])["total_amount"] == 700

    def test_last_order_follows_the_latest_counted(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        older = post_order(
            http,
            amount=10,
            status="PAID",
            customer={"id": customer["id"]},
            created_at="2024-01-01T00:00:00Z",
        )
        newer = post_order(http, amount=20, status="PAID", customer={"id": customer["id"]})
        assert summary(http, customer["id"])["last_order_amount"] == 20
        http.put(f"/v1/orders/{newer['id']}", json={"status": "CANCELED"})
        current = summary(http, customer["id"])
        assert current["last_order_amount"] == 10
        assert current["last_order_date"] == older["created_at"]
        http.put(f"/v1/orders/{older['id']}", json={"status": "CANCELED"})
        assert "last_order_date" not in summary(http, customer["id"])

    def test_moving_an_order_to_another_customer(self, http: httpx.Client) -> None:
        first = create_customer(http)
        second = create_customer(http)
        order = post_order(http, amount=500, status="PAID", customer={"id": first["id"]})
        http.put(f"/v1/orders/{order['id']}", json={"customer": {"id": second["id"]}})
        assert summary(http, first["id"])["total_amount"] == 0
        assert summary(http, second["id"])["total_amount"] == 500

    def test_permanent_deletion_erases_the_customers_orders(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        post_order(http, amount=5, status="PAID", customer={"id": customer["id"]})
        post_order(http, amount=5, customer={"id": customer["id"]})
        result = http.post(f"/v1/customers/{customer['id']}/permanent-deletion").json()
        assert result["data_json"]["orders"] == 2
        assert http.get("/v1/orders").json()["total"] == 0


async def _post_all(server: RunningServer, project: Credentials, bodies: list[Any]) -> list[Any]:
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers=auth_headers(project),
        timeout=120,
        limits=httpx.Limits(max_connections=64),
    ) as client:
        return await asyncio.gather(*(client.post("/v1/orders", json=b) for b in bodies))


class TestConcurrentOrders:
    def test_200_orders_for_one_customer_leave_exact_totals(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        bodies = [
            {"amount": n + 1, "status": "PAID", "customer": {"source_id": "busy"}}
            for n in range(200)
        ]
        responses = asyncio.run(_post_all(server, project, bodies))
        assert {r.status_code for r in responses} == {200}
        current = summary(http, "busy")
        assert current["total_count"] == 200
        assert current["total_amount"] == sum(range(1, 201))
        latest = max(responses, key=lambda r: (r.json()["created_at"], r.json()["id"])).json()
        assert current["last_order_amount"] == latest["amount"]

    def test_one_order_posted_16_times_at_once_counts_once(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        body = {
            "source_id": "dup-order",
            "amount": 700,
            "status": "PAID",
            "customer": {"source_id": "dup-buyer"},
        }
        responses = asyncio.run(_post_all(server, project, [body] * 16))
        assert {r.status_code for r in responses} == {200}
        assert len({r.json()["id"] for r in responses}) == 1
        current = summary(http, "dup-buyer")
        assert (current["total_count"], current["total_amount"]) == (1, 700)
        assert activity_types(http, "dup-buyer").count("customer.order.paid") == 1


class TestImportOrders:
    def test_sdk_import_without_activities(self, orders_api: Any, http: httpx.Client) -> None:
        customer = create_customer(http)
        items = [
            voucherify.OrdersImportCreateRequestBodyItem(
                source_id=f"hist-{n}",
                amount=100 * (n + 1),
                status="FULFILLED",
                customer=voucherify.Customer(id=customer["id"]),
                created_at=datetime(2020, 1, n + 1, tzinfo=UTC),
            )
            for n in range(3)
        ] + [voucherify.OrdersImportCreateRequestBodyItem(id="ord_missing")]
        accepted = orders_api.import_orders(orders_import_create_request_body_item=items)
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "ORDERS.IMPORT"
        assert action["result"]["done_count"] == 3
        assert action["result"]["failed_count"] == 1
        current = summary(http, customer["id"])
        assert (current["total_count"], current["total_amount"]) == (3, 600)
        assert current["last_order_date"] == "2020-01-03T00:00:00.000Z"
        assert activity_types(http, customer["id"]) == ["customer.created"]

    def test_more_than_2000_is_refused(self, http: httpx.Client) -> None:
        response = http.post("/v1/orders/import", json=[{}] * 2001)
        assert response.status_code == 400


class TestListOrders:
    def test_pages_and_orderings(self, http: httpx.Client) -> None:
        ids = [post_order(http, amount=n)["id"] for n in range(5)]
        newest = http.get("/v1/orders", params={"limit": 2}).json()
        assert [o["id"] for o in newest["orders"]] == [ids[4], ids[3]]
        assert newest["total"] == 5
        oldest = http.get("/v1/orders", params={"limit": 2, "page": 3, "order": "created_at"})
        assert [o["id"] for o in oldest.json()["orders"]] == [ids[4]]
        assert http.get("/v1/orders", params={"order": "amount"}).status_code == 400
        assert http.get("/v1/orders", params={"page": 101}).status_code == 400


class TestReviewedEdges:
    @pytest.mark.parametrize(
        "created_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1850-01-01"]
    )
    def test_dates_out_of_range_are_400(self, http: httpx.Client, created_at: str) -> None:
        response = http.post("/v1/orders", json={"amount": 1, "created_at": created_at})
        assert response.status_code == 400
        assert ".created_at" in response.json()["details"]

    def test_a_bad_row_in_an_import_fails_alone(self, http: httpx.Client) -> None:
        rows = [
            {"source_id": "fine", "amount": 5},
            {"source_id": "bad-date", "created_at": "1850-01-01T00:00:00Z"},
        ]
        action = wait_done(
            http, http.post("/v1/orders/import", json=rows).json()["async_action_id"]
        )
        assert action["result"]["done_count"] == 1
        assert action["result"]["failed_count"] == 1

    def test_totals_beyond_64_bits_render_as_integers(
        self, http: httpx.Client, server: RunningServer, customers_api: Any
    ) -> None:
        customer = create_customer(http)
        server.db.fetch(
            "UPDATE customers SET orders_total_amount = $2, orders_total_count = 10 WHERE id = $1",
            customer["id"],
            10**20,
        )
        assert summary(http, customer["id"])["total_amount"] == 10**20
        assert (
            customers_api.get_customer(customer_id=customer["id"]).summary.orders.total_amount
            == 10**20
        )

    def test_order_of_a_deleted_customer_can_still_change(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        order = post_order(http, amount=5, customer={"id": customer["id"]})
        http.delete(f"/v1/customers/{customer['id']}")
        response = http.put(f"/v1/orders/{order['id']}", json={"status": "PAID"})
        assert response.status_code == 200
        assert response.json()["status"] == "PAID"

    def test_concurrent_swaps_and_deletes_never_fail(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        a, b = create_customer(http), create_customer(http)
        first = post_order(
            http, source_id="swap-1", amount=10, status="PAID", customer={"id": a["id"]}
        )
        second = post_order(
            http, source_id="swap-2", amount=20, status="PAID", customer={"id": b["id"]}
        )

        async def storm() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=auth_headers(project), timeout=120
            ) as client:
                calls = []
                for n in range(12):
                    one, two = (a, b) if n % 2 else (b, a)
                    calls.append(
                        client.put(
                            f"/v1/orders/{first['id']}", json={"customer": {"id": one["id"]}}
                        )
                    )
                    calls.append(
                        client.put(
                            f"/v1/orders/{second['id']}", json={"customer": {"id": two["id"]}}
                        )
                    )
                    calls.append(
                        client.post(
                            "/v1/orders",
                            json={
                                "amount": 1,
                                "customer": {"id": a["id"]},
                                "referrer": {"source_id": f"new-referrer-{n}"},
                            },
                        )
                    )
                calls.append(client.delete(f"/v1/customers/{b['id']}"))
                return await asyncio.gather(*calls)

        responses = asyncio.run(storm())
        assert all(r.status_code < 500 for r in responses), [
            r.text for r in responses if r.status_code >= 500
        ]
        check = subprocess_check(server)
        assert project.project_id not in check


def subprocess_check(server: RunningServer) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env["PATRON_DATABASE_URL"] = server.db.dsn
    result = subprocess.run(
        [sys.executable, "-m", "patron", "summaries", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout
