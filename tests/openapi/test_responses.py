"""Real responses of every kind, checked against the document and against the response type its
route names (the document's schema is derived from that type): what the fuzzer reaches rarely
(consents, order items, failed rows, segments with members) is covered here."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema

from patron.app import create_app
from patron.app import openapi_document as document
from patron.config import Settings
from patron.openapi.document import served
from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer
from tests.consents.test_routes import define
from tests.events.test_routes import ORIGIN, make_client_key
from tests.factories import create_customer, unique


@pytest.fixture(scope="module")
def schema() -> OpenApiSchema:
    return schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def response_types() -> dict[str, Any]:
    """Each operation's success response type, by operation id."""
    app = create_app(Settings(), "postgresql://unused")
    return {one.operation_id: one.operation.response for one in served(app.routes)}


class Checked:
    """An HTTP client whose every response must match the document's operation, and whose every
    success body must convert to the operation's response type (no property it does not name)."""

    def __init__(
        self, http: httpx.Client, schema: OpenApiSchema, response_types: dict[str, Any]
    ) -> None:
        self.http = http
        self.schema = schema
        self.response_types = response_types
        self.converted: set[str] = set()

    def __call__(self, method: str, template: str, path: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
        response.request.read()  # a multipart body is streamed; the check reads it
        operation = self.schema[template][method]
        operation.validate_response(response)
        kind = self.response_types[operation.definition.raw["operationId"]]
        if response.is_success and kind is not None:
            msgspec.convert(response.json(), kind, strict=False)
            self.converted.add(operation.definition.raw["operationId"])
        return response


@pytest.fixture
def call(http: httpx.Client, schema: OpenApiSchema, response_types: dict[str, Any]) -> Checked:
    return Checked(http, schema, response_types)


class TestResponsesMatchTheDocument:
    def test_customers_orders_and_activities(self, call: Checked, http: httpx.Client) -> None:
        customer = create_customer(http, email="doc@example.com")
        one = "/v1/customers/{customerId}"
        path = f"/v1/customers/{customer['id']}"
        item = {
            "product_id": "prod_1",
            "quantity": 2,
            "price": 500,
            "discount_amount": 100,
            "product": {"name": "Mug", "price": 500, "metadata": {"color": "red"}},
            "sku": {"sku": "MUG-R", "price": 500},
        }
        order = {
            "source_id": unique("ord"),
            "status": "PAID",
            "amount": 1000,
            "items": [item],
            "customer": {"id": customer["id"]},
            "referrer": {"source_id": unique("referrer")},
        }
        created = call("POST", "/v1/orders", "/v1/orders", json=order).json()
        call("GET", "/v1/orders/{orderId}", f"/v1/orders/{created['id']}")
        call(
            "PUT",
            "/v1/orders/{orderId}",
            f"/v1/orders/{created['id']}",
            json={"status": "FULFILLED"},
        )
        call("GET", "/v1/orders", "/v1/orders", params={"limit": 2})
        assert "last_order_date" in call("GET", one, path).json()["summary"]["orders"]
        call("PUT", one, path, json={"birthday": "1990-01-02", "address": None})
        call("GET", "/v1/customers", "/v1/customers", params={"email": "doc@example.com"})
        call("GET", one + "/activity", path + "/activity", params={"limit": 2})
        call("GET", one + "/activities", path + "/activities")
        call("POST", "/v1/events", "/v1/events", json={"event": "seen", "customer": customer})
        call("GET", one, f"/v1/customers/{unique()}")
        call("POST", "/v1/customers", "/v1/customers", json={"email": "not an address"})
        call(
            "POST",
            "/v1/customers",
            "/v1/customers",
            content=b"x",
            headers={"content-type": "text/plain"},
        )
        call("GET", "/v1/customers", "/v1/customers", params={"limit": 0})
        call("DELETE", one, path)
        call("POST", one + "/permanent-deletion", path + "/permanent-deletion")

    def test_consents(
        self, call: Checked, http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        news, _ = define(server, project)
        customer = create_customer(http)
        template = "/v1/customers/{customerId}/consents"
        path = f"/v1/customers/{customer['id']}/consents"
        call("PUT", template, path, json={news: True})
        call("PUT", template, path, json={"unknown": True})
        call("GET", "/v1/consents", "/v1/consents")
        activities = call(
            "GET",
            "/v1/customers/{customerId}/activities",
            f"/v1/customers/{customer['id']}/activities",
        ).json()
        assert any(a["type"].startswith("customer.consents.") for a in activities["data"])
        key = make_client_key(server.db, project)
        client = httpx.get(f"{server.base_url}/client/v1/consents", headers=key.headers(ORIGIN))
        call.schema["/client/v1/consents"]["GET"].validate_response(client)
        refused = httpx.get(
            f"{server.base_url}/client/v1/consents", headers=key.headers("https://evil.example")
        )
        assert refused.status_code == 403
        call.schema["/client/v1/consents"]["GET"].validate_response(refused)

    def test_async_actions_with_failed_rows(self, call: Checked) -> None:
        bulk = call(
            "POST",
            "/v1/customers/bulk/async",
            "/v1/customers/bulk/async",
            json=[{"source_id": unique()}, {"email": "no source id"}, None],
        ).json()
        metadata = call(
            "POST",
            "/v1/customers/metadata/async",
            "/v1/customers/metadata/async",
            json={"source_ids": [unique()], "metadata": {"a": 1}},
        ).json()
        csv = b"Source_id,Birthdate\nfine,1990-01-02\nbad,not-a-date\n"
        imported = call(
            "POST",
            "/v1/customers/importCSV",
            "/v1/customers/importCSV",
            files={"file": ("c.csv", csv)},
        ).json()
        orders = call(
            "POST",
            "/v1/orders/import",
            "/v1/orders/import",
            json=[{"source_id": unique(), "amount": 5}, {"created_at": "1850-01-01T00:00:00Z"}],
        ).json()
        for accepted in (bulk, metadata, imported, orders):
            wait_done(call.http, accepted["async_action_id"])
            call(
                "GET",
                "/v1/async-actions/{asyncActionId}",
                f"/v1/async-actions/{quote(accepted['async_action_id'])}",
            )
        call("GET", "/v1/async-actions", "/v1/async-actions", params={"limit": 5})

    def test_segments(self, call: Checked, http: httpx.Client) -> None:
        customer = create_customer(http, metadata={"tier": "gold"})
        static = call(
            "POST",
            "/v1/segments",
            "/v1/segments",
            json={"name": "vip", "type": "static", "customers": [customer["id"]]},
        ).json()
        dynamic = {
            "name": "gold",
            "type": "auto-update",
            "filter": {"junction": "and", "metadata.tier": {"conditions": {"$is": "gold"}}},
        }
        call("POST", "/v1/segments", "/v1/segments", json=dynamic)
        call("GET", "/v1/segments", "/v1/segments", params={"limit": 1})
        call("GET", "/v1/segments/{segmentId}", f"/v1/segments/{static['id']}")
        segments = call(
            "GET",
            "/v1/customers/{customerId}/segments",
            f"/v1/customers/{customer['id']}/segments",
        ).json()
        assert segments["total"] == 2
        call("GET", "/v1/customers", "/v1/customers", params={"segment_id": static["id"]})
        call("DELETE", "/v1/segments/{segmentId}", f"/v1/segments/{static['id']}")
        call("GET", "/v1/segments/{segmentId}", f"/v1/segments/{static['id']}")

    def test_validations_redemptions_and_rollbacks(self, call: Checked, http: httpx.Client) -> None:
        discount = {"type": "PERCENT", "percent_off": 10}
        code = http.post("/v1/vouchers", json={"discount": discount}).json()["code"]
        card = http.post("/v1/vouchers", json={"type": "GIFT_VOUCHER", "gift": {"amount": 900}})
        gift = card.json()["code"]
        item = {"product_id": "prod_1", "quantity": 2, "price": 500}
        body = {
            "redeemables": [
                {"object": "voucher", "id": code},
                {"object": "voucher", "id": gift, "gift": {"credits": 300}},
            ],
            "customer": {"source_id": unique("buyer")},
            "order": {"source_id": unique("ord"), "items": [item], "metadata": {"shop": "a"}},
            "metadata": {"till": 3},
        }
        validated = call("POST", "/v1/validations", "/v1/validations", json=body).json()
        assert validated["valid"] is True
        missing = {"redeemables": [{"object": "voucher", "id": unique("none")}]}
        assert call("POST", "/v1/validations", "/v1/validations", json=missing).json()[
            "inapplicable_redeemables"
        ]
        locked = {**body, "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}}
        session = call("POST", "/v1/validations", "/v1/validations", json=locked).json()
        key = session["session"]["key"]
        call(
            "DELETE",
            "/v1/vouchers/{code}/sessions/{sessionKey}",
            f"/v1/vouchers/{code}/sessions/{key}",
        )
        redeemed = call("POST", "/v1/redemptions", "/v1/redemptions", json=body).json()
        assert redeemed["order"]["total_amount"] == 600
        call("POST", "/v1/redemptions", "/v1/redemptions", json=missing)
        child = redeemed["redemptions"][0]["id"]
        call("GET", "/v1/redemptions/{redemptionId}", f"/v1/redemptions/{child}")
        call("GET", "/v1/redemptions", "/v1/redemptions", params={"result": "SUCCESS"})
        call("GET", "/v1/vouchers/{code}/redemption", f"/v1/vouchers/{gift}/redemption")
        parent = redeemed["parent_redemption"]["id"]
        call(
            "POST",
            "/v1/redemptions/{redemptionId}/rollback",
            f"/v1/redemptions/{child}/rollback",
        )
        call(
            "POST",
            "/v1/redemptions/{parentRedemptionId}/rollbacks",
            f"/v1/redemptions/{parent}/rollbacks",
            params={"reason": "refund"},
        )
        single = unique("single")
        http.post("/v1/vouchers/" + single, json={"discount": discount})
        call(
            "POST",
            "/v1/vouchers/{code}/validate",
            f"/v1/vouchers/{single}/validate",
            json={"order": {"amount": 1000}},
        )
        call(
            "POST",
            "/v1/vouchers/{code}/redemption",
            f"/v1/vouchers/{single}/redemption",
            json={"order": {"amount": 1000}},
        )
        call(
            "POST",
            "/v1/vouchers/{code}/validate",
            f"/v1/vouchers/{unique('gone')}/validate",
            json={},
        )

    def test_health_document_and_credentials(
        self, call: Checked, anonymous_http: httpx.Client
    ) -> None:
        call("GET", "/health", "/health")
        call("GET", "/openapi.json", "/openapi.json")
        unauthorized = anonymous_http.get("/v1/customers")
        call.schema["/v1/customers"]["GET"].validate_response(unauthorized)
