"""Segments through the official SDK and plain HTTP: the three types, membership, listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import create_customer, unique


@pytest.fixture
def segments_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.SegmentsApi(client)


def create_segment(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/segments", json={"name": unique("seg"), **body})
    assert response.status_code == 200, response.text
    segment: dict[str, Any] = response.json()
    return segment


def member_ids(http: httpx.Client, segment_id: str) -> set[str]:
    response = http.get("/v1/customers", params={"segment_id": segment_id, "limit": 100})
    assert response.status_code == 200, response.text
    return {customer["id"] for customer in response.json()["customers"]}


def segment_activities(http: httpx.Client, customer_id: str) -> list[tuple[str, str]]:
    response = http.get(f"/v1/customers/{customer_id}/activity", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [
        (activity["type"], activity["data"]["segment"]["id"])
        for activity in reversed(response.json()["data"])
        if activity["type"].startswith("customer.segment.")
    ]


def city_filter(city: str) -> dict[str, Any]:
    return {"junction": "and", "address.city": {"conditions": {"$is": city}}}


def set_balances(
    server: RunningServer,
    customer_id: str,
    *,
    gift: int = 0,
    loyalty: int = 0,
    campaigns: dict[str, int] | None = None,
) -> None:
    """Store what the cards a customer holds add up to, as the write path for vouchers keeps
    it (gift cents, loyalty points, points by loyalty campaign name), straight in the row."""
    server.db.fetch(
        "UPDATE customers SET gift_balance = $2, loyalty_balance = $3, loyalty_campaigns = $4"
        " WHERE id = $1",
        customer_id,
        gift,
        loyalty,
        {name: {"points": points} for name, points in (campaigns or {}).items()},
    )


def one_condition(path: str, op: str, value: Any) -> dict[str, Any]:
    return {"junction": "and", path: {"conditions": {op: value}}}


class TestCreateSegment:
    def test_static_through_the_sdk(self, segments_api: Any, http: httpx.Client) -> None:
        first, second = create_customer(http), create_customer(http)
        body = voucherify.SegmentsCreateRequestBody(
            name="VIP", type="static", customers=[first["id"], second["source_id"]]
        )
        segment = segments_api.create_segment(body)
        assert segment.id.startswith("seg_")
        assert (segment.name, segment.type, segment.filter) == ("VIP", "static", None)
        assert segment.object == "segment"
        assert member_ids(http, segment.id) == {first["id"], second["id"]}
        fetched = segments_api.get_segment(segment.id)
        assert fetched.id == segment.id
        assert fetched.created_at == segment.created_at

    def test_auto_update_starts_with_the_matching_customers(
        self, segments_api: Any, http: httpx.Client
    ) -> None:
        city = unique("city")
        inside = create_customer(http, address={"city": city})
        create_customer(http, address={"city": "elsewhere"})
        body = voucherify.SegmentsCreateRequestBody(
            name="Locals", type="auto-update", filter=city_filter(city)
        )
        segment = segments_api.create_segment(body)
        assert segment.filter == city_filter(city)
        assert member_ids(http, segment.id) == {inside["id"]}
        # The starting members are not recorded as entering.
        assert segment_activities(http, inside["id"]) == []

    def test_passive_computes_members_when_read(self, http: httpx.Client) -> None:
        city = unique("city")
        segment = create_segment(http, type="passive", filter=city_filter(city))
        assert member_ids(http, segment["id"]) == set()
        customer = create_customer(http, address={"city": city})
        assert member_ids(http, segment["id"]) == {customer["id"]}
        assert segment_activities(http, customer["id"]) == []

    def test_static_with_an_unknown_customer_is_404(self, http: httpx.Client) -> None:
        known = create_customer(http)
        response = http.post(
            "/v1/segments",
            json={"name": "x", "type": "static", "customers": [known["id"], "cust_nope"]},
        )
        assert response.status_code == 404
        body = response.json()
        assert (body["key"], body["resource_type"], body["resource_id"]) == (
            "not_found",
            "customer",
            "cust_nope",
        )
        assert http.get("/v1/segments").json()["total"] == 0

    @pytest.mark.parametrize(
        ("body", "named"),
        [
            ({"type": "static", "customers": []}, "name"),
            ({"name": "x", "type": "dynamic", "filter": {}}, "type"),
            ({"name": "x", "type": "static"}, "customers"),
            ({"name": "x", "type": "passive"}, "filter"),
            ({"name": "x", "type": "static", "customers": [], "filter": {}}, "filter"),
            ({"name": "x", "type": "auto-update", "filter": {}, "customers": []}, "customers"),
            ({"name": "x", "type": "passive", "filter": {"junction": "xor"}}, "junction"),
            (
                {"name": "x", "type": "passive", "filter": {"shoe_size": {"conditions": {}}}},
                "shoe_size",
            ),
            (
                {
                    "name": "x",
                    "type": "passive",
                    "filter": {"email": {"conditions": {"$near": "a"}}},
                },
                "$near",
            ),
            (
                {"name": "x", "type": "passive", "filter": {"email": {"conditions": {"$is": 5}}}},
                "text",
            ),
            (
                {
                    "name": "x",
                    "type": "passive",
                    "filter": {"created_at": {"conditions": {"$before": "yesterday"}}},
                },
                "ISO 8601",
            ),
            (
                {
                    "name": "x",
                    "type": "passive",
                    "filter": {"summary.orders.total_count": {"conditions": {"$more_than": "a"}}},
                },
                "number",
            ),
        ],
    )
    def test_bad_bodies_are_400_naming_the_problem(
        self, http: httpx.Client, body: dict[str, Any], named: str
    ) -> None:
        response = http.post("/v1/segments", json=body)
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["key"] == "invalid_payload"
        assert named in error["details"]
        assert http.get("/v1/segments").json()["total"] == 0


class TestGetAndDeleteSegment:
    def test_unknown_segment_is_404(self, segments_api: Any) -> None:
        with pytest.raises(voucherify.ApiException) as raised:
            segments_api.get_segment("seg_unknown")
        assert raised.value.status == 404

    def test_delete_removes_it_and_its_members(self, segments_api: Any, http: httpx.Client) -> None:
        customer = create_customer(http)
        segment = create_segment(http, type="static", customers=[customer["id"]])
        segments_api.delete_segment(segment["id"])
        assert http.get(f"/v1/segments/{segment['id']}").status_code == 404
        assert http.delete(f"/v1/segments/{segment['id']}").status_code == 404
        response = http.get("/v1/customers", params={"segment_id": segment["id"]})
        assert response.status_code == 404
        assert response.json()["resource_type"] == "segment"
        assert http.get(f"/v1/customers/{customer['id']}/segments").json()["data"] == []

    def test_other_projects_cannot_see_it(
        self, http: httpx.Client, server: RunningServer, another_project: Credentials
    ) -> None:
        segment = create_segment(http, type="passive", filter=city_filter("x"))
        with sdk_client(server, another_project) as client:
            with pytest.raises(voucherify.ApiException) as raised:
                voucherify.SegmentsApi(client).get_segment(segment["id"])
            assert raised.value.status == 404


class TestListSegments:
    def test_pages_newest_first_with_filters(self, http: httpx.Client) -> None:
        made = [
            create_segment(http, type="passive", filter=city_filter("a")),
            create_segment(http, type="static", customers=[]),
            create_segment(http, type="auto-update", filter=city_filter("b")),
        ]
        page = http.get("/v1/segments", params={"limit": 2}).json()
        assert (page["object"], page["data_ref"], page["total"], page["has_more"]) == (
            "list",
            "data",
            3,
            True,
        )
        assert [s["id"] for s in page["data"]] == [made[2]["id"], made[1]["id"]]
        rest = http.get(
            "/v1/segments", params={"limit": 2, "starting_after": page["data"][-1]["id"]}
        ).json()
        assert [s["id"] for s in rest["data"]] == [made[0]["id"]]
        oldest = http.get("/v1/segments", params={"order": "created_at", "limit": 1}).json()
        assert oldest["data"][0]["id"] == made[0]["id"]
        typed = http.get(
            "/v1/segments", params={"filters[type][conditions][$in][]": ["static", "passive"]}
        ).json()
        assert {s["id"] for s in typed["data"]} == {made[0]["id"], made[1]["id"]}
        by_ids = http.get("/v1/segments", params={"ids": [made[1]["id"]]}).json()
        assert [s["id"] for s in by_ids["data"]] == [made[1]["id"]]

    def test_unknown_parameters_are_400(self, http: httpx.Client) -> None:
        response = http.get("/v1/segments", params={"filters[colour][conditions][$is]": "x"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"


class TestListMembers:
    def test_pages_members_both_ways_with_total_and_other_filters(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        people = [create_customer(http, email=f"{unique('m')}@example.com")]
        people += [create_customer(http) for _ in range(4)]
        outsider = create_customer(http)
        segment = create_segment(http, type="static", customers=[p["id"] for p in people])
        newest_first = [p["id"] for p in reversed(people)]
        page = customers_api.list_customers(segment_id=segment["id"], limit=2)
        assert page.total == 5
        assert [c.id for c in page.customers] == newest_first[:2]
        rest = customers_api.list_customers(
            segment_id=segment["id"], limit=10, starting_after=page.customers[-1].created_at
        )
        assert [c.id for c in rest.customers] == newest_first[2:]
        oldest = http.get(
            "/v1/customers",
            params={"segment_id": segment["id"], "order": "created_at", "limit": 3, "page": 2},
        ).json()
        assert [c["id"] for c in oldest["customers"]] == [p["id"] for p in people[3:]]
        narrowed = http.get(
            "/v1/customers",
            params={"segment_id": segment["id"], "email": people[0]["email"], "limit": 100},
        ).json()
        assert narrowed["total"] == 1
        assert [c["id"] for c in narrowed["customers"]] == [people[0]["id"]]
        by_source = http.get(
            "/v1/customers", params={"segment_id": segment["id"], "order": "-source_id"}
        ).json()
        assert sorted(c["id"] for c in by_source["customers"]) == sorted(newest_first)
        assert outsider["id"] not in {c["id"] for c in by_source["customers"]}
        http.delete(f"/v1/customers/{people[0]['id']}")
        assert customers_api.list_customers(segment_id=segment["id"]).total == 4


class TestCustomerSegments:
    def test_lists_every_kind_the_customer_is_in(
        self, customers_api: Any, http: httpx.Client
    ) -> None:
        city = unique("city")
        customer = create_customer(http, address={"city": city})
        static = create_segment(http, type="static", customers=[customer["id"]])
        passive = create_segment(http, type="passive", filter=city_filter(city))
        auto = create_segment(http, type="auto-update", filter=city_filter(city))
        create_segment(http, type="auto-update", filter=city_filter("elsewhere"))
        listed = customers_api.list_customer_segments(customer["id"])
        assert listed.total == 3
        assert [s.id for s in listed.data] == [static["id"], passive["id"], auto["id"]]
        assert {s.object for s in listed.data} == {"segment"}

    def test_unknown_customer_gets_what_no_data_matches(self, http: httpx.Client) -> None:
        nobody = create_segment(
            http, type="passive", filter={"email": {"conditions": {"$is_unknown": ""}}}
        )
        create_segment(http, type="auto-update", filter=city_filter("x"))
        response = http.get("/v1/customers/nobody-yet/segments")
        assert response.status_code == 200
        assert [s["id"] for s in response.json()["data"]] == [nobody["id"]]


class TestAutoUpdateMembership:
    def test_update_enters_and_leaves(self, customers_api: Any, http: httpx.Client) -> None:
        city = unique("city")
        segment = create_segment(http, type="auto-update", filter=city_filter(city))
        passive = create_segment(http, type="passive", filter=city_filter(city))
        customer = create_customer(http, address={"city": "before"})
        customers_api.update_customer(
            customer["id"],
            voucherify.CustomersUpdateRequestBody(
                address=voucherify.CustomersUpdateRequestBodyAddress(city=city)
            ),
        )
        assert member_ids(http, segment["id"]) == {customer["id"]}
        customers_api.update_customer(
            customer["id"],
            voucherify.CustomersUpdateRequestBody(
                address=voucherify.CustomersUpdateRequestBodyAddress(city="after")
            ),
        )
        assert member_ids(http, segment["id"]) == set()
        assert segment_activities(http, customer["id"]) == [
            ("customer.segment.entered", segment["id"]),
            ("customer.segment.left", segment["id"]),
        ]
        assert passive["id"] not in {sid for _, sid in segment_activities(http, customer["id"])}

    def test_activity_carries_customer_and_segment(self, http: httpx.Client) -> None:
        city = unique("city")
        segment = create_segment(http, type="auto-update", filter=city_filter(city))
        customer = create_customer(http, address={"city": city})
        activities = http.get(f"/v1/customers/{customer['id']}/activity").json()["data"]
        entered = [a for a in activities if a["type"] == "customer.segment.entered"]
        assert len(entered) == 1
        data = entered[0]["data"]
        assert data["segment"] == {
            "id": segment["id"],
            "name": segment["name"],
            "object": "segment",
        }
        assert data["customer"]["id"] == customer["id"]
        assert data["customer"]["address"]["city"] == city

    def test_an_order_moves_a_customer_in(self, http: httpx.Client) -> None:
        segment = create_segment(
            http,
            type="auto-update",
            filter={"summary.orders.total_amount": {"conditions": {"$more_than_equal": [5000]}}},
        )
        customer = create_customer(http)
        order = {"customer": {"id": customer["id"]}, "amount": 3000, "status": "PAID"}
        assert http.post("/v1/orders", json=order).status_code == 200
        assert member_ids(http, segment["id"]) == set()
        assert http.post("/v1/orders", json=order).status_code == 200
        assert member_ids(http, segment["id"]) == {customer["id"]}
        assert segment_activities(http, customer["id"]) == [
            ("customer.segment.entered", segment["id"])
        ]

    def test_an_order_changing_hands_moves_both_customers(self, http: httpx.Client) -> None:
        segment = create_segment(
            http,
            type="auto-update",
            filter={"summary.orders.total_count": {"conditions": {"$more_than": ["0"]}}},
        )
        first, second = create_customer(http), create_customer(http)
        source_id = unique("order")
        body = {"source_id": source_id, "amount": 100, "status": "PAID"}
        http.post("/v1/orders", json={**body, "customer": {"id": first["id"]}})
        assert member_ids(http, segment["id"]) == {first["id"]}
        http.post("/v1/orders", json={**body, "customer": {"id": second["id"]}})
        assert member_ids(http, segment["id"]) == {second["id"]}
        assert segment_activities(http, first["id"])[-1] == ("customer.segment.left", segment["id"])

    def test_a_custom_event_moves_a_customer_in(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        segment = create_segment(
            http,
            type="auto-update",
            filter={
                "junction": "and",
                "events.review_left.count": {"conditions": {"$more_than": ["1"]}},
            },
        )
        customer = create_customer(http)
        with sdk_client(server, project) as client:
            events = voucherify.EventsApi(client)
            body = voucherify.EventsCreateRequestBody(
                event="review_left", customer=voucherify.Customer(source_id=customer["source_id"])
            )
            events.track_custom_event(body)
            assert member_ids(http, segment["id"]) == set()
            events.track_custom_event(body)
        assert member_ids(http, segment["id"]) == {customer["id"]}
        assert segment_activities(http, customer["id"]) == [
            ("customer.segment.entered", segment["id"])
        ]

    def test_creating_a_matching_customer_enters(self, http: httpx.Client) -> None:
        segment = create_segment(
            http, type="auto-update", filter={"metadata.tier": {"conditions": {"$in": ["gold"]}}}
        )
        customer = create_customer(http, metadata={"tier": "gold"})
        assert member_ids(http, segment["id"]) == {customer["id"]}
        # An upsert that changes nothing the filter reads moves nothing.
        http.post("/v1/customers", json={"source_id": customer["source_id"], "name": "New"})
        assert segment_activities(http, customer["id"]) == [
            ("customer.segment.entered", segment["id"])
        ]

    def test_deleting_a_customer_takes_it_out(self, http: httpx.Client) -> None:
        segment = create_segment(
            http, type="auto-update", filter={"metadata.tier": {"conditions": {"$is": "gold"}}}
        )
        static = create_segment(http, type="static", customers=[])
        customer = create_customer(http, metadata={"tier": "gold"})
        assert http.delete(f"/v1/customers/{customer['id']}").status_code == 204
        assert member_ids(http, segment["id"]) == set()
        assert member_ids(http, static["id"]) == set()

    def test_permanent_deletion_counts_memberships(self, http: httpx.Client) -> None:
        customer = create_customer(http, metadata={"tier": "gold"})
        create_segment(http, type="static", customers=[customer["id"]])
        create_segment(
            http, type="auto-update", filter={"metadata.tier": {"conditions": {"$is": "gold"}}}
        )
        response = http.post(f"/v1/customers/{customer['id']}/permanent-deletion")
        assert response.status_code == 200
        assert response.json()["data_json"]["segments"] == 2

    def test_static_segments_never_change(self, http: httpx.Client) -> None:
        customer = create_customer(http, address={"city": "a"})
        static = create_segment(http, type="static", customers=[customer["id"]])
        http.put(f"/v1/customers/{customer['id']}", json={"address": {"city": "b"}})
        assert member_ids(http, static["id"]) == {customer["id"]}
        assert segment_activities(http, customer["id"]) == []


class TestBalanceAndLoyaltyPaths:
    """Filters on the cards customers hold: read from the database (a passive segment's members,
    an auto-update segment's first members) and in memory (a customer's passive segments, a
    write moving a customer into an auto-update segment), alike."""

    @staticmethod
    def holders(http: httpx.Client, server: RunningServer) -> dict[str, str]:
        people = {name: create_customer(http)["id"] for name in ("rich", "edge", "other", "none")}
        set_balances(server, people["rich"], loyalty=150, campaigns={"Club": 150})
        set_balances(server, people["edge"], gift=500, loyalty=100, campaigns={"Club": 100})
        set_balances(server, people["other"], loyalty=40, campaigns={"Other": 40})
        return people

    @staticmethod
    def selected(http: httpx.Client, raw: dict[str, Any], people: dict[str, str]) -> set[str]:
        """Who a passive segment with this filter holds, by name; checked against what each
        customer's own segment list (decided in memory) says."""
        segment = create_segment(http, type="passive", filter=raw)
        members = member_ids(http, segment["id"])
        for customer_id in people.values():
            listed = http.get(f"/v1/customers/{customer_id}/segments").json()["data"]
            in_memory = segment["id"] in {s["id"] for s in listed}
            assert in_memory == (customer_id in members), (raw, customer_id)
        return {name for name, customer_id in people.items() if customer_id in members}

    @pytest.mark.parametrize(
        ("path", "op", "value", "expected"),
        [
            ("loyalty_points.campaigns.Club.points", "$more_than", [100], {"rich"}),
            ("loyalty_points.campaigns.Club.points", "$less_than_equal", ["100"], {"edge"}),
            ("loyalty.points", "$more_than_equal", [50], {"rich", "edge"}),
            ("summary.redemptions.loyalty_card.points_to_go", "$is", 40, {"other"}),
            ("summary.redemptions.gift.amount_to_go", "$is", [0], {"rich", "other", "none"}),
            ("summary.redemptions.gift.amount_to_go", "$more_than", [499], {"edge"}),
            # Not yet recorded: zero for everyone, whatever cards they hold.
            ("summary.redemptions.total_redeemed", "$is", 0, {"rich", "edge", "other", "none"}),
            ("loyalty.referred_customers", "$more_than", [0], set()),
        ],
    )
    def test_selects_by_the_stored_balances(
        self,
        http: httpx.Client,
        server: RunningServer,
        path: str,
        op: str,
        value: Any,
        expected: set[str],
    ) -> None:
        people = self.holders(http, server)
        assert self.selected(http, one_condition(path, op, value), people) == expected

    @pytest.mark.parametrize(
        ("op", "value", "expected"),
        [
            ("$has_value", "", {"rich", "edge"}),
            ("$is_unknown", "", {"other", "none"}),
            ("$less_than", [1000], {"rich", "edge"}),
            ("$is_not", 150, {"edge", "other", "none"}),
            ("$not_in", [100, 150], {"other", "none"}),
        ],
    )
    def test_a_customer_outside_the_campaign_has_no_points_in_it(
        self, http: httpx.Client, server: RunningServer, op: str, value: Any, expected: set[str]
    ) -> None:
        """As with a metadata key the customer lacks: no comparison holds, their negations do."""
        people = self.holders(http, server)
        raw = one_condition("loyalty_points.campaigns.Club.points", op, value)
        assert self.selected(http, raw, people) == expected

    def test_a_member_with_zero_points_has_the_value_zero(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        member, outsider = create_customer(http)["id"], create_customer(http)["id"]
        set_balances(server, member, campaigns={"Club": 0})
        raw = one_condition("loyalty_points.campaigns.Club.points", "$is", 0)
        people = {"member": member, "outsider": outsider}
        assert self.selected(http, raw, people) == {"member"}

    def test_campaign_names_are_read_as_names(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        name = "Club's \"Gold\".points') OR true --"
        holder, other = create_customer(http)["id"], create_customer(http)["id"]
        set_balances(server, holder, campaigns={name: 7})
        set_balances(server, other, campaigns={"Club": 7})
        raw = one_condition(f"loyalty_points.campaigns.{name}.points", "$is", 7)
        assert self.selected(http, raw, {"holder": holder, "other": other}) == {"holder"}

    def test_auto_update_reads_them_when_created_and_after_a_write(
        self, http: httpx.Client, server: RunningServer
    ) -> None:
        first, second = create_customer(http), create_customer(http)
        set_balances(server, first["id"], loyalty=60, campaigns={"Club": 120})
        raw = {
            "junction": "and",
            "loyalty_points.campaigns.Club.points": {"conditions": {"$more_than": [100]}},
            "loyalty.points": {"conditions": {"$more_than_equal": [50]}},
            "summary.redemptions.gift.amount_to_go": {"conditions": {"$is": [0]}},
        }
        segment = create_segment(http, type="auto-update", filter=raw)
        assert member_ids(http, segment["id"]) == {first["id"]}
        set_balances(server, second["id"], loyalty=50, campaigns={"Club": 101})
        set_balances(server, first["id"], gift=1, loyalty=60, campaigns={"Club": 120})
        # Until the voucher writes move customers themselves, any write re-decides them.
        for customer in (first, second):
            response = http.put(f"/v1/customers/{customer['id']}", json={"name": "changed"})
            assert response.status_code == 200, response.text
        assert member_ids(http, segment["id"]) == {second["id"]}
        assert segment_activities(http, first["id"]) == [("customer.segment.left", segment["id"])]
        assert segment_activities(http, second["id"]) == [
            ("customer.segment.entered", segment["id"])
        ]


class TestTimeDependentSegments:
    def test_the_periodic_job_moves_customers_as_time_passes(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        from patron.db.pool import connect
        from patron.segments import service
        from tests.conftest import run

        segment = create_segment(
            http,
            type="auto-update",
            filter={"created_at": {"conditions": {"$less_than_ago": [3]}}},
        )
        customer = create_customer(http)
        assert member_ids(http, segment["id"]) == {customer["id"]}

        async def reconcile(at: datetime) -> int:
            conn = await connect(server.db.dsn)
            try:
                row = await conn.fetchrow(
                    "SELECT id, name, type, filter FROM segments WHERE project_id = $1",
                    project.project_id,
                )
                assert row is not None
                return await service.reconcile(conn, project.project_id, row, at=at)
            finally:
                await conn.close()

        assert run(reconcile(datetime.now(UTC))) == 0
        assert run(reconcile(datetime.now(UTC) + timedelta(days=4))) == 1
        assert member_ids(http, segment["id"]) == set()
        assert segment_activities(http, customer["id"]) == [
            ("customer.segment.entered", segment["id"]),
            ("customer.segment.left", segment["id"]),
        ]
        assert run(reconcile(datetime.now(UTC))) == 1
        assert member_ids(http, segment["id"]) == {customer["id"]}

    def test_only_segments_that_read_the_clock_and_are_due_are_reconciled(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        from patron.db.pool import connect
        from patron.segments import service
        from tests.conftest import run

        recent = create_segment(
            http, type="auto-update", filter={"created_at": {"conditions": {"$less_than": [3]}}}
        )
        fixed = create_segment(
            http,
            type="auto-update",
            filter={"created_at": {"conditions": {"$after": "2020-01-01T00:00:00Z"}}},
        )
        customer = create_customer(http)

        async def due(every_seconds: float) -> int:
            conn = await connect(server.db.dsn)
            try:
                return await service.reconcile_due(
                    conn,
                    every_seconds=every_seconds,
                    at=datetime.now(UTC) + timedelta(days=10),
                    project_id=project.project_id,
                )
            finally:
                await conn.close()

        assert run(due(3600)) == 1
        assert member_ids(http, recent["id"]) == set()
        assert member_ids(http, fixed["id"]) == {customer["id"]}
        assert run(due(3600)) == 0  # reconciled just now: not due again within the hour


class TestConcurrentWrites:
    def test_no_write_is_missed_by_a_segment_created_meanwhile(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        """Each customer changes once, while the segment is being created: no later write
        would repair a membership the creation got wrong."""
        from concurrent.futures import ThreadPoolExecutor

        from tests.conftest import auth_headers

        inside, outside = unique("in"), unique("out")
        people = [create_customer(http, address={"city": outside})["id"] for _ in range(40)]

        def move(worker: int) -> None:
            with httpx.Client(
                base_url=server.base_url, headers=auth_headers(project), timeout=60
            ) as client:
                for customer_id in people[worker::6]:
                    response = client.put(
                        f"/v1/customers/{customer_id}", json={"address": {"city": inside}}
                    )
                    assert response.status_code == 200, response.text

        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(move, worker) for worker in range(6)]
            segment = create_segment(http, type="auto-update", filter=city_filter(inside))
            for future in futures:
                future.result()
        assert member_ids(http, segment["id"]) == set(people)
        for customer_id in people:
            moves = [kind for kind, _ in segment_activities(http, customer_id)]
            assert moves in ([], ["customer.segment.entered"]), moves


class TestBulkWrites:
    def test_bulk_and_metadata_updates_move_customers_with_activities(
        self, http: httpx.Client
    ) -> None:
        from tests.async_actions.helpers import wait_done

        segment = create_segment(
            http, type="auto-update", filter={"metadata.tier": {"conditions": {"$is": "gold"}}}
        )
        ids = [unique("bulk") for _ in range(3)]
        rows = [
            {"source_id": ids[0], "metadata": {"tier": "gold"}},
            {"source_id": ids[1], "metadata": {"tier": "gold"}},
            {"source_id": ids[2], "metadata": {"tier": "silver"}},
        ]
        action = http.post("/v1/customers/bulk/async", json=rows).json()["async_action_id"]
        assert wait_done(http, action)["status"] == "DONE"
        people = {key: http.get(f"/v1/customers/{key}").json()["id"] for key in ids}
        assert member_ids(http, segment["id"]) == {people[ids[0]], people[ids[1]]}
        assert segment_activities(http, people[ids[0]]) == [
            ("customer.segment.entered", segment["id"])
        ]
        action = http.post(
            "/v1/customers/metadata/async",
            json={"source_ids": [ids[0], ids[2]], "metadata": {"tier": "silver"}},
        ).json()["async_action_id"]
        assert wait_done(http, action)["status"] == "DONE"
        assert member_ids(http, segment["id"]) == {people[ids[1]]}
        assert segment_activities(http, people[ids[0]]) == [
            ("customer.segment.entered", segment["id"]),
            ("customer.segment.left", segment["id"]),
        ]
        assert segment_activities(http, people[ids[2]]) == []

    def test_a_csv_import_moves_customers_in(self, http: httpx.Client) -> None:
        from tests.async_actions.helpers import wait_done

        city = unique("city")
        segment = create_segment(http, type="auto-update", filter=city_filter(city))
        first, second = unique("csv"), unique("csv")
        content = f"Source_id,City\n{first},{city}\n{second},elsewhere\n".encode()
        response = http.post(
            "/v1/customers/importCSV", files={"file": ("customers.csv", content, "text/csv")}
        )
        assert response.status_code == 202, response.text
        assert wait_done(http, response.json()["async_action_id"])["status"] == "DONE"
        inside = http.get(f"/v1/customers/{first}").json()["id"]
        assert member_ids(http, segment["id"]) == {inside}
        assert segment_activities(http, inside) == [("customer.segment.entered", segment["id"])]
