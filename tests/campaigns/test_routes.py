"""Campaigns through the official SDK: create, read, change, delete, and their codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException, NotFoundException

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, sdk_client
from tests.factories import unique


@pytest.fixture
def campaigns_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.CampaignsApi(client)


@pytest.fixture
def vouchers_api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.VouchersApi(client)


def discount_campaign(api: Any, **extra: Any) -> Any:
    return api.create_campaign(
        voucherify.CampaignsCreateRequestBody(
            name=extra.pop("name", unique("Campaign")),
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="DISCOUNT_VOUCHER",
                discount=voucherify.Discount(type="AMOUNT", amount_off=1000),
            ),
            **extra,
        )
    )


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

    def test_duplicate_name_is_409(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        with pytest.raises(ApiException) as error:
            discount_campaign(campaigns_api, name=campaign.name)
        assert error.value.status == 409


class TestCampaignVouchers:
    def test_add_one_then_several_then_a_specific_code(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        one = campaigns_api.add_vouchers_to_campaign(campaign.id)
        assert one.code
        assert one.campaign_id == campaign.id
        bundle = campaigns_api.add_vouchers_to_campaign(campaign.id, vouchers_count=5)
        wait_done(http, bundle.async_action_id)
        specific = campaigns_api.add_voucher_with_specific_code_to_campaign(
            campaign.id, unique("code")
        )
        assert specific.campaign == campaign.name
        assert campaigns_api.get_campaign(campaign.id).vouchers_count == 7

    def test_update_and_delete(self, campaigns_api: Any, http: httpx.Client) -> None:
        campaign = discount_campaign(campaigns_api, expiration_date="2090-10-08T12:57:09.386Z")
        assert campaign.expiration_date is not None
        updated = campaigns_api.update_campaign(
            campaign.id, voucherify.CampaignsUpdateRequestBody(expiration_date=None)
        )
        assert updated.expiration_date is None
        deleted = campaigns_api.delete_campaign(campaign.id)
        wait_done(http, deleted.async_action_id)
        with pytest.raises(NotFoundException):
            campaigns_api.get_campaign(campaign.id)
