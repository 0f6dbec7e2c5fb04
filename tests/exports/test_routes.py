"""Exports through the Python SDK's ExportsApi (and OrdersApi.create_order_export), and their
CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import create_customer


@pytest.fixture
def exports_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.ExportsApi(client)


@pytest.fixture
def orders_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.OrdersApi(client)


def create_export(exports_api: Any, body: dict[str, Any]) -> Any:
    return exports_api.create_export(voucherify.ExportsCreateRequestBody.from_dict(body))


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def download(anonymous_http: httpx.Client, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return anonymous_http.get(parts.path, params=parse_qs(parts.query))


def export_csv(http: httpx.Client, anonymous_http: httpx.Client, body: dict[str, Any]) -> str:
    created = http.post("/v1/exports", json=body)
    assert created.status_code == 200, created.text
    export = http.get(f"/v1/exports/{created.json()['id']}").json()
    response = download(anonymous_http, export["result"]["url"])
    assert response.status_code == 200, response.text
    return response.text


class TestCreateExport:
    def test_sdk_create_get_download(
        self, exports_api: Any, http: httpx.Client, project: Credentials
    ) -> None:
        create_customer(http, source_id="ann", name="Ann", email="ann@example.com")
        created = create_export(
            exports_api,
            {
                "exported_object": "customer",
                "parameters": {"fields": ["source_id", "name", "email"], "order": "source_id"},
            },
        )
        assert created.id.startswith("exp_")
        assert created.status == "SCHEDULED"
        assert created.result is None
        assert created.exported_object == "customer"
        assert created.channel == "API"

        export = exports_api.get_export(created.id)
        assert export.status == "DONE"
        assert export.parameters.fields == ["source_id", "name", "email"]
        url = export.result.url
        token = parse_qs(urlsplit(url).query)["token"][0]
        text = exports_api.download_export(created.id, token=token)
        assert rows_of(text) == [["source_id", "name", "email"], ["ann", "Ann", "ann@example.com"]]

    def test_defaults_to_name_and_source_id(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        create_customer(http, source_id="bo", name="Bo")
        text = export_csv(http, anonymous_http, {"exported_object": "customer"})
        assert rows_of(text) == [["name", "source_id"], ["Bo", "bo"]]
        listed = http.get("/v1/exports").json()["exports"][0]
        assert listed["parameters"] == {
            "order": "-created_at",
            "fields": ["name", "source_id"],
            "filters": {"junction": "and"},
        }

    def test_summary_address_and_metadata_columns(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        customer = create_customer(
            http, source_id="cy", name='Cy "the, guy"', metadata={"lang": "en", "vip": True}
        )
        order = http.post(
            "/v1/orders",
            json={"customer": {"source_id": "cy"}, "amount": 12345, "status": "PAID"},
        )
        assert order.status_code == 200, order.text
        fields = [
            "id",
            "name",
            "address_city",
            "orders_total_amount",
            "orders_total_count",
            "orders_average_amount",
            "orders_last_order_amount",
            "redemptions_total_redeemed",
            "loyalty_points",
            "birthdate",
            "created_at",
            "metadata",
        ]
        text = export_csv(
            http,
            anonymous_http,
            {"exported_object": "customer", "parameters": {"fields": fields}},
        )
        header, row = rows_of(text)
        assert header == [*fields[:-1], "metadata.lang", "metadata.vip"]
        assert row[:10] == [
            customer["id"],
            'Cy "the, guy"',
            "New York",
            "12345",
            "1",
            "12345",
            "12345",
            "0",
            "0",
            "1990-01-31",
        ]
        assert row[10] == customer["created_at"]
        assert row[11:] == ["en", "true"]

    def test_one_metadata_key(self, http: httpx.Client, anonymous_http: httpx.Client) -> None:
        create_customer(http, source_id="dee", metadata={"tier": "gold", "n": 3})
        text = export_csv(
            http,
            anonymous_http,
            {
                "exported_object": "customer",
                "parameters": {"fields": ["metadata.n", "source_id", "metadata.missing"]},
            },
        )
        assert rows_of(text) == [
            ["metadata.n", "source_id", "metadata.missing"],
            ["3", "dee", ""],
        ]

    def test_one_metadata_key_is_shown_as_metadata_to_the_sdk(
        self, exports_api: Any, http: httpx.Client
    ) -> None:
        # The spec's field enum has no `metadata.<key>`; the SDK refuses an export showing one.
        body = {"exported_object": "customer", "parameters": {"fields": ["metadata.n", "id"]}}
        created = http.post("/v1/exports", json=body).json()
        assert created["parameters"]["fields"] == ["metadata", "id"]
        listed = exports_api.list_exports()
        assert [export.id for export in listed.exports] == [created["id"]]
        assert exports_api.get_export(created["id"]).parameters.fields == ["metadata", "id"]

    def test_metadata_expanded_in_its_place(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        create_customer(http, source_id="m1", name="One", metadata={"b": "x", "a": [1, 2]})
        create_customer(http, source_id="m2", name="Two", metadata={"c": "line\nbreak"})
        text = export_csv(
            http,
            anonymous_http,
            {
                "exported_object": "customer",
                "parameters": {
                    "fields": ["name", "metadata", "source_id"],
                    "order": "source_id",
                },
            },
        )
        assert rows_of(text) == [
            ["name", "metadata.a", "metadata.b", "metadata.c", "source_id"],
            ["One", "[1, 2]", "x", "", "m1"],
            ["Two", "", "", "line\nbreak", "m2"],
        ]

    def test_no_rows_is_the_header_alone(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        text = export_csv(
            http,
            anonymous_http,
            {"exported_object": "order", "parameters": {"fields": ["id", "metadata"]}},
        )
        assert text == "id\r\n"

    def test_filters_and_order(self, http: httpx.Client, anonymous_http: httpx.Client) -> None:
        for source_id, city, tier in [
            ("a1", "Paris", "gold"),
            ("a2", "Rome", "gold"),
            ("a3", "Paris", "silver"),
            ("a4", "Paris", "gold"),
        ]:
            create_customer(
                http, source_id=source_id, address={"city": city}, metadata={"tier": tier}
            )
        filters = {
            "junction": "and",
            "address.city": {"conditions": {"$is": "Paris"}},
            "metadata.tier": {"conditions": {"$is": "gold"}},
        }
        text = export_csv(
            http,
            anonymous_http,
            {
                "exported_object": "customer",
                "parameters": {"fields": ["source_id"], "filters": filters, "order": "-source_id"},
            },
        )
        assert rows_of(text) == [["source_id"], ["a4"], ["a1"]]
        either = {
            "junction": "or",
            "source_id": {"conditions": {"$in": ["a2", "a3"]}},
        }
        text = export_csv(
            http,
            anonymous_http,
            {
                "exported_object": "customer",
                "parameters": {"fields": ["source_id"], "filters": either, "order": "source_id"},
            },
        )
        assert rows_of(text) == [["source_id"], ["a2"], ["a3"]]

    def test_city_filter_as_the_spec_names_it(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        create_customer(http, source_id="p", address={"city": "Paris"})
        create_customer(http, source_id="r", address={"city": "Rome"})
        filters = {"junction": "and", "city": {"conditions": {"$is": "Rome"}}}
        text = export_csv(
            http,
            anonymous_http,
            {
                "exported_object": "customer",
                "parameters": {"fields": ["source_id", "address_city"], "filters": filters},
            },
        )
        assert rows_of(text) == [["source_id", "address_city"], ["r", "Rome"]]

    def test_deleted_customers_are_left_out(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        create_customer(http, source_id="keep")
        gone = create_customer(http, source_id="gone")
        assert http.delete(f"/v1/customers/{gone['id']}").status_code == 204
        text = export_csv(
            http,
            anonymous_http,
            {"exported_object": "customer", "parameters": {"fields": ["source_id"]}},
        )
        assert rows_of(text) == [["source_id"], ["keep"]]


class TestOrderExport:
    def test_create_order_export_through_orders_api(
        self, orders_api: Any, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        create_customer(http, source_id="buyer")
        for source_id, amount, status in [("o1", 1000, "PAID"), ("o2", 2500, "CREATED")]:
            response = http.post(
                "/v1/orders",
                json={
                    "source_id": source_id,
                    "amount": amount,
                    "status": status,
                    "discount_amount": 100,
                    "customer": {"source_id": "buyer"},
                    "metadata": {"channel": "web"},
                },
            )
            assert response.status_code == 200, response.text
        created = orders_api.create_order_export(
            voucherify.OrdersExportCreateRequestBody.from_dict(
                {
                    "parameters": {
                        "fields": ["source_id", "status", "amount", "total_amount", "metadata"],
                        "filters": {"amount": {"conditions": {"$more_than": 1500}}},
                    }
                }
            )
        )
        assert created.status == "SCHEDULED"
        assert created.exported_object == "order"
        export = http.get(f"/v1/exports/{created.id}").json()
        response = download(anonymous_http, export["result"]["url"])
        assert rows_of(response.text) == [
            ["source_id", "status", "amount", "total_amount", "metadata.channel"],
            ["o2", "CREATED", "2500", "2400", "web"],
        ]

    def test_default_order_fields(self, http: httpx.Client, anonymous_http: httpx.Client) -> None:
        create_customer(http, source_id="c")
        order = http.post(
            "/v1/orders", json={"source_id": "o", "amount": 5, "customer": {"source_id": "c"}}
        ).json()
        text = export_csv(http, anonymous_http, {"exported_object": "order"})
        assert rows_of(text) == [["id", "source_id", "status"], [order["id"], "o", "CREATED"]]


class TestListAndDeleteExports:
    def test_list_delete_and_url_stops_working(
        self, exports_api: Any, anonymous_http: httpx.Client
    ) -> None:
        first = create_export(exports_api, {"exported_object": "customer"})
        second = create_export(exports_api, {"exported_object": "order"})
        listed = exports_api.list_exports()
        assert listed.total == 2
        assert [export.id for export in listed.exports] == [second.id, first.id]
        url = exports_api.get_export(first.id).result.url
        assert download(anonymous_http, url).status_code == 200

        exports_api.delete_export(first.id)
        assert [export.id for export in exports_api.list_exports().exports] == [second.id]
        with pytest.raises(ApiException) as caught:
            exports_api.get_export(first.id)
        assert caught.value.status == 404
        gone = download(anonymous_http, url)
        assert gone.status_code == 401
        assert gone.json()["key"] == "unauthorized"

    def test_delete_unknown_is_404(self, http: httpx.Client) -> None:
        response = http.delete("/v1/exports/exp_missing")
        assert response.status_code == 404
        assert response.json()["resource_type"] == "export"

    def test_list_order_param(self, http: httpx.Client) -> None:
        ids = [
            http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
            for _ in range(3)
        ]
        page = http.get("/v1/exports", params={"order": "created_at", "limit": 2}).json()
        assert [export["id"] for export in page["exports"]] == ids[:2]
        assert page["total"] == 3
        bad = http.get("/v1/exports", params={"order": "name"})
        assert bad.status_code == 400


class TestDownloadCredentials:
    def test_wrong_missing_token_and_unknown_export(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        export_id = http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
        wrong = anonymous_http.get(f"/v1/exports/{export_id}", params={"token": "x" * 43})
        unknown = anonymous_http.get("/v1/exports/exp_nothing", params={"token": "x" * 43})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["key"] == "unauthorized"
        assert {k: v for k, v in wrong.json().items() if k != "request_id"} == {
            k: v for k, v in unknown.json().items() if k != "request_id"
        }
        missing = anonymous_http.get(f"/v1/exports/{export_id}")
        assert missing.status_code == 401
        empty = anonymous_http.get(f"/v1/exports/{export_id}", params={"token": ""})
        assert empty.status_code == 401

    def test_token_of_another_export_does_not_open_it(
        self, http: httpx.Client, anonymous_http: httpx.Client
    ) -> None:
        one = http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
        two = http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
        url = http.get(f"/v1/exports/{one}").json()["result"]["url"]
        token = parse_qs(urlsplit(url).query)["token"][0]
        response = anonymous_http.get(f"/v1/exports/{two}", params={"token": token})
        assert response.status_code == 401

    def test_other_projects_export_is_not_found(
        self, http: httpx.Client, server: RunningServer, another_project: Credentials
    ) -> None:
        create_customer(http, source_id="mine")
        export_id = http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
        with httpx.Client(
            base_url=server.base_url,
            headers={"X-App-Id": another_project.app_id, "X-App-Token": another_project.app_token},
        ) as other:
            assert other.get(f"/v1/exports/{export_id}").status_code == 404
            assert other.delete(f"/v1/exports/{export_id}").status_code == 404
            assert other.get("/v1/exports").json()["total"] == 0
            create_customer(other, source_id="theirs")
            theirs = other.post(
                "/v1/exports",
                json={"exported_object": "customer", "parameters": {"fields": ["source_id"]}},
            ).json()["id"]
            url = other.get(f"/v1/exports/{theirs}").json()["result"]["url"]
        parts = urlsplit(url)
        text = httpx.get(server.base_url + parts.path, params=parse_qs(parts.query)).text
        assert rows_of(text) == [["source_id"], ["theirs"]]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "key", "named"),
        [
            ({"exported_object": "voucher"}, "invalid_payload", "exported_object"),
            ({}, "invalid_payload", "exported_object"),
            (
                {"exported_object": "customer", "parameters": {"fields": ["shoe_size"]}},
                "invalid_export_fields",
                "shoe_size",
            ),
            (
                {"exported_object": "order", "parameters": {"fields": ["email"]}},
                "invalid_export_fields",
                "email",
            ),
            (
                {"exported_object": "customer", "parameters": {"fields": ["id", "id"]}},
                "invalid_payload",
                "id",
            ),
            (
                {"exported_object": "customer", "parameters": {"order": "-status"}},
                "invalid_payload",
                "-status",
            ),
            # The SDK's enum has no "": an export showing it would break its list.
            ({"exported_object": "customer", "parameters": {"order": ""}}, "invalid_payload", "''"),
            (
                {"exported_object": "customer", "parameters": {"filters": {"shoe": {}}}},
                "invalid_payload",
                "shoe",
            ),
            (
                {
                    "exported_object": "customer",
                    "parameters": {"filters": {"shoe": {"conditions": {"$is": "x"}}}},
                },
                "invalid_payload",
                "shoe",
            ),
            (
                {
                    "exported_object": "order",
                    "parameters": {"filters": {"email": {"conditions": {"$is": "x"}}}},
                },
                "invalid_payload",
                "email",
            ),
            (
                {
                    "exported_object": "customer",
                    "parameters": {"filters": {"name": {"conditions": {"$bogus": "x"}}}},
                },
                "invalid_payload",
                "$bogus",
            ),
            (
                {"exported_object": "customer", "parameters": {"fields": "name"}},
                "invalid_payload",
                "fields",
            ),
            (
                {"exported_object": "customer", "parameters": {"colour": 1}},
                "invalid_payload",
                "colour",
            ),
        ],
    )
    def test_refused_with_400_naming_it(
        self, http: httpx.Client, body: dict[str, Any], key: str, named: str
    ) -> None:
        response = http.post("/v1/exports", json=body)
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["key"] == key
        assert named in error["details"]
        assert http.get("/v1/exports").json()["total"] == 0

    def test_order_export_refuses_customer_fields(self, http: httpx.Client) -> None:
        response = http.post("/v1/orders/export", json={"parameters": {"fields": ["email"]}})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_export_fields"

    def test_get_unknown_export_is_404(self, http: httpx.Client) -> None:
        response = http.get("/v1/exports/exp_nope")
        assert response.status_code == 404
        assert response.json()["details"] == "Cannot find export with id exp_nope"


class TestStreaming:
    def test_first_bytes_arrive_before_the_end(
        self,
        server: RunningServer,
        project: Credentials,
        http: httpx.Client,
        anonymous_http: httpx.Client,
    ) -> None:
        # 30,000 customers: 15 batches of the cursor, well over a megabyte of CSV.
        server.db.fetch(
            """
            INSERT INTO customers (project_id, id, source_id, name, created_at)
            SELECT $1, 'cust_s' || n, 'src-' || n, 'Name ' || n,
                   now() - make_interval(secs => 30000 - n)
            FROM generate_series(1, 30000) AS n
            """,
            project.project_id,
        )
        export_id = http.post(
            "/v1/exports",
            json={
                "exported_object": "customer",
                "parameters": {"fields": ["source_id", "name"], "order": "created_at"},
            },
        ).json()["id"]
        url = http.get(f"/v1/exports/{export_id}").json()["result"]["url"]
        parts = urlsplit(url)
        with anonymous_http.stream("GET", parts.path, params=parse_qs(parts.query)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            # Chunked: the server did not know the length of the whole file when it began.
            assert "content-length" not in response.headers
            chunks = response.iter_bytes()
            first = next(chunks)
            assert first.startswith(b"source_id,name\r\n")
            rest = b"".join(chunks)
        assert len(first) < len(rest) / 10
        lines = (first + rest).decode().splitlines()
        assert len(lines) == 30001
        assert lines[1] == "src-1,Name 1"
        assert lines[-1] == "src-30000,Name 30000"

    def test_abandoned_downloads_give_their_connections_back(
        self,
        server: RunningServer,
        project: Credentials,
        http: httpx.Client,
        anonymous_http: httpx.Client,
    ) -> None:
        server.db.fetch(
            """
            INSERT INTO customers (project_id, id, source_id, created_at)
            SELECT $1, 'cust_a' || n, 'src-' || n, now() FROM generate_series(1, 20000) AS n
            """,
            project.project_id,
        )
        export_id = http.post("/v1/exports", json={"exported_object": "customer"}).json()["id"]
        parts = urlsplit(http.get(f"/v1/exports/{export_id}").json()["result"]["url"])
        # More than the server's pool (10 connections in tests), each left after its first chunk.
        for _ in range(15):
            with anonymous_http.stream("GET", parts.path, params=parse_qs(parts.query)) as response:
                assert response.status_code == 200
                next(response.iter_bytes())
        assert http.get(f"/v1/exports/{export_id}").status_code == 200
        whole = anonymous_http.get(parts.path, params=parse_qs(parts.query))
        assert len(whole.text.splitlines()) == 20001
