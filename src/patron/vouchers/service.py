"""Vouchers: create (with a code, or generated), read, change, delete, list; their balances and
transactions; and the generation of a campaign's codes. INCENTIVES.md §1.

Every function takes the request's connection, in a transaction where it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET

from patron.activities.service import Actor
from patron.campaigns import repository as campaigns_repository
from patron.campaigns.schemas import InvalidCampaign, campaign_not_found
from patron.db.pool import Connection
from patron.errors import InvalidCodeConfig, InvalidPayload, NotFound
from patron.kit import ids
from patron.validation_rules import service as validation_rules
from patron.vouchers import codes, repository
from patron.vouchers.repository import Row
from patron.vouchers.schemas import (
    AssetsOf,
    BalanceUpdate,
    CampaignVoucherCreate,
    DuplicateFound,
    InvalidVoucher,
    VoucherCreate,
    VoucherFields,
    VoucherUpdate,
    discount_dict,
    given,
    no_assets,
    render_transaction,
    render_voucher,
    voucher_not_found,
    whole,
)
from patron.writes import customers as customer_writes
from patron.writes import vouchers as voucher_writes

# Codes inserted per statement when a campaign's codes are generated.
GENERATION_BATCH = 10_000
# A batch of generated codes is inserted without ON CONFLICT first (`insert_generated`'s
# `plain_first`) when it is this large and drawn from a space this vast: meeting a code that
# is taken is then rare (10,000 new codes among 10,000,000 taken ones of 10**12 meet one 10% of
# the time), so the retry it costs is too.
_PLAIN_INSERT_BATCH = 1000
_PLAIN_INSERT_CAPACITY = 10**12
# Draws of a fresh batch after collisions with codes already taken, before giving up.
_GENERATION_ROUNDS = 20

LIST_ORDERS = frozenset(repository.ORDERINGS)


def _validity_values(body: Any) -> dict[str, Any]:
    """The validity columns a body sets (null clears)."""
    values: dict[str, Any] = {}
    for name in ("start_date", "expiration_date"):
        value = getattr(body, name, UNSET)
        if value is not UNSET:
            values[name] = value
    for name in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
        value = getattr(body, name, UNSET)
        if value is not UNSET:
            values[name] = None if value is None else msgspec.to_builtins(value)
    return values


def template_values(template: dict[str, Any]) -> dict[str, Any]:
    """The columns of a new voucher made from a campaign's stored template (`voucher`)."""
    kind = template["type"]
    values: dict[str, Any] = {
        "type": kind,
        "is_referral_code": bool(template.get("is_referral_code")),
        "redemption_quantity": (template.get("redemption") or {}).get("quantity"),
    }
    if kind == "DISCOUNT_VOUCHER":
        values["discount"] = template.get("discount")
    elif kind == "GIFT_VOUCHER":
        gift = template.get("gift") or {}
        amount = int(gift.get("amount") or 0)
        values.update(
            gift_amount=amount,
            gift_subtracted=0,
            gift_effect=gift.get("effect") or "APPLY_TO_ORDER",
            balance=amount,
        )
    else:
        points = int((template.get("loyalty_card") or {}).get("points") or 0)
        values.update(
            loyalty_points=points,
            loyalty_subtracted=0,
            loyalty_expired=0,
            loyalty_pending=0,
            balance=points,
        )
    return values


def campaign_values(campaign: Row) -> dict[str, Any]:
    """What a campaign gives each code it makes: its template, dates and category."""
    values = template_values(campaign["voucher"])
    values["campaign_id"] = campaign["id"]
    values["category"] = campaign["category"]
    for name in (
        "start_date",
        "expiration_date",
        "validity_timeframe",
        "validity_day_of_week",
        "validity_hours",
    ):
        values[name] = campaign[name]
    return values


def _body_values(body: VoucherFields, kind: str) -> dict[str, Any]:
    """The columns a voucher body sets, for a voucher of type `kind`."""
    values = _validity_values(body)
    for name in ("category", "additional_info"):
        value = getattr(body, name)
        if value is not UNSET:
            values[name] = value
    if body.active is not UNSET and body.active is not None:
        values["active"] = body.active
    if body.metadata is not UNSET:
        values["metadata"] = body.metadata or {}
    if isinstance(body.redemption, msgspec.Struct) and body.redemption.quantity is not UNSET:
        values["redemption_quantity"] = body.redemption.quantity
    if body.discount is not UNSET and body.discount is not None:
        if kind != "DISCOUNT_VOUCHER":
            raise InvalidVoucher(f"A {kind} has no discount")
        values["discount"] = discount_dict(body.discount)
    if body.gift is not UNSET and body.gift is not None:
        if kind != "GIFT_VOUCHER":
            raise InvalidVoucher(f"A {kind} has no gift")
        if body.gift.effect is not UNSET and body.gift.effect is not None:
            values["gift_effect"] = body.gift.effect
    return values


def _new_gift(body: VoucherFields) -> dict[str, Any]:
    gift = body.gift
    amount = given(gift.amount) if isinstance(gift, msgspec.Struct) else None
    if amount is None:
        raise InvalidVoucher("A GIFT_VOUCHER needs gift.amount (credits, in cents)")
    credits = whole(amount, ".gift.amount")
    effect = given(gift.effect) if isinstance(gift, msgspec.Struct) else None
    return {
        "gift_amount": credits,
        "gift_subtracted": 0,
        "gift_effect": effect or "APPLY_TO_ORDER",
        "balance": credits,
    }


def _own_balance(body: VoucherFields, kind: str) -> dict[str, Any]:
    """The credits (cents) or points a card joining a campaign brings instead of the
    template's: an imported gift card's `gift.amount`, a loyalty card's `loyalty_card.points`."""
    if kind == "GIFT_VOUCHER" and isinstance(body.gift, msgspec.Struct):
        amount = given(body.gift.amount)
        if amount is not None:
            credits = whole(amount, ".gift.amount")
            return {"gift_amount": credits, "balance": credits}
    if kind == "LOYALTY_CARD" and isinstance(body.loyalty_card, msgspec.Struct):
        points = given(body.loyalty_card.points)
        if points is not None:
            return {"loyalty_points": points, "balance": points}
    return {}


async def _campaign_of(conn: Connection, project_id: str, body: VoucherCreate) -> Row | None:
    key = given(body.campaign_id) or given(body.campaign)
    if key is None:
        return None
    campaign = await campaigns_repository.find(conn, project_id, key)
    if campaign is None:
        raise campaign_not_found(key)
    return campaign


async def _check_standalone_is_empty(conn: Connection, project_id: str, campaign: Row) -> None:
    """Refuse a second code in a STANDALONE campaign. The campaign's row lock, held to the end
    of the transaction, makes concurrent creations wait for each other: two cannot both find
    the campaign empty."""
    if campaign["type"] != "STANDALONE":
        return
    if await campaigns_repository.find(conn, project_id, campaign["id"], for_update=True) is None:
        raise campaign_not_found(campaign["id"])  # binned meanwhile
    if await campaigns_repository.vouchers_count(conn, project_id, campaign["id"]):
        raise InvalidCampaign(f"Campaign {campaign['name']} is STANDALONE and already has its code")


async def create(
    conn: Connection,
    actor: Actor,
    *,
    body: VoucherCreate,
    code: str | None,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Create a voucher with `code` (or `body.code`), or a generated one (`body.code_config`),
    standalone or in the campaign the body names (whose template it takes). INCENTIVES.md §1.1.

    Raises NotFound (campaign), DuplicateFound (409: the code is taken), InvalidVoucher,
    InvalidCampaign (a standalone campaign that already has its code), InvalidCodeConfig."""
    campaign = await _campaign_of(conn, actor.project_id, body)
    requested_type = given(body.type)
    if campaign is not None:
        await _check_standalone_is_empty(conn, actor.project_id, campaign)
        values = campaign_values(campaign)
        if requested_type is not None and requested_type != values["type"]:
            raise InvalidVoucher(
                f"Campaign {campaign['name']} makes {values['type']}, not {requested_type}"
            )
        kind = values["type"]
        values.update(_own_balance(body, kind))
        config = campaign["voucher"]["code_config"]
    else:
        kind = requested_type or "DISCOUNT_VOUCHER"
        if kind == "LOYALTY_CARD":
            raise InvalidVoucher("A LOYALTY_CARD belongs to a loyalty campaign: name it")
        values = {"type": kind}
        if kind == "GIFT_VOUCHER":
            values.update(_new_gift(body))
        elif not isinstance(body.discount, msgspec.Struct):
            raise InvalidVoucher("A DISCOUNT_VOUCHER needs a discount")
        config = codes.effective_code_config(
            msgspec.to_builtins(body.code_config)
            if isinstance(body.code_config, msgspec.Struct)
            else None
        )
        values["code_config"] = config
    values.update(_body_values(body, kind))
    if body.metadata is UNSET or body.metadata is None:
        values["metadata"] = {}
    rule_ids = _rule_ids(body)
    await validation_rules.check_rules_exist(conn, actor.project_id, rule_ids)
    explicit = code if code is not None else given(body.code)
    if explicit is not None:
        values["code"] = explicit
        row = await repository.insert(conn, actor.project_id, ids.voucher_id(), values)
        if row is None:
            raise DuplicateFound(
                f"Duplicated voucher code {explicit}",
                resource_id=explicit,
                resource_type="voucher",
            )
    else:
        row = await _insert_generated_one(conn, actor.project_id, config, values)
    return await _with_rules(conn, actor.project_id, row, assets_of, rule_ids)


# --- validation rules (INCENTIVES.md §3): `validation_rules` assigns, the object shows them ---


def _rule_ids(body: VoucherFields) -> list[str]:
    return list(body.validation_rules) if isinstance(body.validation_rules, list) else []


async def _with_rules(
    conn: Connection, project_id: str, row: Row, assets_of: AssetsOf, rule_ids: Sequence[str]
) -> dict[str, Any]:
    """The voucher object with its `validation_rules_assignments`, after assigning `rule_ids`
    (checked to exist) to it."""
    if rule_ids:
        await validation_rules.assign_rules(
            conn,
            project_id,
            rule_ids=rule_ids,
            related_object_type="voucher",
            related_object_id=row["id"],
        )
    voucher = render_voucher(row, assets_of)
    voucher["validation_rules_assignments"] = await validation_rules.assignments_of(
        conn, project_id, row["id"]
    )
    return voucher


async def _insert_generated_one(
    conn: Connection, project_id: str, config: dict[str, Any], values: dict[str, Any]
) -> Row:
    for _ in range(_GENERATION_ROUNDS):
        values["code"] = codes.generate(config, 1)[0]
        row = await repository.insert(conn, project_id, ids.voucher_id(), values)
        if row is not None:
            return row
    raise InvalidCodeConfig("code_config yields no free code: every code it made is taken")


def campaign_voucher_overrides(body: CampaignVoucherCreate) -> dict[str, Any]:
    """The columns a POST /v1/campaigns/{id}/vouchers body sets over the campaign's template:
    dates, category, additional_info, metadata, redemption quantity, and the effective
    `code_config` its codes are generated by (when it gives one). Raises InvalidCodeConfig."""
    values = _validity_values(body)
    for name in ("category", "additional_info"):
        value = getattr(body, name)
        if value is not UNSET:
            values[name] = value
    values["metadata"] = given(body.metadata) or {}
    if isinstance(body.redemption, msgspec.Struct) and body.redemption.quantity is not UNSET:
        values["redemption_quantity"] = body.redemption.quantity
    if isinstance(body.code_config, msgspec.Struct):
        values["code_config"] = codes.effective_code_config(msgspec.to_builtins(body.code_config))
    return values


async def add_to_campaign(
    conn: Connection,
    actor: Actor,
    *,
    campaign_key: str,
    body: CampaignVoucherCreate,
    code: str | None,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Add one voucher to a campaign, with `code` or a generated one (the body's code_config,
    else the campaign's). INCENTIVES.md §1.1. Raises NotFound, DuplicateFound, InvalidCampaign."""
    campaign = await campaigns_repository.find(conn, actor.project_id, campaign_key)
    if campaign is None:
        raise campaign_not_found(campaign_key)
    await _check_standalone_is_empty(conn, actor.project_id, campaign)
    values = {**campaign_values(campaign), **campaign_voucher_overrides(body)}
    if code is not None:
        values.pop("code_config", None)  # it only says how codes are generated
        values["code"] = code
        row = await repository.insert(conn, actor.project_id, ids.voucher_id(), values)
        if row is None:
            raise DuplicateFound(
                f"Duplicated voucher code {code}", resource_id=code, resource_type="voucher"
            )
        return render_voucher(row, assets_of)
    config = values.get("code_config") or campaign["voucher"]["code_config"]
    return render_voucher(
        await _insert_generated_one(conn, actor.project_id, config, values), assets_of
    )


async def generate_for_campaign(
    conn: Connection,
    project_id: str,
    campaign: Row,
    count: int,
    *,
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """Insert `count` new codes into a campaign, made by `extra`'s code_config or else the
    campaign's, each with the template's columns and then `extra`'s, retrying codes that are
    taken; returns them. Raises InvalidCodeConfig when the config runs out of free codes."""
    extra = extra or {}
    config = extra.get("code_config") or campaign["voucher"]["code_config"]
    values = {**campaign_values(campaign), "metadata": {}, **extra}
    vast = codes.capacity(config) >= _PLAIN_INSERT_CAPACITY
    made: list[str] = []
    rounds = 0
    while len(made) < count:
        batch = codes.generate(config, count - len(made))
        inserted = await repository.insert_generated(
            conn,
            project_id,
            ids=ids.voucher_ids(len(batch)),
            codes=batch,
            values=values,
            plain_first=vast and rounds == 0 and len(batch) >= _PLAIN_INSERT_BATCH,
        )
        made.extend(inserted)
        if len(inserted) < len(batch):
            rounds += 1
            if rounds > _GENERATION_ROUNDS:
                raise InvalidCodeConfig(
                    f"code_config yields too few free codes: {len(made)} of {count} were made"
                )
    return made


async def get(
    conn: Connection, project_id: str, key: str, *, assets_of: AssetsOf = no_assets
) -> dict[str, Any]:
    """The voucher with this code or id. Raises NotFound."""
    row = await repository.find(conn, project_id, key)
    if row is None:
        raise voucher_not_found(key)
    return await _with_rules(conn, project_id, row, assets_of, ())


async def update(
    conn: Connection,
    actor: Actor,
    *,
    key: str,
    body: VoucherUpdate,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Change the fields sent (null clears a date or window). The type cannot change; the
    Python SDK always sends `type: DISCOUNT_VOUCHER`, which is ignored on other cards
    (INCENTIVES.md §10). Gift `amount` and loyalty `points` change only through the balance.
    Raises NotFound, InvalidVoucher."""
    auto_update = await customer_writes.hold(conn, actor.project_id)
    row = await voucher_writes.lock_voucher_and_holder(conn, actor.project_id, key)
    kind = row["type"]
    requested = given(body.type)
    if requested is not None and requested != kind and requested != "DISCOUNT_VOUCHER":
        raise InvalidVoucher(f"Voucher {row['code']} is a {kind}; its type cannot change")
    if body.discount is not UNSET and body.discount is not None and kind == "DISCOUNT_VOUCHER":
        stored = row["discount"] or {}
        if body.discount.type != stored.get("type"):
            raise InvalidVoucher("A discount's type cannot change")
    if kind != "DISCOUNT_VOUCHER" and body.discount is not UNSET and body.discount is not None:
        raise InvalidVoucher(f"A {kind} has no discount")
    values = _body_values(body, kind)
    if isinstance(body.unset_metadata_fields, list) and body.unset_metadata_fields:
        metadata = dict(values.get("metadata", row["metadata"]))
        for name in body.unset_metadata_fields:
            metadata.pop(name, None)
        values["metadata"] = metadata
    elif "metadata" in values:
        values["metadata"] = {**row["metadata"], **values["metadata"]}
    rule_ids = _rule_ids(body)
    await validation_rules.check_rules_exist(conn, actor.project_id, rule_ids)
    updated = await repository.update(conn, actor.project_id, row["id"], values)
    del auto_update  # balances do not change on update
    return await _with_rules(conn, actor.project_id, updated, assets_of, rule_ids)


async def set_active(
    conn: Connection,
    actor: Actor,
    *,
    key: str,
    active: bool,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Enable or disable a voucher; returns it. Raises NotFound."""
    row = await repository.find(conn, actor.project_id, key, for_update=True)
    if row is None:
        raise voucher_not_found(key)
    updated = await repository.update(conn, actor.project_id, row["id"], {"active": active})
    return render_voucher(updated, assets_of)


async def delete(conn: Connection, actor: Actor, *, key: str, force: bool) -> None:
    """Delete a voucher (to the bin, or for good with `force`); its holder's balances follow.
    Raises NotFound."""
    auto_update = await customer_writes.hold(conn, actor.project_id)
    row = await voucher_writes.lock_voucher_and_holder(conn, actor.project_id, key)
    await repository.remove(conn, actor.project_id, row["id"], force=force)
    if row["holder_id"] is not None:
        await voucher_writes.release_held(conn, actor, [row["holder_id"]], auto_update=auto_update)


async def list_vouchers(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    page: int,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """A page of vouchers with the filters (`repository.FILTERS`: campaign, campaign_id,
    category, holder_id, code, ids, created and updated before or after a moment)."""
    rows = await repository.list_page(
        conn, project_id, filters=filters, order=order, limit=limit, offset=(page - 1) * limit
    )
    return {
        "object": "list",
        "data_ref": "vouchers",
        "vouchers": [render_voucher(row, assets_of) for row in rows],
        "total": await repository.count(conn, project_id, filters=filters),
    }


async def change_balance(
    conn: Connection,
    actor: Actor,
    *,
    key: str,
    body: BalanceUpdate,
    source: str | None,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """POST /v1/vouchers/{code}/balance (INCENTIVES.md §1.5): see
    `writes.vouchers.change_balance`."""
    if body.amount == 0:
        raise InvalidPayload("Property .amount must not be 0")
    change = await voucher_writes.change_balance(
        conn,
        actor,
        key=key,
        amount=body.amount,
        source_id=body.source_id,
        reason=body.reason,
        source=source,
        assets_of=assets_of,
    )
    return change.balance


async def list_transactions(
    conn: Connection,
    project_id: str,
    key: str,
    *,
    limit: int,
    descending: bool,
    starting_after_id: str | None,
) -> dict[str, Any]:
    """A page of a voucher's transactions, oldest first unless `descending`; the JS SDK expects
    no `more_starting_after` key when there is no more. Raises NotFound."""
    voucher = await repository.find(conn, project_id, key)
    if voucher is None:
        raise voucher_not_found(key)
    return await transactions_list(
        conn,
        project_id,
        voucher["id"],
        owner="voucher",
        limit=limit,
        descending=descending,
        starting_after_id=starting_after_id,
    )


async def transactions_list(
    conn: Connection,
    project_id: str,
    owner_id: str,
    *,
    owner: str,
    limit: int,
    descending: bool,
    starting_after_id: str | None,
) -> dict[str, Any]:
    """A page of the transactions of a voucher or of a campaign's codes (`owner`: "voucher",
    "campaign"), oldest first unless `descending`, after the transaction `starting_after_id`.
    Raises NotFound (that transaction is not one of theirs)."""
    after = None
    if starting_after_id is not None:
        after = await repository.transaction_seq(
            conn, project_id, owner_id, starting_after_id, owner=owner
        )
        if after is None:
            raise NotFound(
                f"Cannot find transaction with id {starting_after_id}",
                resource_id=starting_after_id,
                resource_type="voucher_transaction",
            )
    rows = await repository.transactions_page(
        conn,
        project_id,
        owner_id,
        owner=owner,
        limit=limit,
        descending=descending,
        after_seq=after,
    )
    page: Sequence[Row] = rows[:limit]
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [render_transaction(row) for row in page],
        "has_more": len(rows) > limit,
    }
    if len(rows) > limit:
        body["more_starting_after"] = page[-1]["id"]
    return body
