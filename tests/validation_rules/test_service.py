"""`rule_sets_for`: the redemption path's one query for a voucher's rule sets, and its parse
cache (INCENTIVES.md §3.1)."""

from __future__ import annotations

from typing import Any

import httpx

from patron.db.pool import connect
from patron.projects.service import Credentials
from patron.validation_rules import service
from patron.validation_rules.rules import RuleSet
from tests.conftest import RunningServer, run
from tests.validation_rules.test_routes import AMOUNT_RULES, campaign, voucher


def rule(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "rule")
    body.setdefault("rules", AMOUNT_RULES)
    response = http.post("/v1/validation-rules", json=body)
    assert response.status_code == 200, response.text
    made: dict[str, Any] = response.json()
    return made


def rule_sets(server: RunningServer, project_id: str, ids: list[str]) -> list[RuleSet]:
    async def work() -> list[RuleSet]:
        conn = await connect(server.db.dsn)
        try:
            return await service.rule_sets_for(conn, project_id, ids)
        finally:
            await conn.close()

    result: list[RuleSet] = run(work())
    return result


class TestRuleSetsFor:
    def test_a_voucher_and_its_campaign_give_each_rule_once(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        shared = rule(http, rules={"1": {"name": "order.amount", "conditions": {"$is": [5]}}})
        own = rule(http, rules={"1": {"name": "customer.segment", "conditions": {"$is": ["s"]}}})
        rule(http)  # assigned to nothing
        made = campaign(http, validation_rules=[shared["id"]])
        code = voucher(http, validation_rules=[shared["id"], own["id"]])
        found = rule_sets(server, project.project_id, [code["id"], made["id"]])
        by_id = {item.id: item for item in found}
        assert len(found) == 2
        assert set(by_id) == {shared["id"], own["id"]}
        assert by_id[own["id"]].needs_segments
        assert not by_id[shared["id"]].needs_segments
        assert rule_sets(server, project.project_id, []) == []
        assert rule_sets(server, project.project_id, ["v_none"]) == []

    def test_parses_again_only_after_a_change(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        made = rule(http)
        code = voucher(http, validation_rules=[made["id"]])
        first = rule_sets(server, project.project_id, [code["id"]])
        again = rule_sets(server, project.project_id, [code["id"]])
        assert again[0] is first[0]
        changed = {"1": {"name": "order.amount", "conditions": {"$less_than": [5]}}}
        response = http.put(f"/v1/validation-rules/{made['id']}", json={"rules": changed})
        assert response.status_code == 200, response.text
        after = rule_sets(server, project.project_id, [code["id"]])
        assert after[0] is not first[0]
        assert after[0].id == made["id"]

    def test_another_projects_assignments_are_not_seen(
        self,
        server: RunningServer,
        project: Credentials,
        another_project: Credentials,
        http: httpx.Client,
    ) -> None:
        made = rule(http)
        code = voucher(http, validation_rules=[made["id"]])
        assert rule_sets(server, another_project.project_id, [code["id"]]) == []

    def test_the_query_can_use_the_assignments_index(self, server: RunningServer) -> None:
        plan = "\n".join(
            row[0]
            for row in server.db.fetch(
                "EXPLAIN SELECT rule_id FROM validation_rule_assignments"
                " WHERE project_id = 'p' AND related_object_id = ANY(ARRAY['a', 'b'])"
            )
        )
        # Empty or tiny tables may be scanned; the index must at least be there to pick.
        indexes = server.db.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'validation_rule_assignments'"
        )
        assert any("(project_id, related_object_id)" in row["indexdef"] for row in indexes), plan
