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
    """Record a customer's consent choices (CONTRACT.md §11); raises InvalidPayload for an empty
    body, a value that is not a boolean or an unknown consent id, and NotFound.

    `unsubscribed: true` revokes every consent of the project; giving any consent clears it.
    Each choice is kept in `system_metadata.consents` as `{id: {date, value}}` (date in UTC).

    Only what changes is written: a consent with no recorded decision, or another value, and
    `unsubscribed` set to a value other than the customer's (absent counts as false, as
    `email_unsubscribed` shows it). The changes are recorded as one `customer.consents.given`
    activity (consents given, `unsubscribed` cleared) and one `customer.consents.revoked`
    (consents refused, `unsubscribed` set), each `{consents: {id: {date, value}}, customer}`,
    listed by the legacy `/activities` endpoint only (the Python SDK rejects these types on
    `/activity`, CONTRACT.md §6). A request that changes nothing writes and records nothing.
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
    values = wanted_consents(choices, defined)
    date = render_datetime(datetime.now(UTC))
    changed: dict[str, bool] = {}

    def change(system_metadata: dict[str, Any]) -> dict[str, Any] | None:
        consents = dict(system_metadata.get("consents") or {})
        changed.clear()
        changed.update(consent_changes(consents, values))
        if not changed:
            return None
        consents.update({name: {"date": date, "value": value} for name, value in changed.items()})
        return {**system_metadata, "consents": consents}

    customer = await customer_writes.change_system_metadata(conn, actor, key, change=change)
    for activity_type, gives in (
        ("customer.consents.given", True),
        ("customer.consents.revoked", False),
    ):
        consents = {
            name: {"date": date, "value": value}
            for name, value in changed.items()
            if _gives(name, value) is gives
        }
        if consents:
            await activities.record(
                conn,
                actor,
                customer_id=customer["id"],
                activity_type=activity_type,
                data={"consents": consents, "customer": customer},
            )


def wanted_consents(choices: dict[str, bool], defined: set[str]) -> dict[str, bool]:
    """The values a request asks for: its choices, every defined consent refused when it
    unsubscribes, and `unsubscribed` cleared when it gives any consent."""
    values = dict(choices)
    if values.get(UNSUBSCRIBED) is True:
        values.update({consent_id: False for consent_id in defined})
    elif any(value for name, value in values.items() if name != UNSUBSCRIBED):
        values[UNSUBSCRIBED] = False
    return values


def consent_changes(stored: dict[str, Any], values: dict[str, bool]) -> dict[str, bool]:
    """Which of `values` change the stored consents (`{id: {date, value}}`): a consent whose
    decision is missing or other, `unsubscribed` other than stored (missing: false)."""
    changes = {}
    for name, value in values.items():
        entry = stored.get(name)
        current = entry.get("value") if isinstance(entry, dict) else None
        if name == UNSUBSCRIBED and current is None:
            current = False
        if current is not value:
            changes[name] = value
    return changes


def _gives(name: str, value: bool) -> bool:
    """Whether a change gives consent: a consent accepted, or `unsubscribed` cleared."""
    return (not value) if name == UNSUBSCRIBED else value
