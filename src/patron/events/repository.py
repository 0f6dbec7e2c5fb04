"""SQL for custom event counts."""

from __future__ import annotations

from patron.db.pool import Connection


async def count_event(conn: Connection, project_id: str, customer_id: str, event: str) -> None:
    await conn.execute(
        """
        INSERT INTO customer_event_counts
            (project_id, customer_id, event, count, first_at, last_at)
        VALUES ($1, $2, $3, 1, clock_timestamp(), clock_timestamp())
        ON CONFLICT (project_id, customer_id, event)
        DO UPDATE SET count = customer_event_counts.count + 1, last_at = clock_timestamp()
        """,
        project_id,
        customer_id,
        event,
    )


async def delete_for_customer(conn: Connection, project_id: str, customer_id: str) -> int:
    status = await conn.execute(
        "DELETE FROM customer_event_counts WHERE project_id = $1 AND customer_id = $2",
        project_id,
        customer_id,
    )
    return int(status.split()[-1])
