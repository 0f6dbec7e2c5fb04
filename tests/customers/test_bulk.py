"""Bulk customer operations through the official SDK: bulk upsert, metadata merge, CSV import."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, sdk_client
from tests.factories import create_customer


def sdk_wait(actions: Any, action_id: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        action = actions.get_async_action(async_action_id=action_id)
        if action.status in ("DONE", "FAILED"):
            return action
        time.sleep(0.05)
    raise AssertionError("action did not finish")


@pytest.fixture
def actions_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.AsyncActionsApi(client)


def activity_types(http: httpx.Client, customer_id: str) -> list[str]:
    page = http.get(f"/v1/customers/{customer_id}/activity", params={"order": "created_at"})
    return [a["type"] for a in page.json()["data"]]


class TestBulkUpdate:
    def test_sdk_bulk_upserts_and_reports_bad_rows(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        existing = create_customer(http, source_id="old", name="Old", email="old@example.com")
        body = [
            voucherify.CustomersUpdateInBulkRequestBody(source_id="old", name="Renamed"),
            voucherify.CustomersUpdateInBulkRequestBody(
                source_id="new",
                name="New",
                address=voucherify.CustomersUpdateInBulkRequestBodyAddress(city="Oslo"),
                metadata={"a": 1},
            ),
            voucherify.CustomersUpdateInBulkRequestBody(source_id="bad", email="not-an-email"),
            voucherify.CustomersUpdateInBulkRequestBody(
                source_id="dates", birthdate=date(1990, 2, 3)
            ),
        ]
        accepted = customers_api.update_customers_in_bulk(
            customers_update_in_bulk_request_body=body
        )
        assert accepted.async_action_id.startswith("aa_")
        action = sdk_wait(actions_api, accepted.async_action_id)
        assert action.object == "async_action"
        assert action.type == "CUSTOMERS.BULK_UPDATE"
        assert action.status == "DONE"
        assert action.progress == 100
        assert action.result["done_count"] == 3
        assert action.result["failed_count"] == 1
        [error] = action.result["errors"]
        assert error["source_id"] == "bad"
        assert "email" in error["details"]

        old = http.get("/v1/customers/old").json()
        assert old["id"] == existing["id"]
        assert old["name"] == "Renamed"
        assert old["email"] == "old@example.com"
        new = http.get("/v1/customers/new").json()
        assert new["address"]["city"] == "Oslo"
        assert new["metadata"] == {"a": 1}
        assert http.get("/v1/customers/dates").json()["birthdate"] == "1990-02-03"
        assert http.get("/v1/customers/bad").status_code == 404
        assert activity_types(http, existing["id"]) == ["customer.created", "customer.updated"]
        new_activity = http.get(f"/v1/customers/{new['id']}/activity").json()["data"][0]
        assert new_activity["type"] == "customer.created"
        assert new_activity["group_id"] == action.request_id

    def test_rows_without_source_id_or_of_wrong_shape_fail_alone(self, http: httpx.Client) -> None:
        rows = [{"name": "no id"}, 5, {"source_id": "ok"}, {"source_id": "x", "phone": 5}, None]
        response = http.post("/v1/customers/bulk/async", json=rows)
        assert response.status_code == 202
        action = wait_done(http, response.json()["async_action_id"])
        assert action["result"]["done_count"] == 1
        assert action["result"]["failed_count"] == 4
        assert [e["row"] for e in action["result"]["errors"]] == [1, 2, 4, 5]
        assert http.get("/v1/customers").json()["total"] == 1

    def test_the_same_source_id_twice_applies_both_in_order(self, http: httpx.Client) -> None:
        rows = [
            {"source_id": "dup", "name": "first", "phone": "1"},
            {"source_id": "dup", "name": "second"},
        ]
        action = wait_done(
            http, http.post("/v1/customers/bulk/async", json=rows).json()["async_action_id"]
        )
        assert action["result"]["done_count"] == 2
        customer = http.get("/v1/customers/dup").json()
        assert customer["name"] == "second"
        assert customer["phone"] == "1"

    def test_unchanged_customers_get_no_activity(self, http: httpx.Client) -> None:
        customer = create_customer(http, source_id="same", name="Same")
        action_id = http.post(
            "/v1/customers/bulk/async", json=[{"source_id": "same", "name": "Same"}]
        ).json()["async_action_id"]
        assert wait_done(http, action_id)["result"]["done_count"] == 1
        assert activity_types(http, customer["id"]) == ["customer.created"]

    @pytest.mark.parametrize(
        ("content", "status"),
        [(b'{"source_id": "x"}', 400), (b"[", 400), (b'[{"source_id": "a\\u0000"}]', 400)],
    )
    def test_bad_bodies_are_refused_up_front(
        self, http: httpx.Client, content: bytes, status: int
    ) -> None:
        response = http.post(
            "/v1/customers/bulk/async",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == status
        assert response.json()["key"] == "invalid_payload"
        assert http.get("/v1/async-actions").json()["async_actions"] == []

    def test_over_10_mib_is_413(self, http: httpx.Client) -> None:
        rows = [{"source_id": f"s{n}", "description": "x" * 1000} for n in range(11_000)]
        response = http.post("/v1/customers/bulk/async", json=rows)
        assert response.status_code == 413
        assert response.json()["statusCode"] == 413


class TestMetadataBulk:
    def test_sdk_merges_keys_and_creates_missing_customers(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        create_customer(http, source_id="m1", metadata={"keep": True, "tier": "bronze"})
        body = voucherify.CustomersMetadataUpdateInBulkRequestBody(
            source_ids=["m1", "m2"], metadata={"tier": "gold", "score": 7}
        )
        accepted = customers_api.update_customers_metadata_in_bulk(
            customers_metadata_update_in_bulk_request_body=body
        )
        action = sdk_wait(actions_api, accepted.async_action_id)
        assert action.type == "CUSTOMERS.METADATA_UPDATE"
        assert action.status == "DONE"
        assert action.operation_status == "SUCCESS"
        assert action.result["done_count"] == 2
        assert http.get("/v1/customers/m1").json()["metadata"] == {
            "keep": True,
            "tier": "gold",
            "score": 7,
        }
        assert http.get("/v1/customers/m2").json()["metadata"] == {"tier": "gold", "score": 7}

    @pytest.mark.parametrize(
        "body",
        [
            {"source_ids": ["a"]},
            {"metadata": {}},
            {"source_ids": "a", "metadata": {}},
            {"source_ids": [""], "metadata": {}},
            {"source_ids": ["a"], "metadata": []},
        ],
    )
    def test_bad_bodies(self, http: httpx.Client, body: dict[str, Any]) -> None:
        response = http.post("/v1/customers/metadata/async", json=body)
        assert response.status_code == 400


CSV = (
    "Source_id,Name,Email,Phone,Birthdate,Description,Address_line_1,Address_line_2,"
    "Address_Postal_Code,Address_City,Address_State,Address_Country,tier,zip,vip,score,note\n"
    "c1,Carl,carl@example.com,+48 1,1980-01-02,d,Main 1,Apt 2,00-001,Warsaw,MZ,Poland,"
    "3,007,true,1.5,hello\n"
    "c2,Dana,not-an-email,,,,,,,,,,1,,,,\n"
    "c3,Eve,,,1980-02-31,,,,,,,,,,,,\n"
    ",Nobody,,,,,,,,,,,,,,,\n"
    "c4,Finn,,,,,,,,,,,null,,false,-2,\n"
)


class TestImportCsv:
    def test_sdk_import_with_typed_metadata_and_row_errors(
        self, customers_api: Any, actions_api: Any, http: httpx.Client
    ) -> None:
        accepted = customers_api.import_customers_using_csv(file=CSV.encode())
        action = sdk_wait(actions_api, accepted.async_action_id)
        assert action.type == "CUSTOMERS.IMPORT_CSV"
        assert action.status == "DONE"
        result = action.result
        assert result["done_count"] == 2
        assert result["failed_count"] == 3
        assert result["message"] == "2 customer(s) imported successfully, 3 failed."
        assert [(f["row"], f["source_id"]) for f in result["failed"]] == [
            (2, "c2"),
            (3, "c3"),
            (4, None),
        ]
        carl = http.get("/v1/customers/c1").json()
        assert carl["name"] == "Carl"
        assert carl["birthdate"] == "1980-01-02"
        assert carl["address"] == {
            "city": "Warsaw",
            "state": "MZ",
            "line_1": "Main 1",
            "line_2": "Apt 2",
            "country": "Poland",
            "postal_code": "00-001",
        }
        assert carl["metadata"] == {
            "tier": 3,
            "zip": "007",
            "vip": True,
            "score": 1.5,
            "note": "hello",
        }
        finn = http.get("/v1/customers/c4").json()
        assert finn["metadata"] == {"tier": None, "vip": False, "score": -2}
        assert finn["address"] is None
        assert activity_types(http, carl["id"]) == ["customer.created"]

    def test_template_spelling_and_full_overwrite(self, http: httpx.Client) -> None:
        create_customer(http, source_id="t1", name="Before", phone="555", metadata={"old": 1})
        content = "source_id,name,City,Postal_Code,Country,State,fresh\nt1,After,Lyon,69001,FR,,x\n"
        response = http.post("/v1/customers/importCSV", files={"file": ("c.csv", content)})
        assert response.status_code == 202
        wait_done(http, response.json()["async_action_id"])
        customer = http.get("/v1/customers/t1").json()
        assert customer["name"] == "After"
        assert customer["phone"] == "555"  # no Phone column: left as it was
        assert customer["address"]["city"] == "Lyon"
        assert customer["address"]["postal_code"] == "69001"
        assert customer["address"]["state"] is None
        assert customer["metadata"] == {"fresh": "x"}

    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            (b"", "empty"),
            (b"\n\n", "empty"),
            (b"Name,Email\nBob,b@x.com\n", "Source_id"),
            (b"Source_id,first name\na,b\n", "space"),
            (b"Source_id,Name,name\na,b,c\n", "twice"),
            (b"Source_id,Name\n\xff\xfe,x\n", "UTF-8"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
            (b'Source_id,Name\na,"unterminated\n', "CSV"),
        ],
    )
    def test_bad_files_are_refused_with_400(
        self, http: httpx.Client, content: bytes, fragment: str
    ) -> None:
        response = http.post("/v1/customers/importCSV", files={"file": ("f.csv", content)})
        assert response.status_code == 400, response.text
        assert fragment in response.json()["details"]
        assert http.get("/v1/async-actions").json()["async_actions"] == []

    def test_not_multipart_or_no_file_field(self, http: httpx.Client) -> None:
        wrong_type = http.post("/v1/customers/importCSV", json={"file": "x"})
        assert wrong_type.status_code == 415
        no_field = http.post("/v1/customers/importCSV", files={"other": ("f.csv", b"a")})
        assert no_field.status_code == 400
        assert "`file`" in no_field.json()["details"]

    def test_header_only_file_is_an_empty_import(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/customers/importCSV", files={"file": ("f.csv", b"Source_id,Name\n")}
        )
        action = wait_done(http, response.json()["async_action_id"])
        assert action["status"] == "DONE"
        assert action["result"]["done_count"] == 0


class TestReviewedBulkEdges:
    def test_nul_after_the_first_4_kib_is_a_400(self, http: httpx.Client) -> None:
        content = "Source_id,Name\n" + "".join(f"r{n},Name {n}\n" for n in range(600))
        content += "late,bad\x00name\n"
        response = http.post("/v1/customers/importCSV", files={"file": ("f.csv", content)})
        assert response.status_code == 400
        assert "NUL" in response.json()["details"]

    def test_long_source_ids_fail_their_rows_only(self, http: httpx.Client) -> None:
        long_id = "長" * 1000
        bulk = http.post(
            "/v1/customers/bulk/async", json=[{"source_id": long_id}, {"source_id": "short-ok"}]
        )
        action = wait_done(http, bulk.json()["async_action_id"])
        assert (action["result"]["done_count"], action["result"]["failed_count"]) == (1, 1)
        csv = f"Source_id,Name\n{long_id},x\ncsv-ok,y\n"
        imported = http.post("/v1/customers/importCSV", files={"file": ("f.csv", csv)})
        action = wait_done(http, imported.json()["async_action_id"])
        assert (action["result"]["done_count"], action["result"]["failed_count"]) == (1, 1)
        assert action["status"] == "DONE"
        metadata = http.post(
            "/v1/customers/metadata/async", json={"source_ids": [long_id], "metadata": {"a": 1}}
        )
        assert metadata.status_code == 400


class TestCreatedActivities:
    """Bulk work renders new customers' snapshots itself: they must be what the API shows."""

    def created_activity(self, http: httpx.Client, customer: dict[str, Any]) -> Any:
        [activity] = http.get(f"/v1/customers/{customer['id']}/activity").json()["data"]
        assert activity["type"] == "customer.created"
        return activity

    def test_snapshots_are_the_customers_as_shown(self, http: httpx.Client) -> None:
        csv = (
            "Source_id,Name,Email,Birthdate,Birthday,City,Address_line_1,tier,vip,note\n"
            'n1,"Ann ""A"" Ó",ann@example.com,1980-01-02,1990-03-04,Łódź,Main 1,3,true,x\n'
            "n2,,,,,,,,,\n"
        )
        imported = http.post("/v1/customers/importCSV", files={"file": ("c.csv", csv)})
        wait_done(http, imported.json()["async_action_id"])
        bulk = http.post(
            "/v1/customers/bulk/async",
            json=[{"source_id": "b1", "phone": "1", "metadata": {"deep": {"a": [1, None]}}}],
        )
        wait_done(http, bulk.json()["async_action_id"])
        metadata = http.post(
            "/v1/customers/metadata/async", json={"source_ids": ["m1"], "metadata": {"k": 1.5}}
        )
        wait_done(http, metadata.json()["async_action_id"])
        reference = create_customer(http, source_id="api", name="Api")
        expected_source = self.created_activity(http, reference)["data"]["event_source"]
        for source_id in ("n1", "n2", "b1", "m1"):
            customer = http.get(f"/v1/customers/{source_id}").json()
            activity = self.created_activity(http, customer)
            assert activity["data"] == {"customer": customer, "event_source": expected_source}
        assert http.get("/v1/customers/n1").json()["birthday"] == "1990-03-04"
