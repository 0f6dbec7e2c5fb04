"""Recording activities (used by every domain) and reading a customer's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from patron.activities import repository
from patron.activities.repository import TimelineQuery
from patron.activities.schemas import (
    ACTIVITY_TYPES,
    LEGACY_ONLY_TYPES,
    category_of,
    render_activity,
)
from patron.db.pool import Connection
from patron.errors import InvalidQueryParams
from patron.kit import ids, json


@dataclass(frozen=True, slots=True)
class EventSource:
    """Who caused an activity: which channel, and through which credentials."""

    channel: str
    app_id: str | None = None
    key_name: str | None = None

    @classmethod
    def from_rendered(cls, source: dict[str, Any]) -> EventSource:
        api_key = source.get("api_key") or {}
        return cls(
            channel=source.get("channel", "API"),
            app_id=api_key.get("app_id"),
            key_name=api_key.get("name"),
        )

    def render(self) -> dict[str, Any]:
        source: dict[str, Any] = {"channel": self.channel}
        if self.app_id is not None:
            source["api_key"] = {"name": self.key_name or "server", "app_id": self.app_id}
        return source


@dataclass(frozen=True, slots=True)
class Actor:
    """The project a change is made in, who made it, and the request that carried it."""

    project_id: str
    source: EventSource
    request_id: str


@dataclass(frozen=True, slots=True)
class Prepared:
    """An activity ready to be inserted by a statement that writes its cause too: `data` is its
    JSON text, event_source included (see `patron.writes`)."""

    id: str
    type: str
    category: str
    data: str
    group_id: str


def prepare(actor: Actor, *, activity_type: str, data: dict[str, Any]) -> Prepared:
    """An activity of this type (one the SDKs accept) with this data, for the write path's
    combined statements; raises ValueError for an unknown type (a bug, not a client error)."""
    if activity_type not in ACTIVITY_TYPES:
        raise ValueError(f"not an activity type the SDKs accept: {activity_type}")
    return Prepared(
        id=ids.activity_id(),
        type=activity_type,
        category=category_of(activity_type),
        data=json.encode({**data, "event_source": actor.source.render()}).decode(),
        group_id=actor.request_id,
    )


async def record(
    conn: Connection,
    actor: Actor,
    *,
    customer_id: str,
    activity_type: str,
    data: dict[str, Any],
    campaign: tuple[str, str] | None = None,
) -> None:
    """Write one activity in the caller's transaction, so it exists exactly when its cause does.
    `campaign` (id, campaign_type) is what the timeline's campaign filters read."""
    if activity_type not in ACTIVITY_TYPES and activity_type not in LEGACY_ONLY_TYPES:
        raise ValueError(f"not an activity type the SDKs accept: {activity_type}")
    await repository.insert(
        conn,
        actor.project_id,
        activity_id=ids.activity_id(),
        customer_id=customer_id,
        activity_type=activity_type,
        category=category_of(activity_type),
        data={**data, "event_source": actor.source.render()},
        group_id=actor.request_id,
        campaign_id=campaign[0] if campaign else None,
        campaign_type=campaign[1] if campaign else None,
    )


ActivityRow = tuple[str, str, str, str, str | None, str | None, dict[str, Any], str]


def prepare_several(
    actor: Actor, items: Sequence[tuple[str, str, dict[str, Any], tuple[str, str] | None]]
) -> list[ActivityRow]:
    """Activities ready to insert (customer id, type, data, campaign (id, campaign_type) or
    None each): (id, customer_id, type, category, campaign_id, campaign_type, data, group_id),
    the event source in their data. Raises ValueError for a type the SDKs do not accept."""
    source = actor.source.render()
    rows = []
    for customer_id, activity_type, data, campaign in items:
        if activity_type not in ACTIVITY_TYPES:
            raise ValueError(f"not an activity type the SDKs accept: {activity_type}")
        rows.append(
            (
                ids.activity_id(),
                customer_id,
                activity_type,
                category_of(activity_type),
                campaign[0] if campaign else None,
                campaign[1] if campaign else None,
                {**data, "event_source": source},
                actor.request_id,
            )
        )
    return rows


async def record_several(
    conn: Connection,
    actor: Actor,
    items: Sequence[tuple[str, str, dict[str, Any], tuple[str, str] | None]],
) -> None:
    """Write a few activities (customer id, type, data, campaign (id, campaign_type) or None)
    in one statement, in the caller's transaction, in the order given."""
    if items:
        await repository.insert_several(conn, actor.project_id, prepare_several(actor, items))


async def record_many(
    conn: Connection, actor: Actor, items: Sequence[tuple[str, str, dict[str, Any]]]
) -> None:
    """Write many activities (customer id, type, data) at once, in the caller's transaction."""
    source = actor.source.render()
    now = datetime.now(UTC)
    created_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    records = []
    for customer_id, activity_type, data in items:
        if activity_type not in ACTIVITY_TYPES:
            raise ValueError(f"not an activity type the SDKs accept: {activity_type}")
        records.append(
            (
                ids.activity_id(),
                customer_id,
                activity_type,
                category_of(activity_type),
                {**data, "event_source": source},
                actor.request_id,
                created_at,
            )
        )
    await repository.insert_many(conn, actor.project_id, records)


async def record_many_rendered(
    conn: Connection, actor: Actor, activity_type: str, items: Sequence[tuple[str, bytes]]
) -> None:
    """`record_many` for activities of one type whose data the caller has already rendered as
    a JSON object (customer id, data), as bulk writers do to keep up; event_source is added."""
    if activity_type not in ACTIVITY_TYPES:
        raise ValueError(f"not an activity type the SDKs accept: {activity_type}")
    source = b',"event_source":' + json.encode(actor.source.render()) + b"}"
    category = category_of(activity_type)
    now = datetime.now(UTC)
    created_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    records = [
        (
            activity_id,
            customer_id,
            activity_type,
            category,
            msgspec.Raw(data[:-1] + source),
            actor.request_id,
            created_at,
        )
        for activity_id, (customer_id, data) in zip(
            ids.activity_ids(len(items)), items, strict=True
        )
    ]
    await repository.insert_many(conn, actor.project_id, records)


LEGACY_ORDERS = frozenset(repository.ORDERINGS)


@dataclass(frozen=True, slots=True)
class TimelineFilters:
    limit: int = 10
    order: str = "-created_at"
    starting_after_id: str | None = None
    starting_after: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    activity_type: str | None = None
    category: str | None = None
    campaign_id: str | None = None
    campaign_type: str | None = None


def _query(project_id: str, customer_id: str, filters: TimelineFilters) -> TimelineQuery:
    query = TimelineQuery(project_id, customer_id)
    for name, value in (
        ("type", filters.activity_type),
        ("category", filters.category),
        ("campaign_id", filters.campaign_id),
        ("campaign_type", filters.campaign_type),
        ("start_date", filters.start_date),
        ("end_date", filters.end_date),
    ):
        if value is not None:
            query.where(repository.FILTERS[name], value)
    return query


async def _apply_cursor(
    conn: Connection,
    query: TimelineQuery,
    project_id: str,
    customer_id: str,
    filters: TimelineFilters,
) -> None:
    descending = filters.order.startswith("-")
    if filters.starting_after_id is not None:
        seq = await repository.seq_of(conn, project_id, customer_id, filters.starting_after_id)
        if seq is None:
            raise InvalidQueryParams(
                f"Cannot find activity with id {filters.starting_after_id} for this customer"
            )
        query.where(repository.FILTERS["before_seq" if descending else "after_seq"], seq)
    if filters.starting_after is not None:
        key = "created_before" if descending else "created_after"
        query.where(repository.FILTERS[key], filters.starting_after)


async def timeline_page(
    conn: Connection, project_id: str, customer_id: str, filters: TimelineFilters
) -> dict[str, Any]:
    """One page of `GET /v1/customers/{id}/activity`, with its `more_starting_after` cursor."""
    query = _query(project_id, customer_id, filters)
    query.where(repository.FILTERS["not_types"], sorted(LEGACY_ONLY_TYPES))
    await _apply_cursor(conn, query, project_id, customer_id, filters)
    rows = await repository.page(conn, query, order=filters.order, limit=filters.limit + 1)
    has_more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [render_activity(row) for row in rows],
        "has_more": has_more,
    }
    if has_more:
        body["more_starting_after"] = rows[-1]["id"]
    return body


async def legacy_page(
    conn: Connection, project_id: str, customer_id: str, filters: TimelineFilters
) -> dict[str, Any]:
    """One page of the deprecated `GET /v1/customers/{id}/activities`, with `total`."""
    query = _query(project_id, customer_id, filters)
    total = await repository.count(conn, query)  # a snapshot would cost more than it saves
    await _apply_cursor(conn, query, project_id, customer_id, filters)
    rows = await repository.page(conn, query, order=filters.order, limit=filters.limit)
    return {
        "object": "list",
        "data_ref": "data",
        "data": [render_activity(row) for row in rows],
        "total": total,
    }


async def erase_for_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    """Delete a customer's whole timeline (permanent deletion); returns how many were removed."""
    return await repository.delete_for_customer(conn, project_id, customer_id)
