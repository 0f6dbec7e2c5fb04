"""Publications through the official SDK, and the customer fields the codes they give feed."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import unique


@pytest.fixture
def api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield client


def campaign(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique("Campaign"))
    body.setdefault(
        "voucher", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    )
    response = http.post("/v1/campaigns", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def publish(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/publications", json=body)


def customer(http: httpx.Client, key: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/v1/customers/{key}").json()
    return body


def activity_types(http: httpx.Client, key: str) -> list[str]:
    page = http.get(f"/v1/customers/{key}/activity", params={"order": "created_at", "limit": 100})
    return [item["type"] for item in page.json()["data"]]


class TestCreatePublication:
    def test_sdk_publishes_a_new_code_of_an_auto_update_campaign(
        self, api: Any, http: httpx.Client
    ) -> None:
        made = campaign(http)
        publication = voucherify.PublicationsApi(api).create_publication(
            publications_create_request_body=voucherify.PublicationsCreateRequestBody(
                customer=voucherify.Customer(source_id="pub-1", email="pub@example.com"),
                campaign=voucherify.CreatePublicationCampaign(name=made["name"]),
                channel=None,
                metadata=None,
            )
        )
        assert publication.id is not None
        assert publication.id.startswith("pub_")
        assert publication.result == "SUCCESS"
        assert publication.voucher is not None
        assert publication.voucher.holder_id == publication.customer_id
        assert publication.tracking_id == "pub-1"
        assert activity_types(http, "pub-1")[-1] == "customer.publication.succeeded"
        listed = http.get("/v1/publications", params={"customer": "pub-1"}).json()
        assert [p["id"] for p in listed["publications"]] == [publication.id]

    def test_join_once_gives_the_same_code(self, http: httpx.Client) -> None:
        made = campaign(http, join_once=True)
        first = publish(http, customer={"source_id": "j"}, campaign={"name": made["name"]})
        second = publish(http, customer={"source_id": "j"}, campaign={"name": made["name"]})
        assert first.status_code == second.status_code == 200
        assert first.json()["voucher"]["code"] == second.json()["voucher"]["code"]

    def test_count_gives_several_codes(self, http: httpx.Client) -> None:
        made = campaign(http)
        response = publish(
            http, customer={"source_id": "c"}, campaign={"name": made["id"], "count": 3}
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["vouchers"]) == 3
        assert len(set(response.json()["vouchers_id"])) == 3

    def test_missing_vouchers_is_refused_and_stored(self, http: httpx.Client) -> None:
        response = publish(http, customer={"source_id": "m"})
        assert response.status_code == 400
        assert response.json()["key"] == "missing_vouchers"
        failures = http.get("/v1/publications", params={"result": "FAILURE"}).json()
        assert failures["publications"][0]["failure_code"] == "missing_vouchers"
        assert activity_types(http, "m")[-1] == "customer.publication.failed"

    def test_a_published_code_cannot_be_published_again(self, http: httpx.Client) -> None:
        code = http.post(
            "/v1/vouchers", json={"discount": {"type": "PERCENT", "percent_off": 5}}
        ).json()["code"]
        assert publish(http, customer={"source_id": "a"}, voucher=code).status_code == 200
        again = publish(http, customer={"source_id": "b"}, voucher=code)
        assert again.status_code == 400
        assert again.json()["key"] == "voucher_already_published"

    def test_source_id_replays_for_the_same_customer_only(self, http: httpx.Client) -> None:
        made = campaign(http)
        first = publish(http, customer={"source_id": "s"}, campaign=made["name"], source_id="x1")
        replay = publish(http, customer={"source_id": "s"}, campaign=made["name"], source_id="x1")
        assert replay.json()["id"] == first.json()["id"]
        other = publish(http, customer={"source_id": "t"}, campaign=made["name"], source_id="x1")
        assert other.status_code == 400
        assert other.json()["key"] == "duplicate_source_id"


class TestCustomerFields:
    def test_gift_and_loyalty_cards_held_feed_the_customer(self, http: httpx.Client) -> None:
        gift = campaign(
            http,
            campaign_type="GIFT_VOUCHERS",
            voucher={"type": "GIFT_VOUCHER", "gift": {"amount": 5000}},
        )
        club = campaign(
            http, name="Club", voucher={"type": "LOYALTY_CARD", "loyalty_card": {"points": 100}}
        )
        assert publish(http, customer={"source_id": "h"}, campaign=gift["name"]).status_code == 200
        card = publish(http, customer={"source_id": "h"}, campaign=club["name"]).json()["voucher"]
        body = customer(http, "h")
        assert body["summary"]["redemptions"]["gift"]["amount_to_go"] == 5000
        assert body["summary"]["redemptions"]["loyalty_card"]["points_to_go"] == 100
        assert body["loyalty"] == {
            "points": 100,
            "referred_customers": 0,
            "campaigns": {"Club": {"points": 100}},
        }
        added = http.post(f"/v1/vouchers/{card['code']}/balance", json={"amount": 250})
        assert added.status_code == 200, added.text
        assert added.json()["balance"] == 350
        assert customer(http, "h")["loyalty"]["campaigns"] == {"Club": {"points": 350}}
        assert "customer.voucher.loyalty_card.points_added" in activity_types(http, "h")
        again = publish(http, customer={"source_id": "h"}, campaign=club["name"])
        assert again.json()["voucher"]["code"] == card["code"]
        http.delete(f"/v1/vouchers/{card['code']}")
        assert customer(http, "h")["loyalty"]["points"] == 0
        assert customer(http, "h")["loyalty"]["campaigns"] == {}

    def test_redeemables_list_the_codes_held(self, api: Any, http: httpx.Client) -> None:
        made = campaign(http)
        publish(http, customer={"source_id": "r"}, campaign={"name": made["name"], "count": 3})
        page = voucherify.CustomersApi(api).list_customer_redeemables("r", limit=2)
        assert page.total == 3
        assert page.has_more
        rest = voucherify.CustomersApi(api).list_customer_redeemables(
            "r", limit=2, starting_after_id=page.more_starting_after
        )
        assert rest.data is not None
        assert len(rest.data) == 1
        assert rest.data[0].redeemable is not None
        assert rest.data[0].redeemable.status == "ACTIVE"


class TestConcurrency:
    def test_64_join_once_publications_to_one_customer_leave_one_code(
        self, http: httpx.Client, server: RunningServer, project: Credentials
    ) -> None:
        made = campaign(http, join_once=True)

        def one(_: int) -> str:
            with httpx.Client(base_url=server.base_url, headers=dict(http.headers)) as client:
                response = publish(client, customer={"source_id": "once"}, campaign=made["name"])
                assert response.status_code == 200, response.text
                code: str = response.json()["voucher"]["code"]
                return code

        with ThreadPoolExecutor(16) as pool:
            codes = set(pool.map(one, range(64)))
        assert len(codes) == 1
        assert http.get(f"/v1/campaigns/{made['id']}").json()["vouchers_count"] == 1

    def test_64_customers_get_64_distinct_codes(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        made = campaign(http, type="STATIC", vouchers_count=0)
        http.post(f"/v1/campaigns/{made['id']}/vouchers", params={"vouchers_count": 64})

        def one(number: int) -> str:
            with httpx.Client(base_url=server.base_url, headers=dict(http.headers)) as client:
                for _ in range(100):
                    response = publish(
                        client, customer={"source_id": f"p{number}"}, campaign=made["name"]
                    )
                    if response.status_code == 200:
                        code: str = response.json()["voucher"]["code"]
                        return code
                raise AssertionError(response.text)

        for _ in range(200):
            if http.get(f"/v1/campaigns/{made['id']}").json()["vouchers_count"] == 64:
                break
            time.sleep(0.05)
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(one, range(64)))
        assert len(set(codes)) == 64
        refused = publish(http, customer={"source_id": "late"}, campaign=made["name"])
        assert refused.json()["key"] == "no_voucher_suitable_for_publication"


class TestSegments:
    def test_a_balance_change_moves_the_holder_into_an_auto_update_segment(
        self, http: httpx.Client
    ) -> None:
        club = campaign(
            http, name="Gold", voucher={"type": "LOYALTY_CARD", "loyalty_card": {"points": 50}}
        )
        segment = http.post(
            "/v1/segments",
            json={
                "name": "Rich",
                "type": "auto-update",
                "filter": {
                    "junction": "and",
                    "loyalty_points.campaigns.Gold.points": {
                        "conditions": {"$more_than_equal": [100]}
                    },
                },
            },
        )
        assert segment.status_code == 200, segment.text
        card = publish(http, customer={"source_id": "g"}, campaign=club["name"]).json()["voucher"]
        assert http.get("/v1/customers/g/segments").json()["data"] == []
        http.post(f"/v1/vouchers/{card['code']}/balance", json={"amount": 60})
        members = http.get("/v1/customers/g/segments").json()["data"]
        assert [member["id"] for member in members] == [segment.json()["id"]]
        assert "customer.segment.entered" in activity_types(http, "g")
        http.post(f"/v1/vouchers/{card['code']}/balance", json={"amount": -20})
        assert http.get("/v1/customers/g/segments").json()["data"] == []
        assert activity_types(http, "g")[-1] == "customer.segment.left"


class TestShapesAndFilterWords:
    def test_publication_customer_leaves_out_a_metadata_never_set(
        self, api: Any, http: httpx.Client
    ) -> None:
        # PHP SDK `createdPublication.json`: the customer's `metadata` is `null` (a missing key,
        # as its model shows one) beside the publication's own `"metadata": {}`.
        made = campaign(http)
        raw = voucherify.PublicationsApi(api).create_publication_without_preload_content(
            publications_create_request_body=voucherify.PublicationsCreateRequestBody(
                customer=voucherify.Customer(source_id="plain"),
                campaign=voucherify.CreatePublicationCampaign(name=made["name"]),
            )
        )
        assert raw.status == 200
        body = json.loads(raw.data)
        assert "metadata" not in body["customer"]
        assert body["customer"]["object"] == "customer"
        parsed: Any = voucherify.PublicationsCreateResponseBody.from_json(raw.data.decode())
        assert parsed.customer.metadata is None
        rich = publish(
            http, customer={"source_id": "rich", "metadata": {"a": 1}}, campaign=made["name"]
        )
        assert rich.json()["customer"]["metadata"] == {"a": 1}

    def test_list_filter_operator_in_any_case(self, http: httpx.Client) -> None:
        made = campaign(http)
        publish(http, customer={"source_id": "one"}, campaign=made["name"])
        publish(http, customer={"source_id": "two"}, campaign=made["name"])
        wanted = customer(http, "one")["id"]
        response = http.get(
            "/v1/publications", params={"filters[customer_id][conditions][$IS]": wanted}
        )
        assert response.status_code == 200, response.text
        assert [p["customer_id"] for p in response.json()["publications"]] == [wanted]
