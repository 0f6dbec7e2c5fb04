"""Vouchers through the official SDK (and httpx where it falls short): create, read, change,
delete, list, enable, disable; gift card balances and their transactions (INCENTIVES.md §1.1,
§1.4, §1.5).

Holder-dependent cases (a loyalty card's balance, the holder's activities and balances after a
change) wait for publications, which make holders.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, BadRequestException, NotFoundException

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, sdk_client
from tests.factories import (
    create_customer,
    discount_campaign,
    discount_voucher,
    gift_campaign,
    gift_card,
    loyalty_campaign,
    unique,
)

ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_CODE_CONFIG = {
    "pattern": "########",
    "length": 8,
    "charset": ALPHANUMERIC,
    "prefix": "",
    "postfix": "",
}
VOUCHER_KEYS = {
    "id",
    "code",
    "campaign",
    "campaign_id",
    "category",
    "category_id",
    "categories",
    "type",
    "discount",
    "gift",
    "loyalty_card",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "active",
    "additional_info",
    "metadata",
    "assets",
    "is_referral_code",
    "created_at",
    "updated_at",
    "holder_id",
    "referrer_id",
    "redemption",
    "publish",
    "code_config",
    "object",
    "validation_rules_assignments",  # get, create and update show them (INCENTIVES.md §3)
}


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.body is not None
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def balance_body(amount: int, **extra: Any) -> Any:
    return voucherify.VouchersBalanceUpdateRequestBody(amount=amount, **extra)


class TestGenerateRandomCode:
    def test_a_standalone_discount_code(self, vouchers_api: Any, http: httpx.Client) -> None:
        voucher = discount_voucher(vouchers_api)
        assert voucher.id.startswith("v_")
        assert re.fullmatch("[0-9a-zA-Z]{8}", voucher.code)
        assert (voucher.campaign, voucher.campaign_id) == (None, None)
        assert voucher.type == "DISCOUNT_VOUCHER"
        assert voucher.discount.amount_off == 500
        assert (voucher.gift, voucher.loyalty_card) == (None, None)
        assert voucher.active is True
        assert voucher.publish.count == 0
        assert voucher.redemption.redeemed_quantity == 0
        raw = http.get(f"/v1/vouchers/{voucher.code}").json()
        assert set(raw) == VOUCHER_KEYS
        assert raw["code_config"] == DEFAULT_CODE_CONFIG
        assert raw["object"] == "voucher"

    def test_the_code_follows_the_code_config(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/vouchers",
            json={
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 15},
                "code_config": {"pattern": "SALE-##-##", "charset": "XYZ", "postfix": "!"},
            },
        )
        assert response.status_code == 200
        voucher = response.json()
        assert re.fullmatch(r"SALE-[XYZ]{2}-[XYZ]{2}!", voucher["code"])
        assert voucher["code_config"] == {
            "pattern": "SALE-##-##",
            "length": 4,
            "charset": "XYZ",
            "prefix": "",
            "postfix": "!",
        }

    def test_the_js_sdks_trailing_slash_path(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/vouchers/", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1500}}
        )
        assert response.status_code == 200
        voucher = response.json()
        assert voucher["gift"]["balance"] == 1500
        assert voucher["code_config"] == DEFAULT_CODE_CONFIG
        code = unique("js")
        named = http.post("/v1/vouchers/", json={"code": code, **voucher_body()})
        assert (named.status_code, named.json()["code"]) == (200, code)

    def test_a_standalone_gift_card(self, vouchers_api: Any) -> None:
        card = gift_card(vouchers_api, amount=2500)
        assert card.type == "GIFT_VOUCHER"
        gift = card.gift
        assert (gift.amount, gift.subtracted_amount, gift.balance) == (2500, 0, 2500)
        assert gift.effect == "APPLY_TO_ORDER"
        assert card.discount is None

    def test_into_a_campaign_by_name_or_id(
        self, vouchers_api: Any, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api, amount=800, category="cards")
        by_name = vouchers_api.generate_random_code(
            voucherify.VouchersCreateRequestBody(campaign=campaign.name)
        )
        by_id = vouchers_api.generate_random_code(
            voucherify.VouchersCreateRequestBody(campaign_id=campaign.id, metadata={"n": 2})
        )
        for voucher in (by_name, by_id):
            assert (voucher.campaign, voucher.campaign_id) == (campaign.name, campaign.id)
            assert voucher.gift.balance == 800
            assert voucher.category == "cards"
        assert by_id.metadata == {"n": 2}
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 2
        raw = http.get(f"/v1/vouchers/{by_id.code}").json()
        assert raw["code_config"] == DEFAULT_CODE_CONFIG

    def test_a_type_the_campaign_does_not_make_is_refused(
        self, vouchers_api: Any, campaigns_api: Any
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        with pytest.raises(BadRequestException) as error:
            gift_card(vouchers_api, campaign_id=campaign.id)
        assert error_of(error)["key"] == "invalid_voucher"

    def test_a_standalone_campaign_takes_one_code(
        self, vouchers_api: Any, campaigns_api: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api, type="STANDALONE")
        vouchers_api.generate_random_code(
            voucherify.VouchersCreateRequestBody(campaign_id=campaign.id)
        )
        with pytest.raises(BadRequestException) as error:
            vouchers_api.generate_random_code(
                voucherify.VouchersCreateRequestBody(campaign_id=campaign.id)
            )
        assert error_of(error)["key"] == "invalid_campaign"

    def test_concurrent_creations_leave_a_standalone_campaign_one_code(
        self, server: RunningServer, project: Credentials, campaigns_api: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api, type="STANDALONE")

        async def create_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=auth_headers(project), timeout=60
            ) as client:
                return await asyncio.gather(
                    *(
                        client.post("/v1/vouchers", json={"campaign_id": campaign.id})
                        for _ in range(16)
                    )
                )

        responses = asyncio.run(create_all())
        assert sorted(r.status_code for r in responses) == [200] + [400] * 15
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 1

    def test_a_loyalty_card_without_a_campaign_is_refused(self, vouchers_api: Any) -> None:
        with pytest.raises(BadRequestException) as error:
            vouchers_api.generate_random_code(
                voucherify.VouchersCreateRequestBody(
                    type="LOYALTY_CARD", loyalty_card=voucherify.SimpleLoyaltyCard(points=10)
                )
            )
        assert error_of(error)["key"] == "invalid_voucher"

    def test_a_gift_card_without_an_amount_is_refused(self, http: httpx.Client) -> None:
        response = http.post("/v1/vouchers", json={"type": "GIFT_VOUCHER"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_voucher"

    def test_a_fractional_amount_is_refused(self, http: httpx.Client) -> None:
        response = http.post("/v1/vouchers", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1.5}})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_payload"

    def test_an_unknown_campaign_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException) as error:
            vouchers_api.generate_random_code(voucherify.VouchersCreateRequestBody(campaign="nope"))
        assert error_of(error)["resource_type"] == "campaign"

    def test_a_code_config_that_cannot_yield_a_free_code_is_invalid_code_config(
        self, http: httpx.Client
    ) -> None:
        body = {**voucher_body(), "code_config": {"pattern": "#", "charset": "A"}}
        assert http.post("/v1/vouchers", json=body).status_code == 200
        response = http.post("/v1/vouchers", json=body)
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_code_config"


def voucher_body(**overrides: Any) -> dict[str, Any]:
    return {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}} | (
        overrides
    )


class TestCreateVoucher:
    def test_with_a_specific_code(self, vouchers_api: Any) -> None:
        code = unique("WELCOME")
        voucher = vouchers_api.create_voucher(
            code,
            voucherify.VouchersCreateWithSpecificCodeRequestBody(
                type="DISCOUNT_VOUCHER",
                discount=voucherify.Discount(type="PERCENT", percent_off=20),
                category="welcome",
                metadata={"source": "test"},
                additional_info="first order",
                start_date=datetime(2030, 1, 1, tzinfo=UTC),
                expiration_date=datetime(2031, 1, 1, tzinfo=UTC),
                redemption=voucherify.VouchersCreateWithSpecificCodeRequestBodyRedemption(
                    quantity=3
                ),
            ),
        )
        assert voucher.code == code
        assert voucher.discount.percent_off == 20
        assert (voucher.category, voucher.metadata) == ("welcome", {"source": "test"})
        assert voucher.additional_info == "first order"
        assert voucher.start_date == datetime(2030, 1, 1, tzinfo=UTC)
        assert voucher.redemption.quantity == 3

    def test_a_taken_code_is_409(self, vouchers_api: Any) -> None:
        taken = discount_voucher(vouchers_api)
        with pytest.raises(ApiException) as error:
            vouchers_api.create_voucher(
                taken.code,
                voucherify.VouchersCreateWithSpecificCodeRequestBody(
                    type="GIFT_VOUCHER", gift=voucherify.Gift(amount=1)
                ),
            )
        assert error.value.status == 409
        body = error_of(error)
        assert body["key"] == "duplicate_found"
        assert (body["resource_id"], body["resource_type"]) == (taken.code, "voucher")
        assert vouchers_api.get_voucher(taken.code).type == "DISCOUNT_VOUCHER"

    def test_codes_with_reserved_characters_round_trip(self, vouchers_api: Any) -> None:
        for code in (unique("a b"), unique("50%"), unique("x/y"), unique("q?#&"), unique("ünï")):
            created = vouchers_api.create_voucher(
                code,
                voucherify.VouchersCreateWithSpecificCodeRequestBody(
                    type="GIFT_VOUCHER", gift=voucherify.Gift(amount=10)
                ),
            )
            assert created.code == code
            assert vouchers_api.get_voucher(code).id == created.id

    def test_a_loyalty_card_in_its_program(self, vouchers_api: Any, campaigns_api: Any) -> None:
        campaign = loyalty_campaign(campaigns_api, points=30)
        code = unique("card")
        card = vouchers_api.create_voucher(
            code, voucherify.VouchersCreateWithSpecificCodeRequestBody(campaign=campaign.name)
        )
        assert card.type == "LOYALTY_CARD"
        loyalty = card.loyalty_card
        assert (loyalty.points, loyalty.balance, loyalty.subtracted_points) == (30, 30, 0)
        assert card.redemption.redeemed_points == 0

    def test_a_loyalty_card_without_a_campaign_is_refused(self, vouchers_api: Any) -> None:
        with pytest.raises(BadRequestException) as error:
            vouchers_api.create_voucher(
                unique(),
                voucherify.VouchersCreateWithSpecificCodeRequestBody(
                    type="LOYALTY_CARD", loyalty_card=voucherify.SimpleLoyaltyCard(points=10)
                ),
            )
        assert error_of(error)["key"] == "invalid_voucher"

    def test_a_discount_without_its_value_is_invalid_voucher(self, http: httpx.Client) -> None:
        response = http.post(
            f"/v1/vouchers/{unique()}", json=voucher_body(discount={"type": "AMOUNT"})
        )
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_voucher"


class TestGetVoucher:
    def test_by_code_and_by_id(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        by_code = http.get(f"/v1/vouchers/{card.code}").json()
        by_id = http.get(f"/v1/vouchers/{card.id}").json()
        assert by_code == by_id
        assert vouchers_api.get_voucher(card.id).code == card.code

    def test_a_campaign_code_shows_its_campaigns_code_config(
        self, vouchers_api: Any, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(
            campaigns_api,
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="DISCOUNT_VOUCHER",
                discount=voucherify.Discount(type="AMOUNT", amount_off=5),
                code_config=voucherify.CodeConfig(prefix="CAMP-", length=6),
            ),
        )
        voucher = campaigns_api.add_vouchers_to_campaign(campaign.id)
        assert vouchers_api.get_voucher(voucher.code).campaign == campaign.name
        config = http.get(f"/v1/vouchers/{voucher.code}").json()["code_config"]
        assert config == {
            **DEFAULT_CODE_CONFIG,
            "prefix": "CAMP-",
            "pattern": "######",
            "length": 6,
        }

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException) as error:
            vouchers_api.get_voucher("NOPE")
        body = error_of(error)
        assert body["key"] == "not_found"
        assert (body["resource_id"], body["resource_type"]) == ("NOPE", "voucher")


class TestUpdateVoucher:
    def test_a_gift_card_despite_the_sdks_default_type(
        self, vouchers_api: Any, http: httpx.Client
    ) -> None:
        card = gift_card(vouchers_api, amount=900)
        # The SDK's body always sends type DISCOUNT_VOUCHER (INCENTIVES.md §10).
        assert "DISCOUNT_VOUCHER" in voucherify.VouchersUpdateRequestBody(metadata={}).to_json()
        updated = vouchers_api.update_voucher(
            card.code,
            voucherify.VouchersUpdateRequestBody(
                metadata={"k": "v"}, category="gifts", additional_info="wrapped"
            ),
        )
        assert updated.type == "GIFT_VOUCHER"
        assert updated.gift.balance == 900
        assert (updated.metadata, updated.category) == ({"k": "v"}, "gifts")
        assert updated.additional_info == "wrapped"
        assert updated.updated_at is not None
        assert http.get(f"/v1/vouchers/{card.code}").json()["code_config"] == DEFAULT_CODE_CONFIG

    def test_a_loyalty_card_despite_the_sdks_default_type(
        self, vouchers_api: Any, campaigns_api: Any
    ) -> None:
        campaign = loyalty_campaign(campaigns_api, points=50)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        updated = vouchers_api.update_voucher(
            card.id, voucherify.VouchersUpdateRequestBody(active=False)
        )
        assert updated.type == "LOYALTY_CARD"
        assert updated.active is False
        assert updated.loyalty_card.balance == 50

    def test_another_type_change_is_refused(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        response = http.put(f"/v1/vouchers/{card.code}", json={"type": "LOYALTY_CARD"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_voucher"
        assert vouchers_api.get_voucher(card.code).type == "GIFT_VOUCHER"

    def test_a_discount_keeps_its_type(self, vouchers_api: Any) -> None:
        voucher = discount_voucher(vouchers_api)
        changed = vouchers_api.update_voucher(
            voucher.code,
            voucherify.VouchersUpdateRequestBody(
                discount=voucherify.Discount(type="AMOUNT", amount_off=750)
            ),
        )
        assert changed.discount.amount_off == 750
        with pytest.raises(BadRequestException) as error:
            vouchers_api.update_voucher(
                voucher.code,
                voucherify.VouchersUpdateRequestBody(
                    discount=voucherify.Discount(type="PERCENT", percent_off=5)
                ),
            )
        assert error_of(error)["key"] == "invalid_voucher"

    def test_a_discount_on_a_gift_card_is_refused(self, vouchers_api: Any) -> None:
        card = gift_card(vouchers_api)
        with pytest.raises(BadRequestException):
            vouchers_api.update_voucher(
                card.code,
                voucherify.VouchersUpdateRequestBody(
                    discount=voucherify.Discount(type="AMOUNT", amount_off=1)
                ),
            )

    def test_metadata_merges_and_null_clears_dates(self, vouchers_api: Any) -> None:
        voucher = discount_voucher(
            vouchers_api,
            metadata={"a": 1, "b": 2},
            expiration_date=datetime(2031, 1, 1, tzinfo=UTC),
        )
        updated = vouchers_api.update_voucher(
            voucher.code,
            voucherify.VouchersUpdateRequestBody(metadata={"c": 3}, expiration_date=None),
        )
        assert updated.metadata == {"a": 1, "b": 2, "c": 3}
        assert updated.expiration_date is None

    def test_unset_metadata_fields(self, vouchers_api: Any, http: httpx.Client) -> None:
        voucher = discount_voucher(vouchers_api, metadata={"a": 1, "b": 2})
        response = http.put(f"/v1/vouchers/{voucher.code}", json={"unset_metadata_fields": ["a"]})
        assert response.json()["metadata"] == {"b": 2}

    def test_the_js_sdks_body_with_the_code(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        response = http.put(
            f"/v1/vouchers/{card.code}",
            json={"code": card.code, "category": "js", "metadata": {"from": "node"}},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["code"], response.json()["category"]) == (card.code, "js")

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.update_voucher("NOPE", voucherify.VouchersUpdateRequestBody(metadata={}))


class TestDeleteVoucher:
    def test_bins_it_and_keeps_its_code_taken(self, vouchers_api: Any, http: httpx.Client) -> None:
        voucher = discount_voucher(vouchers_api)
        response = http.delete(f"/v1/vouchers/{voucher.code}")
        assert (response.status_code, response.content) == (204, b"")
        with pytest.raises(NotFoundException):
            vouchers_api.get_voucher(voucher.code)
        assert vouchers_api.list_vouchers().total == 0
        with pytest.raises(ApiException) as error:
            discount_voucher(vouchers_api, code=voucher.code)
        assert error.value.status == 409

    def test_force_frees_its_code(self, vouchers_api: Any) -> None:
        voucher = gift_card(vouchers_api)
        assert vouchers_api.delete_voucher(voucher.id, force=True) is None
        again = discount_voucher(vouchers_api, code=voucher.code)
        assert again.id != voucher.id
        assert again.type == "DISCOUNT_VOUCHER"

    def test_a_campaigns_code_leaves_its_count(self, vouchers_api: Any, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api)
        voucher = campaigns_api.add_vouchers_to_campaign(campaign.id)
        vouchers_api.delete_voucher(voucher.code)
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 0

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.delete_voucher("NOPE")


class TestListVouchers:
    def test_campaign_and_campaign_id_filters(self, vouchers_api: Any, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        other = gift_campaign(campaigns_api)
        mine = {campaigns_api.add_vouchers_to_campaign(campaign.id).code for _ in range(2)}
        campaigns_api.add_vouchers_to_campaign(other.id)
        discount_voucher(vouchers_api)
        assert vouchers_api.list_vouchers().total == 4
        by_name = vouchers_api.list_vouchers(campaign=campaign.name)
        assert {v.code for v in by_name.vouchers} == mine
        assert by_name.total == 2
        by_id = vouchers_api.list_vouchers(campaign_id=campaign.id)
        assert {v.code for v in by_id.vouchers} == mine
        assert vouchers_api.list_vouchers(campaign="nope").total == 0

    def test_category_filter(self, vouchers_api: Any) -> None:
        shoes = discount_voucher(vouchers_api, category="shoes")
        discount_voucher(vouchers_api, category="hats")
        listed = vouchers_api.list_vouchers(category="shoes")
        assert [v.code for v in listed.vouchers] == [shoes.code]

    def test_customer_filter_is_the_holder(
        self, vouchers_api: Any, http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        customer = create_customer(http)
        held = gift_card(vouchers_api)
        gift_card(vouchers_api)
        assert vouchers_api.list_vouchers(customer=customer["id"]).total == 0
        # Publications make holders; until they exist, the test makes one by hand.
        server.db.fetch(
            "UPDATE vouchers SET holder_id = $3 WHERE project_id = $1 AND code = $2",
            project.project_id,
            held.code,
            customer["id"],
        )
        for key in (customer["id"], customer["source_id"]):
            listed = vouchers_api.list_vouchers(customer=key)
            assert [v.code for v in listed.vouchers] == [held.code]
            assert listed.vouchers[0].holder_id == customer["id"]

    def test_an_unknown_customer_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.list_vouchers(customer="cust_nope")

    def test_pages_newest_first(self, vouchers_api: Any) -> None:
        made = [discount_voucher(vouchers_api).code for _ in range(5)]
        first = vouchers_api.list_vouchers(limit=2, page=1)
        second = vouchers_api.list_vouchers(limit=2, page=2)
        third = vouchers_api.list_vouchers(limit=2, page=3)
        pages = first.vouchers + second.vouchers + third.vouchers
        assert [v.code for v in pages] == made[::-1]
        assert first.total == third.total == 5
        assert first.data_ref == "vouchers"
        by_code = vouchers_api.list_vouchers(order="code", limit=100)
        assert [v.code for v in by_code.vouchers] == sorted(made)

    def test_code_and_created_at_filters(self, vouchers_api: Any, http: httpx.Client) -> None:
        first = discount_voucher(vouchers_api)
        second = discount_voucher(vouchers_api)
        assert [v.id for v in vouchers_api.list_vouchers(code=second.code).vouchers] == [second.id]
        before = vouchers_api.list_vouchers(
            created_at=voucherify.ParameterCreatedBeforeAfter(before=second.created_at)
        )
        assert [v.id for v in before.vouchers] == [first.id]
        after = http.get(
            "/v1/vouchers", params={"created_at[after]": first.created_at.isoformat()}
        ).json()
        assert [v["id"] for v in after["vouchers"]] == [second.id]
        ids = http.get("/v1/vouchers", params=[("ids", first.id), ("ids", second.id)]).json()
        assert ids["total"] == 2

    def test_every_listed_voucher_has_a_code_config(
        self, vouchers_api: Any, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = loyalty_campaign(campaigns_api)
        campaigns_api.add_vouchers_to_campaign(campaign.id)
        gift_card(vouchers_api)
        listed = http.get("/v1/vouchers").json()
        assert [v["code_config"] for v in listed["vouchers"]] == [DEFAULT_CODE_CONFIG] * 2

    def test_a_bad_limit_is_invalid_query_params(self, http: httpx.Client) -> None:
        response = http.get("/v1/vouchers", params={"limit": 101})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"


class TestEnableAndDisableVoucher:
    def test_return_the_voucher(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        disabled = vouchers_api.disable_voucher(card.code)
        assert (disabled.code, disabled.active) == (card.code, False)
        assert vouchers_api.get_voucher(card.code).active is False
        enabled = vouchers_api.enable_voucher(card.id)
        assert enabled.active is True
        raw = http.post(f"/v1/vouchers/{card.code}/disable").json()
        assert raw["object"] == "voucher"
        assert raw["code_config"] == DEFAULT_CODE_CONFIG

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.enable_voucher("NOPE")
        with pytest.raises(NotFoundException):
            vouchers_api.disable_voucher("NOPE")


class TestUpdateVoucherBalance:
    def test_adds_credits_to_a_gift_card(self, vouchers_api: Any) -> None:
        card = gift_card(vouchers_api, amount=1000)
        balance = vouchers_api.update_voucher_balance(
            card.code, balance_body(500, source_id="top-up-1", reason="birthday")
        )
        assert (balance.amount, balance.total, balance.balance) == (500, 1500, 1500)
        assert (balance.type, balance.operation_type, balance.object) == (
            "gift_voucher",
            "MANUAL",
            "balance",
        )
        assert (balance.related_object.type, balance.related_object.id) == ("voucher", card.id)
        gift = vouchers_api.get_voucher(card.code).gift
        assert (gift.amount, gift.subtracted_amount, gift.balance) == (1500, 0, 1500)

    def test_removes_credits_from_a_gift_card(self, vouchers_api: Any) -> None:
        card = gift_card(vouchers_api, amount=1000)
        balance = vouchers_api.update_voucher_balance(card.id, balance_body(-1000))
        assert (balance.amount, balance.total, balance.balance) == (-1000, 1000, 0)
        gift = vouchers_api.get_voucher(card.code).gift
        assert (gift.amount, gift.subtracted_amount, gift.balance) == (1000, 1000, 0)

    def test_never_below_zero(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api, amount=1000)
        before = http.get(f"/v1/vouchers/{card.code}").json()
        with pytest.raises(BadRequestException) as error:
            vouchers_api.update_voucher_balance(card.code, balance_body(-1001))
        assert error_of(error)["key"] == "gift_amount_exceeded"
        assert http.get(f"/v1/vouchers/{card.code}").json() == before
        assert vouchers_api.list_voucher_transactions(card.code).data == []

    def test_a_discount_code_has_no_balance(self, vouchers_api: Any) -> None:
        voucher = discount_voucher(vouchers_api)
        with pytest.raises(BadRequestException) as error:
            vouchers_api.update_voucher_balance(voucher.code, balance_body(100))
        assert error_of(error)["key"] == "invalid_voucher"

    def test_a_loyalty_card_without_a_holder_is_refused(
        self, vouchers_api: Any, campaigns_api: Any
    ) -> None:
        campaign = loyalty_campaign(campaigns_api, points=10)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        with pytest.raises(BadRequestException) as error:
            vouchers_api.update_voucher_balance(card.code, balance_body(5))
        assert error_of(error)["key"] == "invalid_voucher"
        assert vouchers_api.get_voucher(card.code).loyalty_card.balance == 10

    def test_zero_and_fractions_are_refused(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        for amount in (0, 1.5, "100"):
            response = http.post(f"/v1/vouchers/{card.code}/balance", json={"amount": amount})
            assert response.status_code == 400, amount
            assert response.json()["key"] == "invalid_payload"

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.update_voucher_balance("NOPE", balance_body(1))


class TestListVoucherTransactions:
    def test_a_new_card_has_none(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        assert http.get(f"/v1/vouchers/{card.code}/transactions").json() == {
            "object": "list",
            "data_ref": "data",
            "data": [],
            "has_more": False,
        }

    def test_each_change_in_order(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api, amount=1000)
        vouchers_api.update_voucher_balance(card.code, balance_body(300, reason="top"))
        vouchers_api.update_voucher_balance(card.code, balance_body(-200, source_id="s-2"))
        listed = vouchers_api.list_voucher_transactions(card.code)
        assert listed.has_more is False
        assert [t.type for t in listed.data] == ["CREDITS_ADDITION", "CREDITS_REMOVAL"]
        added, removed = listed.data
        assert added.id.startswith("vtx_")
        assert (added.voucher_id, added.campaign_id) == (card.id, None)
        assert (added.source, added.reason, added.source_id) == ("Python-SDK", "top", None)
        assert removed.source_id == "s-2"
        assert (added.details.balance.amount, added.details.balance.balance) == (300, 1300)
        assert (removed.details.balance.amount, removed.details.balance.balance) == (-200, 1100)
        newest = vouchers_api.list_voucher_transactions(card.id, order="-id")
        assert [t.id for t in newest.data] == [removed.id, added.id]

    def test_a_campaign_cards_transactions_name_the_campaign(
        self, vouchers_api: Any, campaigns_api: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        vouchers_api.update_voucher_balance(card.code, balance_body(1))
        [transaction] = vouchers_api.list_voucher_transactions(card.code).data
        assert transaction.campaign_id == campaign.id

    def test_pages_by_starting_after_id(self, vouchers_api: Any, http: httpx.Client) -> None:
        card = gift_card(vouchers_api)
        for amount in (1, 2, 3):
            vouchers_api.update_voucher_balance(card.code, balance_body(amount))
        first = http.get(f"/v1/vouchers/{card.code}/transactions", params={"limit": 2}).json()
        assert [t["details"]["balance"]["amount"] for t in first["data"]] == [1, 2]
        assert first["has_more"] is True
        assert first["more_starting_after"] == first["data"][-1]["id"]
        rest = vouchers_api.list_voucher_transactions(
            card.code, limit=2, starting_after_id=first["more_starting_after"]
        )
        assert [t.details.balance.amount for t in rest.data] == [3]
        assert rest.has_more is False
        raw = http.get(
            f"/v1/vouchers/{card.code}/transactions",
            params={"limit": 2, "starting_after_id": first["more_starting_after"]},
        ).json()
        assert "more_starting_after" not in raw

    def test_an_unknown_starting_after_id_is_404(self, vouchers_api: Any) -> None:
        card = gift_card(vouchers_api)
        with pytest.raises(NotFoundException):
            vouchers_api.list_voucher_transactions(card.code, starting_after_id="vtx_nope")

    def test_an_unknown_code_is_404(self, vouchers_api: Any) -> None:
        with pytest.raises(NotFoundException):
            vouchers_api.list_voucher_transactions("NOPE")


class TestVouchersOfAnotherProject:
    def test_are_not_found(
        self,
        vouchers_api: Any,
        campaigns_api: Any,
        server: RunningServer,
        another_project: Credentials,
    ) -> None:
        card = gift_card(vouchers_api)
        campaign = gift_campaign(campaigns_api)
        with sdk_client(server, another_project) as client:
            other = voucherify.VouchersApi(client)
            for key in (card.code, card.id):
                with pytest.raises(NotFoundException):
                    other.get_voucher(key)
            with pytest.raises(NotFoundException):
                other.update_voucher(card.code, voucherify.VouchersUpdateRequestBody(metadata={}))
            with pytest.raises(NotFoundException):
                other.delete_voucher(card.code)
            with pytest.raises(NotFoundException):
                other.disable_voucher(card.code)
            with pytest.raises(NotFoundException):
                other.update_voucher_balance(card.code, balance_body(-1))
            with pytest.raises(NotFoundException):
                other.list_voucher_transactions(card.code)
            with pytest.raises(NotFoundException):
                other.generate_random_code(
                    voucherify.VouchersCreateRequestBody(campaign_id=campaign.id)
                )
            assert other.list_vouchers().total == 0
            assert other.list_vouchers(campaign_id=campaign.id).total == 0
            accepted = other.update_vouchers_metadata_in_bulk(
                voucherify.VouchersMetadataUpdateInBulkRequestBody(
                    codes=[card.code], metadata={"theirs": True}
                )
            )
        assert accepted.async_action_id is not None
        with httpx.Client(base_url=server.base_url, headers=auth_headers(another_project)) as peer:
            result = wait_done(peer, accepted.async_action_id)["result"]
        assert (result["done_count"], result["failed_count"]) == (0, 1)
        assert vouchers_api.get_voucher(card.code).metadata == {}
        assert vouchers_api.get_voucher(card.code).gift.balance == 1000

    def test_may_hold_the_same_code(
        self, vouchers_api: Any, server: RunningServer, another_project: Credentials
    ) -> None:
        card = gift_card(vouchers_api)
        with httpx.Client(base_url=server.base_url, headers=auth_headers(another_project)) as other:
            response = other.post(f"/v1/vouchers/{card.code}", json=voucher_body())
        assert response.status_code == 200
        assert response.json()["id"] != card.id
        assert vouchers_api.get_voucher(card.code).type == "GIFT_VOUCHER"


class TestConcurrentBalanceChanges:
    def test_64_mixed_changes_to_one_gift_card_add_up_and_never_go_below_zero(
        self, server: RunningServer, project: Credentials, vouchers_api: Any, http: httpx.Client
    ) -> None:
        card = gift_card(vouchers_api, amount=1000)
        amounts = [100 if n % 2 else -300 for n in range(64)]

        async def change_all() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(amounts))
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=auth_headers(project), limits=limits, timeout=60
            ) as client:
                return await asyncio.gather(
                    *(
                        client.post(f"/v1/vouchers/{card.code}/balance", json={"amount": amount})
                        for amount in amounts
                    )
                )

        outcomes = list(zip(amounts, asyncio.run(change_all()), strict=True))
        applied = [amount for amount, response in outcomes if response.status_code == 200]
        refused = [(amount, r) for amount, r in outcomes if r.status_code != 200]
        assert refused, "the removals outweigh the balance: some must be refused"
        for amount, response in refused:
            assert amount < 0
            assert response.status_code == 400
            assert response.json()["key"] == "gift_amount_exceeded"
        removed = -sum(a for a in applied if a < 0)
        gift = vouchers_api.get_voucher(card.code).gift
        assert gift.balance == 1000 + sum(applied) >= 0
        assert (gift.amount, gift.subtracted_amount) == (1000 + 32 * 100, removed)
        # Every answer and every transaction saw a balance of zero or more, one after another.
        assert all(r.json()["balance"] >= 0 for _, r in outcomes if r.status_code == 200)
        transactions = http.get(
            f"/v1/vouchers/{card.code}/transactions", params={"limit": 100}
        ).json()["data"]
        assert len(transactions) == len(applied)
        running = 1000
        for transaction in transactions:
            change = transaction["details"]["balance"]
            running += change["amount"]
            assert change["balance"] == running >= 0
        assert running == gift.balance
