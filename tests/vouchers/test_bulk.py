"""Work on many vouchers at once through the official SDK: imports (JSON and CSV) and metadata
updates, each an async action whose result the tests read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, sdk_client
from tests.factories import unique


@pytest.fixture
def vouchers_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.VouchersApi(client)


@pytest.fixture
def campaigns_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.CampaignsApi(client)


def discount_voucher(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    code = extra.pop("code", unique("CODE"))
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
    response = http.post(f"/v1/vouchers/{code}", json={**body, **extra})
    assert response.status_code == 200, response.text
    voucher: dict[str, Any] = response.json()
    return voucher


def assert_error(response: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == status
    assert body["key"] == key
    assert body["request_id"]
    return body


class TestImportVouchers:
    def test_standalone_vouchers_are_created_and_a_taken_code_is_reported(
        self, vouchers_api: Any, http: httpx.Client
    ) -> None:
        taken = discount_voucher(http)["code"]
        discount_code, gift_code = unique("D"), unique("G")
        accepted = vouchers_api.import_vouchers(
            [
                voucherify.VouchersImportCreateItemRequestBody(
                    code=discount_code,
                    type="DISCOUNT_VOUCHER",
                    discount=voucherify.Discount(type="PERCENT", percent_off=30),
                    category="new customer acquisition",
                    active=False,
                    start_date=datetime(2020, 12, 10, 23, 0),  # naive: sent without offset
                    redemption=voucherify.VouchersImportCreateItemRequestBodyRedemption(quantity=1),
                    metadata={"unit": "EUR"},
                    additional_info="secret-code",
                ),
                voucherify.VouchersImportCreateItemRequestBody(
                    code=gift_code, type="GIFT_VOUCHER", gift=voucherify.Gift(amount=10000)
                ),
                voucherify.VouchersImportCreateItemRequestBody(
                    code=taken,
                    type="DISCOUNT_VOUCHER",
                    discount=voucherify.Discount(type="AMOUNT", amount_off=5),
                ),
            ]
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "VOUCHERS.IMPORT"
        assert action["status"] == "DONE"
        assert action["operation_status"] == "FAILED"
        assert action["result"] == {
            "message": "2 voucher(s) imported successfully, 1 failed.",
            "failed": [{"code": taken, "reason": f"Duplicated voucher code {taken}"}],
            "done_count": 2,
            "failed_count": 1,
        }
        discount = vouchers_api.get_voucher(discount_code)
        assert discount.campaign is None
        assert discount.discount.percent_off == 30
        assert discount.active is False
        assert discount.category == "new customer acquisition"
        assert discount.redemption.quantity == 1
        assert discount.metadata == {"unit": "EUR"}
        assert discount.additional_info == "secret-code"
        assert http.get(f"/v1/vouchers/{discount_code}").json()["start_date"] == (
            "2020-12-10T23:00:00.000Z"
        )
        gift = vouchers_api.get_voucher(gift_code)
        assert gift.type == "GIFT_VOUCHER"
        assert gift.gift.amount == gift.gift.balance == 10000

    def test_an_item_naming_a_campaign_joins_it(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = campaigns_api.create_campaign(
            voucherify.CampaignsCreateRequestBody(
                name=unique("Import"),
                voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                    type="DISCOUNT_VOUCHER",
                    discount=voucherify.Discount(type="AMOUNT", amount_off=700),
                ),
            )
        )
        code = unique("C")
        response = http.post(
            "/v1/vouchers/import",
            json=[{"code": code, "campaign": campaign.name, "start_date": "2030-01-02"}],
        )
        assert response.status_code == 202, response.text
        action = wait_done(http, response.json()["async_action_id"])
        assert action["result"]["done_count"] == 1
        voucher = http.get(f"/v1/vouchers/{code}").json()
        assert voucher["campaign_id"] == campaign.id
        assert voucher["discount"]["amount_off"] == 700
        assert voucher["start_date"] == "2030-01-02T00:00:00.000Z"

    def test_bad_items_are_reported_with_why(self, http: httpx.Client) -> None:
        loyalty, no_discount, bad_date = unique("L"), unique("N"), unique("B")
        response = http.post(
            "/v1/vouchers/import",
            json=[
                {"code": loyalty, "type": "LOYALTY_CARD"},
                {"code": no_discount, "type": "DISCOUNT_VOUCHER"},
                {
                    "code": bad_date,
                    "discount": {"type": "AMOUNT", "amount_off": 1},
                    "expiration_date": "next tuesday",
                },
            ],
        )
        assert response.status_code == 202, response.text
        result = wait_done(http, response.json()["async_action_id"])["result"]
        assert result["done_count"] == 0
        assert [failure["code"] for failure in result["failed"]] == [
            loyalty,
            no_discount,
            bad_date,
        ]
        reasons = [failure["reason"] for failure in result["failed"]]
        assert "LOYALTY_CARD" in reasons[0]
        assert "discount" in reasons[1]
        assert "expiration_date" in reasons[2]
        assert http.get(f"/v1/vouchers/{loyalty}").status_code == 404

    def test_a_code_given_twice_is_400_duplicate_key(self, http: httpx.Client) -> None:
        code = unique("DUP")
        item = {"code": code, "discount": {"type": "AMOUNT", "amount_off": 1}}
        body = assert_error(
            http.post("/v1/vouchers/import", json=[item, item]), 400, "duplicate_key"
        )
        assert code in body["details"]

    def test_an_item_without_a_code_is_400_invalid_voucher(self, http: httpx.Client) -> None:
        response = http.post("/v1/vouchers/import", json=[{"type": "DISCOUNT_VOUCHER"}])
        assert_error(response, 400, "invalid_voucher")

    @pytest.mark.parametrize("body", [{"code": "x"}, "[", None])
    def test_a_body_that_is_not_an_array_is_400(self, http: httpx.Client, body: Any) -> None:
        if body == "[":
            response = http.post(
                "/v1/vouchers/import", content=b"[", headers={"content-type": "application/json"}
            )
        else:
            response = http.post("/v1/vouchers/import", json=body)
        assert_error(response, 400, "invalid_payload")


GENERIC_CSV = (
    "Code,Voucher Type,Active,Start Date,Expiration Date,Discount Type,Value,Category,"
    "Redemption Limit,Additional Info,Region\n"
    "{discount},DISCOUNT_VOUCHER,FALSE,2022-09-19T00:00:00.000Z,2022-11-30,AMOUNT,1000,New,"
    ",Planned release,Europe\n"
    "\n"
    "{gift},GIFT_VOUCHER,TRUE,,,,2500,Gift,5,,\n"
    "{taken},DISCOUNT_VOUCHER,,,,PERCENT,10,,,,\n"
    "{bad},DISCOUNT_VOUCHER,maybe,,,PERCENT,10,,,,\n"
)


class TestImportVouchersUsingCsv:
    def test_rows_become_vouchers_and_failures_name_their_row(
        self, vouchers_api: Any, http: httpx.Client
    ) -> None:
        taken = discount_voucher(http)["code"]
        discount, gift, bad = unique("CSVD"), unique("CSVG"), unique("CSVB")
        csv = GENERIC_CSV.format(discount=discount, gift=gift, taken=taken, bad=bad)
        accepted = vouchers_api.import_vouchers_using_csv(file=csv.encode())
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "VOUCHERS.IMPORT_CSV"
        result = action["result"]
        assert result["done_count"] == 2
        assert result["failed_count"] == 2
        assert result["message"] == "2 voucher(s) imported successfully, 2 failed."
        assert result["failed"][0] == {
            "code": taken,
            "row": 4,
            "reason": f"Duplicated voucher code {taken}",
        }
        assert result["failed"][1]["code"] == bad
        assert result["failed"][1]["row"] == 5
        assert "active" in result["failed"][1]["reason"]
        made = vouchers_api.get_voucher(discount)
        assert made.discount.type == "AMOUNT"
        assert made.discount.amount_off == 1000
        assert made.active is False
        assert made.category == "New"
        assert made.additional_info == "Planned release"
        assert made.metadata == {"Region": "Europe"}
        assert made.redemption.quantity is None
        raw = http.get(f"/v1/vouchers/{discount}").json()
        assert raw["start_date"] == "2022-09-19T00:00:00.000Z"
        assert raw["expiration_date"] == "2022-11-30T00:00:00.000Z"
        card = vouchers_api.get_voucher(gift)
        assert card.gift.amount == 2500
        assert card.redemption.quantity == 5
        assert card.metadata == {}

    def test_a_file_without_a_code_column_is_400(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/vouchers/importCSV", files={"file": ("v.csv", b"Name,Value\nx,1\n")}
        )
        body = assert_error(response, 400, "invalid_payload")
        assert "Code" in body["details"]

    def test_a_code_twice_is_400_duplicate_key(self, http: httpx.Client) -> None:
        csv = b"Code,Discount Type,Value\nSAME,AMOUNT,1\nSAME,AMOUNT,2\n"
        response = http.post("/v1/vouchers/importCSV", files={"file": ("v.csv", csv)})
        assert_error(response, 400, "duplicate_key")

    def test_a_row_without_a_code_is_400_naming_its_row(self, http: httpx.Client) -> None:
        csv = b"Code,Discount Type,Value\nONE,AMOUNT,1\n,AMOUNT,2\n"
        response = http.post("/v1/vouchers/importCSV", files={"file": ("v.csv", csv)})
        body = assert_error(response, 400, "invalid_voucher")
        assert "Row 2" in body["details"]

    def test_a_file_that_is_not_utf8_is_400(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/vouchers/importCSV", files={"file": ("v.csv", b"Code\n\xff\xfe\n")}
        )
        assert_error(response, 400, "invalid_payload")

    def test_json_instead_of_a_file_is_415(self, http: httpx.Client) -> None:
        response = http.post("/v1/vouchers/importCSV", json=[{"code": "x"}])
        assert response.status_code == 415


class TestUpdateVouchersInBulk:
    def test_metadata_is_merged_and_unknown_codes_are_reported(
        self, vouchers_api: Any, http: httpx.Client
    ) -> None:
        first = discount_voucher(http, metadata={"lang": "pl", "keep": True})["code"]
        second = discount_voucher(http)["code"]
        missing = unique("MISSING")
        accepted = vouchers_api.update_vouchers_in_bulk(
            [
                voucherify.VouchersUpdateInBulkItemRequestBody(
                    code=first, metadata={"lang": "en", "update_value": 1}
                ),
                voucherify.VouchersUpdateInBulkItemRequestBody(
                    code=second, metadata={"test": False}
                ),
                voucherify.VouchersUpdateInBulkItemRequestBody(code=missing, metadata={"x": 1}),
            ]
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "VOUCHERS.BULK_UPDATE"
        assert action["result"] == {
            "done_count": 2,
            "failed_count": 1,
            "reports": [],
            "reports_available_till": None,
            "errors": [
                {
                    "code": missing,
                    "key": "not_found",
                    "message": "Resource not found",
                    "details": f"Cannot find voucher with id {missing}",
                }
            ],
        }
        assert vouchers_api.get_voucher(first).metadata == {
            "lang": "en",
            "keep": True,
            "update_value": 1,
        }
        assert vouchers_api.get_voucher(second).metadata == {"test": False}

    def test_a_code_given_twice_gets_both_the_later_winning(self, http: httpx.Client) -> None:
        code = discount_voucher(http)["code"]
        response = http.post(
            "/v1/vouchers/bulk/async",
            json=[
                {"code": code, "metadata": {"a": 1, "b": 1}},
                {"code": code, "metadata": {"b": 2}},
            ],
        )
        assert response.status_code == 202, response.text
        result = wait_done(http, response.json()["async_action_id"])["result"]
        assert (result["done_count"], result["failed_count"]) == (2, 0)
        assert http.get(f"/v1/vouchers/{code}").json()["metadata"] == {"a": 1, "b": 2}

    def test_another_projects_voucher_is_unknown_and_unchanged(
        self, server: RunningServer, http: httpx.Client, another_project: Credentials
    ) -> None:
        with httpx.Client(
            base_url=server.base_url, headers=auth_headers(another_project), timeout=30
        ) as other:
            theirs = discount_voucher(other, metadata={"owner": "them"})["code"]
            response = http.post(
                "/v1/vouchers/bulk/async", json=[{"code": theirs, "metadata": {"owner": "us"}}]
            )
            assert response.status_code == 202, response.text
            result = wait_done(http, response.json()["async_action_id"])["result"]
            assert result["errors"][0]["key"] == "not_found"
            assert other.get(f"/v1/vouchers/{theirs}").json()["metadata"] == {"owner": "them"}

    @pytest.mark.parametrize(
        "body",
        [
            [{"code": "x"}],
            [{"metadata": {"a": 1}}],
            [{"code": "", "metadata": {}}],
            [{"code": "x", "metadata": "text"}],
            {"code": "x", "metadata": {}},
        ],
    )
    def test_malformed_elements_are_400(self, http: httpx.Client, body: Any) -> None:
        assert_error(http.post("/v1/vouchers/bulk/async", json=body), 400, "invalid_payload")

    def test_nul_in_metadata_is_400(self, http: httpx.Client) -> None:
        body = [{"code": "x", "metadata": {"a": "\x00"}}]
        assert_error(http.post("/v1/vouchers/bulk/async", json=body), 400, "invalid_payload")


class TestUpdateVouchersMetadataInBulk:
    def test_the_metadata_is_merged_into_each_and_unknown_codes_are_reported(
        self, vouchers_api: Any, http: httpx.Client
    ) -> None:
        first = discount_voucher(http, metadata={"lang": "pl", "keep": 1})["code"]
        second = discount_voucher(http)["code"]
        missing = unique("MISSING")
        accepted = vouchers_api.update_vouchers_metadata_in_bulk(
            voucherify.VouchersMetadataUpdateInBulkRequestBody(
                codes=[first, second, missing],
                metadata={"lang": "en", "authorized_internally": True},
            )
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "VOUCHERS.METADATA_UPDATE"
        assert action["result"] == {
            "done_count": 2,
            "failed_count": 1,
            "errors": [
                {
                    "code": missing,
                    "key": "not_found",
                    "message": "Resource not found",
                    "details": f"Cannot find voucher with id {missing}",
                }
            ],
        }
        assert vouchers_api.get_voucher(first).metadata == {
            "lang": "en",
            "keep": 1,
            "authorized_internally": True,
        }
        assert vouchers_api.get_voucher(second).metadata == {
            "lang": "en",
            "authorized_internally": True,
        }

    def test_a_binned_voucher_is_unknown(self, http: httpx.Client) -> None:
        code = discount_voucher(http)["code"]
        assert http.delete(f"/v1/vouchers/{code}").status_code == 204
        response = http.post(
            "/v1/vouchers/metadata/async", json={"codes": [code], "metadata": {"a": 1}}
        )
        result = wait_done(http, response.json()["async_action_id"])["result"]
        assert (result["done_count"], result["failed_count"]) == (0, 1)

    @pytest.mark.parametrize(
        "body",
        [
            {"codes": ["x"]},
            {"metadata": {"a": 1}},
            {"codes": "x", "metadata": {}},
            {"codes": [1], "metadata": {}},
            [],
        ],
    )
    def test_malformed_bodies_are_400(self, http: httpx.Client, body: Any) -> None:
        response = http.post("/v1/vouchers/metadata/async", json=body)
        assert_error(response, 400, "invalid_payload")
