"""Tracking custom events: upsert the customer, record the activity, count the event."""

from __future__ import annotations

from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.customers import service as customers
from patron.db.pool import Connection
from patron.events import repository
from patron.events.schemas import EventCreate, Referral, render_event


async def track(conn: Connection, actor: Actor, *, body: EventCreate) -> dict[str, Any]:
    """Record a custom event of a customer, creating the customer when unknown."""
    customer = await customers.upsert(conn, actor, payload=body.customer, refresh_segments=False)
    metadata = body.metadata if isinstance(body.metadata, dict) else {}
    await repository.count_event(conn, actor.project_id, customer["id"], body.event)
    await customers.refresh_segments(conn, actor, [customer["id"]])
    referral = body.referral if isinstance(body.referral, Referral) else None
    await activities.record(
        conn,
        actor,
        customer_id=customer["id"],
        activity_type="customer.custom_event",
        data={
            "event": {"type": body.event, "metadata": metadata},
            "event_schema": None,
            "customer": customer,
            "referral": None if referral is None else {"code": referral.code},
            "loyalty": None,
        },
    )
    return render_event(body.event, customer, metadata)


async def erase_for_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    return await repository.delete_for_customer(conn, project_id, customer_id)
