"""Real answers of the vouchers' bulk routes and of a campaign's transactions and summary,
checked against the document and their response types (as `test_responses` does): the fuzzer
rarely gets a campaign with codes and transactions, or an async action with failed rows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema

from patron.app import create_app
from patron.app import openapi_document as document
from patron.config import Settings
from patron.openapi.document import served
from tests.async_actions.helpers import wait_done
from tests.factories import unique
from tests.openapi.test_responses import Checked


@pytest.fixture(scope="module")
def schema() -> OpenApiSchema:
    return schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def response_types() -> dict[str, Any]:
    app = create_app(Settings(), "postgresql://unused")
    return {one.operation_id: one.operation.response for one in served(app.routes)}


@pytest.fixture
def call(http: httpx.Client, schema: OpenApiSchema, response_types: dict[str, Any]) -> Checked:
    return Checked(http, schema, response_types)


def _action(call: Checked, accepted: httpx.Response) -> None:
    action_id = accepted.json()["async_action_id"]
    wait_done(call.http, action_id)
    call("GET", "/v1/async-actions/{asyncActionId}", f"/v1/async-actions/{quote(action_id)}")


def _campaign(call: Checked, voucher: dict[str, Any]) -> dict[str, Any]:
    response = call("POST", "/v1/campaigns", "/v1/campaigns", json={"name": unique("C"), **voucher})
    assert response.status_code == 200, response.text
    campaign: dict[str, Any] = response.json()
    return campaign


class TestResponsesMatchTheDocument:
    def test_voucher_imports_and_metadata_updates_with_failed_rows(self, call: Checked) -> None:
        taken = unique("TAKEN")
        item = {"code": taken, "discount": {"type": "AMOUNT", "amount_off": 1}}
        first = call("POST", "/v1/vouchers/import", "/v1/vouchers/import", json=[item])
        _action(call, first)
        again = [item, {"code": unique("NEW"), "gift": {"amount": 5}, "type": "GIFT_VOUCHER"}]
        _action(call, call("POST", "/v1/vouchers/import", "/v1/vouchers/import", json=again))
        csv = f"Code,Discount Type,Value,Region\n{taken},AMOUNT,1,EU\n{unique('N')},PERCENT,5,\n"
        files = {"file": ("v.csv", csv.encode())}
        _action(call, call("POST", "/v1/vouchers/importCSV", "/v1/vouchers/importCSV", files=files))
        changes = [{"code": taken, "metadata": {"a": 1}}, {"code": unique(), "metadata": {}}]
        _action(
            call, call("POST", "/v1/vouchers/bulk/async", "/v1/vouchers/bulk/async", json=changes)
        )
        body = {"codes": [taken, unique()], "metadata": {"b": 2}}
        path = "/v1/vouchers/metadata/async"
        _action(call, call("POST", path, path, json=body))
        refused = call("POST", "/v1/vouchers/import", "/v1/vouchers/import", json=[item, item])
        assert refused.status_code == 400

    def test_campaign_transactions_and_summaries_of_every_kind(self, call: Checked) -> None:
        gift = _campaign(call, {"voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 1000}}})
        loyalty = _campaign(
            call, {"voucher": {"type": "LOYALTY_CARD", "loyalty_card": {"points": 10}}}
        )
        discount = _campaign(
            call,
            {
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "AMOUNT", "amount_off": 1},
                }
            },
        )
        card = call.http.post(f"/v1/campaigns/{gift['id']}/vouchers").json()
        for amount in (100, -50):
            response = call.http.post(
                f"/v1/vouchers/{card['code']}/balance", json={"amount": amount}
            )
            assert response.status_code == 200, response.text
        transactions = "/v1/campaigns/{campaignId}/transactions"
        listed = call(
            "GET", transactions, f"/v1/campaigns/{gift['id']}/transactions", params={"limit": 1}
        )
        assert listed.json()["has_more"] is True
        call(
            "GET",
            transactions,
            f"/v1/campaigns/{gift['id']}/transactions",
            params={"starting_after_id": listed.json()["more_starting_after"], "order": "-id"},
        )
        summary = "/v1/campaigns/{campaignId}/summary"
        for campaign in (gift, loyalty, discount):
            response = call("GET", summary, f"/v1/campaigns/{campaign['id']}/summary")
            assert response.status_code == 200, response.text
        missing = call("GET", summary, "/v1/campaigns/nothing/summary")
        assert missing.status_code == 404
        bad = call("GET", summary, f"/v1/campaigns/{gift['id']}/summary", params={"end_date": "x"})
        assert bad.status_code == 400
