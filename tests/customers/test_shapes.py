"""What a customer shows for what was never set, as Voucherify's recorded live responses show it.

The sources: the JS SDK's live tests (`voucherify-js-sdk`, `packages/sdk/test/customers.spec.ts`)
assert the values; the PHP SDK's (`__tests__/snapshots/customers/*.json`) and the Java SDK's
(`src/test/java/io/voucherify/snapshots/Customers/*.json`) snapshots keep them, a missing key
there showing as `null` while a sent `{}` shows as `{}`. Each call goes through the Python SDK,
which must still parse every answer; the raw body (`*_without_preload_content`) tells a key left
out from one sent as `null`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.customers.test_bulk import sdk_wait


@pytest.fixture
def actions_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.AsyncActionsApi(client)


def create_raw(customers_api: Any, **fields: Any) -> dict[str, Any]:
    """POST /v1/customers through the SDK; the body as sent on the wire."""
    response = customers_api.create_customer_without_preload_content(
        customers_create_request_body=voucherify.CustomersCreateRequestBody(**fields)
    )
    assert response.status == 200
    body: dict[str, Any] = json.loads(response.data)
    return body


def bulk_update(customers_api: Any, actions_api: Any, *rows: Any) -> None:
    accepted = customers_api.update_customers_in_bulk(customers_update_in_bulk_request_body=rows)
    assert sdk_wait(actions_api, accepted.async_action_id).status == "DONE"


Address = voucherify.CustomersUpdateInBulkRequestBodyAddress
Row = voucherify.CustomersUpdateInBulkRequestBody


class TestNeverSetFields:
    def test_metadata_never_set_is_left_out(self, customers_api: Any) -> None:
        # customers.spec.ts, "Should not return metadata after creating new customer".
        body = create_raw(customers_api, source_id="plain")
        assert "metadata" not in body
        parsed = customers_api.get_customer("plain")
        assert parsed.metadata is None

    def test_address_never_set_is_null(self, customers_api: Any) -> None:
        # customers.spec.ts, "Should return address equal to null after creating new customer".
        body = create_raw(customers_api, source_id="plain")
        assert body["address"] is None

    def test_assets_without_a_url_are_null(self, customers_api: Any) -> None:
        # PHP `createdCustomer.json`, Java `CreatedCustomer.snapshot.json`: `"assets": null`.
        body = create_raw(customers_api, source_id="plain")
        assert body["assets"] is None
        assert customers_api.get_customer("plain").assets is None

    def test_metadata_sent_is_shown(self, customers_api: Any) -> None:
        body = create_raw(customers_api, source_id="rich", metadata={"tier": "gold"})
        assert body["metadata"] == {"tier": "gold"}

    def test_metadata_cleared_is_left_out(self, customers_api: Any, http: httpx.Client) -> None:
        create_raw(customers_api, source_id="rich", metadata={"tier": "gold"})
        response = http.put("/v1/customers/rich", json={"metadata": None})
        assert response.status_code == 200
        assert "metadata" not in response.json()
        assert "metadata" not in http.get("/v1/customers/rich").json()

    def test_listed_customers_leave_it_out_too(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        create_raw(customers_api, source_id="plain")
        listed = http.get("/v1/customers").json()["customers"]
        assert [("metadata" in c, c["assets"]) for c in listed] == [(False, None)]
        assert customers_api.list_customers().customers[0].metadata is None

    def test_metadata_bulk_merge_keeps_null_values(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        # customers.spec.ts, "Should updateCustomersMetadataInBulk": `{test: null}` reads back.
        create_raw(customers_api, source_id="m")
        for metadata in ({"test": 123}, {"test": None}):
            accepted = customers_api.update_customers_metadata_in_bulk(
                customers_metadata_update_in_bulk_request_body=(
                    voucherify.CustomersMetadataUpdateInBulkRequestBody(
                        source_ids=["m"], metadata=metadata
                    )
                )
            )
            assert sdk_wait(actions_api, accepted.async_action_id).status == "DONE"
            assert http.get("/v1/customers/m").json()["metadata"] == metadata


class TestAddressAsSent:
    def test_bulk_update_keeps_the_keys_sent(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        # customers.spec.ts, "Should update address in bulk properly": the address reads back
        # exactly as sent, then `{city: null, country: null}` as that, not as a null address.
        create_raw(customers_api, source_id="ny")
        bulk_update(
            customers_api,
            actions_api,
            Row(source_id="ny", name="Bob Doe", address=Address(city="New York", country="US")),
        )
        assert http.get("/v1/customers/ny").json()["address"] == {
            "city": "New York",
            "country": "US",
        }
        bulk_update(
            customers_api,
            actions_api,
            Row(source_id="ny", address=Address(city=None, country=None)),
        )
        assert http.get("/v1/customers/ny").json()["address"] == {"city": None, "country": None}
        parsed = customers_api.get_customer("ny")
        assert (parsed.address.city, parsed.address.country) == (None, None)

    def test_bulk_update_without_an_address_leaves_it_null(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        # customers.spec.ts, "Should updateCustomersInBulk": phone and metadata, address null.
        create_raw(customers_api, source_id="p")
        bulk_update(
            customers_api, actions_api, Row(source_id="p", phone="+0700", metadata={"test": 123})
        )
        customer = http.get("/v1/customers/p").json()
        assert (customer["phone"], customer["metadata"], customer["address"]) == (
            "+0700",
            {"test": 123},
            None,
        )

    def test_create_keeps_the_keys_sent(self, customers_api: Any) -> None:
        body = create_raw(
            customers_api, source_id="a", address={"city": "Lyon", "postal_code": None}
        )
        assert body["address"] == {"city": "Lyon", "postal_code": None}

    def test_keys_read_back_in_the_documented_order(self, http: httpx.Client) -> None:
        sent = {"postal_code": "1", "country": "FR", "line_1": "x", "city": "Lyon"}
        response = http.post("/v1/customers", json={"source_id": "o", "address": sent})
        assert list(response.json()["address"]) == ["city", "line_1", "country", "postal_code"]
        assert list(http.get("/v1/customers/o").json()["address"]) == [
            "city",
            "line_1",
            "country",
            "postal_code",
        ]

    def test_the_city_filter_reads_a_partial_address(self, http: httpx.Client) -> None:
        http.post("/v1/customers", json={"source_id": "c", "address": {"city": "Oslo"}})
        http.post("/v1/customers", json={"source_id": "n", "address": {"city": None}})
        listed = http.get("/v1/customers", params={"city": "Oslo"}).json()
        assert [c["source_id"] for c in listed["customers"]] == ["c"]


class TestPermanentDeletion:
    def test_order_events_are_null(self, customers_api: Any) -> None:
        # PHP `deletedCustomerPermanently.json`: `"order_events": null`.
        create_raw(customers_api, source_id="gone")
        deleted = customers_api.customer_permanently_deletion_without_preload_content("gone")
        body = json.loads(deleted.data)
        assert body["data_json"]["order_events"] is None
        assert body["data_json"]["customer"] == 1
        parsed: Any = voucherify.CustomersPermanentDeletionCreateResponseBody.from_json(
            deleted.data.decode()
        )
        assert parsed.data_json.order_events is None
        assert parsed.object == "pernament_deletion"
