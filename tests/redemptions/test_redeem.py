"""Redemptions through the official Python SDK, and what they make real on the customer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.redemptions.summaries import assert_consistent


@pytest.fixture
def api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield client


def voucher(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("type", "DISCOUNT_VOUCHER")
    if body["type"] == "DISCOUNT_VOUCHER":
        body.setdefault("discount", {"type": "AMOUNT", "amount_off": 500})
    response = http.post("/v1/vouchers", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def summary(http: httpx.Client, key: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v1/customers/{key}").json()["summary"]
    return found


def redeem(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/redemptions", json=body)


class TestRedeemThroughTheSdk:
    def test_a_discount_code_with_an_order(self, api: Any, http: httpx.Client) -> None:
        code = voucher(http)["code"]
        answer = voucherify.RedemptionsApi(api).redeem_stacked_discounts(
            voucherify.RedemptionsRedeemRequestBody(
                redeemables=[
                    voucherify.RedemptionsRedeemRequestBodyRedeemablesItem(
                        object="voucher", id=code
                    )
                ],
                customer=voucherify.Customer(source_id="buyer-1"),
                order=voucherify.Order(amount=2000, source_id="ord-1"),
            )
        )
        assert answer.parent_redemption is not None
        assert answer.redemptions is not None
        assert len(answer.redemptions) == 1
        child = answer.redemptions[0]
        assert child.result == "SUCCESS"
        assert child.redemption == answer.parent_redemption.id
        assert answer.order is not None
        assert answer.order.status == "PAID"
        assert answer.order.discount_amount == 500
        assert answer.order.total_amount == 1500
        counters = summary(http, "buyer-1")
        assert counters["redemptions"]["total_redeemed"] == 1
        assert counters["redemptions"]["total_succeeded"] == 1
        assert counters["orders"]["total_amount"] == 1500
        listed = voucherify.RedemptionsApi(api).list_redemptions(customer="buyer-1")
        assert [r.id for r in listed.redemptions or []] == [child.id]
        assert child.id is not None
        got = voucherify.RedemptionsApi(api).get_redemption(child.id)
        assert got.id == child.id
        entries = voucherify.RedemptionsApi(api).get_voucher_redemptions(code)
        assert entries.redeemed_quantity == 1

    def test_validation_then_rollback(self, api: Any, http: httpx.Client) -> None:
        code = voucher(http, redemption={"quantity": 1})["code"]
        validated = voucherify.ValidationsApi(api).validate_stacked_discounts(
            voucherify.ValidationsValidateRequestBody(
                redeemables=[
                    voucherify.ValidationsValidateRequestBodyRedeemablesItem(
                        object="voucher", id=code
                    )
                ],
                order=voucherify.Order(amount=1000),
            )
        )
        assert validated.valid is True
        redeemed = redeem(
            http,
            redeemables=[{"object": "voucher", "id": code}],
            customer={"source_id": "rb"},
            order={"amount": 1000},
        )
        assert redeemed.status_code == 200, redeemed.text
        again = redeem(http, redeemables=[{"object": "voucher", "id": code}])
        assert again.status_code == 400, again.text
        assert again.json()["key"] == "quantity_exceeded"
        assert again.json()["resource_id"].startswith("rf_")
        parent = redeemed.json()["parent_redemption"]["id"]
        rolled = voucherify.RedemptionsApi(api).rollback_stacked_redemptions(
            parent, reason="refund"
        )
        assert rolled.rollbacks is not None
        assert rolled.rollbacks[0].status == "SUCCEEDED"
        assert rolled.order is not None
        assert rolled.order.status == "CANCELED"
        counters = summary(http, "rb")["redemptions"]
        assert counters["total_rolled_back"] == 1
        assert counters["total_rollback_succeeded"] == 1
        invalid = voucherify.ValidationsApi(api).validate_stacked_discounts(
            voucherify.ValidationsValidateRequestBody(
                redeemables=[
                    voucherify.ValidationsValidateRequestBodyRedeemablesItem(
                        object="voucher", id="nope"
                    )
                ],
            )
        )
        assert invalid.valid is False
        assert invalid.inapplicable_redeemables is not None
        result = invalid.inapplicable_redeemables[0].result
        assert result is not None
        assert result.error is not None
        assert result.error.key == "not_found"

    def test_gift_card_spend(self, http: httpx.Client) -> None:
        card = voucher(http, type="GIFT_VOUCHER", gift={"amount": 10000})
        spent = redeem(
            http,
            redeemables=[{"object": "voucher", "id": card["code"], "gift": {"credits": 2500}}],
            customer={"source_id": "g"},
            order={"amount": 4000},
        )
        assert spent.status_code == 200, spent.text
        child = spent.json()["redemptions"][0]
        assert child["amount"] == 2500
        assert child["voucher"]["gift"]["balance"] == 7500
        assert summary(http, "g")["redemptions"]["gift"]["redeemed_amount"] == 2500


class TestErasure:
    def test_permanent_deletion_forgets_who_redeemed(self, http: httpx.Client) -> None:
        code = voucher(http)["code"]
        customer = {"source_id": "gone", "email": "gone@example.com"}
        done = redeem(http, redeemables=[{"object": "voucher", "id": code}], customer=customer)
        child = done.json()["redemptions"][0]
        erased = http.post(f"/v1/customers/{child['customer_id']}/permanent-deletion")
        assert erased.status_code == 200, erased.text
        kept = http.get(f"/v1/redemptions/{child['id']}").json()
        assert kept["customer_id"] is None
        assert kept["customer"] is None
        assert kept["tracking_id"] is None
        assert "gone@example.com" not in http.get("/v1/redemptions").text
        assert http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"] == 1


class TestCampaignSummary:
    def test_redemptions_and_rollbacks_are_counted(self, http: httpx.Client) -> None:
        made = http.post(
            "/v1/campaigns",
            json={
                "name": "Summer",
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "AMOUNT", "amount_off": 300},
                    "redemption": {"quantity": 1},
                },
            },
        ).json()
        codes = [http.post(f"/v1/campaigns/{made['id']}/vouchers", json={}).json()["code"]]
        codes.append(http.post(f"/v1/campaigns/{made['id']}/vouchers", json={}).json()["code"])
        first = redeem(
            http, redeemables=[{"object": "voucher", "id": codes[0]}], order={"amount": 1000}
        )
        redeem(http, redeemables=[{"object": "voucher", "id": codes[1]}], order={"amount": 2000})
        refused = redeem(http, redeemables=[{"object": "voucher", "id": codes[0]}])
        assert refused.status_code == 400
        http.post(f"/v1/redemptions/{first.json()['parent_redemption']['id']}/rollbacks")
        figures = http.get(f"/v1/campaigns/{made['id']}/summary").json()
        assert figures["redemptions"] == 3
        assert figures["redemptions_succeeded"] == 2
        assert figures["redemptions_failed"] == 1
        assert figures["rollbacks"] == 1
        assert figures["rollbacks_succeeded"] == 1
        assert figures["discounted_amount"] == 600
        assert figures["rolledback_discounted_amount"] == 300
        assert figures["orders_amount"] == 3000
        assert figures["orders_rolledback_amount"] == 1000


class TestReviewedEdges:
    def test_a_code_named_by_its_code_and_its_id_is_refused(self, http: httpx.Client) -> None:
        made = voucher(http)
        twice = [{"object": "voucher", "id": made["code"]}, {"object": "voucher", "id": made["id"]}]
        for path in ("/v1/redemptions", "/v1/validations"):
            answer = http.post(path, json={"redeemables": twice, "order": {"amount": 900}})
            assert answer.status_code == 400, answer.text
            assert answer.json()["key"] == "duplicated_redeemables"
        assert (
            http.get(f"/v1/vouchers/{made['code']}").json()["redemption"]["redeemed_quantity"] == 0
        )

    def test_a_session_of_more_than_ten_years_is_refused(self, http: httpx.Client) -> None:
        made = voucher(http, redemption={"quantity": 1})
        answer = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": made["code"]}],
                "session": {"type": "LOCK", "ttl": 10**9, "ttl_unit": "DAYS"},
            },
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["key"] == "invalid_payload"

    def test_a_refused_rollback_of_a_deleted_customer_is_counted(
        self, http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        code = voucher(http)["code"]
        done = redeem(
            http, redeemables=[{"object": "voucher", "id": code}], customer={"source_id": "del"}
        )
        parent = done.json()["parent_redemption"]["id"]
        assert http.post(f"/v1/redemptions/{parent}/rollbacks").status_code == 200
        assert http.delete("/v1/customers/del").status_code == 204
        again = http.post(f"/v1/redemptions/{parent}/rollbacks")
        assert again.status_code == 400
        assert again.json()["key"] == "already_rolled_back"
        assert_consistent(server.db, project.project_id)


class TestListFilterWords:
    def test_filter_operator_in_any_case(self, http: httpx.Client) -> None:
        # Voucherify's filter words are read in any letter case (kit.filter_words).
        codes = [voucher(http)["code"], voucher(http)["code"]]
        for code in codes:
            answer = redeem(
                http,
                redeemables=[{"object": "voucher", "id": code}],
                customer={"source_id": "shopper"},
                order={"amount": 1000},
            )
            assert answer.status_code == 200, answer.text
        response = http.get(
            "/v1/redemptions", params={"filters[voucher_code][conditions][$IS]": codes[0]}
        )
        assert response.status_code == 200, response.text
        listed = response.json()["redemptions"]
        assert [r["voucher"]["code"] for r in listed] == [codes[0]]
        # The redemption's customer leaves out a metadata never set, as the customer does.
        assert "metadata" not in listed[0]["customer"]
