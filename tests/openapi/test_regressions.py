"""What fuzzing against the OpenAPI document found, each kept fixed by a plain test."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import create_customer


def assert_error(response: httpx.Response, status: int, key: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["key"] == key


class TestWholeNumbersWithAFraction:
    def test_an_amount_written_2000_0_is_the_integer_2000(self, http: httpx.Client) -> None:
        body = {"amount": 2000.0, "items": [{"quantity": 2.0, "price": 1000.0}]}
        response = http.post("/v1/orders", json=body)
        assert response.status_code == 200, response.text
        order = response.json()
        assert order["amount"] == 2000
        assert isinstance(order["amount"], int)
        assert order["items"][0]["quantity"] == 2

    def test_a_fraction_is_still_refused(self, http: httpx.Client) -> None:
        assert_error(http.post("/v1/orders", json={"amount": 2000.5}), 400, "invalid_payload")

    def test_metadata_numbers_are_left_alone(self, http: httpx.Client) -> None:
        response = http.post("/v1/orders", json={"amount": 1.0, "metadata": {"ratio": 0.5}})
        assert response.json()["metadata"] == {"ratio": 0.5}


class TestQueryParameters:
    @pytest.mark.parametrize(
        "query",
        [
            "limit=1&limit=2",
            "order=created_at&order=-created_at",
            "limit=",
            "order=",
            "created_at[before]=",
            "created_at[before]=2024-01-02T03",
            "created_at[before]=20240102",
        ],
    )
    def test_are_400(self, http: httpx.Client, query: str) -> None:
        assert_error(http.get(f"/v1/customers?{query}"), 400, "invalid_query_params")

    def test_a_moment_without_seconds_is_read(self, http: httpx.Client) -> None:
        response = http.get("/v1/customers", params={"created_at[before]": "2024-01-02T03:04Z"})
        assert response.status_code == 200

    def test_unknown_segment_filter_junction_is_400(self, http: httpx.Client) -> None:
        response = http.get("/v1/segments", params={"filters[junction]": "AAA"})
        assert_error(response, 400, "invalid_query_params")


class TestOrderDates:
    @pytest.mark.parametrize(
        "created_at", ["1900-01-01T00:00:00+01:00", "9998-12-31T23:59:59-05:00"]
    )
    def test_the_year_as_written_counts(self, http: httpx.Client, created_at: str) -> None:
        response = http.post("/v1/orders", json={"amount": 1, "created_at": created_at})
        assert response.status_code == 200, response.text

    def test_year_9999_is_400(self, http: httpx.Client) -> None:
        response = http.post("/v1/orders", json={"created_at": "9999-01-01T00:00:00Z"})
        assert_error(response, 400, "invalid_payload")


class TestOptions:
    def test_lists_every_method_of_the_path(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        response = http.options(f"/v1/customers/{customer['id']}")
        assert response.status_code == 204
        assert response.headers["allow"] == "DELETE, GET, OPTIONS, PUT"


class TestEmail:
    def test_a_control_character_is_400(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers", json={"email": "a\x1db@example.com"})
        assert_error(response, 400, "invalid_payload")


class TestSegmentText:
    @pytest.mark.parametrize(
        "body",
        [
            {"name": "a\x00b", "type": "static", "customers": []},
            {"name": "ab", "type": "static", "customers": ["x\x00"]},
            {
                "name": "ab",
                "type": "passive",
                "filter": {"junction": "and", "metadata.a\x00": {"conditions": {"$is": "a"}}},
            },
        ],
    )
    def test_nul_characters_are_400_not_500(self, http: httpx.Client, body: object) -> None:
        assert_error(http.post("/v1/segments", json=body), 400, "invalid_payload")

    def test_null_customers_and_filter_mean_absent(self, http: httpx.Client) -> None:
        body = {
            "name": "all",
            "type": "auto-update",
            "customers": None,
            "filter": {"junction": "and"},
        }
        assert http.post("/v1/segments", json=body).status_code == 200


class TestFreeFormDiscountParts:
    """Found by the fuzzer: a NUL in a discount's `units` reached PostgreSQL (500)."""

    def test_a_nul_in_a_discount_is_a_400(self, http: httpx.Client) -> None:
        discount = {"type": "AMOUNT", "amount_off": 100, "units": [{"k\u0000": 1}]}
        voucher = http.post("/v1/vouchers", json={"discount": discount})
        assert voucher.status_code == 400, voucher.text
        assert voucher.json()["key"] == "invalid_payload"
        campaign = http.post(
            "/v1/campaigns",
            json={"name": "nul", "voucher": {"type": "DISCOUNT_VOUCHER", "discount": discount}},
        )
        assert campaign.status_code == 400, campaign.text
