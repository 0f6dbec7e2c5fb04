"""Consent definitions, and each customer's consents in `system_metadata.consents`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.consents import repository
from patron.db.pool import Connection
from patron.errors import InvalidPayload
from patron.kit import ids
from patron.kit.time import render_datetime, render_optional_datetime
from patron.writes import customers as customer_writes

UNSUBSCRIBED = "unsubscribed"


def _list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data_ref": "data", "data": items, "total": len(items)}


async def list_all(conn: Connection, project_id: str) -> dict[str, Any]:
    """The project's consent groups and consents, as `GET /v1/consents` shows them."""
    groups = [
        {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "consents": list(row["consents"]),
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_optional_datetime(row["updated_at"]),
            "object": "consent_group",
        }
        for row in await repository.list_groups(conn, project_id)
    ]
    consents = [
        {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "category": row["category"],
            "created_at": render_datetime(row["created_at"]),
            "updated_at": render_optional_datetime(row["updated_at"]),
            "object": "consent",
        }
        for row in await repository.list_consents(conn, project_id)
    ]
    return {"groups": _list(groups), "consents": _list(consents)}


async def create_consent(
    conn: Connection,
    project_id: str,
    *,
    name: str,
    description: str | None = None,
    category: str | None = None,
) -> str:
    consent_id = ids.consent_id()
    await repository.insert_consent(
        conn,
        project_id,
        consent_id=consent_id,
        name=name,
        description=description,
        category=category,
    )
    return consent_id


async def create_group(
    conn: Connection,
    project_id: str,
    *,
    name: str,
    consents: list[str],
    description: str | None = None,
) -> str:
    unknown = set(consents) - await repository.consent_ids(conn, project_id)
    if unknown:
        raise LookupError(f"unknown consents: {', '.join(sorted(unknown))}")
    group_id = ids.consent_group_id()
    await repository.insert_group(
        conn,
        project_id,
        group_id=group_id,
        name=name,
        description=description,
        consents=consents,
    )
    return group_id


async def update_customer_consents(
    conn: Connection, actor: Actor, key: str, *, choices: dict[str, Any]
) -> None:
    """Record a customer's consent choices; `unsubscribed: true` revokes every consent.

    The choices are kept in `system_metadata.consents` as `{id: {date, value}}`, and recorded as
    `customer.consents.given` / `customer.consents.revoked` activities (listed by the legacy
    `/activities` endpoint only: the Python SDK rejects these types on `/activity`).
    """
    if not choices:
        raise InvalidPayload("The payload cannot be empty")
    for name, value in choices.items():
        if not isinstance(value, bool):
            raise InvalidPayload(f"Property .{name} must be true or false")
    defined = await repository.consent_ids(conn, actor.project_id)
    unknown = sorted(set(choices) - defined - {UNSUBSCRIBED})
    if unknown:
        raise InvalidPayload(f"Unknown consent: {', '.join(unknown)}")
    now = datetime.now(UTC)
    date = render_datetime(now)
    values = dict(choices)
    if values.get(UNSUBSCRIBED) is True:
        values.update({consent_id: False for consent_id in defined})
    elif any(value for name, value in values.items() if name != UNSUBSCRIBED):
        values[UNSUBSCRIBED] = False

    def change(system_metadata: dict[str, Any]) -> dict[str, Any]:
        consents = dict(system_metadata.get("consents") or {})
        consents.update({name: {"date": date, "value": value} for name, value in values.items()})
        return {**system_metadata, "consents": consents}

    customer = await customer_writes.change_system_metadata(conn, actor, key, change=change)
    given = {n: {"date": date, "value": True} for n, v in values.items() if v and n in defined}
    revoked = {
        n: {"date": date, "value": False} for n, v in values.items() if not v and n in defined
    }
    for activity_type, consents in (
        ("customer.consents.given", given),
        ("customer.consents.revoked", revoked),
    ):
        if consents:
            await activities.record(
                conn,
                actor,
                customer_id=customer["id"],
                activity_type=activity_type,
                data={"consents": consents, "customer": customer},
            )
