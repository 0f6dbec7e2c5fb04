"""Validation and redemption request bodies, their refusals, and the redemption, rollback and
validation objects as Voucherify shows them (INCENTIVES.md §3.2, §4).

Amounts are integers in the smallest currency unit (cents); points are integers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from patron.customers.schemas import CustomerCreate
from patron.errors import APIError, InvalidPayload
from patron.kit.fields import Count, Moment
from patron.kit.time import render_datetime
from patron.orders.schemas import OrderCreate
from patron.vouchers.schemas import VoucherObject

MAX_REDEEMABLES = 30
ROLLBACK_WINDOW_DAYS = 92  # "up to 3 months" (INCENTIVES.md §4.4)

# The stacking rules every validation and redemption answers with (§3.2, the spec's defaults);
# `redeemables_application_mode` is the mode the request ran in.
STACKING_RULES: dict[str, Any] = {
    "redeemables_limit": MAX_REDEEMABLES,
    "applicable_redeemables_limit": 5,
    "applicable_redeemables_per_category_limit": 1,
    "applicable_redeemables_category_limits": {},
    "applicable_exclusive_redeemables_limit": 1,
    "applicable_exclusive_redeemables_per_category_limit": 1,
    "exclusive_categories": [],
    "joint_categories": [],
    "redeemables_application_mode": "ALL",
    "redeemables_sorting_rule": "REQUESTED_ORDER",
    "redeemables_products_application_mode": "STACK",
    "redeemables_no_effect_rule": "REDEEM_ANYWAY",
    "no_effect_skip_categories": [],
    "no_effect_redeem_anyway_categories": [],
    "redeemables_rollback_order_mode": "WITH_ORDER",
}


def stacking_rules(mode: str) -> dict[str, Any]:
    return {**STACKING_RULES, "redeemables_application_mode": mode}


# --- refusals ------------------------------------------------------------------------------


class Refusal(APIError):
    """Why a redeemable cannot be applied: answered inside a validation (`valid: false`), or as
    the 400 of a refused redemption, which is stored first (`rf_…`). `rule_message` is the
    failing validation rule's `error.message`, shown as `error: {message}`."""

    status = 400
    key = "redemption_refused"
    message = "Redemption refused"

    def __init__(self, details: str | None = None, *, rule_message: str | None = None) -> None:
        super().__init__(details)
        self.rule_message = rule_message

    def body(self, request_id: str | None) -> dict[str, Any]:
        body = super().body(request_id)
        if self.rule_message is not None:
            body["error"] = {"message": self.rule_message}
        return body


_REFUSALS: dict[tuple[type[APIError], str], type[APIError]] = {}


def _kind(base: type[APIError], key: str, message: str, status: int = 400) -> type[APIError]:
    """The subclass of `base` for one failure code (made once per code and status)."""
    kind = _REFUSALS.get((base, f"{status} {key}"))
    if kind is None:
        kind = type(base.__name__, (base,), {"key": key, "message": message, "status": status})
        _REFUSALS[(base, f"{status} {key}")] = kind
    return kind


def refusal(
    key: str,
    message: str,
    details: str,
    *,
    rule_message: str | None = None,
    status: int = 400,
) -> Refusal:
    """A Refusal with this key (`voucher_expired`, `quantity_exceeded`, …): 400, or 404 for a
    redeemable that names nothing."""
    kind = _kind(Refusal, key, message, status)
    error = kind(details)
    assert isinstance(error, Refusal)
    error.rule_message = rule_message
    return error


class DuplicatedRedeemables(APIError):
    status = 400
    key = "duplicated_redeemables"
    message = "Duplicated redeemables"


class RollbackRefused(APIError):
    """A rollback that cannot be made: stored as a failed rollback (`rrf_…`), then answered."""

    status = 400
    key = "rollback_refused"
    message = "Rollback refused"


class MultipleRequests(RollbackRefused):
    """A rollback of a redemption another request is rolling back: stored as a failure."""

    key = "multiple_requests"
    message = "Multiple requests"


def rollback_refusal(key: str, message: str, details: str) -> RollbackRefused:
    error = _kind(RollbackRefused, key, message)(details)
    assert isinstance(error, RollbackRefused)
    return error


class InvalidRedemption(APIError):
    status = 400
    key = "invalid_redemption"
    message = "Invalid redemption"


def redemption_not_found(key: str) -> APIError:
    from patron.errors import NotFound

    return NotFound(
        f"Cannot find redemption with id {key}", resource_id=key, resource_type="redemption"
    )


# --- request bodies ------------------------------------------------------------------------


class GiftCredits(msgspec.Struct):
    credits: (
        Annotated[int, Meta(ge=1, le=10**15, description="Credits to spend, cents.")]
        | UnsetType
        | None
    ) = UNSET


class RewardChoice(msgspec.Struct):
    id: str | UnsetType | None = UNSET
    points: Annotated[int, Meta(ge=0)] | UnsetType | None = UNSET


TtlUnit = Literal["MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"]


class Redeemable(msgspec.Struct):
    """One code to validate or redeem: `{object: "voucher", id: <code or v_ id>, gift?: {credits},
    reward?: {id, points}}`. `promotion_tier` and `promotion_stack` are not kept by Patron."""

    object: Literal["voucher", "promotion_tier", "promotion_stack"]
    id: Annotated[str, Meta(min_length=1, description="The code (or `v_` id) to apply.")]
    gift: GiftCredits | UnsetType | None = UNSET
    reward: RewardChoice | UnsetType | None = UNSET


class Session(msgspec.Struct):
    """`{type: "LOCK", key?, ttl?, ttl_unit?}`: reserve what the validation would take."""

    type: Literal["LOCK"] | UnsetType | None = UNSET
    key: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType | None = UNSET
    ttl: Annotated[float, Meta(gt=0, le=10**9)] | UnsetType | None = UNSET
    ttl_unit: TtlUnit | UnsetType | None = UNSET


class Options(msgspec.Struct):
    expand: list[str] | UnsetType | None = UNSET
    language: str | UnsetType | None = UNSET


class Stacking(msgspec.Struct):
    """Patron takes the application mode per request: `ALL` (default) or `PARTIAL`."""

    redeemables_application_mode: str | UnsetType | None = UNSET


class RedeemablesRequest(msgspec.Struct, kw_only=True):
    """POST /v1/validations and /v1/redemptions (and their client-side twins)."""

    redeemables: Annotated[list[Redeemable], Meta(min_length=1, max_length=MAX_REDEEMABLES)]
    customer: CustomerCreate | UnsetType | None = UNSET
    order: OrderCreate | UnsetType | None = UNSET
    session: Session | UnsetType | None = UNSET
    tracking_id: str | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET
    options: Options | UnsetType | None = UNSET
    stacking_rules: Stacking | UnsetType | None = UNSET
    channel: str | UnsetType | None = UNSET


class RollbackBody(msgspec.Struct):
    """The optional body of a rollback: must match the redemption; metadata is kept."""

    reason: str | UnsetType | None = UNSET
    tracking_id: str | UnsetType | None = UNSET
    customer: CustomerCreate | UnsetType | None = UNSET
    order: OrderCreate | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET


def given(value: Any) -> Any:
    """None for UNSET, else the value."""
    return None if isinstance(value, UnsetType) else value


def application_mode(body: RedeemablesRequest) -> str:
    stacking = given(body.stacking_rules)
    mode = given(stacking.redeemables_application_mode) if stacking is not None else None
    if mode is None:
        return "ALL"
    upper = str(mode).upper()
    if upper not in ("ALL", "PARTIAL"):
        raise InvalidPayload(
            f"Property .stacking_rules.redeemables_application_mode: {mode!r} is not ALL or PARTIAL"
        )
    return upper


def check_redeemables(body: RedeemablesRequest) -> list[Redeemable]:
    """The redeemables of a request, checked: 1 to 30, each a voucher code named once.
    Raises InvalidPayload, DuplicatedRedeemables."""
    redeemables: list[Redeemable] | None = given(body.redeemables)
    if not redeemables:
        raise InvalidPayload("Property .redeemables is required: give at least one redeemable")
    if len(redeemables) > MAX_REDEEMABLES:
        raise InvalidPayload(f"Property .redeemables holds more than {MAX_REDEEMABLES} items")
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(redeemables):
        if item.object not in ("voucher", "promotion_tier", "promotion_stack"):
            raise InvalidPayload(
                f"Property .redeemables[{index}].object: {item.object!r} is not voucher,"
                " promotion_tier or promotion_stack"
            )
        if not item.id:
            raise InvalidPayload(f"Property .redeemables[{index}].id is required")
        if (item.object, item.id) in seen:
            raise DuplicatedRedeemables(f"Redeemable {item.id} is given more than once")
        seen.add((item.object, item.id))
        gift = given(item.gift)
        credits = given(gift.credits) if gift is not None else None
        if credits is not None and credits <= 0:
            raise InvalidPayload(f"Property .redeemables[{index}].gift.credits must be positive")
    return redeemables


# --- rendering -----------------------------------------------------------------------------


def customer_brief(customer: dict[str, Any] | None) -> dict[str, Any] | None:
    """The customer as a redemption shows it (`SimpleCustomer`); `metadata` left out while the
    customer has none, as the customer object leaves it out (`render_customer_fields`)."""
    if customer is None:
        return None
    brief = {
        "id": customer["id"],
        "name": customer.get("name"),
        "email": customer.get("email"),
        "source_id": customer.get("source_id"),
    }
    if customer.get("metadata"):
        brief["metadata"] = customer["metadata"]
    brief["object"] = "customer"
    return brief


def _render_record(row: Any, kind: str, head: dict[str, Any]) -> dict[str, Any]:
    """What redemptions and rollbacks show alike, in Voucherify's key order, with `head` (the
    keys of one kind) after `amount`."""
    record: dict[str, Any] = {
        "id": row["id"],
        "object": kind,
        "date": render_datetime(row["created_at"]),
        "customer_id": row["customer_id"],
        "tracking_id": row["tracking_id"],
        "metadata": row["metadata"],
    }
    if row["amount"] is not None:
        record["amount"] = row["amount"]
    record.update(head)
    record["result"] = row["result"]
    record["status"] = row["status"]
    if row["result"] == "FAILURE":
        record["failure_code"] = row["failure_code"]
        record["failure_message"] = row["failure_message"]
    return record


def _render_tail(row: Any, record: dict[str, Any]) -> dict[str, Any]:
    record["order"] = row["order"]
    record["channel"] = {"channel_id": None, "channel_type": row["channel_type"]}
    record["customer"] = row["customer"]
    record["related_object_type"] = row["related_object_type"]
    record["related_object_id"] = row["related_object_id"]
    if row["voucher"] is not None:
        record["voucher"] = row["voucher"]
    if row["gift_credits"] is not None:
        record["gift"] = {"amount": row["gift_credits"]}
    if row["loyalty_points"] is not None:
        record["loyalty_card"] = {"points": row["loyalty_points"]}
    return record


def render_redemption(row: Any, *, rollbacks: list[Any] | None = None) -> dict[str, Any]:
    """The redemption object (`r_…` or a stored failure `rf_…`), with its successful
    `rollbacks` if any. INCENTIVES.md §4.2."""
    redemption = _render_record(row, "redemption", {"redemption": row["parent_id"]})
    if rollbacks:
        redemption["related_redemptions"] = {
            "rollbacks": [
                {
                    "id": rollback["id"],
                    "date": render_datetime(rollback["created_at"]),
                    "rollback_order_mode": "WITH_ORDER",
                }
                for rollback in rollbacks
            ],
            "redemptions": [],
        }
    return _render_tail(row, redemption)


def render_rollback(row: Any) -> dict[str, Any]:
    """The rollback object (`rr_…` or a stored failure `rrf_…`). INCENTIVES.md §4.2."""
    head = {"redemption": row["redemption_id"], "reason": row["reason"]}
    return _render_tail(row, _render_record(row, "redemption_rollback", head))


Kind = Literal["redemption", "redemption_rollback"]


# --- response Structs (the OpenAPI document's schemas) ------------------------------------

Result = Literal["SUCCESS", "FAILURE"]


class ChannelObject(msgspec.Struct, forbid_unknown_fields=True):
    channel_id: str | None
    channel_type: Literal["USER", "API", "AUTO_REDEEM"]


class RedemptionCustomer(msgspec.Struct, forbid_unknown_fields=True):
    """The customer as a redemption shows it (`SimpleCustomer`)."""

    id: str
    name: str | None
    email: str | None
    source_id: str | None
    object: Literal["customer"]
    metadata: (
        Annotated[dict[str, Any], Meta(description="Left out while the customer has none.")]
        | UnsetType
        | None
    ) = UNSET


class GiftAmount(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, Meta(description="Gift credits, cents (negative: given back).")]


class LoyaltyPoints(msgspec.Struct, forbid_unknown_fields=True):
    points: Annotated[int, Meta(description="Loyalty points (negative: given back).")]


class RelatedRollback(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    date: Moment
    rollback_order_mode: Literal["WITH_ORDER", "WITHOUT_ORDER"]


class RelatedRedemptions(msgspec.Struct, forbid_unknown_fields=True):
    rollbacks: list[RelatedRollback]
    redemptions: list[dict[str, Any]]


class _RecordObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What redemptions and rollbacks show alike (`_render_record`, `_render_tail`)."""

    date: Moment
    customer_id: str | None
    tracking_id: str | None
    metadata: dict[str, Any] | None
    result: Result
    failure_code: str | UnsetType | None = UNSET
    failure_message: str | UnsetType | None = UNSET
    order: dict[str, Any] | None
    channel: ChannelObject
    customer: RedemptionCustomer | None
    related_object_type: Literal["voucher", "promotion_tier", "redemption"]
    related_object_id: str
    voucher: VoucherObject | UnsetType = UNSET
    gift: GiftAmount | UnsetType = UNSET
    loyalty_card: LoyaltyPoints | UnsetType = UNSET


class RedemptionObject(_RecordObject, kw_only=True, forbid_unknown_fields=True):
    """A redemption (`render_redemption`): `r_…`, or a stored failure `rf_…`."""

    id: Annotated[str, Meta(examples=["r_0c5d710a87c8a31f86"])]
    object: Literal["redemption"]
    amount: (
        Annotated[int, Meta(description="Gift credits (cents) or loyalty points taken.")]
        | UnsetType
    ) = UNSET
    redemption: Annotated[str | None, Meta(description="The stacked parent's id.")]
    status: Literal["SUCCEEDED", "FAILED", "ROLLED_BACK"]
    related_redemptions: RelatedRedemptions | UnsetType = UNSET


class RollbackObject(_RecordObject, kw_only=True, forbid_unknown_fields=True):
    """A rollback (`render_rollback`): `rr_…`, or a stored failure `rrf_…`."""

    id: Annotated[str, Meta(examples=["rr_0c5d710a87c8a31f86"])]
    object: Literal["redemption_rollback"]
    amount: (
        Annotated[int, Meta(description="Credits (cents) or points given back: negative.")]
        | UnsetType
    ) = UNSET
    redemption: Annotated[str, Meta(description="The redemption rolled back.")]
    reason: str | None
    status: Literal["SUCCEEDED", "FAILED"]


class ErrorObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: int
    key: str
    message: str
    details: str | UnsetType = UNSET
    request_id: str | None
    resource_id: str | UnsetType = UNSET
    resource_type: str | UnsetType = UNSET
    error: dict[str, Any] | UnsetType = UNSET


class RedeemableResult(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    discount: dict[str, Any] | UnsetType | None = UNSET
    gift: dict[str, Any] | UnsetType = UNSET
    loyalty_card: dict[str, Any] | UnsetType = UNSET
    error: ErrorObject | UnsetType = UNSET


class RedeemableEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One redeemable of a validation: APPLICABLE (its effect) or INAPPLICABLE (its error)."""

    status: Literal["APPLICABLE", "INAPPLICABLE", "SKIPPED"]
    id: str
    object: Literal["voucher", "promotion_tier"]
    order: dict[str, Any] | UnsetType = UNSET
    applicable_to: dict[str, Any] | UnsetType = UNSET
    inapplicable_to: dict[str, Any] | UnsetType = UNSET
    result: RedeemableResult
    metadata: dict[str, Any]
    categories: list[dict[str, Any]]
    campaign_name: str | UnsetType | None = UNSET
    campaign_id: str | UnsetType = UNSET


class SessionObject(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    type: Literal["LOCK"]
    ttl: float
    ttl_unit: str


class ValidationObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A stacked validation's answer (`service.validate`)."""

    id: Annotated[str, Meta(examples=["valid_0c5d710a87c8a31f86"])]
    valid: bool
    redeemables: list[RedeemableEntry]
    inapplicable_redeemables: list[RedeemableEntry] | UnsetType = UNSET
    order: dict[str, Any] | UnsetType = UNSET
    tracking_id: str | None
    session: SessionObject | UnsetType = UNSET
    stacking_rules: dict[str, Any]


class LegacyValidation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The deprecated single-code validation's answer; invalid is `valid: false` with `reason`
    and `error`."""

    valid: bool
    code: str
    discount: dict[str, Any] | UnsetType | None = UNSET
    gift: dict[str, Any] | UnsetType = UNSET
    loyalty_card: dict[str, Any] | UnsetType = UNSET
    applicable_to: dict[str, Any] | UnsetType | None = UNSET
    inapplicable_to: dict[str, Any] | UnsetType | None = UNSET
    order: dict[str, Any] | UnsetType = UNSET
    campaign: str | UnsetType | None = UNSET
    campaign_id: str | UnsetType = UNSET
    session: SessionObject | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    error: ErrorObject | UnsetType = UNSET
    tracking_id: str | None
    metadata: dict[str, Any]


class RedeemedObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A stacked redemption's answer (`service.redeem`)."""

    redemptions: list[RedemptionObject]
    parent_redemption: RedemptionObject | None
    order: dict[str, Any] | None
    inapplicable_redeemables: list[RedeemableEntry] | UnsetType = UNSET
    skipped_redeemables: list[RedeemableEntry] | UnsetType = UNSET


class RolledBackObject(msgspec.Struct, forbid_unknown_fields=True):
    """A stacked rollback's answer."""

    rollbacks: list[RollbackObject]
    parent_rollback: RollbackObject | None
    order: dict[str, Any] | None


class RedemptionsList(msgspec.Struct, forbid_unknown_fields=True):
    object: Literal["list"]
    data_ref: Literal["redemptions"]
    redemptions: list[RedemptionObject]
    total: Count


class VoucherRedemptions(msgspec.Struct, forbid_unknown_fields=True):
    """A code's redemptions and rollbacks (`redemption_entries`), oldest first."""

    quantity: int | None
    redeemed_quantity: Count
    object: Literal["list"]
    url: str
    data_ref: Literal["redemption_entries"]
    total: Count
    redemption_entries: list[dict[str, Any]]
