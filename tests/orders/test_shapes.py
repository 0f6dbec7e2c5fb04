"""What an order shows for what was never set, as Voucherify's recorded live responses show it.

The PHP SDK's `__tests__/snapshots/orders/createdOrder.json` and the Java SDK's
`snapshots/Orders/CreatedOrder.snapshot.json` hold `null` for the order's `metadata`,
`items_discount_amount` and `total_discount_amount` (what their models show for a missing key;
a sent `{}` shows as `{}` there), and the spec's order example leaves them out. The calls go
through the Python SDK, which must still parse the answer; the raw body tells "left out".
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client


@pytest.fixture
def orders_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.OrdersApi(client)


def create_raw(orders_api: Any, **fields: Any) -> dict[str, Any]:
    response = orders_api.create_order_without_preload_content(
        orders_create_request_body=voucherify.OrdersCreateRequestBody(**fields)
    )
    assert response.status == 200
    body: dict[str, Any] = json.loads(response.data)
    voucherify.OrdersCreateResponseBody.from_json(response.data.decode())  # the SDK parses it
    return body


ITEM = voucherify.OrderItem(product_id="p1", quantity=1, price=10000)


class TestNeverSetFields:
    def test_metadata_and_discount_totals_are_left_out(self, orders_api: Any) -> None:
        body = create_raw(orders_api, amount=10000, items=[ITEM])
        assert "metadata" not in body
        assert "items_discount_amount" not in body
        assert "total_discount_amount" not in body
        assert body["total_amount"] == 10000
        assert body["items"] == [
            {
                "object": "order_item",
                "product_id": "p1",
                "quantity": 1,
                "price": 10000,
                "amount": 10000,
                "subtotal_amount": 10000,
            }
        ]

    def test_metadata_sent_is_shown(self, orders_api: Any) -> None:
        body = create_raw(orders_api, amount=100, metadata={"shop": "a"})
        assert body["metadata"] == {"shop": "a"}

    def test_an_order_discount_shows_the_totals(self, orders_api: Any) -> None:
        body = create_raw(orders_api, amount=1000, discount_amount=100)
        assert (body["items_discount_amount"], body["total_discount_amount"]) == (0, 100)
        assert body["total_amount"] == 900

    def test_an_item_discount_shows_the_totals(self, orders_api: Any) -> None:
        item = voucherify.OrderItem(product_id="p1", quantity=1, amount=1000, discount_amount=50)
        body = create_raw(orders_api, items=[item])
        assert (body["items_discount_amount"], body["total_discount_amount"]) == (50, 50)

    def test_get_and_list_show_the_same(self, orders_api: Any, http: httpx.Client) -> None:
        created = create_raw(orders_api, amount=100)
        got = http.get(f"/v1/orders/{created['id']}").json()
        assert got == created
        assert http.get("/v1/orders").json()["orders"] == [created]
        assert orders_api.get_order(created["id"]).metadata is None
