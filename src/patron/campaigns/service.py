"""Campaigns: create, read, change, delete (an async action), enable, disable, list; the
generation of their codes and the import of vouchers into them (async actions).
INCENTIVES.md §1.1-§1.3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET

from patron.activities.service import Actor, EventSource
from patron.async_actions import service as async_actions
from patron.async_actions.service import ROWS_PER_RECORD, Action, BatchOutcome
from patron.campaigns import repository
from patron.campaigns.repository import Row
from patron.campaigns.schemas import (
    CAMPAIGN_TYPE_OF,
    VOUCHER_TYPE_OF,
    CampaignCreate,
    CampaignUpdate,
    InvalidCampaign,
    campaign_not_found,
    check_campaign_fields,
    render_campaign,
)
from patron.db.pool import Connection
from patron.errors import InvalidCodeConfig, InvalidPayload, NotFound
from patron.kit import ids
from patron.kit.validation import convert
from patron.validation_rules import service as validation_rules
from patron.vouchers import codes
from patron.vouchers import repository as vouchers_repository
from patron.vouchers import service as vouchers
from patron.vouchers.publishing import parse_duration
from patron.vouchers.schemas import (
    CampaignVoucherCreate,
    DuplicateFound,
    InvalidVoucher,
    VoucherCreate,
    check_voucher_fields,
    discount_dict,
    whole,
)
from patron.writes import customers as customer_writes
from patron.writes import vouchers as voucher_writes

VOUCHERS_GENERATE = "CAMPAIGN.VOUCHERS_GENERATE"
VOUCHERS_DELETE = "CAMPAIGN.VOUCHERS_DELETE"
VOUCHERS_IMPORT = "CAMPAIGN.VOUCHERS_IMPORT"
VOUCHERS_IMPORT_CSV = "CAMPAIGN.VOUCHERS_IMPORT_CSV"
LIST_ORDERS = frozenset(repository.ORDERINGS)
MAX_IMPORT_VOUCHERS = 10_000


def _actor_of(action: Action) -> Actor:
    return Actor(
        project_id=action.project_id,
        source=EventSource.from_rendered(action.params.get("event_source", {})),
        request_id=action.request_id,
    )


def _template(body: CampaignCreate, campaign_type: str) -> dict[str, Any]:
    """The stored template of a new campaign's codes, with the effective code_config."""
    voucher = body.voucher if isinstance(body.voucher, msgspec.Struct) else None
    kind = VOUCHER_TYPE_OF.get(campaign_type, "DISCOUNT_VOUCHER")
    given_type = voucher.type if voucher is not None else None
    if isinstance(given_type, str) and given_type != kind:
        raise InvalidCampaign(f"A {campaign_type} campaign makes {kind}, not {given_type}")
    template: dict[str, Any] = {"type": kind}
    if kind == "DISCOUNT_VOUCHER":
        discount = voucher.discount if voucher is not None else None
        if not isinstance(discount, msgspec.Struct):
            raise InvalidCampaign(f"A {campaign_type} campaign needs voucher.discount")
        template["discount"] = discount_dict(discount)
    elif kind == "GIFT_VOUCHER":
        gift = voucher.gift if voucher is not None else None
        amount = gift.amount if isinstance(gift, msgspec.Struct) else None
        if not isinstance(amount, int | float):
            raise InvalidCampaign("A GIFT_VOUCHERS campaign needs voucher.gift.amount (cents)")
        effect = gift.effect if isinstance(gift, msgspec.Struct) else None
        template["gift"] = {
            "amount": whole(amount, ".voucher.gift.amount"),
            "subtracted_amount": 0,
            "balance": whole(amount, ".voucher.gift.amount"),
            "effect": effect if isinstance(effect, str) else "APPLY_TO_ORDER",
        }
    else:
        card = voucher.loyalty_card if voucher is not None else None
        points = card.points if isinstance(card, msgspec.Struct) else None
        template["loyalty_card"] = {"points": points if isinstance(points, int) else 0}
        rules = card.expiration_rules if isinstance(card, msgspec.Struct) else None
        if isinstance(rules, dict):
            template["loyalty_card"]["expiration_rules"] = rules
    redemption = voucher.redemption if voucher is not None else None
    quantity = redemption.quantity if isinstance(redemption, msgspec.Struct) else None
    template["redemption"] = {"quantity": quantity if isinstance(quantity, int) else None}
    config = voucher.code_config if voucher is not None else None
    template["code_config"] = codes.effective_code_config(
        msgspec.to_builtins(config) if isinstance(config, msgspec.Struct) else None
    )
    template["is_referral_code"] = campaign_type == "REFERRAL_PROGRAM"
    return template


def _campaign_type(body: CampaignCreate) -> str:
    stated = body.campaign_type if isinstance(body.campaign_type, str) else None
    voucher = body.voucher if isinstance(body.voucher, msgspec.Struct) else None
    voucher_type = voucher.type if voucher is not None and isinstance(voucher.type, str) else None
    if stated is None:
        if voucher_type is None:
            raise InvalidCampaign("Give campaign_type, or voucher.type to infer it from")
        return CAMPAIGN_TYPE_OF[voucher_type]
    if stated == "PROMOTION":
        raise InvalidCampaign("PROMOTION campaigns are not supported by this server")
    return stated


def _validity(body: CampaignCreate | CampaignUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("start_date", "expiration_date"):
        value = getattr(body, name)
        if value is not UNSET:
            values[name] = value
    for name in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
        value = getattr(body, name)
        if value is not UNSET:
            values[name] = None if value is None else msgspec.to_builtins(value)
    return values


async def create(conn: Connection, actor: Actor, *, body: CampaignCreate) -> dict[str, Any]:
    """Create a campaign; `vouchers_count` codes are generated by an async action
    (`CAMPAIGN.VOUCHERS_GENERATE`; the campaign is IN_PROGRESS until it is DONE).
    INCENTIVES.md §1.2. Raises InvalidCampaign, InvalidCodeConfig, DuplicateFound (409 name)."""
    check_campaign_fields(body)
    if not isinstance(body.name, str):
        raise InvalidCampaign("A campaign needs a name")
    campaign_type = _campaign_type(body)
    kind = body.type if isinstance(body.type, str) else "AUTO_UPDATE"
    if kind == "STANDALONE" and campaign_type not in ("DISCOUNT_COUPONS", "GIFT_VOUCHERS"):
        raise InvalidCampaign("Only discount and gift campaigns can be STANDALONE")
    if campaign_type == "REFERRAL_PROGRAM":
        voucher = body.voucher if isinstance(body.voucher, msgspec.Struct) else None
        if voucher is None or not isinstance(voucher.discount, msgspec.Struct):
            raise InvalidCampaign("A REFERRAL_PROGRAM campaign needs voucher.discount")
    template = _template(body, campaign_type)
    count = body.vouchers_count if isinstance(body.vouchers_count, int) else 0
    if kind == "STANDALONE" and count > 1:
        raise InvalidCampaign("A STANDALONE campaign holds one code")
    if count:
        codes.check_capacity(template["code_config"], count)
    values: dict[str, Any] = {
        "name": body.name,
        "description": body.description if isinstance(body.description, str) else None,
        "campaign_type": campaign_type,
        "type": kind,
        "join_once": campaign_type == "LOYALTY_PROGRAM" or body.join_once is True,
        "auto_join": body.auto_join is True,
        "use_voucher_metadata_schema": body.use_voucher_metadata_schema is True,
        "voucher": template,
        "activity_duration_after_publishing": (
            body.activity_duration_after_publishing
            if isinstance(body.activity_duration_after_publishing, str)
            else None
        ),
        "metadata": body.metadata if isinstance(body.metadata, dict) else {},
        "category": body.category if isinstance(body.category, str) else None,
        "referral_program": body.referral_program
        if isinstance(body.referral_program, dict)
        else None,
        "loyalty_tiers_expiration": body.loyalty_tiers_expiration
        if isinstance(body.loyalty_tiers_expiration, dict)
        else None,
        "creation_status": "IN_PROGRESS" if count else "DONE",
        "vouchers_generation_status": "IN_PROGRESS" if count else "DONE",
        **_validity(body),
    }
    if values["activity_duration_after_publishing"] is not None:
        codes_duration(values["activity_duration_after_publishing"])
    rule_ids = list(body.validation_rules) if isinstance(body.validation_rules, list) else []
    await validation_rules.check_rules_exist(conn, actor.project_id, rule_ids)
    row = await repository.insert(conn, actor.project_id, ids.campaign_id(), values)
    if row is None:
        raise DuplicateFound(
            f"Duplicated campaign name {body.name}",
            resource_id=body.name,
            resource_type="campaign",
        )
    if count:
        await _queue_generation(conn, actor, row["id"], count)
    if rule_ids:
        await validation_rules.assign_rules(
            conn,
            actor.project_id,
            rule_ids=rule_ids,
            related_object_type="campaign",
            related_object_id=row["id"],
        )
    return await _with_rules(conn, actor.project_id, render_campaign(row, 0))


async def _with_rules(
    conn: Connection, project_id: str, campaign: dict[str, Any]
) -> dict[str, Any]:
    """The campaign object with its `validation_rules_assignments` (INCENTIVES.md §3)."""
    campaign["validation_rules_assignments"] = await validation_rules.assignments_of(
        conn, project_id, campaign["id"]
    )
    return campaign


def codes_duration(text: str) -> None:
    """Refuse an `activity_duration_after_publishing` that is not an ISO 8601 duration."""
    parse_duration(text)


async def _queue_generation(
    conn: Connection,
    actor: Actor,
    campaign_id: str,
    count: int,
    voucher: CampaignVoucherCreate | None = None,
) -> str:
    """An async action generating `count` codes, stored as records of up to a batch each;
    `voucher` is what the codes get beyond the campaign's template."""
    batch = vouchers.GENERATION_BATCH
    params: dict[str, Any] = {"campaign_id": campaign_id, "total": count, ROWS_PER_RECORD: batch}
    if voucher is not None:
        params["voucher"] = msgspec.to_builtins(voucher)
    action_id = await async_actions.start(conn, actor, action_type=VOUCHERS_GENERATE, params=params)
    records = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        records.append((start + size - 1, {"count": size}))
    await async_actions.add_rows(conn, actor.project_id, action_id, records)
    await async_actions.seal(conn, actor.project_id, action_id, count)
    return action_id


async def apply_generation(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CAMPAIGN.VOUCHERS_GENERATE`: each record makes `count` codes; the last marks the
    campaign's generation DONE."""
    outcome = BatchOutcome()
    campaign_id = action.params["campaign_id"]
    campaign = await repository.find(conn, action.project_id, campaign_id)
    if campaign is None:
        for number, _ in rows:
            outcome.errors.append({"row": number + 1, "message": "The campaign was deleted"})
        return outcome
    extra = vouchers.campaign_voucher_overrides(
        convert(action.params.get("voucher", {}), CampaignVoucherCreate)
    )
    for number, data in rows:
        try:
            made = await vouchers.generate_for_campaign(
                conn, action.project_id, campaign, int(data["count"]), extra=extra
            )
            outcome.done += len(made)
        except InvalidCodeConfig as exc:
            outcome.errors.append({"row": number + 1, "message": str(exc)})
            await repository.set_generation_status(conn, action.project_id, campaign_id, "FAILED")
            return outcome
        if number + 1 >= int(action.params["total"]):
            await repository.set_generation_status(conn, action.project_id, campaign_id, "DONE")
    return outcome


async def add_vouchers(
    conn: Connection, actor: Actor, *, campaign_key: str, count: int, body: CampaignVoucherCreate
) -> str:
    """Queue the generation of `count` (> 1) codes into a campaign, each given what `body`
    sets beyond the template; the async action's id. Raises NotFound, InvalidCampaign,
    InvalidCodeConfig, InvalidPayload (a `code`, which names one voucher)."""
    if isinstance(body.code, str):
        raise InvalidPayload("A code names one voucher: leave vouchers_count out, or the code")
    campaign = await _find(conn, actor.project_id, campaign_key)
    if campaign["type"] == "STANDALONE":
        raise InvalidCampaign(f"Campaign {campaign['name']} is STANDALONE and has one code")
    if isinstance(body.code_config, msgspec.Struct):
        codes.check_capacity(msgspec.to_builtins(body.code_config), count)
    else:
        existing = await repository.vouchers_count(conn, actor.project_id, campaign["id"])
        codes.check_capacity(campaign["voucher"]["code_config"], existing + count)
    await repository.set_generation_status(conn, actor.project_id, campaign["id"], "IN_PROGRESS")
    return await _queue_generation(conn, actor, campaign["id"], count, body)


async def _find(conn: Connection, project_id: str, key: str, *, for_update: bool = False) -> Row:
    row = await repository.find(conn, project_id, key, for_update=for_update)
    if row is None:
        raise campaign_not_found(key)
    return row


async def get(conn: Connection, project_id: str, key: str) -> dict[str, Any]:
    """The campaign with this id or name. Raises NotFound."""
    row = await _find(conn, project_id, key)
    count = await repository.vouchers_count(conn, project_id, row["id"])
    return await _with_rules(conn, project_id, render_campaign(row, count))


async def list_campaigns(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    page: int,
) -> dict[str, Any]:
    """A page of live campaigns with the filters (`repository.FILTERS`: campaign_type,
    campaign_status, is_referral_code)."""
    rows = await repository.list_page(
        conn,
        project_id,
        filters=filters,
        order=order,
        limit=limit,
        offset=(page - 1) * limit,
    )
    counts = await repository.vouchers_counts(conn, project_id, [row["id"] for row in rows])
    return {
        "object": "list",
        "data_ref": "campaigns",
        "campaigns": [render_campaign(row, counts.get(row["id"], 0)) for row in rows],
        "total": await repository.count(conn, project_id, filters=filters),
    }


async def update(
    conn: Connection, actor: Actor, *, key: str, body: CampaignUpdate
) -> dict[str, Any]:
    """Change the fields sent (null clears); the template's discount and gift change for the
    codes made from now on. Raises NotFound, InvalidCampaign."""
    check_campaign_fields(body)
    row = await _find(conn, actor.project_id, key, for_update=True)
    values = _validity(body)
    for name in ("description", "category", "activity_duration_after_publishing"):
        value = getattr(body, name)
        if value is not UNSET:
            values[name] = value
    if isinstance(values.get("activity_duration_after_publishing"), str):
        codes_duration(values["activity_duration_after_publishing"])
    if isinstance(body.join_once, bool) and row["campaign_type"] != "LOYALTY_PROGRAM":
        values["join_once"] = body.join_once
    if isinstance(body.auto_join, bool):
        values["auto_join"] = body.auto_join
    if isinstance(body.type, str) and body.type != row["type"]:
        if "STANDALONE" in (body.type, row["type"]):
            raise InvalidCampaign("A campaign cannot become or stop being STANDALONE")
        values["type"] = body.type
    metadata = dict(row["metadata"])
    if isinstance(body.metadata, dict):
        metadata.update(body.metadata)
        values["metadata"] = metadata
    elif body.metadata is None:
        values["metadata"] = {}
    if isinstance(body.unset_metadata_fields, list):
        for name in body.unset_metadata_fields:
            metadata.pop(name, None)
        values["metadata"] = metadata
    template = dict(row["voucher"])
    if isinstance(body.discount, msgspec.Struct):
        if template["type"] != "DISCOUNT_VOUCHER":
            raise InvalidCampaign("Only a discount campaign has a discount")
        template["discount"] = discount_dict(body.discount)
        values["voucher"] = template
    if isinstance(body.gift, msgspec.Struct) and isinstance(body.gift.amount, int | float):
        if template["type"] != "GIFT_VOUCHER":
            raise InvalidCampaign("Only a gift campaign has a gift")
        amount = whole(body.gift.amount, ".gift.amount")
        template["gift"] = {**template["gift"], "amount": amount, "balance": amount}
        values["voucher"] = template
    if isinstance(body.referral_program, dict):
        values["referral_program"] = body.referral_program
    if isinstance(body.loyalty_tiers_expiration, dict):
        values["loyalty_tiers_expiration"] = body.loyalty_tiers_expiration
    updated = await repository.update(conn, actor.project_id, row["id"], values)
    await vouchers_repository.follow_campaign(
        conn, actor.project_id, row["id"], {k: v for k, v in values.items() if k in _FOLLOWED}
    )
    count = await repository.vouchers_count(conn, actor.project_id, row["id"])
    return await _with_rules(conn, actor.project_id, render_campaign(updated, count))


# What a campaign's codes take from it when it changes.
_FOLLOWED = frozenset(
    {
        "start_date",
        "expiration_date",
        "validity_timeframe",
        "validity_day_of_week",
        "validity_hours",
        "category",
    }
)


async def set_active(conn: Connection, actor: Actor, *, key: str, active: bool) -> None:
    """Enable or disable a campaign (its codes cannot be published or used while disabled).
    Raises NotFound."""
    row = await _find(conn, actor.project_id, key, for_update=True)
    await repository.update(conn, actor.project_id, row["id"], {"active": active})


async def delete(conn: Connection, actor: Actor, *, key: str, force: bool) -> str:
    """Queue the deletion of a campaign and its codes (`CAMPAIGN.VOUCHERS_DELETE`): to the bin,
    or for good with `force`. Returns the async action's id. Raises NotFound."""
    row = await _find(conn, actor.project_id, key)
    return await async_actions.enqueue(
        conn,
        actor,
        action_type=VOUCHERS_DELETE,
        rows=[{"campaign_id": row["id"], "force": force}],
    )


async def apply_deletion(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CAMPAIGN.VOUCHERS_DELETE`: the campaign and its codes go; their holders' balances
    follow, in the same transaction."""
    actor = _actor_of(action)
    outcome = BatchOutcome()
    for number, data in rows:
        auto_update = await customer_writes.hold(conn, actor.project_id)
        row = await repository.find(conn, actor.project_id, data["campaign_id"], for_update=True)
        if row is None:
            outcome.errors.append({"row": number + 1, "message": "The campaign is gone already"})
            continue
        holders = await repository.lock_holders(conn, actor.project_id, row["id"])
        await repository.remove(conn, actor.project_id, row["id"], force=bool(data["force"]))
        await voucher_writes.release_held(conn, actor, holders, auto_update=auto_update)
        outcome.done += 1
    return outcome


async def import_vouchers(
    conn: Connection, actor: Actor, *, campaign_key: str | None, items: list[Any], csv: bool
) -> str:
    """Queue an import of vouchers with given codes into a campaign (`CAMPAIGN.VOUCHERS_IMPORT`
    or `…_IMPORT_CSV`), or of standalone vouchers without `campaign_key` (`VOUCHERS.IMPORT`).
    Codes repeated within the request are a 400 `duplicate_key`. Raises NotFound,
    InvalidCampaign, InvalidVoucher (an item without a code)."""
    campaign_id = None
    if campaign_key is not None:
        campaign = await _find(conn, actor.project_id, campaign_key)
        if campaign["type"] == "STANDALONE":
            raise InvalidCampaign(f"Campaign {campaign['name']} is STANDALONE and has one code")
        campaign_id = campaign["id"]
    seen: set[str] = set()
    for position, item in enumerate(items):
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not code:
            raise InvalidVoucher(f"Voucher {position + 1} has no code")
        if code in seen:
            raise DuplicateKey(f"Code {code} is repeated in the request")
        seen.add(code)
    action_type = VOUCHERS_IMPORT_CSV if csv else VOUCHERS_IMPORT
    return await async_actions.enqueue(
        conn, actor, action_type=action_type, rows=items, params={"campaign_id": campaign_id}
    )


class DuplicateKey(InvalidPayload):
    key = "duplicate_key"


async def apply_import(
    conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
) -> BatchOutcome:
    """`CAMPAIGN.VOUCHERS_IMPORT[_CSV]`, `VOUCHERS.IMPORT`: each item becomes a code of the
    campaign, or a standalone voucher; a taken code or a bad item is reported in the action's
    result."""
    actor = _actor_of(action)
    outcome = BatchOutcome()
    for number, data in rows:
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            item = convert(data, VoucherCreate)
            check_voucher_fields(item)
            campaign_id = action.params["campaign_id"]
            if campaign_id is not None:
                item = msgspec.structs.replace(item, campaign_id=campaign_id)
            await vouchers.create(conn, actor, body=item, code=None)
        except (
            msgspec.ValidationError,
            InvalidPayload,
            NotFound,
            InvalidVoucher,
            InvalidCampaign,
            DuplicateFound,
        ) as exc:
            await savepoint.rollback()
            code = data.get("code") if isinstance(data, dict) else None
            outcome.errors.append({"row": number + 1, "code": code, "message": str(exc)})
            continue
        await savepoint.commit()
        outcome.done += 1
    return outcome


HANDLERS = {
    VOUCHERS_GENERATE: apply_generation,
    VOUCHERS_DELETE: apply_deletion,
    VOUCHERS_IMPORT: apply_import,
    VOUCHERS_IMPORT_CSV: apply_import,
}
# One record (a batch of codes) per transaction: progress moves with each.
BATCH_SIZES = {
    VOUCHERS_GENERATE: vouchers.GENERATION_BATCH,
    VOUCHERS_IMPORT: 500,
    VOUCHERS_IMPORT_CSV: 500,
}
