"""The client-side validations and redemptions (a client key and an allowed origin): the Python
SDK's `ClientSideApi` stacked calls, and the deprecated `GET /client/v1/validate` and
`POST /client/v1/redeem` over plain HTTP for what the SDK lacks (INCENTIVES.md §3, §4.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, BadRequestException

from patron.projects.service import Credentials
from tests.conftest import RunningServer
from tests.events.test_routes import ORIGIN, ClientCredentials, make_client_key


@pytest.fixture
def client_key(server: RunningServer, project: Credentials) -> ClientCredentials:
    return make_client_key(server.db, project)


@pytest.fixture
def client_api(server: RunningServer, client_key: ClientCredentials) -> Iterator[Any]:
    configuration = voucherify.Configuration(
        host=server.base_url,
        api_key={"X-Client-Application-Id": client_key.key_id, "X-Client-Token": client_key.token},
    )
    with voucherify.ApiClient(configuration) as client:
        yield voucherify.ClientSideApi(client)


@pytest.fixture
def client_http(server: RunningServer, client_key: ClientCredentials) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=client_key.headers(), timeout=30) as client:
        yield client


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.body is not None
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def make_code(http: httpx.Client, code: str, **body: Any) -> str:
    body.setdefault("type", "DISCOUNT_VOUCHER")
    body.setdefault("discount", {"type": "AMOUNT", "amount_off": 500})
    response = http.post(f"/v1/vouchers/{code}", json=body)
    assert response.status_code == 200, response.text
    return code


def validation_body(*codes: str, source_id: str, amount: int) -> Any:
    return voucherify.ClientValidationsValidateRequestBody(
        redeemables=[
            voucherify.ClientValidationsValidateRequestBodyRedeemablesItem(object="voucher", id=c)
            for c in codes
        ],
        customer=voucherify.Customer(source_id=source_id),
        order=voucherify.Order(amount=amount),
    )


def redemption_body(*codes: str, source_id: str, amount: int) -> Any:
    return voucherify.ClientRedemptionsRedeemRequestBody(
        redeemables=[
            voucherify.ClientRedemptionsRedeemRequestBodyRedeemablesItem(object="voucher", id=c)
            for c in codes
        ],
        customer=voucherify.Customer(source_id=source_id),
        order=voucherify.Order(amount=amount),
    )


def summary(http: httpx.Client, source_id: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v1/customers/{source_id}").json()["summary"]
    return found


class TestValidateStackedClientSide:
    def test_applicable_codes(self, client_api: Any, http: httpx.Client) -> None:
        make_code(http, "CS-V1")
        make_code(http, "CS-V2", discount={"type": "PERCENT", "percent_off": 10})
        answer = client_api.validate_stacked_discounts_client_side(
            origin=ORIGIN,
            client_validations_validate_request_body=validation_body(
                "CS-V1", "CS-V2", source_id="cs-v", amount=3000
            ),
        )
        assert answer.valid is True
        assert [item.status for item in answer.redeemables or []] == ["APPLICABLE"] * 2
        assert answer.order is not None
        assert answer.order.total_amount == 2250
        assert answer.tracking_id == "cs-v"
        assert answer.stacking_rules is not None
        # A validation leaves no trace: the customer is not even created.
        assert http.get("/v1/customers/cs-v").status_code == 404

    def test_an_inapplicable_code_answers_its_error(
        self, client_api: Any, http: httpx.Client
    ) -> None:
        make_code(http, "CS-OK")
        make_code(http, "CS-EXPIRED", expiration_date="2020-01-01T00:00:00Z")
        answer = client_api.validate_stacked_discounts_client_side(
            origin=ORIGIN,
            client_validations_validate_request_body=validation_body(
                "CS-OK", "CS-EXPIRED", source_id="cs-x", amount=3000
            ),
        )
        assert answer.valid is False
        [inapplicable] = answer.inapplicable_redeemables or []
        assert inapplicable.id == "CS-EXPIRED"
        assert inapplicable.status == "INAPPLICABLE"
        assert inapplicable.result.error.key == "voucher_expired"

    def test_without_origin_is_refused(self, client_key: ClientCredentials, server: Any) -> None:
        response = httpx.post(
            f"{server.base_url}/client/v1/validations",
            headers=client_key.headers(origin=None),
            json={"redeemables": [{"object": "voucher", "id": "X"}]},
        )
        assert response.status_code in (401, 403), response.text
        assert response.json()["request_id"]


class TestRedeemStackedClientSide:
    def test_redeems_and_counts_on_the_customer(self, client_api: Any, http: httpx.Client) -> None:
        make_code(http, "CS-R1")
        answer = client_api.redeem_stacked_discounts_client_side(
            origin=ORIGIN,
            client_redemptions_redeem_request_body=redemption_body(
                "CS-R1", source_id="cs-r", amount=1200
            ),
        )
        assert answer.parent_redemption is not None
        [child] = answer.redemptions or []
        assert child.result == "SUCCESS"
        assert child.redemption == answer.parent_redemption.id
        assert child.channel is not None
        assert child.channel.channel_type == "API"
        assert answer.order is not None
        assert answer.order.status == "PAID"
        assert answer.order.total_amount == 700
        redemptions = summary(http, "cs-r")["redemptions"]
        assert (redemptions["total_redeemed"], redemptions["total_succeeded"]) == (1, 1)

    def test_refused_is_a_400_naming_the_failed_redemption(
        self, client_api: Any, http: httpx.Client
    ) -> None:
        make_code(http, "CS-OFF", active=False)
        with pytest.raises(BadRequestException) as refused:
            client_api.redeem_stacked_discounts_client_side(
                origin=ORIGIN,
                client_redemptions_redeem_request_body=redemption_body(
                    "CS-OFF", source_id="cs-off", amount=1000
                ),
            )
        error = error_of(refused)
        assert error["key"] == "voucher_disabled"
        assert error["resource_type"] == "redemption"
        assert error["resource_id"].startswith("rf_")
        assert summary(http, "cs-off")["redemptions"]["total_failed"] == 1

    def test_a_client_key_cannot_roll_back(
        self, client_api: Any, client_http: httpx.Client, http: httpx.Client
    ) -> None:
        make_code(http, "CS-NORB")
        answer = client_api.redeem_stacked_discounts_client_side(
            origin=ORIGIN,
            client_redemptions_redeem_request_body=redemption_body(
                "CS-NORB", source_id="cs-norb", amount=1000
            ),
        )
        parent_id = answer.parent_redemption.id
        response = client_http.post(f"/v1/redemptions/{parent_id}/rollbacks")
        assert response.status_code == 401, response.text


class TestValidateByQuery:
    def test_valid_with_amount_customer_and_metadata(
        self, client_http: httpx.Client, http: httpx.Client
    ) -> None:
        make_code(http, "CQ-1")
        response = client_http.get(
            "/client/v1/validate",
            params={
                "code": "CQ-1",
                "amount": "2000",
                "customer[source_id]": "cq-buyer",
                "metadata[channel]": "web",
            },
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["valid"] is True
        assert answer["code"] == "CQ-1"
        assert answer["order"]["total_amount"] == 1500
        assert answer["tracking_id"] == "cq-buyer"

    def test_a_lock_session_from_the_query(
        self, client_http: httpx.Client, http: httpx.Client
    ) -> None:
        make_code(http, "CQ-LOCK", redemption={"quantity": 1})
        response = client_http.get(
            "/client/v1/validate",
            params={
                "code": "CQ-LOCK",
                "session_type": "LOCK",
                "session_key": "cart-1",
                "session_ttl": "1",
                "session_ttl_unit": "HOURS",
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["session"] == {
            "key": "cart-1",
            "type": "LOCK",
            "ttl": 1,
            "ttl_unit": "HOURS",
        }
        # The one use is held by the session: another validation finds none left.
        other = client_http.get("/client/v1/validate", params={"code": "CQ-LOCK"})
        assert other.json()["valid"] is False
        assert other.json()["error"]["key"] == "quantity_exceeded"

    def test_an_unknown_code_is_a_404(self, client_http: httpx.Client) -> None:
        response = client_http.get("/client/v1/validate", params={"code": "CQ-NONE"})
        assert response.status_code == 404, response.text
        answer = response.json()
        assert answer["key"] == "not_found"
        assert answer["resource_type"] == "voucher"

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"code": "CQ-1", "amount": "ten"},
            {"code": "CQ-1", "amount": "-5"},
            {"code": "CQ-1", "session_type": "LOCK", "session_ttl": "soon"},
        ],
    )
    def test_malformed_query_is_a_400(
        self, client_http: httpx.Client, params: dict[str, str]
    ) -> None:
        response = client_http.get("/client/v1/validate", params=params)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["key"] == "invalid_query_params"
        assert body["request_id"]


class TestRedeemByQuery:
    def test_the_code_in_the_query(self, client_http: httpx.Client, http: httpx.Client) -> None:
        make_code(http, "CQ-R")
        response = client_http.post(
            "/client/v1/redeem",
            params={"code": "CQ-R"},
            json={"customer": {"source_id": "cq-r"}, "order": {"amount": 800}},
        )
        assert response.status_code == 200, response.text
        redemption = response.json()
        assert redemption["object"] == "redemption"
        assert redemption["redemption"] is None
        assert redemption["order"]["total_amount"] == 300
        assert summary(http, "cq-r")["redemptions"]["total_succeeded"] == 1

    def test_without_a_code_is_a_400(self, client_http: httpx.Client) -> None:
        response = client_http.post("/client/v1/redeem", json={})
        assert response.status_code == 400, response.text
        assert response.json()["key"] == "invalid_query_params"

    @pytest.mark.parametrize("body", ["[1]", "not json", '{"order": {"amount": "x"}}'])
    def test_a_malformed_body_is_a_400(
        self, client_http: httpx.Client, http: httpx.Client, body: str
    ) -> None:
        make_code(http, "CQ-BAD")
        response = client_http.post(
            "/client/v1/redeem",
            params={"code": "CQ-BAD"},
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["key"] == "invalid_payload"


class TestPromotionTierNotKept:
    def test_a_promotion_tier_is_inapplicable_and_named_as_such(
        self, client_api: Any, http: httpx.Client
    ) -> None:
        answer = client_api.validate_stacked_discounts_client_side(
            origin=ORIGIN,
            client_validations_validate_request_body=voucherify.ClientValidationsValidateRequestBody(
                redeemables=[
                    voucherify.ClientValidationsValidateRequestBodyRedeemablesItem(
                        object="promotion_tier", id="promo_missing"
                    )
                ],
            ),
        )
        assert answer.valid is False
        [item] = answer.inapplicable_redeemables or []
        assert item.object == "promotion_tier"
        assert item.result.error.key == "not_found"
        refused = http.post(
            "/v1/redemptions",
            json={
                "redeemables": [{"object": "promotion_tier", "id": "promo_missing"}],
                "customer": {"source_id": "promo-buyer"},
            },
        )
        assert refused.status_code == 404, refused.text
        stored = http.get(f"/v1/redemptions/{refused.json()['resource_id']}").json()
        assert stored["related_object_type"] == "promotion_tier"
        assert stored["related_object_id"] == "promo_missing"
