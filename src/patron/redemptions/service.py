"""Validations, redemptions and rollbacks (INCENTIVES.md §3.2, §4).

A redemption runs in one transaction on the write path: the segments hold, the redeeming
customer (upserted) and the holders of the codes locked in id order, then the codes (`FOR
UPDATE`, id order), then the order. Each code is checked (§3.2, in that order, then its
validation rules), discounts and gift credits are applied to the order in request order, the
codes are counted and their balances spent, the order is upserted `PAID`, the redemptions, the
customer's counters, the holders' balances and the activities are written, and segment moves
are settled. A refused redemption is rolled back, then stored (`rf_…`, counted in
`total_failed`, `customer.redemption.failed`) in a transaction of its own.

Rollbacks lock the same way, plus the redemptions (`NOWAIT`: a concurrent rollback of the same
redemption is `multiple_requests`), and undo exactly what the redemption did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from msgspec import UNSET

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.campaigns import repository as campaigns_repository
from patron.customers import service as customers
from patron.customers.repository import find_by_id
from patron.customers.schemas import CustomerCreate, render_customer
from patron.db.pool import Connection
from patron.errors import APIError, InvalidPayload, NotFound
from patron.kit import ids
from patron.orders import repository as orders_repository
from patron.orders import service as orders
from patron.orders.schemas import OrderCreate, OrderUpdate, render_items, render_order
from patron.redemptions import repository
from patron.redemptions.checks import NOTHING_RESERVED, Reserved, check_voucher, gift_credits
from patron.redemptions.schemas import (
    ROLLBACK_WINDOW_DAYS,
    DuplicatedRedeemables,
    MultipleRequests,
    Redeemable,
    RedeemablesRequest,
    Refusal,
    RollbackBody,
    RollbackRefused,
    application_mode,
    check_redeemables,
    customer_brief,
    given,
    redemption_not_found,
    refusal,
    render_redemption,
    render_rollback,
    rollback_refusal,
    stacking_rules,
)
from patron.segments import repository as segments_repository
from patron.validation_rules import rules as validation_rules
from patron.validation_rules import service as rules_service
from patron.vouchers import repository as vouchers_repository
from patron.vouchers.discounts import Basket, apply_credits, apply_discount, order_amounts
from patron.vouchers.repository import Row
from patron.vouchers.schemas import AssetsOf, no_assets, render_voucher, voucher_not_found
from patron.writes import customers as customer_writes
from patron.writes import redemptions as redemption_writes

_ATTEMPTS = 5
_TTL_UNITS = {
    "MILLISECONDS": 0.001,
    "SECONDS": 1,
    "MINUTES": 60,
    "HOURS": 3600,
    "DAYS": 86400,
}
_DEFAULT_TTL_SECONDS = 7 * 86400  # Voucherify's default session lifetime: 7 days
_MAX_TTL_SECONDS = 10 * 365 * 86400
_RULE_MESSAGES = {
    "customer_rules_violated": "Customer does not match validation rules",
    "order_rules_violated": "Order does not match validation rules",
    "redemption_rules_violated": "Redemption does not match validation rules",
}


class _HoldersMoved(Exception):
    """A code changed holder between reading it and locking it: take the locks again."""


@dataclass(slots=True)
class Outcome:
    """One redeemable, evaluated: applicable (its effect on the order) or refused."""

    item: Redeemable
    voucher: Row | None = None
    refusal: Refusal | None = None
    discount: int = 0
    credits: int | None = None
    points: int | None = None
    before: Basket | None = None
    after: Basket | None = None

    @property
    def applicable(self) -> bool:
        return self.refusal is None


@dataclass(slots=True)
class Evaluation:
    outcomes: list[Outcome]
    initial: Basket
    basket: Basket
    customer_id: str | None
    customer: dict[str, Any] | None
    order_payload: OrderCreate | None
    holders: list[str] = field(default_factory=list)


class Inapplicable(Exception):
    """A redemption refused as a whole (mode ALL, or nothing applicable)."""

    def __init__(self, evaluation: Evaluation) -> None:
        super().__init__("inapplicable")
        self.evaluation = evaluation


# --- reading the request -------------------------------------------------------------------


def _customer_payload(body: Any) -> CustomerCreate | None:
    """The customer a request names: `customer`, else one with `tracking_id` as source_id."""
    customer = given(body.customer)
    if isinstance(customer, CustomerCreate):
        if isinstance(customer.id, str) or isinstance(customer.source_id, str):
            return customer
        tracking_id = given(getattr(body, "tracking_id", UNSET))
        if isinstance(tracking_id, str):
            return msgspec.structs.replace(customer, source_id=tracking_id)
        return customer
    tracking_id = given(getattr(body, "tracking_id", UNSET))
    if isinstance(tracking_id, str):
        return CustomerCreate(source_id=tracking_id)
    return None


async def _initial_basket(conn: Connection, project_id: str, order: OrderCreate | None) -> Basket:
    """The order as sent (amounts in cents), completed from the stored order it names."""
    if order is None:
        return Basket(amount=None, items=())
    stored = None
    key = given(order.id) or given(order.source_id)
    described = given(order.amount) is not None or isinstance(order.items, list)
    if isinstance(key, str) and not described:
        # Only an order named without its amount or items is read from what is stored.
        stored = await orders_repository.find(conn, project_id, key)
    items: list[dict[str, Any]]
    if isinstance(order.items, list):
        items = render_items(order.items)
    elif stored is not None:
        items = list(stored["items"])
    else:
        items = []
    amount = given(order.amount)
    if amount is None and items:
        amounts = [item["amount"] for item in items if item.get("amount") is not None]
        amount = sum(amounts) if amounts else None
    if amount is None and stored is not None:
        amount = stored["amount"]
    discount = given(order.discount_amount)
    if discount is None and stored is not None:
        discount = stored["discount_amount"]
    return Basket(
        amount=amount,
        items=tuple(items),
        discount=discount or 0,
        item_discounts=tuple(item.get("discount_amount") or 0 for item in items),
    )


def _order_facts(body_order: OrderCreate | None, basket: Basket, initial: Basket) -> dict[str, Any]:
    metadata = given(body_order.metadata) if body_order is not None else None
    return {
        "amount": initial.amount,
        "initial_amount": initial.amount,
        "total_amount": basket.total if basket.amount is not None else None,
        "metadata": metadata or {},
        "items": list(initial.items),
    }


# --- evaluation ----------------------------------------------------------------------------


async def _evaluate(
    conn: Connection,
    actor: Actor,
    redeemables: Sequence[Redeemable],
    *,
    vouchers: dict[str, Row],
    customer: dict[str, Any] | None,
    order_payload: OrderCreate | None,
    redemption_metadata: dict[str, Any] | None,
    session_key: str | None,
    sent_metadata: dict[str, Any] | None = None,
) -> Evaluation:
    """Check every redeemable in request order against the order as discounted so far, for the
    `customer` as the API shows it. `sent_metadata`: the customer metadata a validation was sent
    (it writes nothing), read over the stored customer's."""
    project_id = actor.project_id
    customer_metadata = dict(customer.get("metadata") or {}) if customer is not None else None
    if sent_metadata:
        customer_metadata = {**(customer_metadata or {}), **sent_metadata}
    now = datetime.now(UTC)
    initial = await _initial_basket(conn, project_id, order_payload)
    basket = initial
    customer_id = customer["id"] if customer is not None else None
    # What other sessions reserve matters only to a code with a quantity, credits or points:
    # a discount code without a quantity limit skips the sessions' query.
    voucher_ids = [
        row["id"]
        for row in vouchers.values()
        if row["redemption_quantity"] is not None or row["type"] != "DISCOUNT_VOUCHER"
    ]
    held = (
        await repository.reserved(conn, project_id, voucher_ids, except_key=session_key)
        if voucher_ids
        else {}
    )
    segment_ids: frozenset[str] | None = None
    seen: set[str] = set()
    outcomes: list[Outcome] = []
    for item in redeemables:
        outcome = Outcome(item=item)
        outcomes.append(outcome)
        voucher = vouchers.get(item.id) if item.object == "voucher" else None
        if voucher is None:
            outcome.refusal = _not_found(item)
            continue
        if voucher["id"] in seen:
            raise DuplicatedRedeemables(
                f"Voucher {voucher['code']} is given more than once (by its code and its id)"
            )
        seen.add(voucher["id"])
        outcome.voucher = voucher
        reserved = Reserved(*held[voucher["id"]]) if voucher["id"] in held else NOTHING_RESERVED
        refused = check_voucher(
            voucher,
            campaign_active=voucher["campaign_active"] is not False,
            now=now,
            reserved=reserved,
            customer_id=customer_id,
        )
        if refused is None and voucher["has_rules"]:
            rule_sets = await rules_service.rule_sets_for(
                conn, project_id, [key for key in (voucher["id"], voucher["campaign_id"]) if key]
            )
            if rule_sets:
                if (
                    segment_ids is None
                    and customer_id is not None
                    and any(rule_set.needs_segments for rule_set in rule_sets)
                ):
                    rows = await segments_repository.segments_of_customer(
                        conn, project_id, customer_id
                    )
                    segment_ids = frozenset(row["id"] for row in rows)
                count = 0
                if customer_id is not None and any(
                    rule_set.needs_redemption_count for rule_set in rule_sets
                ):
                    count = await repository.count_successes(
                        conn,
                        project_id,
                        customer_id,
                        campaign_id=voucher["campaign_id"],
                        voucher_id=voucher["id"],
                    )
                facts = validation_rules.Facts(
                    customer_id=customer_id,
                    customer_metadata=customer_metadata,
                    segment_ids=segment_ids or frozenset(),
                    order=_order_facts(order_payload, basket, initial)
                    if order_payload is not None
                    else None,
                    redemption_metadata=redemption_metadata,
                    redemptions_per_customer=count,
                    holder_id=voucher["holder_id"],
                )
                for rule_set in rule_sets:
                    violation = validation_rules.evaluate(rule_set, facts)
                    if violation is not None:
                        refused = refusal(
                            violation.key,
                            _RULE_MESSAGES.get(violation.key, "Validation rules violated"),
                            f"{voucher['code']} does not meet its validation rules",
                            rule_message=violation.message,
                        )
                        break
        if refused is None:
            refused = _apply(outcome, voucher, basket, reserved)
        if refused is not None:
            outcome.refusal = refused
            continue
        assert outcome.after is not None
        outcome.before = basket
        basket = outcome.after
    return Evaluation(
        outcomes=outcomes,
        initial=initial,
        basket=basket,
        customer_id=customer_id,
        customer=customer,
        order_payload=order_payload,
    )


def _not_found(item: Redeemable) -> Refusal:
    if item.object != "voucher":
        return refusal(
            "not_found",
            "Resource not found",
            f"Cannot find {item.object} with id {item.id}",
            status=404,
        )
    return refusal(
        "not_found", "Resource not found", f"Cannot find voucher with id {item.id}", status=404
    )


def _apply(outcome: Outcome, voucher: Row, basket: Basket, reserved: Reserved) -> Refusal | None:
    """The redeemable's effect on the order (discount, gift credits), or why it has none."""
    kind = voucher["type"]
    item = outcome.item
    if kind == "DISCOUNT_VOUCHER":
        after, amount = apply_discount(basket, voucher["discount"] or {})
        outcome.discount = amount
        outcome.after = after
        return None
    if kind == "GIFT_VOUCHER":
        gift = given(item.gift)
        requested = given(gift.credits) if gift is not None else None
        to_pay = basket.total if basket.amount is not None else None
        credits, refused = gift_credits(voucher, requested, reserved=reserved, to_pay=to_pay)
        if refused is not None:
            return refused
        assert credits is not None
        after, taken = apply_credits(basket, credits)
        outcome.credits = taken
        outcome.discount = taken
        outcome.after = after
        return None
    # A loyalty card pays with points for a reward (INCENTIVES.md §4.3): rewards come with the
    # loyalty programs; until then a card is refused here, naming what is missing.
    reward = given(item.reward)
    if reward is None or not isinstance(given(reward.id), str):
        return refusal(
            "missing_reward",
            "Missing reward",
            f"Paying with loyalty card {voucher['code']} needs reward.id",
        )
    return refusal(
        "not_found",
        "Resource not found",
        f"Cannot find reward with id {reward.id}",
        status=404,
    )


# --- rendering validations -----------------------------------------------------------------

_EMPTY_LIST = {"object": "list", "data_ref": "data", "data": [], "total": 0}


def _error_of(refused: APIError, request_id: str) -> dict[str, Any]:
    return refused.body(request_id)


def _result_of(outcome: Outcome) -> dict[str, Any]:
    voucher = outcome.voucher
    assert voucher is not None
    if voucher["type"] == "GIFT_VOUCHER":
        return {"gift": {"credits": outcome.credits or 0, "balance": voucher["balance"] or 0}}
    if voucher["type"] == "LOYALTY_CARD":
        return {"loyalty_card": {"points": outcome.points or 0}}
    return {"discount": voucher["discount"]}


def _item_order(outcome: Outcome) -> dict[str, Any] | None:
    if outcome.before is None or outcome.after is None or outcome.after.amount is None:
        return None
    amounts = order_amounts(outcome.after, initial=outcome.before)
    return {"amount": outcome.before.amount, **amounts, "object": "order"}


def _redeemable_entry(outcome: Outcome, request_id: str, *, status: str) -> dict[str, Any]:
    voucher = outcome.voucher
    # The SDKs accept `voucher` and `promotion_tier` only; a promotion_stack answers as voucher.
    kind = "promotion_tier" if outcome.item.object == "promotion_tier" else "voucher"
    entry: dict[str, Any] = {"status": status, "id": outcome.item.id, "object": kind}
    if status == "APPLICABLE":
        order = _item_order(outcome)
        if order is not None:
            entry["order"] = order
        entry["applicable_to"] = dict(_EMPTY_LIST)
        entry["inapplicable_to"] = dict(_EMPTY_LIST)
        entry["result"] = _result_of(outcome)
    else:
        refused = outcome.refusal
        assert refused is not None
        entry["result"] = {"error": _error_of(refused, request_id)}
    entry["metadata"] = voucher["metadata"] if voucher is not None else {}
    entry["categories"] = []
    if voucher is not None and voucher["campaign_id"] is not None:
        entry["campaign_name"] = voucher["campaign_name"]
        entry["campaign_id"] = voucher["campaign_id"]
    return entry


def _order_view(evaluation: Evaluation) -> dict[str, Any] | None:
    if evaluation.order_payload is None:
        return None
    order: dict[str, Any] = {}
    payload = evaluation.order_payload
    for name in ("id", "source_id"):
        value = given(getattr(payload, name))
        if isinstance(value, str):
            order[name] = value
    if evaluation.initial.amount is not None:
        order["amount"] = evaluation.initial.amount
    order.update(order_amounts(evaluation.basket, initial=evaluation.initial))
    metadata = given(payload.metadata)
    order["metadata"] = metadata or {}
    if evaluation.customer_id is not None:
        order["customer_id"] = evaluation.customer_id
    order["object"] = "order"
    return order


# --- validations ---------------------------------------------------------------------------


def _ttl_seconds(session: Any) -> float:
    ttl = given(session.ttl)
    if ttl is None:
        return _DEFAULT_TTL_SECONDS
    unit = (given(session.ttl_unit) or "HOURS").upper()
    if unit not in _TTL_UNITS:
        raise InvalidPayload(
            f"Property .session.ttl_unit: {unit!r} is not one of {', '.join(_TTL_UNITS)}"
        )
    if ttl <= 0:
        raise InvalidPayload("Property .session.ttl must be positive")
    seconds = float(ttl) * _TTL_UNITS[unit]
    if seconds > _MAX_TTL_SECONDS:
        raise InvalidPayload("Property .session.ttl: a session lasts at most 10 years")
    return seconds


def _session_key(body: RedeemablesRequest) -> str | None:
    session = given(body.session)
    if session is None:
        return None
    key = given(session.key)
    return key if isinstance(key, str) else None


async def validate(
    conn: Connection, actor: Actor, body: RedeemablesRequest, *, assets_of: AssetsOf = no_assets
) -> dict[str, Any]:
    """Check every redeemable (INCENTIVES.md §3.2) against the customer and the order, without
    changing anything but an optional session: `session.type: LOCK` reserves, for the session's
    ttl, one use of each applicable code and the credits it would take. Runs its own
    transaction on a connection outside any. Raises InvalidPayload, DuplicatedRedeemables;
    inapplicable redeemables are answered (`valid: false`), not raised."""
    redeemables = check_redeemables(body)
    mode = application_mode(body)
    session = given(body.session)
    if session is not None and (given(session.type) or "LOCK").upper() != "LOCK":
        raise InvalidPayload(f"Property .session.type: {session.type!r} is not LOCK")
    locking = session is not None
    ttl = _ttl_seconds(session) if locking else 0.0
    async with conn.transaction():
        payload = _customer_payload(body)
        customer_row = None
        if payload is not None:
            customer_id = await customers.existing_id(conn, actor.project_id, payload)
            if customer_id is None and isinstance(payload.id, str):
                raise customers.not_found(payload.id)
            if customer_id is not None:
                customer_row = await find_by_id(conn, actor.project_id, customer_id)
        keys = [item.id for item in redeemables if item.object == "voucher"]
        vouchers = await vouchers_repository.find_many(
            conn, actor.project_id, keys, for_update=locking
        )
        key = _session_key(body) or (ids.session_key() if locking else None)
        evaluation = await _evaluate(
            conn,
            actor,
            redeemables,
            vouchers=vouchers,
            customer=render_customer(customer_row) if customer_row is not None else None,
            order_payload=given(body.order),
            redemption_metadata=given(body.metadata),
            session_key=key,
            sent_metadata=given(payload.metadata) if payload is not None else None,
        )
        applicable = [outcome for outcome in evaluation.outcomes if outcome.applicable]
        inapplicable = [outcome for outcome in evaluation.outcomes if not outcome.applicable]
        valid = bool(applicable) and (mode == "PARTIAL" or not inapplicable)
        answer: dict[str, Any] = {
            "id": ids.validation_id(),
            "valid": valid,
            "redeemables": [
                _redeemable_entry(
                    outcome,
                    actor.request_id,
                    status="APPLICABLE" if outcome.applicable else "INAPPLICABLE",
                )
                for outcome in evaluation.outcomes
            ],
        }
        if inapplicable:
            answer["inapplicable_redeemables"] = [
                _redeemable_entry(outcome, actor.request_id, status="INAPPLICABLE")
                for outcome in inapplicable
            ]
        order = _order_view(evaluation)
        if order is not None:
            answer["order"] = order
        tracking = given(body.tracking_id)
        if tracking is None and customer_row is not None:
            tracking = customer_row["source_id"]
        if tracking is None and payload is not None:  # a customer not stored yet
            tracking = given(payload.source_id)
        answer["tracking_id"] = tracking
        if locking and valid and key is not None:
            for outcome in applicable:
                assert outcome.voucher is not None
                await repository.hold_session(
                    conn,
                    actor.project_id,
                    voucher_id=outcome.voucher["id"],
                    key=key,
                    credits=outcome.credits or 0,
                    points=outcome.points or 0,
                    ttl_seconds=ttl,
                )
            answer["session"] = {
                "key": key,
                "type": "LOCK",
                "ttl": given(session.ttl) if given(session.ttl) is not None else 7,
                "ttl_unit": (given(session.ttl_unit) or "HOURS").upper()
                if given(session.ttl) is not None
                else "DAYS",
            }
        answer["stacking_rules"] = stacking_rules(mode)
    return answer


async def release_session(conn: Connection, project_id: str, code: str, key: str) -> None:
    """Drop what a session reserved on a voucher (`DELETE /v1/vouchers/{code}/sessions/{key}`).
    Raises NotFound for the code, or a session that holds nothing on it."""
    voucher = await vouchers_repository.find(conn, project_id, code)
    if voucher is None:
        raise voucher_not_found(code)
    released = await repository.release_session(conn, project_id, key, voucher_id=voucher["id"])
    if not released:
        raise NotFound(
            f"Cannot find session with key {key} on voucher {code}",
            resource_id=key,
            resource_type="session",
        )


# --- redemptions ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Redeemed:
    """What a redemption stored (records, rendered once its transaction is over)."""

    children: list[dict[str, Any]]
    parent: dict[str, Any] | None
    order: dict[str, Any] | None
    inapplicable: list[Outcome]
    request_id: str

    def answer(self, *, stacked: bool) -> dict[str, Any]:
        if not stacked:
            return render_redemption(self.children[0])
        answer: dict[str, Any] = {
            "redemptions": [render_redemption(row) for row in self.children],
            "parent_redemption": render_redemption(self.parent) if self.parent else None,
            "order": self.order,
        }
        if self.inapplicable:
            answer["inapplicable_redeemables"] = [
                _redeemable_entry(outcome, self.request_id, status="INAPPLICABLE")
                for outcome in self.inapplicable
            ]
        return answer


async def redeem(
    conn: Connection,
    actor: Actor,
    body: RedeemablesRequest,
    *,
    stacked: bool = True,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Redeem the request's codes for its customer (upserted) and order (upserted `PAID`).
    INCENTIVES.md §4.3, §4.5.

    Mode `ALL` (default): every redeemable applies or none does; `PARTIAL`: the applicable ones
    are redeemed and the rest listed in `inapplicable_redeemables` (and stored as failures).
    `stacked`: the answer is `{redemptions, parent_redemption, order, …}`; else (the deprecated
    single-code redeem) the one redemption. Runs its own transactions on a connection outside
    any. Raises InvalidPayload, DuplicatedRedeemables, NotFound (customer id), and the first
    refused redeemable's Refusal (400, or 404 `not_found`) with `resource_id` = its stored
    failed redemption (`rf_…`).
    """
    redeemables = check_redeemables(body)
    mode = application_mode(body)
    careful = False
    for attempt in range(_ATTEMPTS):
        try:
            async with conn.transaction():
                redeemed = await _redeem(
                    conn, actor, body, redeemables, mode, stacked, assets_of, careful
                )
        except Inapplicable as refused:
            stored = await _store_failures(conn, actor, body, refused.evaluation, assets_of)
            first = next(o for o in refused.evaluation.outcomes if o.refusal is not None)
            assert first.refusal is not None
            error = first.refusal
            error.resource_id = stored.get(id(first))
            error.resource_type = "redemption" if error.resource_id else None
            raise error from None
        except (_HoldersMoved, asyncpg.DeadlockDetectedError, asyncpg.CheckViolationError):
            # A card held by someone else, or a code changed (or a card spent) since it was
            # read: again, locking the holders and codes before checking them.
            if attempt == _ATTEMPTS - 1:
                raise
            careful = True
            continue
        return redeemed.answer(stacked=stacked)
    raise AssertionError("unreachable")  # pragma: no cover


async def _lock_people_and_codes(
    conn: Connection,
    actor: Actor,
    payload: CustomerCreate | None,
    keys: list[str],
    *,
    careful: bool,
) -> tuple[dict[str, Any] | None, bool, dict[str, Row], set[str]]:
    """Hold the segments, lock the customer (upserted) and the holders of the codes, then the
    codes; returns the customer as shown, whether the project has auto-update segments, and
    the locked codes.

    At first (`careful` false) the customer is upserted and locked by one statement and the
    codes read by a second, not locked: each is locked by the statement that counts it, just
    before the redemptions are stored, so that a busy code is held for the last few statements
    only; that count is made only if the code is still as checked. When a code is a card held
    by someone else, or changed meanwhile, _HoldersMoved asks for the careful way, which locks
    every holder, then the codes, in the house order (customers by id, then vouchers), before
    checking them."""
    project_id = actor.project_id
    if not careful:
        customer = None
        if payload is not None:
            written = await customer_writes.upsert(
                conn, actor, payload=payload, settle_segments=False
            )
            customer, auto_update = written.customer, written.auto_update
        else:
            auto_update = await customer_writes.hold(conn, project_id)
        # Read, not locked: each code is locked by the statement that counts it, at the end of
        # the redemption, and counted only if still as checked (`apply_redemption`).
        vouchers = await vouchers_repository.find_many(conn, project_id, keys) if keys else {}
        redeemer = customer["id"] if customer is not None else None
        for row in vouchers.values():
            if row["type"] != "DISCOUNT_VOUCHER" and row["holder_id"] not in (None, redeemer):
                raise _HoldersMoved()
        # Codes with a quantity and cards are locked now, before they are checked: what
        # sessions reserve on them, and their balances, are read under the lock.
        limited = [
            key
            for key, row in vouchers.items()
            if row["redemption_quantity"] is not None or row["type"] != "DISCOUNT_VOUCHER"
        ]
        if limited:
            locked = await vouchers_repository.find_many(conn, project_id, limited, for_update=True)
            for key in limited:
                now_locked = locked.get(key)
                if now_locked is None or now_locked["holder_id"] != vouchers[key]["holder_id"]:
                    raise _HoldersMoved()
                vouchers[key] = now_locked
        unlocked = {
            row["id"]
            for row in vouchers.values()
            if row["redemption_quantity"] is None and row["type"] == "DISCOUNT_VOUCHER"
        }
        return customer, auto_update, vouchers, unlocked
    auto_update = await customer_writes.hold(conn, project_id)
    peeked = await vouchers_repository.find_many(conn, project_id, keys) if keys else {}
    to_lock = {row["holder_id"] for row in peeked.values() if row["holder_id"] is not None}
    if payload is not None:
        existing = await customers.existing_id(conn, project_id, payload)
        if existing is not None:
            to_lock.add(existing)
    for customer_id in sorted(to_lock):
        await customer_writes.lock(conn, project_id, customer_id)
    customer = None
    if payload is not None:
        written = await customer_writes.upsert(conn, actor, payload=payload, settle_segments=False)
        customer = written.customer
    vouchers = (
        await vouchers_repository.find_many(conn, project_id, keys, for_update=True) if keys else {}
    )
    for key, row in vouchers.items():
        before = peeked.get(key)
        if before is None or before["holder_id"] != row["holder_id"]:
            raise _HoldersMoved()
    return customer, auto_update, vouchers, set()


async def _redeem(
    conn: Connection,
    actor: Actor,
    body: RedeemablesRequest,
    redeemables: list[Redeemable],
    mode: str,
    stacked: bool,
    assets_of: AssetsOf,
    careful: bool,
) -> _Redeemed:
    project_id = actor.project_id
    payload = _customer_payload(body)
    keys = [item.id for item in redeemables if item.object == "voucher"]
    customer, auto_update, vouchers, unlocked = await _lock_people_and_codes(
        conn, actor, payload, keys, careful=careful
    )
    session_key = _session_key(body)
    order_payload = given(body.order)
    evaluation = await _evaluate(
        conn,
        actor,
        redeemables,
        vouchers=vouchers,
        customer=customer,
        order_payload=order_payload,
        redemption_metadata=given(body.metadata),
        session_key=session_key,
    )
    applicable = [outcome for outcome in evaluation.outcomes if outcome.applicable]
    inapplicable = [outcome for outcome in evaluation.outcomes if not outcome.applicable]
    if not applicable or (inapplicable and mode == "ALL"):
        raise Inapplicable(evaluation)
    customer_id = evaluation.customer_id
    # The order, PAID with the discounts applied, for the redeeming customer: created here
    # when new (its summary and activities move with the redemption's), else upserted.
    order = None
    stored_order: dict[str, Any] | None = None
    counted: int | None = None
    order_activities: list[str] = []
    if order_payload is not None:
        order_body = _order_body(order_payload, evaluation)
        created = await orders.create_new(conn, actor, payload=order_body, customer_id=customer_id)
        if created is not None:
            order_row, order_activities = created
            counted = order_row["counted_amount"] if customer_id is not None else None
            order = render_order(order_row)
            stored_order = dict(order)  # as the order's own activities show it
        else:
            if unlocked:
                raise _HoldersMoved()  # codes before the order, as rollbacks lock them
            if customer_id is not None and isinstance(order_body.customer, type(UNSET)):
                order_body = msgspec.structs.replace(
                    order_body, customer=CustomerCreate(id=customer_id)
                )
            order = await orders.upsert(conn, actor, payload=order_body)
        order.update(_applied(evaluation))
    # The customer's summaries move before the codes are locked when no card they hold is
    # spent (their balances are recomputed after the codes); the count is known already.
    cards_held = any(
        o.voucher is not None and o.voucher["type"] != "DISCOUNT_VOUCHER" and o.voucher["holder_id"]
        for o in applicable
    )
    snapshot = None
    credits_total = sum(outcome.credits or 0 for outcome in applicable)

    async def count() -> dict[str, Any] | None:
        assert customer_id is not None
        return await redemption_writes.count_redemption(
            conn,
            actor,
            customer_id,
            succeeded=len(applicable),
            failed=len(inapplicable),
            gift=credits_total,
            order_amount=counted,
        )

    if customer_id is not None and not cards_held:
        snapshot = await count()
    parent_id = ids.redemption_id() if stacked else None
    channel = _channel(body)
    metadata = given(body.metadata) or {}
    tracking_id = given(body.tracking_id) or (customer["source_id"] if customer else None)
    rows: list[dict[str, Any]] = []
    holders: set[str] = set()
    credits_spent = 0
    source = actor.source.channel
    # The codes are counted in id order (the order every path locks them in); the records
    # keep the request's order.
    redemption_ids = [ids.redemption_id() for _ in applicable]
    afters: dict[int, Row] = {}
    order_of_ids = sorted(range(len(applicable)), key=lambda i: _voucher_id(applicable[i]))
    for index in order_of_ids:
        outcome = applicable[index]
        voucher = outcome.voucher
        assert voucher is not None
        kind = voucher["type"]
        after = await redemption_writes.use_voucher(
            conn,
            actor,
            voucher,
            checked=(voucher["holder_id"], session_key) if voucher["id"] in unlocked else None,
            uses=1,
            credits=outcome.credits or 0,
            points=outcome.points or 0,
            transaction_type=(
                "CREDITS_REDEMPTION"
                if kind == "GIFT_VOUCHER"
                else "POINTS_REDEMPTION"
                if kind == "LOYALTY_CARD"
                else None
            ),
            details={
                "order": {"id": order["id"], "source_id": order["source_id"]} if order else None,
                "redemption": {"id": redemption_ids[index]},
            },
            source=source,
        )
        if after is None:
            raise _HoldersMoved()  # changed since it was checked: check again, locked
        afters[index] = after
    for index, outcome in enumerate(applicable):
        voucher = outcome.voucher
        assert voucher is not None
        redemption_id = redemption_ids[index]
        after = afters[index]
        credits = outcome.credits or 0
        points = outcome.points or 0
        kind = voucher["type"]
        if voucher["holder_id"] is not None and kind != "DISCOUNT_VOUCHER":
            holders.add(voucher["holder_id"])
        credits_spent += credits
        rows.append(
            {
                "id": redemption_id,
                "parent_id": parent_id,
                "customer_id": customer_id,
                "tracking_id": tracking_id,
                "metadata": metadata,
                "channel_type": channel,
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                "related_object_type": "voucher",
                "related_object_id": voucher["id"],
                "voucher_id": voucher["id"],
                "campaign_id": voucher["campaign_id"],
                "holder_id": voucher["holder_id"],
                "amount": credits or points or None,
                "gift_credits": credits if kind == "GIFT_VOUCHER" else None,
                "loyalty_points": points if kind == "LOYALTY_CARD" else None,
                "discount": voucher["discount"],
                "discount_amount": outcome.discount,
                "order_amount": order.get("amount") if order else None,
                "order_id": order["id"] if order else None,
                "order": order,
                "customer": customer_brief(customer),
                "voucher": render_voucher(after, assets_of),
                "session_key": session_key,
            }
        )
    if session_key is not None:
        await repository.release_session(
            conn,
            project_id,
            session_key,
            voucher_ids=[o.voucher["id"] for o in applicable if o.voucher],
        )
    failed_rows = [
        _failure_row(outcome, evaluation, body, actor.request_id, parent_id=parent_id)
        for outcome in inapplicable
    ]
    if stacked:
        rows.insert(
            0,
            {
                "id": parent_id,
                "customer_id": customer_id,
                "tracking_id": tracking_id,
                "metadata": metadata,
                "channel_type": channel,
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                "related_object_type": "redemption",
                "related_object_id": parent_id,
                "amount": credits_spent or None,
                "order_id": order["id"] if order else None,
                "order": order,
                "customer": customer_brief(customer),
                "children": [row["id"] for row in rows],
            },
        )
    # The records, dated here, so that they and their activities go in one statement.
    moment = datetime.now(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    records = [
        {**{name: row.get(name) for name in repository.REDEMPTION_COLUMNS}, "created_at": moment}
        for row in rows + failed_rows
    ]
    by_id = {record["id"]: record for record in records}
    children = [by_id[row["id"]] for row in rows if row["related_object_type"] != "redemption"]
    failures = [by_id[row["id"]] for row in failed_rows]
    changed = await redemption_writes.refresh_balances(conn, actor, sorted(holders))
    items: list[tuple[str, str, dict[str, Any], tuple[str, str] | None]] = []
    if customer_id is not None:
        if cards_held:
            snapshot = await count()
        # Every activity with the customer as the redemption leaves it.
        items = [
            (customer_id, activity_type, {"customer": snapshot, "order": stored_order}, None)
            for activity_type in order_activities
        ]
        for row, outcome in zip(children, applicable, strict=True):
            items.append(
                _activity(row, "customer.redemption.succeeded", snapshot, order, outcome.voucher)
            )
        for row, outcome in zip(failures, inapplicable, strict=True):
            items.append(
                _activity(row, "customer.redemption.failed", snapshot, order, outcome.voucher)
            )
    await redemption_writes.store(conn, actor, records, moment, items)
    await customer_writes.settle(
        conn, actor, [customer_id, *holders, *changed], auto_update=auto_update
    )
    return _Redeemed(
        children=children,
        parent=by_id[parent_id] if parent_id is not None else None,
        order=order,
        inapplicable=inapplicable,
        request_id=actor.request_id,
    )


def _voucher_id(outcome: Outcome) -> str:
    assert outcome.voucher is not None
    voucher_id: str = outcome.voucher["id"]
    return voucher_id


def _campaign_of(voucher: Any) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The campaign an activity names, from a voucher row joined with its campaign."""
    if voucher is None or voucher["campaign_id"] is None:
        return None, None
    brief = {
        "id": voucher["campaign_id"],
        "name": voucher["campaign_name"],
        "campaign_type": voucher["campaign_type"],
        "type": voucher["campaign_mode"],
        "object": "campaign",
    }
    return brief, (voucher["campaign_id"], voucher["campaign_type"])


def _activity(
    row: Any,
    activity_type: str,
    customer: dict[str, Any] | None,
    order: dict[str, Any] | None,
    voucher: Any,
) -> tuple[str, str, dict[str, Any], tuple[str, str] | None]:
    """A redemption's activity on its customer: {customer, order, campaign, voucher, holder,
    redemption} (INCENTIVES.md §4.5), and its campaign for the timeline's filters."""
    campaign, key = _campaign_of(voucher)
    data: dict[str, Any] = {
        "customer": customer,
        "order": order if order is not None else row["order"],
        "campaign": campaign,
        "voucher": row["voucher"],
        "holder": (
            {"id": row["holder_id"], "object": "customer"} if row["holder_id"] is not None else None
        ),
        "redemption": render_redemption(row),
    }
    return row["customer_id"], activity_type, data, key


def _channel(body: RedeemablesRequest) -> str:
    """The redemption's `channel.channel_type`: `API` (the SDKs accept USER, API, AUTO_REDEEM;
    client-side calls are API too)."""
    return "API"


def _order_body(payload: OrderCreate, evaluation: Evaluation) -> OrderCreate:
    """The redemption's order as it is stored: `PAID` unless a status is given, with the
    discounts applied (`discount_amount` on the order and on the items)."""
    basket = evaluation.basket
    changes: dict[str, Any] = {}
    if isinstance(payload.status, type(UNSET)):
        changes["status"] = "PAID"
    if basket.discount:
        changes["discount_amount"] = basket.discount
    if isinstance(payload.items, list) and basket.item_discounts and any(basket.item_discounts):
        changes["items"] = [
            msgspec.structs.replace(item, discount_amount=discount or item.discount_amount)
            for item, discount in zip(payload.items, basket.item_discounts, strict=False)
        ]
    if (
        basket.amount is not None
        and isinstance(payload.amount, type(UNSET))
        and not isinstance(payload.items, list)
    ):
        changes["amount"] = basket.amount
    return msgspec.structs.replace(payload, **changes)


def _applied(evaluation: Evaluation) -> dict[str, Any]:
    """What this request's discounts took off the order (`applied_*`, cents)."""
    return {
        name: value
        for name, value in order_amounts(evaluation.basket, initial=evaluation.initial).items()
        if name.startswith(("applied_", "items_applied_", "total_applied_"))
    }


def _failure_row(
    outcome: Outcome,
    evaluation: Evaluation,
    body: RedeemablesRequest,
    request_id: str,
    *,
    parent_id: str | None,
    blocked_by: Refusal | None = None,
) -> dict[str, Any]:
    """A stored failed redemption (`rf_…`) for one redeemable."""
    refused = outcome.refusal or blocked_by
    assert refused is not None
    voucher = outcome.voucher
    message = str(refused)
    if outcome.refusal is None and blocked_by is not None:
        message = f"Not redeemed: another redeemable was refused ({blocked_by.key})"
    customer = evaluation.customer
    return {
        "id": ids.failed_redemption_id(),
        "parent_id": None,
        "customer_id": evaluation.customer_id,
        "tracking_id": given(body.tracking_id) or (customer["source_id"] if customer else None),
        "metadata": given(body.metadata) or {},
        "channel_type": _channel(body),
        "result": "FAILURE",
        "status": "FAILED",
        "failure_code": refused.key,
        "failure_message": message,
        "error": _error_of(refused, request_id),
        "related_object_type": "promotion_tier"
        if outcome.item.object == "promotion_tier"
        else "voucher",
        "related_object_id": voucher["id"] if voucher is not None else outcome.item.id,
        "voucher_id": voucher["id"] if voucher is not None else None,
        "campaign_id": voucher["campaign_id"] if voucher is not None else None,
        "holder_id": voucher["holder_id"] if voucher is not None else None,
        "customer": customer_brief(customer),
        "voucher": render_voucher(voucher) if voucher is not None else None,
        "order": _order_view(evaluation),
    }


async def _store_failures(
    conn: Connection,
    actor: Actor,
    body: RedeemablesRequest,
    evaluation: Evaluation,
    assets_of: AssetsOf,
) -> dict[int, str]:
    """Store a refused redemption: one failed redemption per redeemable, counted on the
    customer (upserted) with `customer.redemption.failed`, in a transaction of its own.
    Returns the failure id per outcome (by `id(outcome)`)."""
    first = next(o.refusal for o in evaluation.outcomes if o.refusal is not None)
    assert first is not None
    stored: dict[int, str] = {}
    try:
        async with conn.transaction():
            auto_update = await customer_writes.hold(conn, actor.project_id)
            payload = _customer_payload(body)
            customer_id = None
            snapshot = None
            if payload is not None:
                written = await customer_writes.upsert(
                    conn, actor, payload=payload, settle_segments=False
                )
                customer_id = written.id
                await customer_writes.lock(conn, actor.project_id, customer_id)
                snapshot = await customers.snapshot(conn, actor.project_id, customer_id)
            evaluation.customer_id = customer_id
            evaluation.customer = snapshot
            rows = []
            for outcome in evaluation.outcomes:
                row = _failure_row(
                    outcome, evaluation, body, actor.request_id, parent_id=None, blocked_by=first
                )
                stored[id(outcome)] = row["id"]
                rows.append(row)
            inserted = await repository.insert_redemptions(conn, actor.project_id, rows)
            if customer_id is not None:
                await redemption_writes.count(conn, actor, customer_id, failed=len(inserted))
                for failure in inserted:
                    await _record(
                        conn, actor, "customer.redemption.failed", failure, snapshot, None
                    )
                await customer_writes.settle(conn, actor, [customer_id], auto_update=auto_update)
    except APIError:
        return {}
    return stored


async def _record(
    conn: Connection,
    actor: Actor,
    activity_type: str,
    row: Any,
    customer: dict[str, Any] | None,
    order: dict[str, Any] | None,
    *,
    rollback: Any = None,
) -> None:
    """A redemption's (or rollback's) activity on its customer: {customer, order, campaign,
    voucher, holder, redemption[, redemption_rollback]} (INCENTIVES.md §4.5)."""
    if row["customer_id"] is None:
        return
    voucher = row["voucher"]
    campaign = None
    key = None
    if voucher is not None and voucher.get("campaign_id") is not None:
        campaign_row = await campaigns_repository.find(
            conn, actor.project_id, voucher["campaign_id"]
        )
        if campaign_row is not None:
            campaign = {
                "id": campaign_row["id"],
                "name": campaign_row["name"],
                "campaign_type": campaign_row["campaign_type"],
                "type": campaign_row["type"],
                "object": "campaign",
            }
            key = (campaign_row["id"], campaign_row["campaign_type"])
    data: dict[str, Any] = {
        "customer": customer,
        "order": order if order is not None else row["order"],
        "campaign": campaign,
        "voucher": voucher,
        "holder": None,
        "redemption": render_redemption(row) if rollback is None else None,
    }
    if voucher is not None and voucher.get("holder_id") is not None:
        data["holder"] = {"id": voucher["holder_id"], "object": "customer"}
    if rollback is not None:
        data["redemption"] = render_redemption(row)
        data["redemption_rollback"] = render_rollback(rollback)
    await activities.record(
        conn,
        actor,
        customer_id=row["customer_id"],
        activity_type=activity_type,
        data=data,
        campaign=key,
    )


# --- reading redemptions -------------------------------------------------------------------


async def get(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """A redemption (`r_`, `rf_`) or a rollback (`rr_`, `rrf_`) by id. Raises NotFound."""
    row = await repository.find(conn, project_id, key)
    if row is not None:
        rollbacks = await repository.rollbacks_of(conn, project_id, [row["id"]])
        return render_redemption(row, rollbacks=rollbacks.get(row["id"]))
    rollback = await repository.find_rollback(conn, project_id, key)
    if rollback is not None:
        return render_rollback(rollback)
    raise redemption_not_found(key)


async def list_redemptions(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    page: int,
) -> dict[str, Any]:
    """A page of redemptions (stacked parents left out), newest first by default."""
    rows = await repository.list_page(
        conn, project_id, filters=filters, order=order, limit=limit, offset=(page - 1) * limit
    )
    rollbacks = await repository.rollbacks_of(conn, project_id, [row["id"] for row in rows])
    return {
        "object": "list",
        "data_ref": "redemptions",
        "redemptions": [render_redemption(row, rollbacks=rollbacks.get(row["id"])) for row in rows],
        "total": await repository.count(conn, project_id, filters=filters),
    }


async def voucher_redemptions(conn: Connection, project_id: str, code: str) -> dict[str, Any]:
    """`GET /v1/vouchers/{code}/redemption`: the code's redemptions and rollbacks, oldest first.
    Raises NotFound."""
    voucher = await vouchers_repository.find(conn, project_id, code)
    if voucher is None:
        raise voucher_not_found(code)
    entries = await repository.voucher_entries(conn, project_id, voucher["id"])
    redemption_rows = await repository.find_many(
        conn, project_id, [e["id"] for e in entries if e["kind"] == "redemption"]
    )
    rollback_rows = await repository.rollbacks_by_ids(
        conn, project_id, [e["id"] for e in entries if e["kind"] != "redemption"]
    )
    rollbacks = await repository.rollbacks_of(conn, project_id, [r["id"] for r in redemption_rows])
    rendered = {
        row["id"]: render_redemption(row, rollbacks=rollbacks.get(row["id"]))
        for row in redemption_rows
    }
    rendered.update({row["id"]: render_rollback(row) for row in rollback_rows})
    return {
        "quantity": voucher["redemption_quantity"],
        "redeemed_quantity": voucher["redeemed_quantity"],
        "object": "list",
        "url": f"/v1/vouchers/{voucher['code']}/redemption",
        "data_ref": "redemption_entries",
        "total": len(entries),
        "redemption_entries": [rendered[e["id"]] for e in entries if e["id"] in rendered],
    }


# --- rollbacks -----------------------------------------------------------------------------


@dataclass(slots=True)
class _RollbackRequest:
    reason: str | None
    tracking_id: str | None
    body: RollbackBody | None


async def rollback(
    conn: Connection,
    actor: Actor,
    redemption_id: str,
    *,
    reason: str | None,
    tracking_id: str | None,
    body: RollbackBody | None,
    stacked: bool,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Roll back a redemption (`POST /v1/redemptions/{id}/rollback`) or every child of a
    stacked one (`POST /v1/redemptions/{parentId}/rollbacks`, `stacked`). INCENTIVES.md §4.4.

    Gives back exactly what it took (a use, the credits, the points), sets its order
    `CANCELED`, moves the customer's counters, records
    `customer.redemption.rollback.succeeded`. Runs its own transactions on a connection outside
    any. Raises NotFound, MultipleRequests (a concurrent rollback of it), InvalidPayload, and
    the RollbackRefused errors (`already_rolled_back`, `invalid_redemption`,
    `invalid_redemption_parent`, `invalid_customer`, `invalid_order`), each stored first as a
    failed rollback (`rrf_…`, its `resource_id`)."""
    request = _RollbackRequest(reason, tracking_id, body)
    for attempt in range(_ATTEMPTS):
        try:
            async with conn.transaction():
                return await _rollback(conn, actor, redemption_id, request, stacked, assets_of)
        except RollbackRefused as refused:
            failure_id = await _store_rollback_failure(conn, actor, redemption_id, request, refused)
            if failure_id is not None:
                refused.resource_id = failure_id
                refused.resource_type = "redemption_rollback"
            raise
        except asyncpg.LockNotAvailableError:
            concurrent = MultipleRequests(
                f"Redemption {redemption_id} is being rolled back by another request"
            )
            failure_id = await _store_rollback_failure(
                conn, actor, redemption_id, request, concurrent
            )
            if failure_id is not None:
                concurrent.resource_id = failure_id
                concurrent.resource_type = "redemption_rollback"
            raise concurrent from None
        except (_HoldersMoved, asyncpg.DeadlockDetectedError):
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _targets(
    conn: Connection, project_id: str, redemption_id: str, stacked: bool
) -> tuple[Any, list[Any]]:
    """The redemption named and the ones the rollback undoes (its children when stacked)."""
    row = await repository.find(conn, project_id, redemption_id)
    if row is None:
        raise redemption_not_found(redemption_id)
    if row["result"] != "SUCCESS":
        raise rollback_refusal(
            "invalid_redemption",
            "Invalid redemption",
            f"Redemption {redemption_id} failed: there is nothing to roll back",
        )
    is_parent = row["related_object_type"] == "redemption"
    if stacked and not is_parent:
        raise rollback_refusal(
            "invalid_redemption_parent",
            "Invalid redemption parent",
            f"Redemption {redemption_id} is not a stacked redemption: use"
            f" POST /v1/redemptions/{redemption_id}/rollback",
        )
    if not stacked and (is_parent or row["parent_id"] is not None):
        raise rollback_refusal(
            "invalid_redemption",
            "Invalid redemption",
            f"Redemption {redemption_id} is part of a stacked redemption: roll back its parent"
            f" with POST /v1/redemptions/{row['parent_id'] or redemption_id}/rollbacks",
        )
    children = (
        await repository.find_many(conn, project_id, row["children"] or []) if is_parent else [row]
    )
    return row, children


def _check_rollback(row: Any, children: list[Any], request: _RollbackRequest) -> None:
    now = datetime.now(UTC)
    if any(child["status"] == "ROLLED_BACK" for child in children) or (
        row["status"] == "ROLLED_BACK"
    ):
        raise rollback_refusal(
            "already_rolled_back",
            "Already rolled back",
            f"Redemption {row['id']} has been rolled back already",
        )
    if row["created_at"] < now - timedelta(days=ROLLBACK_WINDOW_DAYS):
        raise rollback_refusal(
            "invalid_redemption",
            "Invalid redemption",
            f"Redemption {row['id']} is older than 3 months: it can no longer be rolled back",
        )
    body = request.body
    if body is None:
        return
    customer = given(body.customer)
    if isinstance(customer, CustomerCreate):
        named = given(customer.id) or given(customer.source_id)
        known = row["customer"] or {}
        if named is not None and named not in (row["customer_id"], known.get("source_id")):
            raise rollback_refusal(
                "invalid_customer",
                "Invalid customer",
                f"Redemption {row['id']} was not made by customer {named}",
            )
    order = given(body.order)
    if isinstance(order, OrderCreate):
        named = given(order.id) or given(order.source_id)
        known = row["order"] or {}
        if named is not None and named not in (known.get("id"), known.get("source_id")):
            raise rollback_refusal(
                "invalid_order", "Invalid order", f"Redemption {row['id']} has no order {named}"
            )


async def _rollback(
    conn: Connection,
    actor: Actor,
    redemption_id: str,
    request: _RollbackRequest,
    stacked: bool,
    assets_of: AssetsOf,
) -> dict[str, Any]:
    project_id = actor.project_id
    row, children = await _targets(conn, project_id, redemption_id, stacked)
    _check_rollback(row, children, request)
    auto_update = await customer_writes.hold(conn, project_id)
    voucher_ids = sorted({child["voucher_id"] for child in children if child["voucher_id"]})
    peeked = await vouchers_repository.find_many(conn, project_id, voucher_ids)
    people = {row["customer_id"]} | {v["holder_id"] for v in peeked.values()}
    for customer_id in sorted(key for key in people if key is not None):
        await customer_writes.lock(conn, project_id, customer_id)
    locked = await repository.lock_many(
        conn, project_id, [row["id"], *(c["id"] for c in children if c["id"] != row["id"])]
    )
    if not locked:
        raise redemption_not_found(redemption_id)
    row = locked[0]
    children = [r for r in locked if r["related_object_type"] != "redemption"]
    _check_rollback(row, children, request)  # again, under the locks
    vouchers = await vouchers_repository.find_many(conn, project_id, voucher_ids, for_update=True)
    for key, voucher in vouchers.items():
        if peeked.get(key) is None or peeked[key]["holder_id"] != voucher["holder_id"]:
            raise _HoldersMoved()
    body = request.body
    metadata = given(body.metadata) if body is not None else None
    order = None
    if row["order_id"] is not None:
        order = await orders.update(
            conn, actor, row["order_id"], payload=OrderUpdate(status="CANCELED")
        )
    customer_id = row["customer_id"]
    snapshot_before = (
        await customers.snapshot(conn, project_id, customer_id) if customer_id else None
    )
    parent_rollback_id = ids.rollback_id() if stacked else None
    rows: list[dict[str, Any]] = []
    holders: set[str] = set()
    credits_back = 0
    points_back = 0
    source = actor.source.channel
    for child in children:
        used = vouchers.get(child["voucher_id"]) if child["voucher_id"] else None
        rollback_id = ids.rollback_id()
        credits = child["gift_credits"] or 0
        points = child["loyalty_points"] or 0
        rendered_voucher = child["voucher"]
        if used is not None:
            voucher = used
            after = await redemption_writes.use_voucher(
                conn,
                actor,
                voucher,
                uses=-1,
                credits=-credits,
                points=-points,
                transaction_type=(
                    "CREDITS_REFUND"
                    if voucher["type"] == "GIFT_VOUCHER"
                    else "POINTS_REFUND"
                    if voucher["type"] == "LOYALTY_CARD"
                    else None
                ),
                details={
                    "order": {"id": order["id"], "source_id": order["source_id"]}
                    if order
                    else None,
                    "redemption": {"id": child["id"]},
                    "rollback": {"id": rollback_id},
                },
                source=source,
            )
            rendered_voucher = render_voucher(after, assets_of)
            if voucher["holder_id"] is not None and voucher["type"] != "DISCOUNT_VOUCHER":
                holders.add(voucher["holder_id"])
        credits_back += credits
        points_back += points
        rows.append(
            {
                "id": rollback_id,
                "redemption_id": child["id"],
                "parent_id": parent_rollback_id,
                "customer_id": customer_id,
                "tracking_id": request.tracking_id or child["tracking_id"],
                "reason": request.reason,
                "metadata": metadata if metadata is not None else child["metadata"],
                "channel_type": "API",
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                "related_object_type": child["related_object_type"],
                "related_object_id": child["related_object_id"],
                "voucher_id": child["voucher_id"],
                "campaign_id": child["campaign_id"],
                "amount": -(credits or points) if (credits or points) else None,
                "gift_credits": -credits if child["gift_credits"] is not None else None,
                "loyalty_points": -points if child["loyalty_points"] is not None else None,
                "order_id": row["order_id"],
                "order": order if order is not None else child["order"],
                "customer": child["customer"],
                "voucher": rendered_voucher,
            }
        )
    if stacked:
        rows.insert(
            0,
            {
                "id": parent_rollback_id,
                "redemption_id": row["id"],
                "customer_id": customer_id,
                "tracking_id": request.tracking_id or row["tracking_id"],
                "reason": request.reason,
                "metadata": metadata if metadata is not None else row["metadata"],
                "channel_type": "API",
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                "related_object_type": "redemption",
                "related_object_id": row["id"],
                "amount": -credits_back if credits_back else None,
                "order_id": row["order_id"],
                "order": order if order is not None else row["order"],
                "customer": row["customer"],
                "children": [r["id"] for r in rows],
            },
        )
    await repository.mark_rolled_back(conn, project_id, [row["id"], *(c["id"] for c in children)])
    stored = await repository.insert_rollbacks(conn, project_id, rows)
    by_id = {r["id"]: r for r in stored}
    child_rollbacks = [by_id[r["id"]] for r in rows if r["related_object_type"] != "redemption"]
    changed = await redemption_writes.refresh_balances(conn, actor, sorted(holders))
    if customer_id is not None:
        await redemption_writes.count(
            conn,
            actor,
            customer_id,
            rollbacks_succeeded=len(child_rollbacks),
            gift=-credits_back,
            points=-points_back,
        )
        snapshot = await customers.snapshot(conn, project_id, customer_id) or snapshot_before
        refreshed = await repository.find_many(conn, project_id, [c["id"] for c in children])
        for child, rolled in zip(refreshed, child_rollbacks, strict=True):
            await _record(
                conn,
                actor,
                "customer.redemption.rollback.succeeded",
                child,
                snapshot,
                order,
                rollback=rolled,
            )
    await customer_writes.settle(
        conn, actor, [customer_id, *holders, *changed], auto_update=auto_update
    )
    if not stacked:
        return render_rollback(child_rollbacks[0])
    return {
        "rollbacks": [render_rollback(r) for r in child_rollbacks],
        "parent_rollback": render_rollback(by_id[parent_rollback_id])
        if parent_rollback_id
        else None,
        "order": order,
    }


async def _store_rollback_failure(
    conn: Connection,
    actor: Actor,
    redemption_id: str,
    request: _RollbackRequest,
    refused: RollbackRefused,
) -> str | None:
    """Store a refused rollback (`rrf_…`), count it on the redemption's customer with
    `customer.redemption.rollback.failed`, in a transaction of its own; its id, or None when
    the redemption is unknown."""
    try:
        async with conn.transaction():
            row = await repository.find(conn, actor.project_id, redemption_id)
            if row is None:
                return None
            auto_update = await customer_writes.hold(conn, actor.project_id)
            customer_id = row["customer_id"]
            if customer_id is not None:
                await customer_writes.lock(conn, actor.project_id, customer_id)
            failure = {
                "id": ids.failed_rollback_id(),
                "redemption_id": row["id"],
                "customer_id": customer_id,
                "tracking_id": request.tracking_id or row["tracking_id"],
                "reason": request.reason,
                "metadata": row["metadata"],
                "channel_type": "API",
                "result": "FAILURE",
                "status": "FAILED",
                "failure_code": refused.key,
                "failure_message": str(refused),
                "related_object_type": row["related_object_type"],
                "related_object_id": row["related_object_id"],
                "voucher_id": row["voucher_id"],
                "campaign_id": row["campaign_id"],
                "order_id": row["order_id"],
                "order": row["order"],
                "customer": row["customer"],
                "voucher": row["voucher"],
            }
            [stored] = await repository.insert_rollbacks(conn, actor.project_id, [failure])
            if customer_id is not None:
                # Counted even for a deleted customer, as their successful rollbacks are.
                await redemption_writes.count(conn, actor, customer_id, rollbacks_failed=1)
            if customer_id is not None and await find_by_id(conn, actor.project_id, customer_id):
                snapshot = await customers.snapshot(conn, actor.project_id, customer_id)
                await _record(
                    conn,
                    actor,
                    "customer.redemption.rollback.failed",
                    row,
                    snapshot,
                    None,
                    rollback=stored,
                )
                await customer_writes.settle(conn, actor, [customer_id], auto_update=auto_update)
            failure_id: str = stored["id"]
            return failure_id
    except APIError:
        return None
