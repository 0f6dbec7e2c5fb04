"""The filter language's words in any letter case, wherever a segment filter is taken.

Voucherify's OpenAPI spec and its maintainers' answers write `"junction": "AND"`; a documented
operator (`$IS`) is the same word in any case (`patron.kit.filter_words`). Anything else is a
400 that names it as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import create_customer, unique
from tests.segments.test_routes import create_segment, member_ids
from tests.test_errors import assert_error


@pytest.fixture
def segments_api(server: RunningServer, project: Credentials) -> Iterator[Any]:
    with sdk_client(server, project) as client:
        yield voucherify.SegmentsApi(client)


class TestSegmentFilterBody:
    def test_upper_case_junction_and_operators_through_the_sdk(
        self, segments_api: Any, http: httpx.Client
    ) -> None:
        city = unique("city")
        inside = create_customer(http, address={"city": city}, metadata={"tier": "gold"})
        create_customer(http, address={"city": city}, metadata={"tier": "silver"})
        create_customer(http, address={"city": "elsewhere"}, metadata={"tier": "gold"})
        sent = {
            "junction": "AND",
            "address.city": {"conditions": {"$IS": city}},
            "tiers": {"junction": "Or", "metadata.tier": {"conditions": {"$In": ["gold"]}}},
        }
        segment = segments_api.create_segment(
            voucherify.SegmentsCreateRequestBody(name="Gold", type="auto-update", filter=sent)
        )
        assert segment.filter == sent  # kept as sent
        assert member_ids(http, segment.id) == {inside["id"]}
        # Re-read when a customer changes: the stored filter is parsed again.
        later = create_customer(http, address={"city": city}, metadata={"tier": "gold"})
        assert member_ids(http, segment.id) == {inside["id"], later["id"]}

    def test_passive_segment_with_upper_case_words(self, http: httpx.Client) -> None:
        customer = create_customer(http, name="Ann")
        segment = create_segment(
            http,
            type="passive",
            filter={"junction": "OR", "name": {"conditions": {"$STARTS_WITH": "An"}}},
        )
        assert member_ids(http, segment["id"]) == {customer["id"]}

    @pytest.mark.parametrize(
        ("filter_", "named"),
        [
            ({"junction": "XOR", "name": {"conditions": {"$is": "a"}}}, "junction"),
            ({"junction": "AND", "name": {"conditions": {"$LIKE": "a"}}}, "'$LIKE'"),
            ({"junction": "AND", "name": {"conditions": {"IS": "a"}}}, "'IS'"),
        ],
    )
    def test_other_words_are_400_naming_them(
        self, http: httpx.Client, filter_: dict[str, Any], named: str
    ) -> None:
        response = http.post(
            "/v1/segments", json={"name": "x", "type": "passive", "filter": filter_}
        )
        body = assert_error(response, 400, "invalid_payload")
        assert named in body["details"]


class TestSegmentListQuery:
    def test_upper_case_junction_and_operators(self, http: httpx.Client) -> None:
        wanted = create_segment(http, type="static", customers=[])
        create_segment(http, type="passive", filter={"junction": "and"})
        response = http.get(
            "/v1/segments",
            params={
                "filters[junction]": "AND",
                "filters[name][conditions][$IN][]": [wanted["name"]],
                "filters[type][conditions][$Is]": "static",
            },
        )
        assert response.status_code == 200, response.text
        assert [s["id"] for s in response.json()["data"]] == [wanted["id"]]

    def test_an_unknown_operator_is_400_naming_it(self, http: httpx.Client) -> None:
        response = http.get("/v1/segments", params={"filters[name][conditions][$LIKE]": "x"})
        body = assert_error(response, 400, "invalid_query_params")
        assert "$LIKE" in body["details"]

    def test_an_unknown_junction_is_400(self, http: httpx.Client) -> None:
        response = http.get("/v1/segments", params={"filters[junction]": "XOR"})
        body = assert_error(response, 400, "invalid_query_params")
        assert "filters[junction]" in body["details"]
