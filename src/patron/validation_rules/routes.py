"""HTTP routes for validation rules and their assignments (INCENTIVES.md §3)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.dependencies import project_of, snapshot, transaction
from patron.kit import query
from patron.kit.http import json_response, key_or_404, read_json
from patron.openapi.operation import PathParameter, operation
from patron.validation_rules import service
from patron.validation_rules.schemas import (
    AssignmentCreate,
    AssignmentObject,
    AssignmentsList,
    ValidationRuleCreate,
    ValidationRuleObject,
    ValidationRulesList,
    ValidationRuleUpdate,
    assignment_not_found,
    check_assignment_body,
    check_rule_body,
    rule_not_found,
)

TAG = "Validation Rules"
PATH = {"rule_id": PathParameter("validationRuleId", "The validation rule's `val_` id.")}
ASSIGNMENT_PATH = {
    **PATH,
    "assignment_id": PathParameter("assignmentId", "The assignment's `asgm_` id."),
}
LIMIT = query.limit()
PAGE = query.page(1000)
ORDER = query.Choice("order", "Sort order (`-created_at` by default).", service.LIST_ORDERS)
START_DATE = query.Timestamp("start_date", "Only rules created at or after this moment.")
END_DATE = query.Timestamp("end_date", "Only rules created at or before this moment.")
ASSIGNMENT_ORDER = query.Choice(
    "order", "Sort order (`-created_at` by default).", service.ASSIGNMENT_ORDERS
)
FORCE = query.Choice(
    "force", "`true`: an assignment to the same object is replaced.", {"true", "false"}
)
RULE = query.Text("rule", "Only the assignments of this rule (`val_` id).")
RELATED_OBJECT_ID = query.Text(
    "related_object_id", "Only the assignments to this campaign or voucher (its id)."
)


def rule_key(raw: str) -> str:
    return key_or_404(raw, rule_not_found)


class ValidationRuleRoutes(Controller):
    path = "/v1/validation-rules"

    @operation(
        "create-validation-rules",
        TAG,
        body=ValidationRuleCreate,
        body_description="The rule set.",
        response=ValidationRuleObject,
        errors=("Refused",),
        description="Creates a rule set. Rule names and operators outside the subset Patron"
        " evaluates (INCENTIVES.md §3.1), or logic that cannot be read, are a 400"
        " `invalid_validation_rules` naming them.",
    )
    @post("/", status_code=200)
    async def create_validation_rules(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Create a validation rule."""
        project = project_of(request)
        body: ValidationRuleCreate = await read_json(request, ValidationRuleCreate)
        check_rule_body(body)
        async with transaction(request) as conn:
            rule = await service.create(conn, project.id, body=body)
        return json_response(rule)

    @operation(
        "list-validation-rules",
        TAG,
        query=(LIMIT, PAGE, ORDER, START_DATE, END_DATE),
        response=ValidationRulesList,
        errors=("InvalidQueryParams",),
    )
    @get("/")
    async def list_validation_rules(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Validation rules, newest first by default."""
        project = project_of(request)
        params = request.query_params
        async with snapshot(request) as conn:
            body = await service.list_rules(
                conn,
                project.id,
                order=ORDER.parse(params) or "-created_at",
                limit=LIMIT.parse(params),
                page=PAGE.parse(params),
                start_date=START_DATE.parse(params),
                end_date=END_DATE.parse(params),
            )
            return json_response(body)

    @operation(
        "get-validation-rule", TAG, path=PATH, response=ValidationRuleObject, errors=("NotFound",)
    )
    @get("/{rule_id:str}")
    async def get_validation_rule(
        self, request: Request[Any, Any, Any], rule_id: FromPath[str]
    ) -> ASGIApp:
        """Get a validation rule."""
        project = project_of(request)
        key = rule_key(rule_id)
        async with snapshot(request) as conn:
            return json_response(await service.get(conn, project.id, key))

    @operation(
        "update-validation-rule",
        TAG,
        path=PATH,
        body=ValidationRuleUpdate,
        body_description="What to change; `rules` replaces the whole rule set.",
        response=ValidationRuleObject,
        errors=("NotFound", "Refused"),
    )
    @put("/{rule_id:str}")
    async def update_validation_rule(
        self, request: Request[Any, Any, Any], rule_id: FromPath[str]
    ) -> ASGIApp:
        """Change only the fields sent."""
        project = project_of(request)
        body: ValidationRuleUpdate = await read_json(request, ValidationRuleUpdate)
        check_rule_body(body)
        key = rule_key(rule_id)
        async with transaction(request) as conn:
            rule = await service.update(conn, project.id, key, body=body)
        return json_response(rule)

    @operation(
        "delete-validation-rules",
        TAG,
        path=PATH,
        errors=("NotFound",),
        description="Deletes the rule and its assignments.",
    )
    @delete("/{rule_id:str}", status_code=204)
    async def delete_validation_rules(
        self, request: Request[Any, Any, Any], rule_id: FromPath[str]
    ) -> None:
        """Delete a validation rule."""
        project = project_of(request)
        key = rule_key(rule_id)
        async with transaction(request) as conn:
            await service.delete(conn, project.id, key)

    @operation(
        "create-validation-rule-assignment",
        TAG,
        path=PATH,
        query=(FORCE,),
        body=AssignmentCreate,
        body_description="The campaign (id or name) or voucher (id or code) to assign to.",
        response=AssignmentObject,
        errors=("NotFound", "Refused", "Conflict", "InvalidQueryParams"),
        description="Assigns the rule to a campaign or voucher; other object types are a 400"
        " `invalid_validation_rules`. A second assignment to the same object is a 409"
        " `duplicate_found`, unless `force=true` replaces it.",
    )
    @post("/{rule_id:str}/assignments", status_code=200)
    async def create_validation_rule_assignment(
        self, request: Request[Any, Any, Any], rule_id: FromPath[str]
    ) -> ASGIApp:
        """Assign a validation rule."""
        project = project_of(request)
        force = FORCE.parse(request.query_params) == "true"
        body: AssignmentCreate = await read_json(request, AssignmentCreate)
        check_assignment_body(body)
        key = rule_key(rule_id)
        async with transaction(request) as conn:
            assignment = await service.create_assignment(
                conn, project.id, key, body=body, force=force
            )
        return json_response(assignment)

    @operation(
        "list-validation-rule-assignments",
        TAG,
        path=PATH,
        query=(LIMIT, PAGE, ASSIGNMENT_ORDER),
        response=AssignmentsList,
        errors=("NotFound", "InvalidQueryParams"),
    )
    @get("/{rule_id:str}/assignments")
    async def list_validation_rule_assignments(
        self, request: Request[Any, Any, Any], rule_id: FromPath[str]
    ) -> ASGIApp:
        """A rule's assignments, newest first by default."""
        project = project_of(request)
        params = request.query_params
        key = rule_key(rule_id)
        async with snapshot(request) as conn:
            body = await service.list_assignments(
                conn,
                project.id,
                rule_id=key,
                order=ASSIGNMENT_ORDER.parse(params) or "-created_at",
                limit=LIMIT.parse(params),
                page=PAGE.parse(params),
                rule_must_exist=True,
            )
            return json_response(body)

    @operation(
        "delete-validation-rule-assignment",
        TAG,
        path=ASSIGNMENT_PATH,
        errors=("NotFound",),
    )
    @delete("/{rule_id:str}/assignments/{assignment_id:str}", status_code=204)
    async def delete_validation_rule_assignment(
        self,
        request: Request[Any, Any, Any],
        rule_id: FromPath[str],
        assignment_id: FromPath[str],
    ) -> None:
        """Remove one assignment of a validation rule."""
        project = project_of(request)
        key = rule_key(rule_id)
        assignment = key_or_404(assignment_id, assignment_not_found)
        async with transaction(request) as conn:
            await service.delete_assignment(conn, project.id, key, assignment)


@operation(
    "list-validation-rules-assignments",
    TAG,
    query=(RELATED_OBJECT_ID, RULE, PAGE, LIMIT, ASSIGNMENT_ORDER),
    response=AssignmentsList,
    errors=("InvalidQueryParams",),
)
@get("/v1/validation-rules-assignments")
async def list_validation_rules_assignments(request: Request[Any, Any, Any]) -> ASGIApp:
    """Every assignment of the project's rules, newest first by default."""
    project = project_of(request)
    params = request.query_params
    async with snapshot(request) as conn:
        body = await service.list_assignments(
            conn,
            project.id,
            rule_id=RULE.parse(params),
            related_object_id=RELATED_OBJECT_ID.parse(params),
            order=ASSIGNMENT_ORDER.parse(params) or "-created_at",
            limit=LIMIT.parse(params),
            page=PAGE.parse(params),
        )
        return json_response(body)
