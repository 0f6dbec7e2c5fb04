"""Validation rule request bodies, the rule and assignment objects as Voucherify shows them, and
their errors (INCENTIVES.md §3, §3.1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.errors import APIError, NotFound
from patron.kit import fields
from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime, render_optional_datetime
from patron.kit.validation import check_metadata, check_text


class InvalidValidationRules(APIError):
    """A rule set that cannot be evaluated: an unknown rule name or operator, bad logic."""

    status = 400
    key = "invalid_validation_rules"
    message = "Invalid Validation Rule Definition"


class DuplicateAssignment(APIError):
    status = 409
    key = "duplicate_found"
    message = "Duplicated resource found"


def rule_not_found(rule_id: str) -> NotFound:
    return NotFound(
        f"Cannot find validation_rules with id {rule_id}",
        resource_id=rule_id,
        resource_type="validation_rules",
    )


def assignment_not_found(assignment_id: str) -> NotFound:
    return NotFound(
        f"Cannot find validation_rules_assignment with id {assignment_id}",
        resource_id=assignment_id,
        resource_type="validation_rules_assignment",
    )


RuleType = Literal["expression", "basic", "advanced", "complex"]
# The context types the Python SDK admits (it validates them on responses).
ContextType = Literal[
    "earning_rule.order.paid",
    "earning_rule.custom_event",
    "earning_rule.customer.segment.entered",
    "earning_rule.customer.tier.joined",
    "earning_rule.customer.tier.left",
    "earning_rule.customer.tier.upgraded",
    "earning_rule.customer.tier.downgraded",
    "earning_rule.customer.tier.prolonged",
    "campaign.discount_coupons",
    "campaign.discount_coupons.discount.apply_to_order",
    "campaign.discount_coupons.discount.apply_to_items",
    "campaign.discount_coupons.discount.apply_to_items_proportionally",
    "campaign.discount_coupons.discount.apply_to_items_proportionally_by_quantity",
    "campaign.discount_coupons.discount.apply_to_items_by_quantity",
    "campaign.discount_coupons.discount.fixed.apply_to_items",
    "campaign.discount_coupons.discount.percent.apply_to_items",
    "campaign.gift_vouchers",
    "campaign.gift_vouchers.gift.apply_to_order",
    "campaign.gift_vouchers.gift.apply_to_items",
    "campaign.referral_program",
    "campaign.referral_program.discount.apply_to_order",
    "campaign.referral_program.discount.apply_to_items",
    "campaign.referral_program.discount.apply_to_items_proportionally",
    "campaign.referral_program.discount.apply_to_items_proportionally_by_quantity",
    "campaign.referral_program.discount.apply_to_items_by_quantity",
    "campaign.referral_program.discount.fixed.apply_to_items",
    "campaign.referral_program.discount.percent.apply_to_items",
    "campaign.promotion",
    "campaign.promotion.discount.apply_to_order",
    "campaign.promotion.discount.apply_to_items",
    "campaign.promotion.discount.apply_to_items_proportionally",
    "campaign.promotion.discount.apply_to_items_proportionally_by_quantity",
    "campaign.promotion.discount.apply_to_items_by_quantity",
    "campaign.promotion.discount.fixed.apply_to_items",
    "campaign.promotion.discount.percent.apply_to_items",
    "campaign.loyalty_program",
    "voucher.discount_voucher",
    "voucher.discount_voucher.discount.apply_to_order",
    "voucher.discount_voucher.discount.apply_to_items",
    "voucher.discount_voucher.discount.apply_to_items_proportionally",
    "voucher.discount_voucher.discount.apply_to_items_proportionally_by_quantity",
    "voucher.discount_voucher.discount.apply_to_items_by_quantity",
    "voucher.discount_voucher.discount.fixed.apply_to_items",
    "voucher.discount_voucher.discount.percent.apply_to_items",
    "voucher.gift_voucher",
    "voucher.gift_voucher.gift.apply_to_order",
    "voucher.gift_voucher.gift.apply_to_items",
    "voucher.loyalty_card",
    "distribution.custom_event",
    "distribution.order.paid",
    "distribution.order.created",
    "distribution.order.canceled",
    "distribution.order.updated",
    "reward_assignment.pay_with_points",
    "global",
]
# The objects a rule can be assigned to in Voucherify; Patron keeps campaigns and vouchers.
RelatedObjectType = Literal[
    "voucher", "campaign", "promotion_tier", "earning_rule", "reward_assignment", "distribution"
]
SUPPORTED_OBJECT_TYPES = frozenset({"voucher", "campaign"})
Name = Annotated[str, fields.text(max_length=200, min_length=1)]
RulesJson = Annotated[
    dict[str, Any],
    Meta(
        description='Numbered rules and their logic: `{"1": {"name": "order.amount",'
        ' "conditions": {"$more_than": [1000]}}, "logic": "1"}` (INCENTIVES.md §3.1).'
    ),
]
FreeObject = Annotated[dict[str, Any], Meta(description="Stored and shown as sent.")]


class RuleError(msgspec.Struct, forbid_unknown_fields=True):
    """The message a failed validation or redemption shows."""

    message: Annotated[str, fields.text()] | None = None


class ValidationRuleCreate(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """POST /v1/validation-rules. `bundle_rules` are not kept: only empty ones are accepted."""

    name: Name
    rules: RulesJson | UnsetType | None = UNSET
    bundle_rules: FreeObject | UnsetType | None = UNSET
    error: RuleError | UnsetType | None = UNSET
    applicable_to: FreeObject | UnsetType | None = UNSET
    type: RuleType | UnsetType | None = UNSET
    context_type: ContextType | UnsetType | None = UNSET


class ValidationRuleUpdate(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """PUT /v1/validation-rules/{id}: only the fields sent change; a null `error` or
    `applicable_to` clears it."""

    name: Name | UnsetType | None = UNSET
    rules: RulesJson | UnsetType | None = UNSET
    bundle_rules: FreeObject | UnsetType | None = UNSET
    error: RuleError | UnsetType | None = UNSET
    applicable_to: FreeObject | UnsetType | None = UNSET
    type: RuleType | UnsetType | None = UNSET
    context_type: ContextType | UnsetType | None = UNSET


class AssignmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/validation-rules/{id}/assignments: the campaign (`camp_…`) or voucher (`v_…`
    id, or its code) the rule applies to."""

    related_object_type: RelatedObjectType
    related_object_id: Annotated[str, fields.text(max_length=200, min_length=1)]


def check_rule_body(body: ValidationRuleCreate | ValidationRuleUpdate) -> None:
    """What msgspec's types cannot say: text PostgreSQL can store (no NUL, valid Unicode) and
    JSON within the metadata bounds, in every field (400 `invalid_payload` naming it)."""
    if isinstance(body.name, str):
        check_text(body.name, ".name")
    if isinstance(body.error, RuleError) and isinstance(body.error.message, str):
        check_text(body.error.message, ".error.message")
    for name in ("rules", "bundle_rules", "applicable_to"):
        value = getattr(body, name)
        if isinstance(value, dict):
            check_metadata(value, f".{name}")


def check_assignment_body(body: AssignmentCreate) -> None:
    check_text(body.related_object_id, ".related_object_id")


DEFAULT_APPLICABLE_TO: dict[str, Any] = {"excluded": [], "included": [], "included_all": False}


def render_rule(row: Any, assignments_count: int) -> dict[str, Any]:
    """The validation rule object (`object: "validation_rules"`)."""
    rule: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "rules": row["rules"],
    }
    if row["error"] is not None:
        rule["error"] = row["error"]
    rule.update(
        {
            "applicable_to": row["applicable_to"] or DEFAULT_APPLICABLE_TO,
            "type": row["type"],
            "context_type": row["context_type"],
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_optional_datetime(row["updated_at"]),
            "assignments_count": assignments_count,
            "object": "validation_rules",
        }
    )
    return rule


def render_assignment(row: Any) -> dict[str, Any]:
    """The assignment object (`object: "validation_rules_assignment"`)."""
    return {
        "id": row["id"],
        "rule_id": row["rule_id"],
        "related_object_id": row["related_object_id"],
        "related_object_type": row["related_object_type"],
        "created_at": render_datetime(row["created_at"]),
        "object": "validation_rules_assignment",
    }


def render_assignments(rows: Any, total: int) -> dict[str, Any]:
    """A list of assignments, as the list endpoints and the campaign and voucher objects
    (`validation_rules_assignments`) show it."""
    return {
        "object": "list",
        "data_ref": "data",
        "data": [render_assignment(row) for row in rows],
        "total": total,
    }


class ValidationRuleObject(msgspec.Struct, forbid_unknown_fields=True):
    """A validation rule (`render_rule`); `error` only when it has one."""

    id: Annotated[str, Meta(examples=["val_xyz"])]
    name: str
    rules: dict[str, Any]
    applicable_to: dict[str, Any]
    type: RuleType
    context_type: ContextType
    created_at: Moment
    updated_at: Moment | None
    assignments_count: Count
    object: Literal["validation_rules"]
    error: RuleError | UnsetType = UNSET


class ValidationRulesList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[ValidationRuleObject]
    total: Count


class AssignmentObject(msgspec.Struct, forbid_unknown_fields=True):
    """A rule's assignment to a campaign or voucher (`render_assignment`)."""

    id: Annotated[str, Meta(examples=["asgm_xyz"])]
    rule_id: str
    related_object_id: str
    related_object_type: Literal["campaign", "voucher"]
    created_at: Moment
    object: Literal["validation_rules_assignment"]


class AssignmentsList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["data"]
    data: list[AssignmentObject]
    total: Count
