"""Validation rules and their assignments through the official SDK, and bad input through plain
HTTP (INCENTIVES.md §3)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import ApiException

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.factories import unique

AMOUNT_RULES = {
    "1": {"name": "order.amount", "conditions": {"$more_than": [1000]}},
    "2": {"name": "customer_segment", "conditions": {"$in": ["seg_a"]}},
    "logic": "1 OR 2",
}


@pytest.fixture
def api(server: RunningServer, project: Credentials) -> Any:
    with sdk_client(server, project) as client:
        yield voucherify.ValidationRulesApi(client)


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.body is not None
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def assert_error(response: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == status
    assert body["key"] == key
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], str)
    assert body["request_id"].startswith("v-")
    return body


def create_rule(api: Any, **fields: Any) -> Any:
    fields.setdefault("name", unique("Rule"))
    fields.setdefault("rules", AMOUNT_RULES)
    return api.create_validation_rules(
        validation_rules_create_request_body=voucherify.ValidationRulesCreateRequestBody(**fields)
    )


def campaign(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique("Campaign"))
    body.setdefault(
        "voucher", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    )
    response = http.post("/v1/campaigns", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def voucher(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("type", "DISCOUNT_VOUCHER")
    body.setdefault("discount", {"type": "PERCENT", "percent_off": 10})
    response = http.post("/v1/vouchers", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def assign(api: Any, rule_id: str, kind: str, object_id: str, *, force: bool | None = None) -> Any:
    return api.create_validation_rule_assignment(
        rule_id,
        force=force,
        validation_rules_assignments_create_request_body=(
            voucherify.ValidationRulesAssignmentsCreateRequestBody(
                related_object_type=kind, related_object_id=object_id
            )
        ),
    )


class TestCreateValidationRules:
    def test_sdk_creates_and_reads_back(self, api: Any) -> None:
        rule = create_rule(
            api, error=voucherify.ValidationRulesCreateRequestBodyError(message="No luck")
        )
        assert rule.id.startswith("val_")
        assert rule.object == "validation_rules"
        assert rule.rules == AMOUNT_RULES
        assert rule.error.message == "No luck"
        assert rule.type == "expression"
        assert rule.context_type == "global"
        assert rule.assignments_count == 0
        assert rule.created_at is not None
        assert rule.updated_at is None
        fetched = api.get_validation_rule(rule.id)
        assert fetched.to_dict() == rule.to_dict()

    def test_type_and_context_type_are_kept(self, api: Any) -> None:
        rule = create_rule(api, type="advanced", context_type="voucher.discount_voucher")
        assert (rule.type, rule.context_type) == ("advanced", "voucher.discount_voucher")

    def test_an_unknown_rule_name_is_named(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/validation-rules",
            json={"name": "x", "rules": {"1": {"name": "order.items.count", "conditions": {}}}},
        )
        body = assert_error(response, 400, "invalid_validation_rules")
        assert "order.items.count" in body["details"]

    def test_an_unknown_operator_is_named(self, api: Any) -> None:
        with pytest.raises(ApiException) as raised:
            create_rule(api, rules={"1": {"name": "order.amount", "conditions": {"$near": [1]}}})
        assert raised.value.status == 400
        assert "$near" in error_of(raised)["details"]

    def test_bad_logic_is_refused(self, http: httpx.Client) -> None:
        rules = {**AMOUNT_RULES, "logic": "(1 or 2"}
        response = http.post("/v1/validation-rules", json={"name": "x", "rules": rules})
        assert_error(response, 400, "invalid_validation_rules")

    def test_a_missing_name_is_invalid_payload(self, http: httpx.Client) -> None:
        response = http.post("/v1/validation-rules", json={"rules": AMOUNT_RULES})
        body = assert_error(response, 400, "invalid_payload")
        assert "name" in body["details"]

    def test_an_unknown_context_type_is_invalid_payload(self, http: httpx.Client) -> None:
        response = http.post("/v1/validation-rules", json={"name": "x", "context_type": "nope"})
        assert_error(response, 400, "invalid_payload")

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "x", "error": {"message": "a\u0000b"}},
            {"name": "a\u0000"},
            {"name": "x", "rules": {"1": {"name": "order.metadata", "property": "\u0000"}}},
            {"name": "x", "applicable_to": {"included": ["\ud800"]}},
        ],
    )
    def test_text_postgresql_cannot_store_is_invalid_payload(
        self, http: httpx.Client, body: dict[str, Any]
    ) -> None:
        response = http.post(
            "/v1/validation-rules",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )
        assert_error(response, 400, "invalid_payload")

    def test_bundle_rules_are_refused(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/validation-rules", json={"name": "x", "bundle_rules": {"1": {"name": "a"}}}
        )
        assert_error(response, 400, "invalid_validation_rules")


class TestGetValidationRule:
    def test_a_missing_rule_is_a_404(self, http: httpx.Client) -> None:
        body = assert_error(http.get("/v1/validation-rules/val_missing"), 404, "not_found")
        assert body["resource_id"] == "val_missing"
        assert body["resource_type"] == "validation_rules"

    def test_another_projects_rule_is_not_found(
        self, api: Any, server: RunningServer, another_project: Credentials
    ) -> None:
        rule = create_rule(api)
        with sdk_client(server, another_project) as client, pytest.raises(ApiException) as raised:
            voucherify.ValidationRulesApi(client).get_validation_rule(rule.id)
        assert raised.value.status == 404


class TestUpdateValidationRule:
    def test_sdk_changes_only_what_is_sent(self, api: Any) -> None:
        rule = create_rule(api, error=voucherify.ValidationRulesCreateRequestBodyError(message="m"))
        new_rules = {"1": {"name": "order.total_amount", "conditions": {"$less_than": [50]}}}
        updated = api.update_validation_rule(
            rule.id,
            validation_rules_update_request_body=voucherify.ValidationRulesUpdateRequestBody(
                rules=new_rules
            ),
        )
        assert updated.rules == new_rules
        assert updated.name == rule.name
        assert updated.error.message == "m"
        assert updated.updated_at is not None

    def test_null_error_clears_it(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api, error=voucherify.ValidationRulesCreateRequestBodyError(message="m"))
        response = http.put(f"/v1/validation-rules/{rule.id}", json={"error": None})
        assert response.status_code == 200, response.text
        assert "error" not in response.json()

    def test_bad_rules_leave_the_rule_as_it_was(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        response = http.put(
            f"/v1/validation-rules/{rule.id}",
            json={"rules": {"1": {"name": "nope", "conditions": {"$is": [1]}}}},
        )
        assert "nope" in assert_error(response, 400, "invalid_validation_rules")["details"]
        assert api.get_validation_rule(rule.id).rules == AMOUNT_RULES

    def test_a_missing_rule_is_a_404(self, http: httpx.Client) -> None:
        response = http.put("/v1/validation-rules/val_missing", json={"name": "x"})
        assert_error(response, 404, "not_found")


class TestDeleteValidationRules:
    def test_sdk_deletes_the_rule_and_its_assignments(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        made = campaign(http)
        assign(api, rule.id, "campaign", made["id"])
        api.delete_validation_rules(rule.id)
        assert_error(http.get(f"/v1/validation-rules/{rule.id}"), 404, "not_found")
        listed = api.list_validation_rules_assignments(related_object_id=made["id"])
        assert listed.total == 0

    def test_a_missing_rule_is_a_404(self, http: httpx.Client) -> None:
        assert_error(http.delete("/v1/validation-rules/val_missing"), 404, "not_found")


class TestListValidationRules:
    def test_sdk_pages_and_orders(self, api: Any) -> None:
        made = [create_rule(api, name=f"rule {letter}") for letter in "cab"]
        page = api.list_validation_rules(limit=2, page=1, order=_order("name"))
        assert page.object == "list"
        assert page.data_ref == "data"
        assert page.total == 3
        assert [rule.name for rule in page.data] == ["rule a", "rule b"]
        second = api.list_validation_rules(limit=2, page=2, order=_order("name"))
        assert [rule.name for rule in second.data] == ["rule c"]
        newest = api.list_validation_rules()
        assert [rule.id for rule in newest.data] == [rule.id for rule in reversed(made)]

    def test_counts_assignments(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        assign(api, rule.id, "campaign", campaign(http)["id"])
        assign(api, rule.id, "voucher", voucher(http)["id"])
        assert api.list_validation_rules().data[0].assignments_count == 2
        assert api.get_validation_rule(rule.id).assignments_count == 2

    def test_dates_filter(self, api: Any, http: httpx.Client) -> None:
        create_rule(api)
        assert (
            http.get("/v1/validation-rules", params={"start_date": "2999-01-01"}).json()["total"]
            == 0
        )
        assert (
            http.get("/v1/validation-rules", params={"end_date": "2999-01-01"}).json()["total"] == 1
        )

    def test_a_bad_order_is_refused(self, http: httpx.Client) -> None:
        response = http.get("/v1/validation-rules", params={"order": "rules"})
        assert_error(response, 400, "invalid_query_params")


def _order(value: str) -> Any:
    return voucherify.ParameterOrderListValidationRules(value)


class TestCreateValidationRuleAssignment:
    def test_sdk_assigns_to_a_campaign_by_id_or_name(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        made = campaign(http)
        assignment = assign(api, rule.id, "campaign", made["name"])
        assert assignment.id.startswith("asgm_")
        assert assignment.rule_id == rule.id
        assert assignment.related_object_id == made["id"]
        assert assignment.related_object_type == "campaign"
        assert assignment.object == "validation_rules_assignment"

    def test_sdk_assigns_to_a_voucher_by_code(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        made = voucher(http)
        assignment = assign(api, rule.id, "voucher", made["code"])
        assert assignment.related_object_id == made["id"]
        shown = http.get(f"/v1/vouchers/{made['code']}").json()["validation_rules_assignments"]
        assert shown["total"] == 1
        assert shown["data"][0]["id"] == assignment.id

    def test_a_duplicate_is_a_409(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        made = campaign(http)
        first = assign(api, rule.id, "campaign", made["id"])
        response = http.post(
            f"/v1/validation-rules/{rule.id}/assignments",
            json={"related_object_type": "campaign", "related_object_id": made["id"]},
        )
        body = assert_error(response, 409, "duplicate_found")
        assert body["resource_id"] == first.id
        assert body["resource_type"] == "validation_rules_assignment"

    def test_force_replaces_the_duplicate(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        made = campaign(http)
        first = assign(api, rule.id, "campaign", made["id"])
        second = assign(api, rule.id, "campaign", made["id"], force=True)
        assert second.id != first.id
        listed = api.list_validation_rule_assignments(rule.id)
        assert [item.id for item in listed.data] == [second.id]

    @pytest.mark.parametrize(
        ("path_rule", "kind", "object_id", "resource_type"),
        [
            ("val_missing", "campaign", None, "validation_rules"),
            (None, "campaign", "camp_missing", "campaign"),
            (None, "voucher", "NO-SUCH-CODE", "voucher"),
        ],
    )
    def test_what_does_not_exist_is_a_404(
        self,
        api: Any,
        http: httpx.Client,
        path_rule: str | None,
        kind: str,
        object_id: str | None,
        resource_type: str,
    ) -> None:
        rule_id = path_rule or create_rule(api).id
        response = http.post(
            f"/v1/validation-rules/{rule_id}/assignments",
            json={"related_object_type": kind, "related_object_id": object_id or "camp_x"},
        )
        assert assert_error(response, 404, "not_found")["resource_type"] == resource_type

    def test_other_object_types_are_refused_by_name(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        response = http.post(
            f"/v1/validation-rules/{rule.id}/assignments",
            json={"related_object_type": "earning_rule", "related_object_id": "ern_1"},
        )
        assert "earning_rule" in assert_error(response, 400, "invalid_validation_rules")["details"]

    def test_an_unknown_object_type_is_invalid_payload(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        response = http.post(
            f"/v1/validation-rules/{rule.id}/assignments",
            json={"related_object_type": "order", "related_object_id": "ord_1"},
        )
        assert_error(response, 400, "invalid_payload")


class TestListValidationRuleAssignments:
    def test_sdk_lists_one_rules_assignments(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        other = create_rule(api)
        made = [assign(api, rule.id, "campaign", campaign(http)["id"]) for _ in range(3)]
        assign(api, other.id, "voucher", voucher(http)["id"])
        page = api.list_validation_rule_assignments(rule.id, limit=2, page=1)
        assert page.object == "list"
        assert page.data_ref == "data"
        assert page.total == 3
        assert [item.id for item in page.data] == [made[2].id, made[1].id]
        oldest = api.list_validation_rule_assignments(
            rule.id, order=voucherify.ParameterOrderListValidationRuleAssignments("created_at")
        )
        assert [item.id for item in oldest.data] == [item.id for item in made]

    def test_a_missing_rule_is_a_404(self, http: httpx.Client) -> None:
        response = http.get("/v1/validation-rules/val_missing/assignments")
        assert_error(response, 404, "not_found")


class TestListValidationRulesAssignments:
    def test_sdk_filters_by_rule_and_object(self, api: Any, http: httpx.Client) -> None:
        first, second = create_rule(api), create_rule(api)
        made = campaign(http)
        a = assign(api, first.id, "campaign", made["id"])
        b = assign(api, second.id, "campaign", made["id"])
        c = assign(api, second.id, "voucher", voucher(http)["id"])
        everything = api.list_validation_rules_assignments()
        assert [item.id for item in everything.data] == [c.id, b.id, a.id]
        assert everything.total == 3
        by_rule = api.list_validation_rules_assignments(rule=second.id, order="created_at")
        assert [item.id for item in by_rule.data] == [b.id, c.id]
        by_object = api.list_validation_rules_assignments(related_object_id=made["id"])
        assert {item.id for item in by_object.data} == {a.id, b.id}
        both = api.list_validation_rules_assignments(rule=first.id, related_object_id=made["id"])
        assert [item.id for item in both.data] == [a.id]

    def test_a_bad_limit_is_refused(self, http: httpx.Client) -> None:
        response = http.get("/v1/validation-rules-assignments", params={"limit": 0})
        assert_error(response, 400, "invalid_query_params")


class TestDeleteValidationRuleAssignment:
    def test_sdk_removes_it(self, api: Any, http: httpx.Client) -> None:
        rule = create_rule(api)
        assignment = assign(api, rule.id, "campaign", campaign(http)["id"])
        api.delete_validation_rule_assignment(rule.id, assignment.id)
        assert api.list_validation_rule_assignments(rule.id).total == 0
        response = http.delete(f"/v1/validation-rules/{rule.id}/assignments/{assignment.id}")
        assert assert_error(response, 404, "not_found")["resource_id"] == assignment.id

    def test_another_rules_assignment_is_not_found(self, api: Any, http: httpx.Client) -> None:
        rule, other = create_rule(api), create_rule(api)
        assignment = assign(api, rule.id, "campaign", campaign(http)["id"])
        response = http.delete(f"/v1/validation-rules/{other.id}/assignments/{assignment.id}")
        assert_error(response, 404, "not_found")
        assert api.list_validation_rule_assignments(rule.id).total == 1


class TestCampaignsAndVouchersNameRules:
    def test_a_campaign_created_with_rules_is_assigned_them(
        self, api: Any, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        rule = create_rule(api)
        made = campaign(http, validation_rules=[rule.id])
        assignments = made["validation_rules_assignments"]
        assert assignments["object"] == "list"
        assert assignments["data_ref"] == "data"
        assert assignments["total"] == 1
        assert assignments["data"][0]["rule_id"] == rule.id
        with sdk_client(server, project) as client:
            fetched = voucherify.CampaignsApi(client).get_campaign(made["id"])
        shown = fetched.validation_rules_assignments
        assert shown is not None
        assert shown.total == 1
        assert [item.rule_id for item in shown.data or []] == [rule.id]

    def test_a_voucher_created_and_updated_with_rules(
        self, api: Any, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        first, second = create_rule(api), create_rule(api)
        made = voucher(http, validation_rules=[first.id])
        assert made["validation_rules_assignments"]["total"] == 1
        # The SDK's update model drops `validation_rules`: plain HTTP sends them.
        response = http.put(
            f"/v1/vouchers/{made['code']}", json={"validation_rules": [first.id, second.id]}
        )
        assert response.status_code == 200, response.text
        with sdk_client(server, project) as client:
            fetched = voucherify.VouchersApi(client).get_voucher(made["code"])
        shown = fetched.validation_rules_assignments
        assert shown is not None
        assert {item.rule_id for item in shown.data or []} == {
            first.id,
            second.id,
        }

    def test_a_missing_rule_is_a_404_and_nothing_is_written(self, http: httpx.Client) -> None:
        name = unique("Campaign")
        response = http.post(
            "/v1/campaigns",
            json={
                "name": name,
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "AMOUNT", "amount_off": 1},
                },
                "validation_rules": ["val_missing"],
            },
        )
        body = assert_error(response, 404, "not_found")
        assert body["resource_id"] == "val_missing"
        assert_error(http.get(f"/v1/campaigns/{name}"), 404, "not_found")
        response = http.post(
            "/v1/vouchers",
            json={
                "code": "RULED",
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 5},
                "validation_rules": ["val_missing"],
            },
        )
        assert assert_error(response, 404, "not_found")["resource_id"] == "val_missing"
        assert_error(http.get("/v1/vouchers/RULED"), 404, "not_found")
