"""Rollbacks through the official Python SDK: every refusal stored as a failed rollback
(`rrf_…`), the customer's rollback counters, and the rollback activities (INCENTIVES.md §4.4,
§4.5, §9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, BadRequestException, NotFoundException

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client

ACTIVITY_KEYS = {
    "customer",
    "order",
    "campaign",
    "voucher",
    "holder",
    "redemption",
    "redemption_rollback",
}


@pytest.fixture
def api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield client


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.body is not None
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def campaign_code(http: httpx.Client, name: str) -> str:
    """A code added to a new DISCOUNT_COUPONS campaign (500 off)."""
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    response = http.post("/v1/campaigns", json={"name": name, "voucher": voucher})
    assert response.status_code == 200, response.text
    added = http.post(f"/v1/campaigns/{response.json()['id']}/vouchers", json={})
    assert added.status_code == 200, added.text
    code: str = added.json()["code"]
    return code


def standalone_code(http: httpx.Client, code: str) -> str:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    response = http.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text
    return code


def redeem_one(http: httpx.Client, code: str, *, source_id: str, order: str) -> dict[str, Any]:
    """The deprecated single-code redemption: one redemption without a parent."""
    response = http.post(
        f"/v1/vouchers/{code}/redemption",
        json={"customer": {"source_id": source_id}, "order": {"source_id": order, "amount": 2000}},
    )
    assert response.status_code == 200, response.text
    redemption: dict[str, Any] = response.json()
    return redemption


def redeem_stacked(http: httpx.Client, *codes: str, source_id: str) -> dict[str, Any]:
    response = http.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": code} for code in codes],
            "customer": {"source_id": source_id},
            "order": {"amount": 3000},
        },
    )
    assert response.status_code == 200, response.text
    redeemed: dict[str, Any] = response.json()
    return redeemed


def counters(http: httpx.Client, source_id: str) -> dict[str, Any]:
    summary: dict[str, Any] = http.get(f"/v1/customers/{source_id}").json()["summary"]
    redemptions: dict[str, Any] = summary["redemptions"]
    return redemptions


def activities(api: Any, source_id: str, **filters: Any) -> list[Any]:
    """The customer's activities, newest first, parsed by the SDK's models."""
    listed = voucherify.CustomersApi(api).list_customer_activity(source_id, **filters)
    return list(listed.data or [])


def rollback_counts(http: httpx.Client, source_id: str) -> tuple[int, int, int]:
    found = counters(http, source_id)
    return (
        found["total_rolled_back"],
        found["total_rollback_succeeded"],
        found["total_rollback_failed"],
    )


class TestRollbackRedemption:
    def test_succeeds_and_records_the_activity(self, api: Any, http: httpx.Client) -> None:
        code = campaign_code(http, "Rollback Campaign")
        redemption = redeem_one(http, code, source_id="rb-ok", order="ord-rb-ok")
        rollback = voucherify.RedemptionsApi(api).rollback_redemption(
            redemption["id"], reason="refund"
        )
        assert rollback.id is not None
        assert rollback.id.startswith("rr_")
        assert rollback.object == "redemption_rollback"
        assert rollback.redemption == redemption["id"]
        assert rollback.status == "SUCCEEDED"
        assert rollback.result == "SUCCESS"
        assert rollback.reason == "refund"
        assert rollback.order is not None
        assert rollback.order.status == "CANCELED"
        assert rollback_counts(http, "rb-ok") == (1, 1, 0)
        # A rollback does not take back total_succeeded (INCENTIVES.md §0.1).
        assert counters(http, "rb-ok")["total_succeeded"] == 1
        [latest, *_] = activities(api, "rb-ok")
        assert latest.type == "customer.redemption.rollback.succeeded"
        data = latest.data
        assert set(data) >= ACTIVITY_KEYS
        assert data["redemption"]["id"] == redemption["id"]
        assert data["redemption"]["status"] == "ROLLED_BACK"
        assert data["redemption_rollback"]["id"] == rollback.id
        assert data["campaign"]["name"] == "Rollback Campaign"
        assert data["voucher"]["code"] == code
        assert data["customer"]["source_id"] == "rb-ok"
        assert data["order"]["status"] == "CANCELED"
        got = voucherify.RedemptionsApi(api).get_redemption(redemption["id"])
        assert got.status == "ROLLED_BACK"

    def test_twice_is_already_rolled_back_stored_as_a_failed_rollback(
        self, api: Any, http: httpx.Client
    ) -> None:
        code = campaign_code(http, "Twice")
        redemption = redeem_one(http, code, source_id="rb-twice", order="ord-twice")
        redemptions = voucherify.RedemptionsApi(api)
        redemptions.rollback_redemption(redemption["id"], reason="first")
        with pytest.raises(BadRequestException) as refused:
            redemptions.rollback_redemption(redemption["id"], reason="second")
        error = error_of(refused)
        assert error["code"] == 400
        assert error["key"] == "already_rolled_back"
        assert error["request_id"]
        assert error["resource_type"] == "redemption_rollback"
        assert error["resource_id"].startswith("rrf_")
        stored = http.get(f"/v1/redemptions/{error['resource_id']}")
        assert stored.status_code == 200, stored.text
        failure = stored.json()
        assert failure["object"] == "redemption_rollback"
        assert failure["result"] == "FAILURE"
        assert failure["status"] == "FAILED"
        assert failure["failure_code"] == "already_rolled_back"
        assert failure["reason"] == "second"
        assert failure["redemption"] == redemption["id"]
        assert rollback_counts(http, "rb-twice") == (2, 1, 1)
        [latest, previous, *_] = activities(api, "rb-twice")
        assert latest.type == "customer.redemption.rollback.failed"
        assert previous.type == "customer.redemption.rollback.succeeded"
        assert set(latest.data) >= ACTIVITY_KEYS
        assert latest.data["redemption_rollback"]["id"] == error["resource_id"]
        assert latest.data["redemption_rollback"]["status"] == "FAILED"
        assert latest.data["campaign"]["name"] == "Twice"
        # The code's entries list the redemption, its rollback and the failed rollback.
        entries = redemptions.get_voucher_redemptions(code)
        assert [str(e.id).split("_")[0] for e in entries.redemption_entries] == ["r", "rr", "rrf"]

    def test_a_child_of_a_stacked_redemption_is_invalid_redemption(
        self, api: Any, http: httpx.Client
    ) -> None:
        code = standalone_code(http, "STACK-CHILD")
        child = redeem_stacked(http, code, source_id="rb-child")["redemptions"][0]
        with pytest.raises(BadRequestException) as refused:
            voucherify.RedemptionsApi(api).rollback_redemption(child["id"], reason="x")
        error = error_of(refused)
        assert error["key"] == "invalid_redemption"
        assert error["resource_id"].startswith("rrf_")
        assert error["resource_type"] == "redemption_rollback"
        assert rollback_counts(http, "rb-child") == (1, 0, 1)
        assert http.get(f"/v1/redemptions/{child['id']}").json()["status"] == "SUCCEEDED"

    def test_another_customer_is_invalid_customer(self, api: Any, http: httpx.Client) -> None:
        code = standalone_code(http, "WRONG-CUSTOMER")
        redemption = redeem_one(http, code, source_id="rb-cust", order="ord-cust")
        with pytest.raises(BadRequestException) as refused:
            voucherify.RedemptionsApi(api).rollback_redemption(
                redemption["id"],
                reason="x",
                redemptions_rollback_create_request_body=voucherify.RedemptionsRollbackCreateRequestBody(
                    customer=voucherify.Customer(source_id="not-the-buyer")
                ),
            )
        error = error_of(refused)
        assert error["key"] == "invalid_customer"
        assert error["resource_id"].startswith("rrf_")
        assert rollback_counts(http, "rb-cust") == (1, 0, 1)
        # The customer named is not created by a refused rollback.
        assert http.get("/v1/customers/not-the-buyer").status_code == 404

    def test_another_order_is_invalid_order(self, api: Any, http: httpx.Client) -> None:
        code = standalone_code(http, "WRONG-ORDER")
        redemption = redeem_one(http, code, source_id="rb-ord", order="ord-right")
        with pytest.raises(BadRequestException) as refused:
            voucherify.RedemptionsApi(api).rollback_redemption(
                redemption["id"],
                redemptions_rollback_create_request_body=voucherify.RedemptionsRollbackCreateRequestBody(
                    order=voucherify.Order(source_id="ord-wrong")
                ),
            )
        error = error_of(refused)
        assert error["key"] == "invalid_order"
        assert error["resource_id"].startswith("rrf_")
        assert rollback_counts(http, "rb-ord") == (1, 0, 1)
        assert http.get("/v1/orders/ord-right").json()["status"] == "PAID"

    def test_matching_customer_and_order_succeed(self, api: Any, http: httpx.Client) -> None:
        code = standalone_code(http, "RIGHT-BOTH")
        redemption = redeem_one(http, code, source_id="rb-both", order="ord-both")
        rollback = voucherify.RedemptionsApi(api).rollback_redemption(
            redemption["id"],
            reason="ok",
            redemptions_rollback_create_request_body=voucherify.RedemptionsRollbackCreateRequestBody(
                customer=voucherify.Customer(source_id="rb-both"),
                order=voucherify.Order(source_id="ord-both"),
                metadata={"why": "returned"},
            ),
        )
        assert rollback.status == "SUCCEEDED"
        assert rollback.metadata == {"why": "returned"}

    def test_unknown_redemption_is_404_and_stores_nothing(
        self, api: Any, http: httpx.Client
    ) -> None:
        with pytest.raises(NotFoundException) as missing:
            voucherify.RedemptionsApi(api).rollback_redemption("r_missing", reason="x")
        error = error_of(missing)
        assert error["code"] == 404
        assert error["key"] == "not_found"
        assert error["resource_id"] == "r_missing"
        assert error["resource_type"] == "redemption"

    def test_a_failed_redemption_cannot_be_rolled_back(self, api: Any, http: httpx.Client) -> None:
        code = standalone_code(http, "FAILED-ONE")
        assert http.put(f"/v1/vouchers/{code}", json={"active": False}).status_code == 200
        refused = http.post(
            f"/v1/vouchers/{code}/redemption", json={"customer": {"source_id": "rb-failed"}}
        )
        assert refused.status_code == 400, refused.text
        failure_id = refused.json()["resource_id"]
        with pytest.raises(BadRequestException) as again:
            voucherify.RedemptionsApi(api).rollback_redemption(failure_id, reason="x")
        error = error_of(again)
        assert error["key"] == "invalid_redemption"
        assert error["resource_id"].startswith("rrf_")


class TestRollbackStackedRedemptions:
    def test_rolls_back_every_child(self, api: Any, http: httpx.Client) -> None:
        first = standalone_code(http, "STACK-A")
        second = standalone_code(http, "STACK-B")
        redeemed = redeem_stacked(http, first, second, source_id="rbs")
        parent_id = redeemed["parent_redemption"]["id"]
        answer = voucherify.RedemptionsApi(api).rollback_stacked_redemptions(
            parent_id, reason="all back"
        )
        assert answer.rollbacks is not None
        assert [r.redemption for r in answer.rollbacks] == [
            r["id"] for r in redeemed["redemptions"]
        ]
        assert answer.parent_rollback is not None
        assert answer.parent_rollback.redemption == parent_id
        assert answer.order is not None
        assert answer.order.status == "CANCELED"
        assert rollback_counts(http, "rbs") == (2, 2, 0)
        kinds = [a.type for a in activities(api, "rbs")]
        assert kinds.count("customer.redemption.rollback.succeeded") == 2

    def test_on_a_redemption_without_children_is_invalid_redemption_parent(
        self, api: Any, http: httpx.Client
    ) -> None:
        code = standalone_code(http, "NOT-PARENT")
        redemption = redeem_one(http, code, source_id="rbs-np", order="ord-np")
        with pytest.raises(BadRequestException) as refused:
            voucherify.RedemptionsApi(api).rollback_stacked_redemptions(
                redemption["id"], reason="x"
            )
        error = error_of(refused)
        assert error["key"] == "invalid_redemption_parent"
        assert error["resource_id"].startswith("rrf_")
        assert error["resource_type"] == "redemption_rollback"
        assert rollback_counts(http, "rbs-np") == (1, 0, 1)

    def test_twice_is_already_rolled_back(self, api: Any, http: httpx.Client) -> None:
        code = standalone_code(http, "STACK-TWICE")
        parent_id = redeem_stacked(http, code, source_id="rbs-2")["parent_redemption"]["id"]
        redemptions = voucherify.RedemptionsApi(api)
        redemptions.rollback_stacked_redemptions(parent_id)
        with pytest.raises(BadRequestException) as refused:
            redemptions.rollback_stacked_redemptions(parent_id)
        error = error_of(refused)
        assert error["key"] == "already_rolled_back"
        assert error["resource_id"].startswith("rrf_")
        assert rollback_counts(http, "rbs-2") == (2, 1, 1)

    def test_unknown_parent_is_404(self, api: Any) -> None:
        with pytest.raises(NotFoundException) as missing:
            voucherify.RedemptionsApi(api).rollback_stacked_redemptions("r_nothing")
        assert error_of(missing)["resource_id"] == "r_nothing"


class TestActivityCampaignFilters:
    def test_campaign_id_and_type_find_redemption_activities(
        self, api: Any, http: httpx.Client
    ) -> None:
        code = campaign_code(http, "Filtered Campaign")
        campaign_id = http.get(f"/v1/vouchers/{code}").json()["campaign_id"]
        other = standalone_code(http, "NO-CAMPAIGN")
        redemption = redeem_one(http, code, source_id="filtered", order="ord-f1")
        redeem_one(http, other, source_id="filtered", order="ord-f2")
        voucherify.RedemptionsApi(api).rollback_redemption(redemption["id"], reason="x")
        by_id = activities(api, "filtered", campaign_id=campaign_id)
        assert [a.type for a in by_id] == [
            "customer.redemption.rollback.succeeded",
            "customer.redemption.succeeded",
        ]
        by_type = activities(api, "filtered", campaign_type="DISCOUNT_COUPONS")
        assert [a.id for a in by_type] == [a.id for a in by_id]
        assert activities(api, "filtered", campaign_type="GIFT_VOUCHERS") == []
        everything = [a.type for a in activities(api, "filtered")]
        assert everything.count("customer.redemption.succeeded") == 2
