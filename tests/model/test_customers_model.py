"""Model-based test: random sequences of customer operations, checked against a model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers, create_project

SOURCE_IDS = st.sampled_from(["a@example.com", "b+1", "c/d", "e f", "g"])
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        # Valid text only: hostile input has tests of its own (tests/hostile).
        "name": st.one_of(
            st.none(),
            st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
        ),
        "phone": st.one_of(st.none(), st.sampled_from(["1", "2"])),
        "metadata": st.one_of(
            st.none(), st.dictionaries(st.sampled_from("xyz"), st.integers(0, 3), max_size=2)
        ),
        "address": st.one_of(
            st.none(), st.fixed_dictionaries({"city": st.sampled_from(["A", "B"])})
        ),
    },
)


class CustomersModel(RuleBasedStateMachine):
    """The model: live customers by source_id with their fields and their activity types."""

    server: RunningServer

    @initialize()
    def start(self) -> None:
        self.credentials: Credentials = create_project(self.server.db, "model")
        self.http = httpx.Client(
            base_url=self.server.base_url, headers=auth_headers(self.credentials), timeout=30
        )
        self.live: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}
        self.activities: dict[str, list[str]] = {}

    def teardown(self) -> None:
        if hasattr(self, "http"):
            self.http.close()

    @staticmethod
    def _apply(current: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        merged = {**current, **fields}
        if "metadata" in fields and fields["metadata"] is None:
            merged["metadata"] = {}
        return merged

    @staticmethod
    def _view(customer: dict[str, Any]) -> dict[str, Any]:
        address = customer["address"]
        return {
            "name": customer["name"],
            "phone": customer["phone"],
            # An empty metadata is left out of the customer, as the live API leaves it out.
            "metadata": customer.get("metadata", {}),
            "address": None if address is None else {"city": address["city"]},
        }

    @rule(source_id=SOURCE_IDS, fields=FIELDS)
    def upsert(self, source_id: str, fields: dict[str, Any]) -> None:
        response = self.http.post("/v1/customers", json={"source_id": source_id, **fields})
        assert response.status_code == 200, response.text
        body = response.json()
        if source_id in self.live:
            assert body["id"] == self.ids[source_id]
            before = self.live[source_id]
            after = self._apply(before, fields)
            if after != before:
                self.activities[body["id"]].append("customer.updated")
            self.live[source_id] = after
        else:
            self.ids[source_id] = body["id"]
            base: dict[str, Any] = {"name": None, "phone": None, "metadata": {}, "address": None}
            self.live[source_id] = self._apply(base, fields)
            self.activities[body["id"]] = ["customer.created"]
        assert self._view(body) == self.live[source_id]

    @rule(source_id=SOURCE_IDS, fields=FIELDS)
    def update(self, source_id: str, fields: dict[str, Any]) -> None:
        response = self.http.put(f"/v1/customers/{_quote(source_id)}", json=fields)
        if source_id not in self.live:
            assert response.status_code == 404
            return
        assert response.status_code == 200, response.text
        before = self.live[source_id]
        after = self._apply(before, fields)
        if after != before:
            self.activities[self.ids[source_id]].append("customer.updated")
        self.live[source_id] = after
        assert self._view(response.json()) == after

    @rule(source_id=SOURCE_IDS)
    def delete(self, source_id: str) -> None:
        response = self.http.delete(f"/v1/customers/{_quote(source_id)}")
        if source_id not in self.live:
            assert response.status_code == 404
            return
        assert response.status_code == 204
        del self.live[source_id]
        self.activities[self.ids.pop(source_id)].append("customer.deleted")

    @rule(source_id=SOURCE_IDS)
    def erase(self, source_id: str) -> None:
        response = self.http.post(f"/v1/customers/{_quote(source_id)}/permanent-deletion")
        if response.status_code == 404:
            assert source_id not in self.live
            return
        assert response.status_code == 200
        self.live.pop(source_id, None)
        self.ids.pop(source_id, None)

    @invariant()
    def every_customer_reads_as_the_model_says(self) -> None:
        if not hasattr(self, "http"):
            return
        listed = self.http.get("/v1/customers", params={"limit": 100}).json()
        assert listed["total"] == len(self.live)
        assert {c["source_id"] for c in listed["customers"]} == set(self.live)
        for source_id, fields in self.live.items():
            got = self.http.get(f"/v1/customers/{_quote(source_id)}")
            assert got.status_code == 200
            assert self._view(got.json()) == fields
            customer_id = self.ids[source_id]
            timeline = self.http.get(
                f"/v1/customers/{customer_id}/activity",
                params={"limit": 100, "order": "created_at"},
            ).json()
            assert [a["type"] for a in timeline["data"]] == self.activities[customer_id]


def _quote(source_id: str) -> str:
    from urllib.parse import quote

    return quote(source_id, safe="")


@pytest.mark.parametrize("steps", [30])
def test_customers_behave_like_the_model(server: RunningServer, steps: int) -> None:
    CustomersModel.server = server
    runner = CustomersModel.TestCase
    runner.settings = settings(
        max_examples=60,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
