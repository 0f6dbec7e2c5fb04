"""Campaigns through the official SDK (and httpx where it falls short): create, read, change,
delete, enable, disable, and the codes added or imported into them (INCENTIVES.md §1.1-§1.3).

Holder-dependent cases (a deleted campaign's codes leaving their holders' balances) wait for
publications.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, BadRequestException, NotFoundException

from patron.campaigns import service as campaigns_service
from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, sdk_client
from tests.factories import (
    discount_campaign,
    discount_voucher,
    gift_campaign,
    loyalty_campaign,
    unique,
)

DEFAULT_CODE_CONFIG = {
    "pattern": "########",
    "length": 8,
    "charset": "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "prefix": "",
    "postfix": "",
}


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.body is not None
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def codes_of(vouchers_api: Any, campaign_id: str) -> dict[str, Any]:
    listed = vouchers_api.list_vouchers(campaign_id=campaign_id, limit=100)
    return {voucher.code: voucher for voucher in listed.vouchers}


class TestCreateCampaign:
    def test_type_inferred_from_the_voucher_and_code_config_filled_in(
        self, campaigns_api: Any
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        assert campaign.id.startswith("camp_")
        assert campaign.campaign_type == "DISCOUNT_COUPONS"
        assert campaign.type == "AUTO_UPDATE"
        assert campaign.voucher.code_config.length == 8
        assert campaign.vouchers_count == 0

    def test_gift_type_inferred_from_a_gift_voucher(self, campaigns_api: Any) -> None:
        campaign = campaigns_api.create_campaign(
            voucherify.CampaignsCreateRequestBody(
                name=unique("Gift"),
                voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                    type="GIFT_VOUCHER", gift=voucherify.Gift(amount=2500)
                ),
            )
        )
        assert campaign.campaign_type == "GIFT_VOUCHERS"

    def test_loyalty_type_inferred_from_a_loyalty_card(self, campaigns_api: Any) -> None:
        campaign = campaigns_api.create_campaign(
            voucherify.CampaignsCreateRequestBody(
                name=unique("Loyalty"),
                voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                    type="LOYALTY_CARD", loyalty_card=voucherify.CampaignLoyaltyCard(points=5)
                ),
            )
        )
        assert campaign.campaign_type == "LOYALTY_PROGRAM"

    def test_discount_coupons_keep_their_discount_and_dates(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(
            campaigns_api,
            campaign_type="DISCOUNT_COUPONS",
            description="Ten off",
            category="spring",
            metadata={"region": "EU"},
            start_date="2030-01-01T00:00:00Z",
            expiration_date="2030-12-31T00:00:00Z",
            validity_day_of_week=[1, 2],
            activity_duration_after_publishing="P24D",
        )
        assert campaign.voucher.discount.amount_off == 1000
        assert campaign.voucher.discount.effect == "APPLY_TO_ORDER"
        assert campaign.description == "Ten off"
        assert campaign.category == "spring"
        assert campaign.metadata == {"region": "EU"}
        assert campaign.validity_day_of_week == [1, 2]
        assert campaign.activity_duration_after_publishing == "P24D"
        raw = http.get(f"/v1/campaigns/{campaign.id}").json()
        assert raw["start_date"] == "2030-01-01T00:00:00.000Z"
        assert raw["voucher"]["code_config"] == DEFAULT_CODE_CONFIG
        assert raw["voucher"]["start_date"] == "2030-01-01T00:00:00.000Z"
        assert raw["object"] == "campaign"

    def test_gift_vouchers_campaign(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api, amount=2500)
        assert campaign.campaign_type == "GIFT_VOUCHERS"
        assert campaign.voucher.type == "GIFT_VOUCHER"
        gift = campaign.voucher.gift
        assert (gift.amount, gift.balance, gift.effect) == (2500, 2500, "APPLY_TO_ORDER")
        assert campaign.join_once is False

    def test_loyalty_program_always_joins_once(self, campaigns_api: Any) -> None:
        campaign = loyalty_campaign(campaigns_api, points=100, join_once=False)
        assert campaign.campaign_type == "LOYALTY_PROGRAM"
        assert campaign.voucher.type == "LOYALTY_CARD"
        assert campaign.voucher.loyalty_card.points == 100
        assert campaign.join_once is True

    def test_referral_program_is_accepted_and_stored(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        program = {"conversion_event_type": "redemption"}
        campaign = discount_campaign(
            campaigns_api, campaign_type="REFERRAL_PROGRAM", referral_program=program
        )
        assert campaign.campaign_type == "REFERRAL_PROGRAM"
        assert campaign.voucher.is_referral_code is True
        stored = http.get(f"/v1/campaigns/{campaign.id}").json()
        assert stored["campaign_type"] == "REFERRAL_PROGRAM"
        assert stored["referral_program"] == program

    def test_referral_program_without_a_discount_is_refused(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/campaigns", json={"name": unique(), "campaign_type": "REFERRAL_PROGRAM"}
        )
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_campaign"

    def test_campaign_type_contradicting_the_voucher_type_is_refused(
        self, campaigns_api: Any
    ) -> None:
        with pytest.raises(BadRequestException) as error:
            discount_campaign(campaigns_api, campaign_type="GIFT_VOUCHERS")
        assert error_of(error)["key"] == "invalid_campaign"

    def test_neither_campaign_type_nor_voucher_type_is_refused(self, http: httpx.Client) -> None:
        response = http.post("/v1/campaigns", json={"name": unique()})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_campaign"

    def test_static_type_is_kept(self, campaigns_api: Any) -> None:
        assert discount_campaign(campaigns_api, type="STATIC").type == "STATIC"

    def test_standalone_gift_campaign(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api, type="STANDALONE")
        assert campaign.type == "STANDALONE"

    def test_standalone_loyalty_program_is_refused(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/campaigns",
            json={
                "name": unique(),
                "type": "STANDALONE",
                "voucher": {"type": "LOYALTY_CARD", "loyalty_card": {"points": 1}},
            },
        )
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_campaign"

    def test_standalone_with_several_codes_is_refused(self, campaigns_api: Any) -> None:
        with pytest.raises(BadRequestException) as error:
            gift_campaign(campaigns_api, type="STANDALONE", vouchers_count=2)
        assert error_of(error)["key"] == "invalid_campaign"

    def test_vouchers_count_generates_codes_by_an_async_action(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = campaigns_api.create_campaign(
            voucherify.CampaignsCreateRequestBody(
                name=unique("Gen"),
                vouchers_count=25,
                voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                    type="DISCOUNT_VOUCHER",
                    discount=voucherify.Discount(type="PERCENT", percent_off=10),
                    code_config=voucherify.CodeConfig(pattern="GEN-####", charset="0123456789"),
                ),
            )
        )
        assert campaign.vouchers_generation_status == "IN_PROGRESS"
        actions = http.get("/v1/async-actions").json()["async_actions"]
        wait_done(http, actions[0]["id"])
        listed = vouchers_api.list_vouchers(campaign_id=campaign.id, limit=100)
        assert listed.total == 25
        assert all(v.code.startswith("GEN-") and len(v.code) == 8 for v in listed.vouchers)
        got = campaigns_api.get_campaign(campaign.name)
        assert got.vouchers_count == 25
        assert got.vouchers_generation_status == "DONE"

    def test_vouchers_count_the_code_config_cannot_yield_is_invalid_code_config(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        with pytest.raises(BadRequestException) as error:
            discount_campaign(
                campaigns_api,
                vouchers_count=11,
                voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                    type="DISCOUNT_VOUCHER",
                    discount=voucherify.Discount(type="AMOUNT", amount_off=5),
                    code_config=voucherify.CodeConfig(pattern="A#", charset="0123456789"),
                ),
            )
        assert error_of(error)["key"] == "invalid_code_config"
        assert http.get("/v1/campaigns").json()["total"] == 0

    def test_pattern_without_a_hash_is_invalid_code_config(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/campaigns",
            json={
                "name": unique(),
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "AMOUNT", "amount_off": 5},
                    "code_config": {"pattern": "FIXED"},
                },
            },
        )
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_code_config"

    def test_duplicate_name_is_409(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        with pytest.raises(ApiException) as error:
            discount_campaign(campaigns_api, name=campaign.name)
        assert error.value.status == 409
        body = error_of(error)
        assert body["key"] == "duplicate_found"
        assert body["resource_type"] == "campaign"


class TestGetCampaign:
    def test_by_id_and_by_name(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api)
        assert campaigns_api.get_campaign(campaign.id).name == campaign.name
        assert campaigns_api.get_campaign(campaign.name).id == campaign.id

    def test_names_with_spaces_and_reserved_characters(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        name = unique("Spring Sale 20% / off?")
        campaign = discount_campaign(campaigns_api, name=name)
        assert campaigns_api.get_campaign(name).id == campaign.id
        encoded = name.replace("%", "%25").replace(" ", "%20").replace("/", "%2F")
        encoded = encoded.replace("?", "%3F")
        response = http.get(f"/v1/campaigns/{encoded}")
        assert response.status_code == 200
        assert response.json()["id"] == campaign.id

    def test_vouchers_count_counts_its_live_codes(
        self, campaigns_api: Any, vouchers_api: Any
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        first = campaigns_api.add_vouchers_to_campaign(campaign.id)
        campaigns_api.add_vouchers_to_campaign(campaign.id)
        vouchers_api.delete_voucher(first.code)
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 1

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException) as error:
            campaigns_api.get_campaign("camp_nope")
        body = error_of(error)
        assert body["key"] == "not_found"
        assert (body["resource_id"], body["resource_type"]) == ("camp_nope", "campaign")


class TestListCampaigns:
    def test_campaign_type_filter(self, campaigns_api: Any) -> None:
        discount = discount_campaign(campaigns_api)
        gift = gift_campaign(campaigns_api)
        loyalty_campaign(campaigns_api)
        everything = campaigns_api.list_campaigns()
        assert everything.total == 3
        assert everything.data_ref == "campaigns"
        gifts = campaigns_api.list_campaigns(campaign_type="GIFT_VOUCHERS")
        assert [c.id for c in gifts.campaigns] == [gift.id]
        assert gifts.total == 1
        discounts = campaigns_api.list_campaigns(campaign_type="DISCOUNT_COUPONS")
        assert [c.id for c in discounts.campaigns] == [discount.id]

    def test_referral_and_status_filters(self, campaigns_api: Any, http: httpx.Client) -> None:
        referral = discount_campaign(campaigns_api, campaign_type="REFERRAL_PROGRAM")
        plain = discount_campaign(campaigns_api)
        referrals = campaigns_api.list_campaigns(is_referral_code=True)
        assert [c.id for c in referrals.campaigns] == [referral.id]
        others = campaigns_api.list_campaigns(is_referral_code=False)
        assert [c.id for c in others.campaigns] == [plain.id]
        done = http.get("/v1/campaigns", params={"campaign_status": "DONE"}).json()
        assert done["total"] == 2
        assert http.get("/v1/campaigns", params={"campaign_status": "FAILED"}).json()["total"] == 0

    def test_pages_newest_first(self, campaigns_api: Any) -> None:
        made = [discount_campaign(campaigns_api).id for _ in range(3)]
        first = campaigns_api.list_campaigns(limit=2, page=1)
        second = campaigns_api.list_campaigns(limit=2, page=2)
        assert [c.id for c in first.campaigns + second.campaigns] == made[::-1]
        assert first.total == second.total == 3
        oldest = campaigns_api.list_campaigns(order="created_at", limit=1)
        assert oldest.campaigns[0].id == made[0]

    def test_binned_campaigns_are_not_listed(self, campaigns_api: Any, http: httpx.Client) -> None:
        kept = discount_campaign(campaigns_api)
        binned = discount_campaign(campaigns_api)
        wait_done(http, campaigns_api.delete_campaign(binned.id).async_action_id)
        listed = campaigns_api.list_campaigns()
        assert [c.id for c in listed.campaigns] == [kept.id]
        assert listed.total == 1

    def test_bad_campaign_type_is_invalid_query_params(self, http: httpx.Client) -> None:
        response = http.get("/v1/campaigns", params={"campaign_type": "NOPE"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"


class TestUpdateCampaign:
    def test_null_clears_what_the_sdk_sends(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(
            campaigns_api,
            description="d",
            category="c",
            start_date="2030-01-01T00:00:00Z",
            expiration_date="2090-10-08T12:57:09.386Z",
            activity_duration_after_publishing="P24D",
        )
        assert campaign.expiration_date is not None
        updated = campaigns_api.update_campaign(
            campaign.id,
            voucherify.CampaignsUpdateRequestBody(
                description=None,
                category=None,
                start_date=None,
                expiration_date=None,
                activity_duration_after_publishing=None,
            ),
        )
        assert updated.description is None
        assert updated.category is None
        assert updated.start_date is None
        assert updated.expiration_date is None
        assert updated.activity_duration_after_publishing is None
        assert updated.updated_at is not None

    def test_null_clears_the_validity_windows(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(
            campaigns_api,
            validity_day_of_week=[0, 6],
            validity_timeframe=voucherify.ValidityTimeframe(interval="P2D", duration="PT1H"),
        )
        # The SDK leaves out a null window: plain HTTP sends it.
        response = http.put(
            f"/v1/campaigns/{campaign.id}",
            json={"validity_day_of_week": None, "validity_timeframe": None},
        )
        assert response.status_code == 200
        assert response.json()["validity_day_of_week"] is None
        assert response.json()["validity_timeframe"] is None

    def test_only_the_fields_sent_change(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api, description="kept", category="kept")
        updated = campaigns_api.update_campaign(
            campaign.name, voucherify.CampaignsUpdateRequestBody(category="new")
        )
        assert (updated.description, updated.category) == ("kept", "new")
        assert updated.voucher.discount.amount_off == 1000

    def test_metadata_merges_and_unset_metadata_fields_removes(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api, metadata={"a": 1, "b": 2})
        merged = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(metadata={"c": 3})
        )
        assert merged.metadata == {"a": 1, "b": 2, "c": 3}
        unset = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(unset_metadata_fields=["a"])
        )
        assert unset.metadata == {"b": 2, "c": 3}
        cleared = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(metadata=None)
        )
        assert cleared.metadata == {}

    def test_dates_and_category_follow_to_its_codes(
        self, campaigns_api: Any, vouchers_api: Any
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        code = campaigns_api.add_vouchers_to_campaign(campaign.id).code
        campaigns_api.update_campaign(
            campaign.id,
            voucherify.CampaignsUpdateRequestBody(
                expiration_date=datetime(2031, 1, 1, tzinfo=UTC), category="later"
            ),
        )
        voucher = vouchers_api.get_voucher(code)
        assert voucher.category == "later"
        assert voucher.expiration_date.year == 2031

    def test_a_new_gift_amount_is_for_codes_made_from_now_on(
        self, campaigns_api: Any, vouchers_api: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api, amount=1000)
        before = campaigns_api.add_vouchers_to_campaign(campaign.id)
        updated = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(gift=voucherify.Gift(amount=3000))
        )
        assert updated.voucher.gift.amount == 3000
        after = campaigns_api.add_vouchers_to_campaign(campaign.id)
        assert after.gift.balance == 3000
        assert vouchers_api.get_voucher(before.code).gift.balance == 1000

    def test_a_discount_on_a_gift_campaign_is_refused(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api)
        with pytest.raises(BadRequestException) as error:
            campaigns_api.update_campaign(
                campaign.id,
                voucherify.CampaignsUpdateRequestBody(
                    discount=voucherify.Discount(type="AMOUNT", amount_off=1)
                ),
            )
        assert error_of(error)["key"] == "invalid_campaign"

    def test_auto_update_may_become_static_but_not_standalone(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        static = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(type="STATIC")
        )
        assert static.type == "STATIC"
        response = http.put(f"/v1/campaigns/{campaign.id}", json={"type": "STANDALONE"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_campaign"

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException):
            campaigns_api.update_campaign(
                "nope", voucherify.CampaignsUpdateRequestBody(description="x")
            )


class TestDeleteCampaign:
    def test_bins_it_and_its_codes_by_an_async_action(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        code = campaigns_api.add_vouchers_to_campaign(campaign.id).code
        response = http.delete(f"/v1/campaigns/{campaign.id}")
        assert response.status_code == 202
        action = wait_done(http, response.json()["async_action_id"])
        assert action["type"] == "CAMPAIGN.VOUCHERS_DELETE"
        assert action["status"] == "DONE"
        with pytest.raises(NotFoundException):
            campaigns_api.get_campaign(campaign.id)
        with pytest.raises(NotFoundException):
            vouchers_api.get_voucher(code)

    def test_a_binned_campaign_keeps_its_name_and_codes_taken(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        code = campaigns_api.add_vouchers_to_campaign(campaign.id).code
        wait_done(http, campaigns_api.delete_campaign(campaign.name).async_action_id)
        with pytest.raises(ApiException) as error:
            discount_campaign(campaigns_api, name=campaign.name)
        assert error.value.status == 409
        with pytest.raises(ApiException) as taken:
            discount_voucher(vouchers_api, code=code)
        assert taken.value.status == 409

    def test_force_frees_its_name_and_codes(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        code = campaigns_api.add_vouchers_to_campaign(campaign.id).code
        deleted = campaigns_api.delete_campaign(campaign.id, force=True)
        wait_done(http, deleted.async_action_id)
        again = discount_campaign(campaigns_api, name=campaign.name)
        assert again.id != campaign.id
        assert again.vouchers_count == 0
        assert discount_voucher(vouchers_api, code=code).campaign_id is None

    def test_update_then_delete(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api, expiration_date="2090-10-08T12:57:09.386Z")
        updated = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(expiration_date=None)
        )
        assert updated.expiration_date is None
        deleted = campaigns_api.delete_campaign(campaign.id)
        wait_done(http, deleted.async_action_id)
        with pytest.raises(NotFoundException):
            campaigns_api.get_campaign(campaign.id)

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException):
            campaigns_api.delete_campaign("nope")

    def test_bad_force_is_invalid_query_params(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.delete(f"/v1/campaigns/{campaign.id}", params={"force": "yes"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"


class TestEnableAndDisableCampaign:
    def test_disable_then_enable_answer_an_empty_object(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.post(f"/v1/campaigns/{campaign.id}/disable")
        assert (response.status_code, response.json()) == (200, {})
        assert campaigns_api.get_campaign(campaign.id).active is False
        campaigns_api.enable_campaign(campaign.name)
        assert campaigns_api.get_campaign(campaign.id).active is True
        campaigns_api.disable_campaign(campaign.id)
        assert campaigns_api.get_campaign(campaign.id).active is False

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException):
            campaigns_api.enable_campaign("nope")
        with pytest.raises(NotFoundException):
            campaigns_api.disable_campaign("nope")


class TestAddVouchersToCampaign:
    def test_one_code_is_the_voucher(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = gift_campaign(campaigns_api, amount=700)
        voucher = campaigns_api.add_vouchers_to_campaign(campaign.id)
        assert voucher.id.startswith("v_")
        assert (voucher.campaign, voucher.campaign_id) == (campaign.name, campaign.id)
        assert voucher.type == "GIFT_VOUCHER"
        assert voucher.gift.balance == 700
        raw = http.get(f"/v1/vouchers/{voucher.code}").json()
        assert raw["code_config"] == DEFAULT_CODE_CONFIG

    def test_status_codes_on_the_wire(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api)
        one = http.post(f"/v1/campaigns/{campaign.id}/vouchers")
        assert one.status_code == 200
        assert one.json()["object"] == "voucher"
        several = http.post(f"/v1/campaigns/{campaign.id}/vouchers", params={"vouchers_count": 3})
        assert several.status_code == 202
        assert set(several.json()) == {"async_action_id"}

    def test_the_body_overrides_the_template(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api, category="template")
        voucher = campaigns_api.add_vouchers_to_campaign(
            campaign.id,
            campaigns_vouchers_create_in_bulk_request_body=(
                voucherify.CampaignsVouchersCreateInBulkRequestBody(
                    category="own",
                    metadata={"batch": 1},
                    additional_info="note",
                    code_config=voucherify.CodeConfig(prefix="ONE-", length=4),
                )
            ),
        )
        assert voucher.code.startswith("ONE-")
        assert len(voucher.code) == 8
        assert (voucher.category, voucher.metadata) == ("own", {"batch": 1})
        assert voucher.additional_info == "note"
        raw = http.get(f"/v1/vouchers/{voucher.code}").json()
        assert raw["code_config"]["prefix"] == "ONE-"

    def test_the_body_may_name_the_code(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        code = unique("own")
        voucher = campaigns_api.add_vouchers_to_campaign(
            campaign.id,
            campaigns_vouchers_create_in_bulk_request_body=(
                voucherify.CampaignsVouchersCreateInBulkRequestBody(code=code)
            ),
        )
        assert voucher.code == code

    def test_several_codes_by_an_async_action_get_the_body(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        accepted = campaigns_api.add_vouchers_to_campaign(
            campaign.id,
            vouchers_count=5,
            campaigns_vouchers_create_in_bulk_request_body=(
                voucherify.CampaignsVouchersCreateInBulkRequestBody(
                    category="bulk",
                    metadata={"batch": 2},
                    code_config=voucherify.CodeConfig(prefix="BULK-"),
                    expiration_date=datetime(2031, 1, 1, tzinfo=UTC),
                )
            ),
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "CAMPAIGN.VOUCHERS_GENERATE"
        assert action["result"]["done_count"] == 5
        codes = codes_of(vouchers_api, campaign.id)
        assert len(codes) == 5
        for code, voucher in codes.items():
            assert code.startswith("BULK-")
            assert (voucher.category, voucher.metadata) == ("bulk", {"batch": 2})
            assert voucher.expiration_date.year == 2031
        got = campaigns_api.get_campaign(campaign.id)
        assert (got.vouchers_count, got.vouchers_generation_status) == (5, "DONE")

    def test_several_codes_with_one_code_is_refused(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.post(
            f"/v1/campaigns/{campaign.id}/vouchers",
            params={"vouchers_count": 2},
            json={"code": unique()},
        )
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_payload"

    def test_more_codes_than_the_code_config_yields_is_invalid_code_config(
        self, campaigns_api: Any
    ) -> None:
        campaign = discount_campaign(
            campaigns_api,
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="DISCOUNT_VOUCHER",
                discount=voucherify.Discount(type="AMOUNT", amount_off=5),
                code_config=voucherify.CodeConfig(pattern="#", charset="ab"),
            ),
        )
        campaigns_api.add_vouchers_to_campaign(campaign.id)
        with pytest.raises(BadRequestException) as error:
            campaigns_api.add_vouchers_to_campaign(campaign.id, vouchers_count=2)
        assert error_of(error)["key"] == "invalid_code_config"

    def test_a_standalone_campaign_holds_one_code(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api, type="STANDALONE")
        campaigns_api.add_vouchers_to_campaign(campaign.id)
        with pytest.raises(BadRequestException) as error:
            campaigns_api.add_vouchers_to_campaign(campaign.id)
        assert error_of(error)["key"] == "invalid_campaign"
        with pytest.raises(BadRequestException):
            campaigns_api.add_vouchers_to_campaign(campaign.id, vouchers_count=2)

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException):
            campaigns_api.add_vouchers_to_campaign("nope")


class TestAddVoucherWithSpecificCode:
    def test_adds_the_code(self, campaigns_api: Any) -> None:
        campaign = loyalty_campaign(campaigns_api, points=40)
        code = unique("card")
        voucher = campaigns_api.add_voucher_with_specific_code_to_campaign(
            campaign.name,
            code,
            voucherify.CampaignsVouchersCreateRequestBody(metadata={"tier": "gold"}),
        )
        assert voucher.code == code
        assert voucher.campaign == campaign.name
        assert voucher.type == "LOYALTY_CARD"
        assert voucher.loyalty_card.points == voucher.loyalty_card.balance == 40
        assert voucher.metadata == {"tier": "gold"}

    def test_a_taken_code_is_409(self, campaigns_api: Any, vouchers_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        standalone = discount_voucher(vouchers_api)
        with pytest.raises(ApiException) as error:
            campaigns_api.add_voucher_with_specific_code_to_campaign(campaign.id, standalone.code)
        assert error.value.status == 409
        body = error_of(error)
        assert body["key"] == "duplicate_found"
        assert (body["resource_id"], body["resource_type"]) == (standalone.code, "voucher")
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 0

    def test_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException):
            campaigns_api.add_voucher_with_specific_code_to_campaign("nope", unique())


class TestImportVouchersToCampaign:
    def test_imports_by_an_async_action(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        first, second = unique("imp"), unique("imp")
        accepted = campaigns_api.import_vouchers_to_campaign(
            campaign.id,
            [
                voucherify.CampaignsImportVoucherItem(
                    code=first,
                    category="First",
                    metadata={"season": "Fall"},
                    additional_info="secret",
                    active=False,
                    redemption=voucherify.CampaignsImportVoucherItemRedemption(quantity=2),
                ),
                voucherify.CampaignsImportVoucherItem(code=second),
            ],
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "CAMPAIGN.VOUCHERS_IMPORT"
        assert action["result"]["done_count"] == 2
        imported = vouchers_api.get_voucher(first)
        assert imported.campaign_id == campaign.id
        assert (imported.category, imported.metadata) == ("First", {"season": "Fall"})
        assert (imported.additional_info, imported.active) == ("secret", False)
        assert imported.redemption.quantity == 2
        assert imported.discount.amount_off == 1000
        assert vouchers_api.get_voucher(second).active is True

    def test_wire_status_is_202(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.post(f"/v1/campaigns/{campaign.id}/import", json=[{"code": unique()}])
        assert response.status_code == 202
        assert set(response.json()) == {"async_action_id"}

    def test_gift_cards_bring_their_own_amount(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api, amount=1000)
        own, template = unique("gift"), unique("gift")
        accepted = campaigns_api.import_vouchers_to_campaign(
            campaign.id,
            [
                voucherify.CampaignsImportVoucherItem(code=own, gift=voucherify.Gift(amount=2000)),
                voucherify.CampaignsImportVoucherItem(code=template),
            ],
        )
        wait_done(http, accepted.async_action_id)
        gift = vouchers_api.get_voucher(own).gift
        assert (gift.amount, gift.balance, gift.subtracted_amount) == (2000, 2000, 0)
        assert vouchers_api.get_voucher(template).gift.balance == 1000

    def test_loyalty_cards_bring_their_own_points(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = loyalty_campaign(campaigns_api, points=10)
        code = unique("card")
        response = http.post(
            f"/v1/campaigns/{campaign.id}/import",
            json=[{"code": code, "loyalty_card": {"points": 250}}],
        )
        wait_done(http, response.json()["async_action_id"])
        card = vouchers_api.get_voucher(code).loyalty_card
        assert (card.points, card.balance) == (250, 250)

    def test_a_code_repeated_in_the_request_is_duplicate_key(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        code = unique()
        with pytest.raises(BadRequestException) as error:
            campaigns_api.import_vouchers_to_campaign(
                campaign.id,
                [
                    voucherify.CampaignsImportVoucherItem(code=code),
                    voucherify.CampaignsImportVoucherItem(code=unique()),
                    voucherify.CampaignsImportVoucherItem(code=code),
                ],
            )
        assert error_of(error)["key"] == "duplicate_key"
        assert http.get("/v1/async-actions").json()["async_actions"] == []

    def test_a_taken_code_is_reported_in_the_result(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        taken = discount_voucher(vouchers_api).code
        fresh = unique()
        accepted = campaigns_api.import_vouchers_to_campaign(
            campaign.id,
            [
                voucherify.CampaignsImportVoucherItem(code=taken),
                voucherify.CampaignsImportVoucherItem(code=fresh),
            ],
        )
        action = wait_done(http, accepted.async_action_id)
        result = action["result"]
        assert (result["done_count"], result["failed_count"]) == (1, 1)
        assert result["errors"][0]["code"] == taken
        assert vouchers_api.get_voucher(taken).campaign_id is None
        assert set(codes_of(vouchers_api, campaign.id)) == {fresh}

    def test_an_item_without_a_code_is_invalid_voucher(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.post(f"/v1/campaigns/{campaign.id}/import", json=[{"category": "x"}])
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_voucher"

    def test_into_a_standalone_campaign_is_refused(self, campaigns_api: Any) -> None:
        campaign = gift_campaign(campaigns_api, type="STANDALONE")
        with pytest.raises(BadRequestException) as error:
            campaigns_api.import_vouchers_to_campaign(
                campaign.id, [voucherify.CampaignsImportVoucherItem(code=unique())]
            )
        assert error_of(error)["key"] == "invalid_campaign"


class TestImportVouchersToCampaignUsingCsv:
    def test_imports_columns_and_metadata(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api, amount=1000)
        first, second = unique("csv"), unique("csv")
        csv = (
            "Code,Category,Active,Gift Amount,Color\n"
            f"{first},shoes,false,2500,red\n"
            f"{second},,true,,\n"
        )
        accepted = campaigns_api.import_vouchers_to_campaign_using_csv(
            campaign.id, file=csv.encode()
        )
        action = wait_done(http, accepted.async_action_id)
        assert action["type"] == "CAMPAIGN.VOUCHERS_IMPORT_CSV"
        assert action["result"]["done_count"] == 2
        imported = vouchers_api.get_voucher(first)
        assert (imported.category, imported.active) == ("shoes", False)
        assert imported.metadata == {"Color": "red"}
        assert imported.gift.balance == 2500
        plain = vouchers_api.get_voucher(second)
        assert (plain.active, plain.metadata, plain.gift.balance) == (True, {}, 1000)

    def test_wire_status_is_200(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api)
        response = http.post(
            f"/v1/campaigns/{campaign.id}/importCSV",
            files={"file": ("codes.csv", f"Code\n{unique()}\n".encode(), "text/csv")},
        )
        assert response.status_code == 200
        assert set(response.json()) == {"async_action_id"}

    def test_a_code_repeated_in_the_file_is_duplicate_key(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        with pytest.raises(BadRequestException) as error:
            campaigns_api.import_vouchers_to_campaign_using_csv(
                campaign.id, file=b"Code\nSAME\nSAME\n"
            )
        assert error_of(error)["key"] == "duplicate_key"

    def test_a_file_without_a_code_column_is_refused(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        with pytest.raises(BadRequestException) as error:
            campaigns_api.import_vouchers_to_campaign_using_csv(campaign.id, file=b"Name\nX\n")
        assert error_of(error)["key"] == "invalid_payload"

    def test_a_taken_code_is_reported_in_the_result(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        taken = discount_voucher(vouchers_api).code
        accepted = campaigns_api.import_vouchers_to_campaign_using_csv(
            campaign.id, file=f"Code\n{taken}\n{unique()}\n".encode()
        )
        result = wait_done(http, accepted.async_action_id)["result"]
        assert (result["done_count"], result["failed_count"]) == (1, 1)
        assert result["errors"][0]["code"] == taken

    def test_a_bad_gift_amount_fails_its_row(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        bad, good = unique(), unique()
        accepted = campaigns_api.import_vouchers_to_campaign_using_csv(
            campaign.id, file=f"Code,Gift Amount\n{bad},12.5x\n{good},30\n".encode()
        )
        result = wait_done(http, accepted.async_action_id)["result"]
        assert (result["done_count"], result["failed_count"]) == (1, 1)
        assert result["errors"][0]["code"] == bad
        assert vouchers_api.get_voucher(good).gift.balance == 30


class TestCampaignAsyncActions:
    def test_their_types_are_in_the_document(self, anonymous_http: httpx.Client) -> None:
        document = anonymous_http.get("/openapi.json").json()
        action = document["components"]["schemas"]["AsyncAction"]
        assert set(campaigns_service.HANDLERS) <= set(action["properties"]["type"]["enum"])


class TestCampaignsOfAnotherProject:
    def test_are_not_found(
        self, campaigns_api: Any, server: RunningServer, another_project: Credentials
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        with sdk_client(server, another_project) as client:
            other = voucherify.CampaignsApi(client)
            for key in (campaign.id, campaign.name):
                with pytest.raises(NotFoundException):
                    other.get_campaign(key)
            with pytest.raises(NotFoundException):
                other.update_campaign(
                    campaign.id, voucherify.CampaignsUpdateRequestBody(description="x")
                )
            with pytest.raises(NotFoundException):
                other.delete_campaign(campaign.id)
            with pytest.raises(NotFoundException):
                other.disable_campaign(campaign.id)
            with pytest.raises(NotFoundException):
                other.list_campaign_transactions(campaign.id)
            with pytest.raises(NotFoundException):
                other.add_vouchers_to_campaign(campaign.id)
            with pytest.raises(NotFoundException):
                other.add_voucher_with_specific_code_to_campaign(campaign.id, unique())
            with pytest.raises(NotFoundException):
                other.import_vouchers_to_campaign(
                    campaign.id, [voucherify.CampaignsImportVoucherItem(code=unique())]
                )
            assert other.list_campaigns().total == 0
        assert campaigns_api.get_campaign(campaign.id).active is True

    def test_may_share_a_name(
        self, campaigns_api: Any, server: RunningServer, another_project: Credentials
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        with httpx.Client(base_url=server.base_url, headers=auth_headers(another_project)) as other:
            response = other.post(
                "/v1/campaigns",
                json={
                    "name": campaign.name,
                    "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 1}},
                },
            )
        assert response.status_code == 200
        assert response.json()["id"] != campaign.id
