"""Validation rules assigned to codes and campaigns, read by validations and redemptions
(INCENTIVES.md §3.1), and the stacking modes ALL and PARTIAL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import unique


def rule(http: httpx.Client, rules: dict[str, Any], **body: Any) -> str:
    response = http.post(
        "/v1/validation-rules", json={"name": unique("rule"), "rules": rules, **body}
    )
    assert response.status_code == 200, response.text
    rule_id: str = response.json()["id"]
    return rule_id


def assign(http: httpx.Client, rule_id: str, kind: str, object_id: str) -> None:
    response = http.post(
        f"/v1/validation-rules/{rule_id}/assignments",
        json={"related_object_type": kind, "related_object_id": object_id},
    )
    assert response.status_code == 200, response.text


def code(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("discount", {"type": "AMOUNT", "amount_off": 100})
    response = http.post("/v1/vouchers", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def redeem(http: httpx.Client, *codes: str, **body: Any) -> httpx.Response:
    redeemables = [{"object": "voucher", "id": key} for key in codes]
    return http.post("/v1/redemptions", json={"redeemables": redeemables, **body})


def counters(http: httpx.Client, key: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v1/customers/{key}").json()["summary"]["redemptions"]
    return found


class TestRulesOnRedemptions:
    def test_an_order_rule_refuses_with_its_message(self, http: httpx.Client) -> None:
        voucher = code(http)
        minimum = {
            "1": {
                "name": "order.amount",
                "conditions": {"$more_than": [5000]},
                "error": {"message": "Spend more than 50.00"},
            },
            "logic": "1",
        }
        assign(http, rule(http, minimum), "voucher", voucher["id"])
        small = redeem(http, voucher["code"], customer={"source_id": "o"}, order={"amount": 1000})
        assert small.status_code == 400
        error = small.json()
        assert error["key"] == "order_rules_violated"
        assert error["error"] == {"message": "Spend more than 50.00"}
        assert error["resource_id"].startswith("rf_")
        assert error["resource_type"] == "redemption"
        stored = http.get(f"/v1/redemptions/{error['resource_id']}").json()
        assert stored["failure_code"] == "order_rules_violated"
        assert stored["result"] == "FAILURE"
        validated = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": voucher["code"]}],
                "order": {"amount": 1000},
            },
        ).json()
        assert validated["valid"] is False
        inapplicable = validated["inapplicable_redeemables"][0]["result"]["error"]
        assert inapplicable["key"] == "order_rules_violated"
        big = redeem(http, voucher["code"], customer={"source_id": "o"}, order={"amount": 9000})
        assert big.status_code == 200, big.text
        assert counters(http, "o")["total_failed"] == 1
        assert counters(http, "o")["total_succeeded"] == 1

    def test_a_campaign_rule_applies_to_its_codes(self, http: httpx.Client) -> None:
        made = http.post(
            "/v1/campaigns",
            json={
                "name": unique("Camp"),
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "PERCENT", "percent_off": 5},
                },
            },
        ).json()
        vip = {
            "1": {"name": "customer.metadata", "property": "tier", "conditions": {"$is": ["vip"]}}
        }
        assign(http, rule(http, vip), "campaign", made["id"])
        minted = http.post(f"/v1/campaigns/{made['id']}/vouchers", json={}).json()["code"]
        plain = redeem(http, minted, customer={"source_id": "plain"})
        assert plain.json()["key"] == "customer_rules_violated"
        vip_customer = {"source_id": "vip", "metadata": {"tier": "vip"}}
        validated = http.post(
            "/v1/validations",
            json={"redeemables": [{"object": "voucher", "id": minted}], "customer": vip_customer},
        ).json()
        assert validated["valid"] is True  # the metadata sent counts, though nothing is stored
        assert http.get("/v1/customers/vip").status_code == 404
        assert redeem(http, minted, customer=vip_customer).status_code == 200

    def test_once_per_customer(self, http: httpx.Client) -> None:
        voucher = code(http)
        once = {
            "1": {
                "name": "redemption.count.per_customer",
                "conditions": {"$less_than_or_equal": [1]},
            }
        }
        assign(http, rule(http, once), "voucher", voucher["id"])
        assert redeem(http, voucher["code"], customer={"source_id": "a"}).status_code == 200
        again = redeem(http, voucher["code"], customer={"source_id": "a"})
        assert again.status_code == 400
        assert again.json()["key"] == "redemption_rules_violated"
        assert redeem(http, voucher["code"], customer={"source_id": "b"}).status_code == 200

    def test_only_the_holder_may_redeem(self, http: httpx.Client) -> None:
        voucher = code(http)
        linked = {"1": {"name": "publication.redeemable_by_linked_customer", "conditions": {}}}
        assign(http, rule(http, linked), "voucher", voucher["id"])
        published = http.post(
            "/v1/publications",
            json={"customer": {"source_id": "owner"}, "voucher": voucher["code"]},
        )
        assert published.status_code == 200, published.text
        stranger = redeem(http, voucher["code"], customer={"source_id": "stranger"})
        assert stranger.status_code == 400
        assert redeem(http, voucher["code"], customer={"source_id": "owner"}).status_code == 200

    def test_segment_rule(self, http: httpx.Client) -> None:
        member = http.post("/v1/customers", json={"source_id": "member"}).json()
        segment = http.post(
            "/v1/segments",
            json={"name": unique("seg"), "type": "static", "customers": [member["id"]]},
        ).json()
        voucher = code(http)
        in_segment = {"1": {"name": "customer.segment", "conditions": {"$in": [segment["id"]]}}}
        assign(http, rule(http, in_segment), "voucher", voucher["id"])
        assert redeem(http, voucher["code"], customer={"source_id": "outsider"}).status_code == 400
        assert redeem(http, voucher["code"], customer={"source_id": "member"}).status_code == 200


class TestApplicationModes:
    def test_all_stores_a_failure_per_redeemable(self, http: httpx.Client) -> None:
        good = code(http)["code"]
        spent = code(http, redemption={"quantity": 0})["code"]
        refused = redeem(http, good, spent, customer={"source_id": "all"}, order={"amount": 900})
        assert refused.status_code == 400
        assert refused.json()["key"] == "quantity_exceeded"
        failures = http.get("/v1/redemptions", params={"result": "FAILURE"}).json()
        assert failures["total"] == 2
        assert counters(http, "all")["total_failed"] == 2
        assert http.get(f"/v1/vouchers/{good}").json()["redemption"]["redeemed_quantity"] == 0
        assert http.get("/v1/orders").json()["total"] == 0

    def test_partial_redeems_what_applies(self, http: httpx.Client) -> None:
        good = code(http)["code"]
        spent = code(http, redemption={"quantity": 0})["code"]
        answer = redeem(
            http,
            good,
            spent,
            customer={"source_id": "partial"},
            order={"amount": 900},
            stacking_rules={"redeemables_application_mode": "PARTIAL"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [r["voucher"]["code"] for r in body["redemptions"]] == [good]
        assert body["inapplicable_redeemables"][0]["id"] == spent
        assert body["order"]["total_amount"] == 800
        assert counters(http, "partial")["total_succeeded"] == 1
        assert counters(http, "partial")["total_failed"] == 1
        assert counters(http, "partial")["total_redeemed"] == 2

    def test_duplicated_and_too_many_redeemables(self, http: httpx.Client) -> None:
        one = code(http)["code"]
        twice = redeem(http, one, one)
        assert twice.status_code == 400
        assert twice.json()["key"] == "duplicated_redeemables"
        many = redeem(http, *(unique("c") for _ in range(31)))
        assert many.status_code == 400
        assert many.json()["key"] == "invalid_payload"
        nothing = http.post("/v1/redemptions", json={"redeemables": []})
        assert nothing.status_code == 400
        bad_mode = redeem(http, one, stacking_rules={"redeemables_application_mode": "SOME"})
        assert bad_mode.status_code == 400
