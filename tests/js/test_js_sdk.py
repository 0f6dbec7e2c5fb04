"""The official JS SDK (`@voucherify/sdk`, pinned in tests/js/package.json) for what the Python
SDK lacks or sends differently (INCENTIVES.md §10): the client-side publish, `vouchers.create`
without a code (`POST /v1/vouchers/`), `addVoucher`, publications, gift balances and transactions,
the deprecated single-code validate and redeem, rollbacks (reason in the query), the
client-side validate and redeem (code in the query), the client-side `createCustomer`, and the
legacy consents.

Each test runs `tests/js/scenarios.cjs` under node against the test server and asserts on the JSON
it prints. `make test` installs the SDK (`npm ci`, the `js-deps` target). Without node the tests
are skipped, except in CI (`CI` set), where a skip would hide that they never ran.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from patron.projects.service import Credentials
from tests.conftest import RunningServer
from tests.events.test_routes import ORIGIN, make_client_key
from tests.factories import create_customer, unique

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "scenarios.cjs"


RunJs = Callable[..., dict[str, Any]]


@pytest.fixture
def run_js(node: str, server: RunningServer, project: Credentials) -> RunJs:
    """Runs a scenario (keyword arguments: its input) as this test's project; returns its JSON."""
    client = make_client_key(server.db, project)
    environment = {
        **os.environ,
        "PATRON_URL": server.base_url,
        "PATRON_APP_ID": project.app_id,
        "PATRON_APP_TOKEN": project.app_token,
        "PATRON_CLIENT_APP_ID": client.key_id,
        "PATRON_CLIENT_TOKEN": client.token,
        "PATRON_ORIGIN": ORIGIN,
    }

    def run(scenario: str, *, fails: bool = False, **given: Any) -> dict[str, Any]:
        """`fails`: the SDK call is expected to throw; the result holds the server's `error`."""
        done = subprocess.run(
            [node, str(SCRIPT), scenario, json.dumps(given)],
            cwd=HERE,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == (1 if fails else 0), f"{scenario}: {done.stdout}{done.stderr}"
        printed: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        if fails:
            assert "request_id" in printed["error"], printed
        return printed

    return run


def discount_campaign(http: httpx.Client, name: str) -> dict[str, Any]:
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    response = http.post("/v1/campaigns", json={"name": name, "voucher": voucher})
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def codes_owned(http: httpx.Client, source_id: str) -> list[str]:
    """The codes the customer holds as OWNER, read through the server API."""
    response = http.get(f"/v1/customers/{source_id}/redeemables")
    assert response.status_code == 200, response.text
    return [
        item["redeemable"]["voucher"]["code"]
        for item in response.json()["data"]
        if item["holder_role"] == "OWNER"
    ]


class TestVouchersCreate:
    def test_without_code_posts_to_the_trailing_slash_and_generates_one(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        result = run_js("create_voucher")
        assert result["requests"] == ["POST /v1/vouchers/"]
        voucher = result["voucher"]
        assert re.fullmatch(r"[0-9a-zA-Z]{8}", voucher["code"])
        assert voucher["type"] == "DISCOUNT_VOUCHER"
        assert voucher["discount"]["amount_off"] == 500
        assert voucher["campaign"] is None
        stored = http.get(f"/v1/vouchers/{voucher['code']}")
        assert stored.status_code == 200
        assert stored.json()["id"] == voucher["id"]

    def test_with_code_posts_to_the_code(self, run_js: RunJs, http: httpx.Client) -> None:
        result = run_js("create_voucher", code="JS-CODE-1")
        assert result["requests"] == ["POST /v1/vouchers/JS-CODE-1"]
        assert result["voucher"]["code"] == "JS-CODE-1"
        assert http.get("/v1/vouchers/JS-CODE-1").json()["id"] == result["voucher"]["id"]


class TestClientPublish:
    def test_publishes_a_code_of_the_campaign_named_in_the_query(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(http, unique("JS Campaign"))
        result = run_js("client_publish", campaign=campaign["name"], source_id="js-buyer")
        assert result["requests"] == [f"POST /client/v1/publish?campaign={quote(campaign['name'])}"]
        publication = result["publication"]
        assert publication["object"] == "publication"
        assert publication["result"] == "SUCCESS"
        assert publication["customer"]["source_id"] == "js-buyer"
        voucher = publication["voucher"]
        assert voucher["campaign"] == campaign["name"]
        assert voucher["campaign_id"] == campaign["id"]
        assert publication["vouchers_id"] == [voucher["id"]]
        assert codes_owned(http, "js-buyer") == [voucher["code"]]
        [listed] = http.get("/v1/publications").json()["publications"]
        assert listed["id"] == publication["id"]
        assert listed["channel"] == "Voucherify.js"


class TestCampaignFlow:
    def test_create_add_a_voucher_and_publish_it(self, run_js: RunJs, http: httpx.Client) -> None:
        result = run_js("campaign_flow", name="JS Flow", source_id="js-member")
        assert result["requests"] == [
            "POST /v1/campaigns",
            "POST /v1/campaigns/JS%20Flow/vouchers?vouchers_count=1",
            "POST /v1/publications",
        ]
        campaign, added = result["campaign"], result["added"]
        assert campaign["name"] == "JS Flow"
        assert campaign["campaign_type"] == "DISCOUNT_COUPONS"
        assert added["object"] == "voucher"
        assert added["campaign_id"] == campaign["id"]
        publication = result["publication"]
        assert publication["result"] == "SUCCESS"
        assert publication["voucher"]["code"] == added["code"]
        assert codes_owned(http, "js-member") == [added["code"]]


class TestGiftBalance:
    def test_balance_added_then_one_transaction_listed(self, run_js: RunJs) -> None:
        result = run_js("gift_balance", code="JS-GIFT-1", amount=500)
        voucher, balance = result["voucher"], result["balance"]
        assert voucher["gift"]["balance"] == 1000
        assert balance == {
            "amount": 500,
            "total": 1500,
            "balance": 1500,
            "type": "gift_voucher",
            "operation_type": "MANUAL",
            "object": "balance",
            "related_object": {"type": "voucher", "id": voucher["id"]},
        }
        transactions = result["transactions"]
        assert transactions["has_more"] is False
        # The vendor's JS test: no `more_starting_after` key at all on the last page.
        assert "more_starting_after" not in transactions
        [transaction] = transactions["data"]
        assert transaction["type"] == "CREDITS_ADDITION"
        assert transaction["voucher_id"] == voucher["id"]
        assert transaction["details"]["balance"]["balance"] == 1500
        # `source` is the SDK's X-Voucherify-Channel, `Node.js-v…-SDK-v2.9.0`.
        assert transaction["source"].startswith("Node.js")


def code_of(http: httpx.Client, code: str, **body: Any) -> dict[str, Any]:
    """A standalone code, a 500-cent discount unless `type` and its object say otherwise."""
    body.setdefault("type", "DISCOUNT_VOUCHER")
    if body["type"] == "DISCOUNT_VOUCHER":
        body.setdefault("discount", {"type": "AMOUNT", "amount_off": 500})
    response = http.post(f"/v1/vouchers/{quote(code)}", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def stacked(http: httpx.Client, *codes: str, source_id: str, amount: int) -> dict[str, Any]:
    """Redeem the codes together through the API: `{redemptions, parent_redemption, order}`."""
    response = http.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": code} for code in codes],
            "customer": {"source_id": source_id},
            "order": {"amount": amount},
        },
    )
    assert response.status_code == 200, response.text
    redeemed: dict[str, Any] = response.json()
    return redeemed


def redemptions_summary(http: httpx.Client, source_id: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v1/customers/{source_id}").json()["summary"]
    counters: dict[str, Any] = found["redemptions"]
    return counters


class TestValidateVoucher:
    def test_a_valid_code_answers_its_discount_and_the_order(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-VALID")
        result = run_js(
            "server",
            method="validations.validateVoucher",
            args=["JS-VALID", {"customer": {"source_id": "js-v"}, "order": {"amount": 2000}}],
        )
        assert result["requests"] == ["POST /v1/vouchers/JS-VALID/validate"]
        answer = result["result"]
        assert answer["valid"] is True
        assert answer["code"] == "JS-VALID"
        assert answer["discount"]["amount_off"] == 500
        assert answer["order"]["amount"] == 2000
        assert answer["order"]["total_amount"] == 1500
        assert answer["tracking_id"] == "js-v"
        assert "error" not in answer
        # Validating changes nothing: no redemption, no customer counted.
        assert http.get("/v1/redemptions").json()["total"] == 0

    def test_an_invalid_code_is_a_200_with_reason_and_error(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-DISABLED", active=False)
        result = run_js("server", method="validations.validateVoucher", args=["JS-DISABLED"])
        answer = result["result"]
        assert answer["valid"] is False
        assert answer["code"] == "JS-DISABLED"
        assert answer["error"]["key"] == "voucher_disabled"
        assert answer["error"]["code"] == 400
        assert answer["error"]["request_id"]
        assert answer["reason"] == answer["error"]["message"]
        assert answer["metadata"] == {}

    def test_an_unknown_code_is_a_404(self, run_js: RunJs) -> None:
        result = run_js(
            "server", fails=True, method="validations.validateVoucher", args=["NO-SUCH"]
        )
        error = result["error"]
        assert error["key"] == "not_found"
        assert error["code"] == 404
        assert error["resource_type"] == "voucher"


class TestRedeemVoucher:
    def test_redeems_one_code_and_answers_the_redemption(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-REDEEM")
        result = run_js(
            "server",
            method="redemptions.redeem",
            args=["JS-REDEEM", {"customer": {"source_id": "js-r"}, "order": {"amount": 3000}}],
        )
        assert result["requests"] == ["POST /v1/vouchers/JS-REDEEM/redemption"]
        redemption = result["result"]
        assert redemption["id"].startswith("r_")
        assert redemption["object"] == "redemption"
        assert redemption["result"] == "SUCCESS"
        assert redemption["status"] == "SUCCEEDED"
        # A single-code redemption has no parent.
        assert redemption["redemption"] is None
        assert redemption["related_object_type"] == "voucher"
        assert redemption["voucher"]["code"] == "JS-REDEEM"
        assert redemption["voucher"]["redemption"]["redeemed_quantity"] == 1
        assert redemption["order"]["status"] == "PAID"
        assert redemption["order"]["total_amount"] == 2500
        assert redemption["customer"]["source_id"] == "js-r"
        assert redemptions_summary(http, "js-r")["total_succeeded"] == 1

    def test_a_refusal_is_a_400_naming_the_stored_failure(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-OFF", active=False)
        result = run_js(
            "server",
            fails=True,
            method="redemptions.redeem",
            args=["JS-OFF", {"customer": {"source_id": "js-f"}}],
        )
        error = result["error"]
        assert error["code"] == 400
        assert error["key"] == "voucher_disabled"
        assert error["details"] == "JS-OFF"
        assert error["resource_type"] == "redemption"
        assert error["resource_id"].startswith("rf_")
        stored = http.get(f"/v1/redemptions/{error['resource_id']}").json()
        assert stored["result"] == "FAILURE"
        assert stored["failure_code"] == "voucher_disabled"
        counters = redemptions_summary(http, "js-f")
        assert (counters["total_redeemed"], counters["total_failed"]) == (1, 1)


class TestStackable:
    def test_validate_then_redeem_then_read_back(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-S1")
        code_of(http, "JS-S2", discount={"type": "PERCENT", "percent_off": 10})
        body = {
            "redeemables": [
                {"object": "voucher", "id": "JS-S1"},
                {"object": "voucher", "id": "JS-S2"},
            ],
            "customer": {"source_id": "js-s"},
            "order": {"amount": 10000},
        }
        validated = run_js("server", method="validations.validateStackable", args=[body])
        assert validated["requests"] == ["POST /v1/validations"]
        validation = validated["result"]
        assert validation["valid"] is True
        assert [item["status"] for item in validation["redeemables"]] == ["APPLICABLE"] * 2
        assert validation["order"]["total_amount"] == 8550
        assert validation["stacking_rules"]["redeemables_application_mode"] == "ALL"

        redeemed = run_js("server", method="redemptions.redeemStackable", args=[body])
        assert redeemed["requests"] == ["POST /v1/redemptions"]
        answer = redeemed["result"]
        parent = answer["parent_redemption"]
        assert parent["related_object_type"] == "redemption"
        assert [child["redemption"] for child in answer["redemptions"]] == [parent["id"]] * 2
        assert answer["order"]["total_amount"] == 8550

        child = answer["redemptions"][0]
        got = run_js("server", method="redemptions.get", args=[child["id"]])
        assert got["requests"] == [f"GET /v1/redemptions/{child['id']}"]
        assert got["result"]["id"] == child["id"]

        listed = run_js("server", method="redemptions.list", args=[{"customer": "js-s"}])
        assert listed["requests"] == ["GET /v1/redemptions?customer=js-s"]
        page = listed["result"]
        assert page["object"] == "list"
        assert page["data_ref"] == "redemptions"
        assert {r["id"] for r in page["redemptions"]} == {r["id"] for r in answer["redemptions"]}

        entries = run_js("server", method="redemptions.getForVoucher", args=["JS-S1"])
        assert entries["requests"] == ["GET /v1/vouchers/JS-S1/redemption"]
        assert entries["result"]["redeemed_quantity"] == 1
        assert [e["id"] for e in entries["result"]["redemption_entries"]] == [child["id"]]

    def test_rollback_stackable_puts_reason_in_the_query(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-RS1")
        code_of(http, "JS-RS2")
        parent = stacked(http, "JS-RS1", "JS-RS2", source_id="js-rs", amount=5000)
        parent_id = parent["parent_redemption"]["id"]
        result = run_js(
            "server",
            method="redemptions.rollbackStackable",
            args=[parent_id, {}, {"reason": "returned"}],
        )
        assert result["requests"] == [f"POST /v1/redemptions/{parent_id}/rollbacks?reason=returned"]
        answer = result["result"]
        assert [r["status"] for r in answer["rollbacks"]] == ["SUCCEEDED", "SUCCEEDED"]
        assert {r["reason"] for r in answer["rollbacks"]} == {"returned"}
        assert answer["parent_rollback"]["redemption"] == parent_id
        assert answer["order"]["status"] == "CANCELED"
        counters = redemptions_summary(http, "js-rs")
        assert counters["total_rollback_succeeded"] == 2


class TestRollback:
    def test_reason_as_a_string_goes_in_the_query(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-RB1")
        redemption = run_js(
            "server",
            method="redemptions.redeem",
            args=["JS-RB1", {"customer": {"source_id": "js-rb"}}],
        )["result"]
        result = run_js(
            "server", method="redemptions.rollback", args=[redemption["id"], "changed mind"]
        )
        assert result["requests"] == [
            f"POST /v1/redemptions/{redemption['id']}/rollback?reason=changed%20mind"
        ]
        rollback = result["result"]
        assert rollback["id"].startswith("rr_")
        assert rollback["object"] == "redemption_rollback"
        assert rollback["redemption"] == redemption["id"]
        assert rollback["reason"] == "changed mind"
        assert rollback["status"] == "SUCCEEDED"
        assert rollback["voucher"]["redemption"]["redeemed_quantity"] == 0
        got = http.get(f"/v1/redemptions/{redemption['id']}").json()
        assert got["status"] == "ROLLED_BACK"
        assert [r["id"] for r in got["related_redemptions"]["rollbacks"]] == [rollback["id"]]

    def test_reason_tracking_id_and_customer_as_an_object(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-RB2")
        redemption = run_js(
            "server",
            method="redemptions.redeem",
            args=["JS-RB2", {"customer": {"source_id": "js-rb2"}}],
        )["result"]
        params = {"reason": "refund", "tracking_id": "js-rb2", "customer": {"source_id": "js-rb2"}}
        result = run_js("server", method="redemptions.rollback", args=[redemption["id"], params])
        assert result["requests"] == [
            f"POST /v1/redemptions/{redemption['id']}/rollback?reason=refund&tracking_id=js-rb2"
        ]
        rollback = result["result"]
        assert rollback["reason"] == "refund"
        assert rollback["tracking_id"] == "js-rb2"
        assert rollback["customer"]["source_id"] == "js-rb2"

    def test_another_customer_in_the_body_is_refused(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-RB3")
        redemption = run_js(
            "server",
            method="redemptions.redeem",
            args=["JS-RB3", {"customer": {"source_id": "js-rb3"}}],
        )["result"]
        result = run_js(
            "server",
            fails=True,
            method="redemptions.rollback",
            args=[redemption["id"], {"reason": "x", "customer": {"source_id": "someone-else"}}],
        )
        error = result["error"]
        assert error["key"] == "invalid_customer"
        assert error["resource_type"] == "redemption_rollback"
        assert error["resource_id"].startswith("rrf_")

    def test_a_child_of_a_stacked_redemption_is_refused(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-RB4")
        child = stacked(http, "JS-RB4", source_id="js-rb4", amount=1000)["redemptions"][0]
        result = run_js(
            "server", fails=True, method="redemptions.rollback", args=[child["id"], "nope"]
        )
        assert result["error"]["key"] == "invalid_redemption"
        assert result["error"]["resource_id"].startswith("rrf_")


class TestClientSide:
    def test_validate_sends_everything_in_the_query(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        code_of(http, "JS-CV")
        params = {
            "code": "JS-CV",
            "amount": 1800,
            "customer": {"source_id": "js-cv", "metadata": {"tier": "gold"}},
            "metadata": {"channel": "web"},
        }
        result = run_js("client", method="validate", args=[params])
        [sent] = result["requests"]
        assert sent.startswith("GET /client/v1/validate?code=JS-CV&amount=1800")
        assert "customer%5Bsource_id%5D=js-cv" in sent
        answer = result["result"]
        assert answer["valid"] is True
        assert answer["code"] == "JS-CV"
        assert answer["order"]["total_amount"] == 1300
        assert answer["tracking_id"] == "js-cv"

    def test_validate_a_code_given_as_a_string(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-CVS", active=False)
        result = run_js("client", method="validate", args=["JS-CVS"])
        assert result["requests"] == ["GET /client/v1/validate?code=JS-CVS"]
        assert result["result"]["valid"] is False
        assert result["result"]["error"]["key"] == "voucher_disabled"

    def test_redeem_puts_the_code_in_the_query(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-CR")
        result = run_js(
            "client",
            method="redeem",
            args=["JS-CR", {"customer": {"source_id": "js-cr"}, "order": {"amount": 900}}],
        )
        assert result["requests"] == ["POST /client/v1/redeem?code=JS-CR"]
        redemption = result["result"]
        assert redemption["result"] == "SUCCESS"
        assert redemption["channel"]["channel_type"] == "API"
        assert redemption["order"]["total_amount"] == 400
        assert redemption["customer"]["source_id"] == "js-cr"
        assert redemptions_summary(http, "js-cr")["total_succeeded"] == 1

    def test_redeem_refused(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-CRX", redemption={"quantity": 1})
        run_js("client", method="redeem", args=["JS-CRX", {"customer": {"source_id": "a"}}])
        result = run_js(
            "client", fails=True, method="redeem", args=["JS-CRX", {"customer": {"source_id": "b"}}]
        )
        error = result["error"]
        assert error["key"] == "quantity_exceeded"
        assert error["details"] == "JS-CRX"
        assert error["resource_id"].startswith("rf_")
        assert error["resource_type"] == "redemption"

    def test_validate_and_redeem_stackable(self, run_js: RunJs, http: httpx.Client) -> None:
        code_of(http, "JS-CS")
        body = {
            "redeemables": [{"object": "voucher", "id": "JS-CS"}],
            "customer": {"source_id": "js-cs"},
            "order": {"amount": 700},
        }
        validated = run_js("client", method="validateStackable", args=[body])
        assert validated["requests"] == ["POST /client/v1/validations"]
        assert validated["result"]["valid"] is True
        redeemed = run_js("client", method="redeemStackable", args=[body])
        assert redeemed["requests"] == ["POST /client/v1/redemptions"]
        answer = redeemed["result"]
        assert answer["parent_redemption"]["id"].startswith("r_")
        assert answer["order"]["total_amount"] == 200
        assert redemptions_summary(http, "js-cs")["total_succeeded"] == 1

    def test_create_customer_upserts_by_source_id(self, run_js: RunJs, http: httpx.Client) -> None:
        body = {"source_id": "js-cc", "name": "Page Visitor", "email": "visitor@shop.example"}
        created = run_js("client", method="createCustomer", args=[body])
        assert created["requests"] == ["POST /client/v1/customers"]
        customer = created["result"]
        assert customer["object"] == "customer"
        assert customer["id"].startswith("cust_")
        assert customer["source_id"] == "js-cc"
        assert customer["name"] == "Page Visitor"
        again = run_js(
            "client", method="createCustomer", args=[{"source_id": "js-cc", "name": "Renamed"}]
        )["result"]
        assert again["id"] == customer["id"]
        assert again["email"] == "visitor@shop.example"
        stored = http.get("/v1/customers/js-cc").json()
        assert (stored["id"], stored["name"]) == (customer["id"], "Renamed")

    def test_create_customer_with_double_opt_in_is_refused(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        body = {"source_id": "js-dd", "email": "dd@shop.example"}
        result = run_js("client", fails=True, method="createCustomer", args=[body, True])
        assert result["requests"] == ["POST /client/v1/customers"]
        error = result["error"]
        assert error["code"] == 400
        assert error["key"] == "invalid_payload"
        assert "X-Voucherify-Double-Opt-In is not supported" in error["details"]
        assert http.get("/v1/customers/js-dd").status_code == 404


class TestConsents:
    """The deprecated consents, which only the JS SDK still calls: each change of a customer's
    consents is an activity on the legacy list (`customers.listActivities`)."""

    def test_unsubscribing_a_customer_who_never_gave_a_consent_is_recorded_once(
        self, run_js: RunJs, http: httpx.Client
    ) -> None:
        customer = create_customer(http)
        for _ in range(2):
            done = run_js(
                "server",
                method="customers.updateConsents",
                args=[customer["source_id"], {"unsubscribed": True}],
            )
            assert done["requests"] == [f"PUT /v1/customers/{customer['source_id']}/consents"]
        listed = run_js("server", method="customers.listActivities", args=[customer["id"]])
        consents = [
            activity
            for activity in listed["result"]["data"]
            if activity["type"].startswith("customer.consents.")
        ]
        assert [a["type"] for a in consents] == ["customer.consents.revoked"]
        assert consents[0]["data"]["consents"]["unsubscribed"]["value"] is True
        assert listed["result"]["total"] == 2  # customer.created and the revocation

    def test_client_side_consents_are_recorded(self, run_js: RunJs, http: httpx.Client) -> None:
        customer = create_customer(http)
        run_js("client", method="updateConsents", args=[customer["id"], {"unsubscribed": True}])
        listed = run_js("server", method="customers.listActivities", args=[customer["id"]])
        types = [activity["type"] for activity in listed["result"]["data"]]
        assert "customer.consents.revoked" in types
        assert http.get(f"/v1/customers/{customer['id']}").json()["email_unsubscribed"] is True


class TestCustomerShapes:
    """The values the JS SDK's own live tests assert (`voucherify-js-sdk`,
    `packages/sdk/test/customers.spec.ts`), through the same SDK methods."""

    def wait_done(self, run_js: RunJs, action_id: str) -> None:
        for _ in range(600):
            action = run_js("server", method="asyncActions.get", args=[action_id])["result"]
            if action["status"] == "DONE":
                return
        raise AssertionError("the async action did not finish")

    def test_created_without_metadata_and_address(self, run_js: RunJs) -> None:
        # "Should not return metadata after creating new customer", "Should return address
        # equal to null after creating new customer".
        created = run_js("server", method="customers.create", args=[{"source_id": "js-plain"}])
        assert "metadata" not in created["result"]
        assert created["result"]["address"] is None
        assert created["result"]["assets"] is None

    def test_address_updated_in_bulk_reads_back_as_sent(self, run_js: RunJs) -> None:
        # "Should update address in bulk properly".
        run_js("server", method="customers.create", args=[{"source_id": "js-ny"}])
        address = {"city": "New York", "country": "US"}
        for sent in (address, {"city": None, "country": None}):
            accepted = run_js(
                "server",
                method="customers.updateInBulk",
                args=[[{"source_id": "js-ny", "name": "Bob Doe", "address": sent}]],
            )
            self.wait_done(run_js, accepted["result"]["async_action_id"])
            got = run_js("server", method="customers.get", args=["js-ny"])["result"]
            assert got["address"] == sent

    def test_permanent_deletion(self, run_js: RunJs) -> None:
        # "Should delete customer permanently".
        created = run_js("server", method="customers.create", args=[{"name": "Bob"}])["result"]
        deleted = run_js("server", method="customers.deletePermanently", args=[created["id"]])
        body = deleted["result"]
        assert body["id"].startswith("del")
        assert body["related_object_id"] == created["id"]
        assert (body["related_object"], body["status"], body["object"]) == (
            "customer",
            "DONE",
            "pernament_deletion",
        )
        assert body["data_json"]["customer"] == 1
