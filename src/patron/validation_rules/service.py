"""Validation rules: create, read, change, delete, list; assign them to campaigns and vouchers;
and give the redemption path the parsed rule sets of a voucher (INCENTIVES.md §3, §3.1).

Every function takes the request's connection, in a transaction where it writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from patron.campaigns import repository as campaigns_repository
from patron.campaigns.schemas import campaign_not_found
from patron.db.pool import Connection
from patron.errors import NotFound
from patron.kit import ids
from patron.validation_rules import repository
from patron.validation_rules.rules import RuleSet, parse
from patron.validation_rules.schemas import (
    SUPPORTED_OBJECT_TYPES,
    AssignmentCreate,
    DuplicateAssignment,
    InvalidValidationRules,
    ValidationRuleCreate,
    ValidationRuleUpdate,
    assignment_not_found,
    render_assignment,
    render_assignments,
    render_rule,
    rule_not_found,
)
from patron.vouchers import repository as vouchers_repository
from patron.vouchers.schemas import voucher_not_found

LIST_ORDERS = frozenset(repository.ORDERINGS)
ASSIGNMENT_ORDERS = frozenset(repository.ASSIGNMENT_ORDERINGS)
# The most assignments a campaign or voucher object shows.
SHOWN_ASSIGNMENTS = 100


def _error(value: Any) -> dict[str, Any] | None:
    if value is None or value is UNSET:
        return None
    built: dict[str, Any] = msgspec.to_builtins(value)
    return built


def _check_bundle_rules(value: Any) -> None:
    if isinstance(value, dict) and value:
        raise InvalidValidationRules("bundle_rules are not supported; send none or {}")


async def create(
    conn: Connection, project_id: str, *, body: ValidationRuleCreate
) -> dict[str, Any]:
    """Store a rule set after parsing it (`rules.parse`). INCENTIVES.md §3.1.
    Raises InvalidValidationRules (400)."""
    rules = body.rules if isinstance(body.rules, dict) else {}
    error = _error(body.error)
    _check_bundle_rules(body.bundle_rules)
    parse("new", rules, error)
    values: dict[str, Any] = {
        "name": body.name,
        "rules": rules,
        "error": error,
        "applicable_to": body.applicable_to if isinstance(body.applicable_to, dict) else None,
    }
    if isinstance(body.type, str):
        values["type"] = body.type
    if isinstance(body.context_type, str):
        values["context_type"] = body.context_type
    row = await repository.insert(conn, project_id, ids.validation_rule_id(), values)
    return render_rule(row, 0)


async def _find(
    conn: Connection, project_id: str, rule_id: str, *, for_update: bool = False
) -> Any:
    row = await repository.find(conn, project_id, rule_id, for_update=for_update)
    if row is None:
        raise rule_not_found(rule_id)
    return row


async def _count_of(conn: Connection, project_id: str, rule_id: str) -> int:
    counts = await repository.assignments_counts(conn, project_id, [rule_id])
    return counts.get(rule_id, 0)


async def get(conn: Connection, project_id: str, rule_id: str) -> dict[str, Any]:
    """The rule with this `val_` id. Raises NotFound."""
    row = await _find(conn, project_id, rule_id)
    return render_rule(row, await _count_of(conn, project_id, rule_id))


async def update(
    conn: Connection, project_id: str, rule_id: str, *, body: ValidationRuleUpdate
) -> dict[str, Any]:
    """Change the fields sent (`rules` replaces the whole rule set; null `error` or
    `applicable_to` clears it), parsing the result. Raises NotFound, InvalidValidationRules."""
    row = await _find(conn, project_id, rule_id, for_update=True)
    _check_bundle_rules(body.bundle_rules)
    values: dict[str, Any] = {}
    if isinstance(body.name, str):
        values["name"] = body.name
    if isinstance(body.rules, dict):
        values["rules"] = body.rules
    if body.error is not UNSET:
        values["error"] = _error(body.error)
    if body.applicable_to is not UNSET:
        values["applicable_to"] = body.applicable_to
    for name in ("type", "context_type"):
        value = getattr(body, name)
        if isinstance(value, str):
            values[name] = value
    parse(rule_id, values.get("rules", row["rules"]), values.get("error", row["error"]))
    updated = await repository.update(conn, project_id, rule_id, values)
    assert updated is not None  # locked above
    return render_rule(updated, await _count_of(conn, project_id, rule_id))


async def delete(conn: Connection, project_id: str, rule_id: str) -> None:
    """Delete a rule and its assignments. Raises NotFound."""
    if not await repository.delete(conn, project_id, rule_id):
        raise rule_not_found(rule_id)


async def list_rules(
    conn: Connection,
    project_id: str,
    *,
    order: str,
    limit: int,
    page: int,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> dict[str, Any]:
    """A page of rules (`order`: one of LIST_ORDERS), created from `start_date` to `end_date`."""
    filters: dict[str, datetime] = {}
    if start_date is not None:
        filters["start_date"] = start_date
    if end_date is not None:
        filters["end_date"] = end_date
    rows = await repository.list_page(
        conn, project_id, filters=filters, order=order, limit=limit, offset=(page - 1) * limit
    )
    counts = await repository.assignments_counts(conn, project_id, [row["id"] for row in rows])
    return {
        "object": "list",
        "data_ref": "data",
        "data": [render_rule(row, counts.get(row["id"], 0)) for row in rows],
        "total": await repository.count(conn, project_id, filters=filters),
    }


# --- assignments ---


async def _related_id(conn: Connection, project_id: str, kind: str, key: str) -> str:
    """The id of the campaign (id or name) or voucher (id or code) an assignment names."""
    if kind not in SUPPORTED_OBJECT_TYPES:
        raise InvalidValidationRules(
            f"Validation rules cannot be assigned to a {kind} here; only to a campaign or voucher"
        )
    if kind == "campaign":
        campaign = await campaigns_repository.find(conn, project_id, key)
        if campaign is None:
            raise campaign_not_found(key)
        return str(campaign["id"])
    voucher = await vouchers_repository.find(conn, project_id, key)
    if voucher is None:
        raise voucher_not_found(key)
    return str(voucher["id"])


async def create_assignment(
    conn: Connection, project_id: str, rule_id: str, *, body: AssignmentCreate, force: bool
) -> dict[str, Any]:
    """Assign the rule to a campaign or voucher. With `force`, an assignment to the same object
    is replaced by a new one. Raises NotFound (rule, campaign, voucher), InvalidValidationRules
    (an object type other than campaign or voucher), DuplicateAssignment (409)."""
    await _find(conn, project_id, rule_id, for_update=True)
    kind = body.related_object_type
    related_id = await _related_id(conn, project_id, kind, body.related_object_id)
    key = {"rule_id": rule_id, "related_object_type": kind, "related_object_id": related_id}
    existing = await repository.find_assignment(conn, project_id, **key)
    if existing is not None:
        if not force:
            raise DuplicateAssignment(
                f"Duplicated validation_rules_assignment exists with id {existing['id']}",
                resource_id=existing["id"],
                resource_type="validation_rules_assignment",
            )
        await repository.delete_assignment(conn, project_id, rule_id, existing["id"])
    row = await repository.insert_assignment(
        conn, project_id, ids.validation_rule_assignment_id(), **key
    )
    assert row is not None  # the rule is locked: no concurrent assignment of it
    return render_assignment(row)


async def delete_assignment(
    conn: Connection, project_id: str, rule_id: str, assignment_id: str
) -> None:
    """Remove one of the rule's assignments. Raises NotFound (rule, assignment)."""
    await _find(conn, project_id, rule_id)
    if not await repository.delete_assignment(conn, project_id, rule_id, assignment_id):
        raise assignment_not_found(assignment_id)


async def list_assignments(
    conn: Connection,
    project_id: str,
    *,
    rule_id: str | None = None,
    related_object_id: str | None = None,
    order: str = "-created_at",
    limit: int = 10,
    page: int = 1,
    rule_must_exist: bool = False,
) -> dict[str, Any]:
    """A page of assignments, of one rule and/or of one object (its id). With
    `rule_must_exist` (GET /v1/validation-rules/{id}/assignments) a missing rule is a 404."""
    if rule_must_exist and rule_id is not None:
        await _find(conn, project_id, rule_id)
    filters: dict[str, str] = {}
    if rule_id is not None:
        filters["rule_id"] = rule_id
    if related_object_id is not None:
        filters["related_object_id"] = related_object_id
    rows = await repository.list_assignments(
        conn, project_id, filters=filters, order=order, limit=limit, offset=(page - 1) * limit
    )
    total = await repository.count_assignments(conn, project_id, filters=filters)
    return render_assignments(rows, total)


# --- what campaigns and vouchers use ---


async def check_rules_exist(conn: Connection, project_id: str, rule_ids: Sequence[str]) -> None:
    """Raise NotFound naming the first id that names no rule of the project."""
    if not rule_ids:
        return
    found = await repository.existing_ids(conn, project_id, rule_ids)
    for rule_id in rule_ids:
        if rule_id not in found:
            raise NotFound(
                f"Cannot find validation_rule with id {rule_id}",
                resource_id=rule_id,
                resource_type="validation_rule",
            )


async def assign_rules(
    conn: Connection,
    project_id: str,
    *,
    rule_ids: Sequence[str],
    related_object_type: str,
    related_object_id: str,
) -> None:
    """Assign each rule (`val_` ids) to the campaign or voucher (its id), keeping those it has
    already: `validation_rules` in a campaign or voucher body. Raises NotFound naming the first
    missing rule, before anything is written."""
    await check_rules_exist(conn, project_id, rule_ids)
    for rule_id in dict.fromkeys(rule_ids):
        await repository.insert_assignment(
            conn,
            project_id,
            ids.validation_rule_assignment_id(),
            rule_id=rule_id,
            related_object_type=related_object_type,
            related_object_id=related_object_id,
        )


async def assignments_of(
    conn: Connection, project_id: str, related_object_id: str
) -> dict[str, Any]:
    """The object's assignments as its `validation_rules_assignments` (oldest first, at most
    SHOWN_ASSIGNMENTS; `total` counts them all)."""
    return await list_assignments(
        conn,
        project_id,
        related_object_id=related_object_id,
        order="created_at",
        limit=SHOWN_ASSIGNMENTS,
    )


# --- the redemption path ---

_CACHE_SIZE = 4096
_parsed: OrderedDict[tuple[str, str, datetime], RuleSet] = OrderedDict()


async def rule_sets_for(
    conn: Connection, project_id: str, related_object_ids: Sequence[str]
) -> list[RuleSet]:
    """The parsed rule sets assigned to any of the objects (a voucher's id and its campaign's),
    each once, oldest first: one query, and a parse only when a rule is new or changed since
    (cached by rule id and `updated_at`). INCENTIVES.md §3.1."""
    if not related_object_ids:
        return []
    rows = await repository.rules_for(conn, project_id, related_object_ids)
    rule_sets = []
    for row in rows:
        key = (project_id, row["id"], row["updated_at"] or row["created_at"])
        rule_set = _parsed.get(key)
        if rule_set is None:
            rule_set = parse(row["id"], row["rules"], row["error"])
            _parsed[key] = rule_set
            if len(_parsed) > _CACHE_SIZE:
                _parsed.popitem(last=False)
        else:
            _parsed.move_to_end(key)
        rule_sets.append(rule_set)
    return rule_sets
