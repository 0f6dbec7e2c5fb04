"""A campaign's transactions and summary through the official SDK (and httpx for what the SDK
cannot send)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import NotFoundException

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers, sdk_client
from tests.factories import unique


@pytest.fixture
def campaigns_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.CampaignsApi(client)


@pytest.fixture
def vouchers_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.VouchersApi(client)


@pytest.fixture
def publications_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.PublicationsApi(client)


def gift_campaign(api: Any, amount: int = 1000) -> Any:
    return api.create_campaign(
        voucherify.CampaignsCreateRequestBody(
            name=unique("Gift"),
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="GIFT_VOUCHER", gift=voucherify.Gift(amount=amount)
            ),
        )
    )


def loyalty_campaign(api: Any, points: int = 100) -> Any:
    return api.create_campaign(
        voucherify.CampaignsCreateRequestBody(
            name=unique("Loyalty"),
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="LOYALTY_CARD", loyalty_card=voucherify.CampaignLoyaltyCard(points=points)
            ),
        )
    )


def discount_campaign(api: Any) -> Any:
    return api.create_campaign(
        voucherify.CampaignsCreateRequestBody(
            name=unique("Discount"),
            voucher=voucherify.CampaignsCreateRequestBodyVoucher(
                type="DISCOUNT_VOUCHER",
                discount=voucherify.Discount(type="AMOUNT", amount_off=1000),
            ),
        )
    )


def change(api: Any, code: str, amount: int) -> None:
    api.update_voucher_balance(code, voucherify.VouchersBalanceUpdateRequestBody(amount=amount))


def publish(api: Any, source_id: str, campaign_name: str) -> Any:
    return api.create_publication(
        publications_create_request_body=voucherify.PublicationsCreateRequestBody(
            customer=voucherify.Customer(source_id=source_id),
            campaign=voucherify.CreatePublicationCampaign(name=campaign_name),
        )
    )


def assert_error(response: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["code"], body["key"]) == (status, key)
    assert body["request_id"]
    return body


class TestListCampaignTransactions:
    def test_every_codes_transactions_newest_first_or_oldest_first(
        self, campaigns_api: Any, vouchers_api: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        first = campaigns_api.add_vouchers_to_campaign(campaign.id)
        second = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, first.code, 500)
        change(vouchers_api, second.code, 300)
        change(vouchers_api, first.code, -200)
        listed = campaigns_api.list_campaign_transactions(campaign.name)
        assert listed.object == "list"
        assert listed.data_ref == "data"
        assert listed.has_more is False
        assert [(t.voucher_id, t.type) for t in listed.data] == [
            (first.id, "CREDITS_REMOVAL"),
            (second.id, "CREDITS_ADDITION"),
            (first.id, "CREDITS_ADDITION"),
        ]
        assert all(t.campaign_id == campaign.id for t in listed.data)
        assert listed.data[0].details.balance.amount == -200
        assert listed.data[0].details.balance.balance == 1300
        oldest_first = campaigns_api.list_campaign_transactions(campaign.id, order="id")
        assert [t.id for t in oldest_first.data] == [t.id for t in reversed(listed.data)]

    def test_pages_follow_the_cursor(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        for amount in (1, 2, 3):
            change(vouchers_api, card.code, amount)
        first = campaigns_api.list_campaign_transactions(campaign.id, limit=2)
        assert first.has_more is True
        assert first.more_starting_after == first.data[-1].id
        rest = campaigns_api.list_campaign_transactions(
            campaign.id, limit=2, starting_after_id=first.more_starting_after
        )
        assert [t.details.balance.amount for t in first.data + rest.data] == [3, 2, 1]
        raw = http.get(
            f"/v1/campaigns/{campaign.id}/transactions",
            params={"limit": 2, "starting_after_id": first.more_starting_after},
        ).json()
        assert raw["has_more"] is False
        assert "more_starting_after" not in raw

    def test_filters_as_the_sdks_send_them(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        first = campaigns_api.add_vouchers_to_campaign(campaign.id)
        second = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, first.code, 10)
        change(vouchers_api, second.code, 20)
        path = f"/v1/campaigns/{campaign.id}/transactions"

        def voucher_ids(params: Any) -> list[str]:
            response = http.get(path, params=params)
            assert response.status_code == 200, response.text
            return [t["voucher_id"] for t in response.json()["data"]]

        assert voucher_ids({"filters[voucher_id][conditions][$is]": first.id}) == [first.id]
        assert voucher_ids({"filters[voucher_id][conditions][$is_not]": first.id}) == [second.id]
        both = [("filters[voucher_id][conditions][$in][]", v) for v in (first.id, second.id)]
        assert voucher_ids(both) == [second.id, first.id]
        newest = http.get(path).json()["data"][0]["id"]
        assert voucher_ids(
            {
                "filters[junction]": "or",
                "filters[id][conditions][$is]": newest,
                "filters[voucher_id][conditions][$is]": first.id,
            }
        ) == [second.id, first.id]
        both_must_match = {
            "filters[id][conditions][$is]": newest,
            "filters[voucher_id][conditions][$is]": first.id,
        }
        assert not voucher_ids(both_must_match)
        assert voucher_ids({"filters[id][conditions][$starts_with]": "vtx_"}) == [
            second.id,
            first.id,
        ]
        assert not voucher_ids({"filters[id][conditions][$is_unknown]": ""})

    def test_filter_words_in_any_letter_case(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        # Voucherify's examples write `"junction": "AND"` (kit.filter_words).
        campaign = gift_campaign(campaigns_api)
        first = campaigns_api.add_vouchers_to_campaign(campaign.id)
        second = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, first.code, 10)
        change(vouchers_api, second.code, 20)
        path = f"/v1/campaigns/{campaign.id}/transactions"
        newest = http.get(path).json()["data"][0]["id"]
        response = http.get(
            path,
            params={
                "filters[junction]": "OR",
                "filters[id][conditions][$IS]": newest,
                "filters[voucher_id][conditions][$Is]": first.id,
            },
        )
        assert response.status_code == 200, response.text
        assert [t["voucher_id"] for t in response.json()["data"]] == [second.id, first.id]
        response = http.get(path, params={"filters[junction]": "And"})
        assert len(response.json()["data"]) == 2
        unknown = http.get(path, params={"filters[id][conditions][$LIKE]": "x"})
        assert_error(unknown, 400, "invalid_query_params")
        assert "$LIKE" in unknown.json()["details"]

    def test_the_python_sdks_filters_change_nothing(
        self, campaigns_api: Any, vouchers_api: Any
    ) -> None:
        # The SDK sends `filters[voucher_id][$is]=None` for every operator, whatever it is
        # given: Patron reads that as no filter rather than answer nothing.
        campaign = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, card.code, 10)
        filters = voucherify.ParametersFiltersListCampaignTransactions.from_dict(
            {"junction": "and", "voucher_id": {"conditions": {"$is": card.id}}}
        )
        listed = campaigns_api.list_campaign_transactions(campaign.id, filters=filters)
        assert [t.voucher_id for t in listed.data] == [card.id]

    def test_a_discount_campaign_has_none(self, campaigns_api: Any) -> None:
        campaign = discount_campaign(campaigns_api)
        campaigns_api.add_vouchers_to_campaign(campaign.id)
        listed = campaigns_api.list_campaign_transactions(campaign.id)
        assert listed.data == []
        assert listed.has_more is False

    def test_a_binned_codes_transactions_stay(self, campaigns_api: Any, vouchers_api: Any) -> None:
        campaign = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, card.code, 10)
        vouchers_api.delete_voucher(card.code)
        listed = campaigns_api.list_campaign_transactions(campaign.id)
        assert [t.voucher_id for t in listed.data] == [card.id]

    def test_a_starting_after_id_not_of_the_campaign_is_404(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        other = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(other.id)
        change(vouchers_api, card.code, 10)
        foreign = campaigns_api.list_campaign_transactions(other.id).data[0].id
        response = http.get(
            f"/v1/campaigns/{campaign.id}/transactions", params={"starting_after_id": foreign}
        )
        body = assert_error(response, 404, "not_found")
        assert body["resource_type"] == "voucher_transaction"

    @pytest.mark.parametrize(
        "params",
        [
            {"order": "created_at"},
            {"limit": "0"},
            {"limit": "101"},
            {"filters[junction]": "xor"},
            {"filters[code][conditions][$is]": "x"},
            {"filters[id][conditions][$like]": "x"},
            {"filters[id]": "x"},
            {"filters[id][conditions][$is]": ["a", "b"]},
        ],
    )
    def test_bad_query_params_are_400(
        self, campaigns_api: Any, http: httpx.Client, params: Any
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        response = http.get(f"/v1/campaigns/{campaign.id}/transactions", params=params)
        assert_error(response, 400, "invalid_query_params")

    def test_an_unknown_campaign_is_404(self, campaigns_api: Any) -> None:
        with pytest.raises(NotFoundException) as error:
            campaigns_api.list_campaign_transactions("no such campaign")
        assert "campaign" in str(error.value.body)

    def test_another_projects_campaign_is_404(
        self, server: RunningServer, http: httpx.Client, another_project: Credentials
    ) -> None:
        with sdk_client(server, another_project) as client:
            theirs = gift_campaign(voucherify.CampaignsApi(client))
        for path in (f"/v1/campaigns/{theirs.id}/transactions", f"/v1/campaigns/{theirs.name}"):
            body = assert_error(http.get(path), 404, "not_found")
            assert body["resource_type"] == "campaign"
        with httpx.Client(
            base_url=server.base_url, headers=auth_headers(another_project), timeout=30
        ) as other:
            assert other.get(f"/v1/campaigns/{theirs.id}/transactions").status_code == 200


class TestGetCampaignSummary:
    def test_a_gift_campaigns_codes_publications_and_credits(
        self,
        campaigns_api: Any,
        vouchers_api: Any,
        publications_api: Any,
        http: httpx.Client,
    ) -> None:
        campaign = gift_campaign(campaigns_api, amount=1000)
        kept = campaigns_api.add_vouchers_to_campaign(campaign.id)
        trimmed = campaigns_api.add_vouchers_to_campaign(campaign.id)
        binned = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, kept.code, 500)
        change(vouchers_api, trimmed.code, -200)
        change(vouchers_api, binned.code, 100)
        vouchers_api.delete_voucher(binned.code)
        publish(publications_api, unique("cust"), campaign.name)
        campaigns_api.disable_campaign(campaign.id)
        with pytest.raises(voucherify.ApiException):
            publish(publications_api, unique("cust"), campaign.name)
        summary = campaigns_api.get_campaign_summary(campaign.name)
        assert summary.object == "campaign_summary"
        assert summary.campaign.id == campaign.id
        assert summary.campaign.vouchers_count == 2
        assert (summary.vouchers_created, summary.vouchers_deleted) == (3, 1)
        assert (
            summary.publications,
            summary.publications_succeeded,
            summary.publications_failed,
        ) == (2, 1, 1)
        assert summary.created_vouchers_amount == 3000
        assert summary.amount_added == 600
        assert summary.amount_subtracted == 200
        assert summary.amount_deleted == 1100
        assert (summary.amount_redeemed, summary.amount_rolledback) == (0, 0)
        assert (summary.redemptions, summary.validations, summary.orders_amount) == (0, 0, 0)
        raw = http.get(f"/v1/campaigns/{campaign.id}/summary").json()
        assert "points_added" not in raw
        assert "discounted_amount" not in raw

    def test_a_loyalty_campaigns_points(
        self, campaigns_api: Any, vouchers_api: Any, publications_api: Any
    ) -> None:
        campaign = loyalty_campaign(campaigns_api, points=100)
        card = publish(publications_api, unique("member"), campaign.name).voucher
        change(vouchers_api, card.code, 50)
        change(vouchers_api, card.code, -20)
        summary = campaigns_api.get_campaign_summary(campaign.id)
        assert summary.vouchers_created == 1
        assert summary.publications_succeeded == 1
        assert summary.created_vouchers_points == 100
        assert (summary.points_added, summary.points_subtracted) == (50, 20)
        assert (summary.points_rewarded, summary.points_redeemed, summary.points_expired) == (
            0,
            0,
            0,
        )
        assert summary.points_deleted == 0
        assert summary.pending_points_added == 0
        assert summary.amount_added is None

    def test_a_discount_campaign_has_its_discount_figures(
        self, campaigns_api: Any, http: httpx.Client
    ) -> None:
        campaign = discount_campaign(campaigns_api)
        bundle = campaigns_api.add_vouchers_to_campaign(campaign.id, vouchers_count=3)
        wait_done(http, bundle.async_action_id)
        summary = campaigns_api.get_campaign_summary(campaign.id)
        assert summary.vouchers_created == 3
        assert (summary.discounted_amount, summary.rolledback_discounted_amount) == (0, 0)
        assert summary.created_vouchers_amount is None

    def test_dates_bound_what_is_counted(
        self, campaigns_api: Any, vouchers_api: Any, http: httpx.Client
    ) -> None:
        campaign = gift_campaign(campaigns_api)
        card = campaigns_api.add_vouchers_to_campaign(campaign.id)
        change(vouchers_api, card.code, 5)
        today = datetime.now(UTC).date()
        tomorrow = today + timedelta(days=1)
        later = campaigns_api.get_campaign_summary(campaign.id, start_date=tomorrow)
        assert (later.vouchers_created, later.amount_added, later.created_vouchers_amount) == (
            0,
            0,
            0,
        )
        earlier = campaigns_api.get_campaign_summary(
            campaign.id, start_date=date(2020, 1, 1), end_date=today - timedelta(days=1)
        )
        assert earlier.vouchers_created == 0
        now = campaigns_api.get_campaign_summary(campaign.id, start_date=today, end_date=today)
        assert (now.vouchers_created, now.amount_added) == (1, 5)
        open_ended = http.get(
            f"/v1/campaigns/{campaign.id}/summary", params={"end_date": "9999-12-31"}
        )
        assert open_ended.json()["vouchers_created"] == 1

    @pytest.mark.parametrize(
        "params",
        [
            {"start_date": "2024-02-30"},
            {"start_date": "2024-01-01T00:00:00Z"},
            {"end_date": "yesterday"},
            {"start_date": "2024-02-02", "end_date": "2024-02-01"},
            {"start_date": ["2024-01-01", "2024-01-02"]},
        ],
    )
    def test_bad_dates_are_400(self, campaigns_api: Any, http: httpx.Client, params: Any) -> None:
        campaign = gift_campaign(campaigns_api)
        response = http.get(f"/v1/campaigns/{campaign.id}/summary", params=params)
        assert_error(response, 400, "invalid_query_params")

    def test_another_projects_campaign_is_404(
        self, server: RunningServer, campaigns_api: Any, another_project: Credentials
    ) -> None:
        with sdk_client(server, another_project) as client:
            theirs = gift_campaign(voucherify.CampaignsApi(client))
        with pytest.raises(NotFoundException) as error:
            campaigns_api.get_campaign_summary(theirs.id)
        assert theirs.id in str(error.value.body)
