"""Tracking custom events: upsert the customer, record the activity, count the event."""

from __future__ import annotations

from typing import Any

from patron.activities import service as activities
from patron.activities.service import Actor
from patron.db.pool import Connection
from patron.events import repository
from patron.events.schemas import EventCreate, Referral, render_event
from patron.writes import customers as customer_writes


async def track(conn: Connection, actor: Actor, *, body: EventCreate) -> dict[str, Any]:
    """Record a custom event of a customer, creating the customer when unknown."""
    written = await customer_writes.upsert(
        conn, actor, payload=body.customer, settle_segments=False
    )
    customer = written.customer
    metadata = body.metadata if isinstance(body.metadata, dict) else {}
    await repository.count_event(conn, actor.project_id, customer["id"], body.event)
    await customer_writes.settle(conn, actor, [written.id], auto_update=written.auto_update)
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
