"""Publications: give a customer (upserted) a code, or codes taken from a campaign; list them.
INCENTIVES.md §2.

A publication runs in one transaction: the customer is upserted and locked (so that one
customer's publications from a `join_once` campaign run one at a time), the codes are picked
(`FOR UPDATE SKIP LOCKED`, so that publications to different customers never wait for each
other) or minted, given their holder on the write path, and the publication and its
`customer.publication.succeeded` activity are stored. A refused publication is rolled back,
then stored as a failure with its `customer.publication.failed` activity, in a transaction of
its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.campaigns import repository as campaigns_repository
from patron.campaigns.schemas import campaign_not_found
from patron.customers.repository import find_by_id
from patron.customers.schemas import render_customer
from patron.db.pool import Connection
from patron.errors import APIError
from patron.kit import ids
from patron.publications import repository
from patron.publications.schemas import (
    DuplicateSourceId,
    MissingVouchers,
    NoVoucherSuitable,
    PublicationCampaign,
    PublicationCreate,
    PublicationRefused,
    VoucherAlreadyPublished,
    VoucherCannotBePublished,
    customer_brief,
    render_publication,
)
from patron.vouchers import repository as vouchers_repository
from patron.vouchers import service as vouchers
from patron.vouchers.publishing import expiry_after
from patron.vouchers.repository import Row
from patron.vouchers.schemas import AssetsOf, no_assets, render_voucher, voucher_not_found
from patron.writes import customers as customer_writes
from patron.writes import vouchers as voucher_writes

LIST_ORDERS = frozenset(repository.ORDERINGS)
_ATTEMPTS = 5


async def publish(
    conn: Connection,
    actor: Actor,
    *,
    body: PublicationCreate,
    join_once: bool | None,
    refuse_rejoining: bool = False,
    assets_of: AssetsOf = no_assets,
) -> dict[str, Any]:
    """Publish `body.voucher`, or `count` codes of `body.campaign`, to `body.customer`
    (upserted as by POST /v1/customers). INCENTIVES.md §2.

    `join_once` (the query's, else the campaign's; always on for loyalty programs): a customer
    holding a code of the campaign gets the same publication again, or, with
    `refuse_rejoining` (GET /v1/publications/create), `voucher_cannot_be_published`. A repeated
    `source_id` replays its publication for the same customer. Runs its own transactions on a
    connection outside any. Raises NotFound (customer id, voucher, campaign) and the
    PublicationRefused errors (`missing_vouchers`, `voucher_already_published`,
    `voucher_cannot_be_published`, `no_voucher_suitable_for_publication`,
    `duplicate_source_id`), each stored as a failed publication first.
    """
    for attempt in range(_ATTEMPTS):
        try:
            async with conn.transaction():
                return await _publish(
                    conn,
                    actor,
                    body,
                    join_once=join_once,
                    refuse_rejoining=refuse_rejoining,
                    assets_of=assets_of,
                )
        except PublicationRefused as refused:
            await _record_failure(conn, actor, body, refused)
            raise
        except asyncpg.UniqueViolationError:
            # A concurrent publication minted the same new code first: draw again.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _campaign_key(body: PublicationCreate) -> tuple[str | None, int]:
    campaign = body.campaign
    if isinstance(campaign, PublicationCampaign):
        count = campaign.count if isinstance(campaign.count, int) else 1
        return campaign.name, count
    if isinstance(campaign, str):
        return campaign, 1
    return None, 1


async def _publish(
    conn: Connection,
    actor: Actor,
    body: PublicationCreate,
    *,
    join_once: bool | None,
    refuse_rejoining: bool,
    assets_of: AssetsOf,
) -> dict[str, Any]:
    code = body.voucher if isinstance(body.voucher, str) else None
    campaign_key, count = _campaign_key(body)
    if code is None and campaign_key is None:
        raise MissingVouchers("Give a voucher code or a campaign to publish from")
    source_id = body.source_id if isinstance(body.source_id, str) else None
    if source_id is not None and count > 1:
        raise PublicationRefused("A publication with a source_id publishes one code")
    auto_update = await customer_writes.hold(conn, actor.project_id)
    written = await customer_writes.upsert(
        conn, actor, payload=body.customer, settle_segments=False
    )
    customer_id = written.id
    await customer_writes.lock(conn, actor.project_id, customer_id)
    if source_id is not None:
        earlier = await repository.find_success(conn, actor.project_id, source_id)
        if earlier is not None:
            if earlier["customer_id"] != customer_id:
                raise DuplicateSourceId(f"Publication source_id {source_id} was used already")
            await customer_writes.settle(conn, actor, [customer_id], auto_update=auto_update)
            return render_publication(earlier, for_list=False)
    now = datetime.now(UTC)
    if code is not None:
        chosen, campaign = await _the_voucher(conn, actor, code, customer_id)
    else:
        assert campaign_key is not None
        campaign = await campaigns_repository.find(conn, actor.project_id, campaign_key)
        if campaign is None:
            raise campaign_not_found(campaign_key)
        if not campaign["active"]:
            raise NoVoucherSuitable(f"Campaign {campaign['name']} is disabled")
        once = campaign["campaign_type"] == "LOYALTY_PROGRAM" or (
            join_once if join_once is not None else campaign["join_once"]
        )
        if once:
            held = await vouchers_repository.held_in_campaign(
                conn, actor.project_id, customer_id, campaign["id"]
            )
            if held:
                if refuse_rejoining:
                    raise VoucherCannotBePublished("Customer already joined program")
                earlier = await repository.latest_success(
                    conn, actor.project_id, customer_id, campaign["id"]
                )
                await customer_writes.settle(conn, actor, [customer_id], auto_update=auto_update)
                if earlier is not None:
                    return render_publication(earlier, for_list=False)
                chosen = held[:1]
                return await _store(conn, actor, body, customer_id, campaign, chosen, assets_of)
        chosen = await _campaign_codes(conn, actor, campaign, count)
    expiry = expiry_after(now, campaign["activity_duration_after_publishing"] if campaign else None)
    given: list[Row] = []
    for voucher in chosen:
        if campaign is not None and campaign["type"] == "STANDALONE":
            given.append(
                await vouchers_repository.count_publication(conn, actor.project_id, voucher["id"])
            )
            continue
        given.append(
            await voucher_writes.assign_holder(
                conn,
                actor,
                voucher_id=voucher["id"],
                customer_id=customer_id,
                expiration_date=expiry,
            )
        )
    publication = await _store(conn, actor, body, customer_id, campaign, given, assets_of)
    await customer_writes.settle(conn, actor, [customer_id], auto_update=auto_update)
    return publication


async def _the_voucher(
    conn: Connection, actor: Actor, code: str, customer_id: str
) -> tuple[list[Row], Any]:
    """The one code a publication by voucher gives, checked and locked, and its campaign."""
    voucher = await vouchers_repository.find(conn, actor.project_id, code, for_update=True)
    if voucher is None:
        raise voucher_not_found(code)
    campaign = None
    if voucher["campaign_id"] is not None:
        campaign = await campaigns_repository.find(conn, actor.project_id, voucher["campaign_id"])
    if not voucher["active"] or (campaign is not None and not campaign["active"]):
        raise NoVoucherSuitable(f"Voucher {voucher['code']} is disabled")
    generic = campaign is not None and campaign["type"] == "STANDALONE"
    if voucher["holder_id"] is not None and not generic:
        raise VoucherAlreadyPublished(f"Voucher {voucher['code']} is published already")
    if voucher["type"] == "LOYALTY_CARD" and campaign is not None:
        held = await vouchers_repository.held_in_campaign(
            conn, actor.project_id, customer_id, campaign["id"]
        )
        if held:
            raise VoucherCannotBePublished("Customer already joined program")
    return [voucher], campaign


async def _campaign_codes(conn: Connection, actor: Actor, campaign: Any, count: int) -> list[Row]:
    """`count` codes of the campaign no one holds, locked: its free ones, then, in an
    AUTO_UPDATE campaign, new ones."""
    if campaign["type"] == "STANDALONE":
        standalone = await vouchers_repository.pick_standalone(
            conn, actor.project_id, campaign["id"]
        )
        if standalone is None:
            raise NoVoucherSuitable(f"Campaign {campaign['name']} has no code to publish")
        return [standalone]
    chosen = await vouchers_repository.pick_unpublished(
        conn, actor.project_id, campaign["id"], count
    )
    missing = count - len(chosen)
    if missing:
        if campaign["type"] != "AUTO_UPDATE":
            raise NoVoucherSuitable(f"Campaign {campaign['name']} has no code left to publish")
        minted = await vouchers.generate_for_campaign(conn, actor.project_id, campaign, missing)
        chosen.extend(await vouchers_repository.lock_codes(conn, actor.project_id, minted))
    return chosen


async def _store(
    conn: Connection,
    actor: Actor,
    body: PublicationCreate,
    customer_id: str,
    campaign: Any,
    given: list[Row],
    assets_of: AssetsOf,
) -> dict[str, Any]:
    customer_row = await find_by_id(conn, actor.project_id, customer_id)
    assert customer_row is not None  # locked by this transaction
    customer = render_customer(customer_row)
    rendered = [render_voucher(row, assets_of) for row in given]
    row = await repository.insert(
        conn,
        actor.project_id,
        {
            "id": ids.publication_id(),
            "campaign_id": campaign["id"] if campaign is not None else None,
            "customer_id": customer_id,
            "tracking_id": customer["source_id"],
            "source_id": body.source_id if isinstance(body.source_id, str) else None,
            "channel": body.channel if isinstance(body.channel, str) else "API",
            "metadata": body.metadata if isinstance(body.metadata, dict) else {},
            "result": "SUCCESS",
            "voucher_ids": [voucher["id"] for voucher in given],
            "customer": customer_brief(customer),
            "vouchers": rendered,
        },
    )
    if row is None:
        # A concurrent publication to another customer took the source_id first.
        raise DuplicateSourceId(f"Publication source_id {body.source_id} was used already")
    publication = render_publication(row, for_list=False)
    await activities.record(
        conn,
        actor,
        customer_id=customer_id,
        activity_type="customer.publication.succeeded",
        data={
            "customer": customer,
            "campaign": _campaign_brief(campaign),
            "publication": publication,
        },
        campaign=(campaign["id"], campaign["campaign_type"]) if campaign is not None else None,
    )
    return publication


def _campaign_brief(campaign: Any) -> dict[str, Any] | None:
    if campaign is None:
        return None
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "campaign_type": campaign["campaign_type"],
        "type": campaign["type"],
        "object": "campaign",
    }


async def _record_failure(
    conn: Connection, actor: Actor, body: PublicationCreate, refused: APIError
) -> None:
    """Store a refused publication and record `customer.publication.failed` on its customer
    (upserted), in a transaction of its own; nothing when the customer cannot be."""
    campaign_key, _ = _campaign_key(body)
    try:
        async with conn.transaction():
            written = await customer_writes.upsert(conn, actor, payload=body.customer)
            campaign = None
            if campaign_key is not None:
                campaign = await campaigns_repository.find(conn, actor.project_id, campaign_key)
            row = await repository.insert(
                conn,
                actor.project_id,
                {
                    "id": ids.publication_id(),
                    "campaign_id": campaign["id"] if campaign is not None else None,
                    "customer_id": written.id,
                    "tracking_id": written.customer["source_id"],
                    "source_id": body.source_id if isinstance(body.source_id, str) else None,
                    "channel": body.channel if isinstance(body.channel, str) else "API",
                    "metadata": body.metadata if isinstance(body.metadata, dict) else {},
                    "result": "FAILURE",
                    "failure_code": refused.key,
                    "failure_message": str(refused),
                    "customer": customer_brief(written.customer),
                },
            )
            assert row is not None  # failures never conflict
            await activities.record(
                conn,
                actor,
                customer_id=written.id,
                activity_type="customer.publication.failed",
                data={
                    "customer": written.customer,
                    "campaign": _campaign_brief(campaign),
                    "publication": render_publication(row, for_list=True),
                },
                campaign=(
                    (campaign["id"], campaign["campaign_type"]) if campaign is not None else None
                ),
            )
    except APIError:
        return


async def list_publications(
    conn: Connection,
    project_id: str,
    *,
    filters: dict[str, Any],
    order: str,
    limit: int,
    page: int,
) -> dict[str, Any]:
    """A page of publications (successes and failures) with the filters."""
    rows = await repository.list_page(
        conn, project_id, filters=filters, order=order, limit=limit, offset=(page - 1) * limit
    )
    return {
        "object": "list",
        "data_ref": "publications",
        "publications": [render_publication(row, for_list=True) for row in rows],
        "total": await repository.count(conn, project_id, filters=filters),
    }
