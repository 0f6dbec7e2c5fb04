"""The official JS SDK (`@voucherify/sdk`, pinned in tests/js/package.json) for what the Python
SDK lacks or sends differently (INCENTIVES.md §10): the client-side publish, `vouchers.create`
without a code (`POST /v1/vouchers/`), `addVoucher`, publications, gift balances and transactions.

Each test runs `tests/js/scenarios.cjs` under node against the test server and asserts on the JSON
it prints. `make test` installs the SDK (`npm ci`, the `js-deps` target). Without node the tests
are skipped, except in CI (`CI` set), where a skip would hide that they never ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
from tests.factories import unique

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "scenarios.cjs"
SDK_VERSION = json.loads((HERE / "package.json").read_text())["dependencies"]["@voucherify/sdk"]
INSTALLED = HERE / "node_modules" / "@voucherify" / "sdk" / "package.json"


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the pinned SDK installed beside the script."""
    executable = shutil.which("node")
    if executable is None:
        reason = "node is not on PATH: the JS SDK tests need Node.js and npm"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run them, never skip them")
        pytest.skip(reason)
    installed = json.loads(INSTALLED.read_text())["version"] if INSTALLED.exists() else None
    if installed != SDK_VERSION:
        pytest.fail(
            f"@voucherify/sdk {SDK_VERSION} is not installed in {HERE / 'node_modules'}"
            f" (found {installed}): run `make js-deps`"
        )
    return executable


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

    def run(scenario: str, **given: Any) -> dict[str, Any]:
        done = subprocess.run(
            [node, str(SCRIPT), scenario, json.dumps(given)],
            cwd=HERE,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{scenario}: {done.stdout}{done.stderr}"
        printed: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
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
