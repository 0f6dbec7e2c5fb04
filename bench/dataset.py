"""A synthetic project of many customers, loaded with COPY (for list and activity benchmarks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from patron.activities import repository as activities_repository
from patron.db.pool import connect
from patron.kit import ids
from patron.writes import repository as writes_repository

CITIES = 100
HOT_ACTIVITIES = 200


async def load_customers(dsn: str, project_id: str, *, start: int, count: int) -> str:
    """Add customers `start` … `start + count - 1` (source_id `bench-N`, city `City N % 100`),
    one small activity each, and return the id of customer `start`, which gets
    HOT_ACTIVITIES more activities when `start` is 0."""
    conn = await connect(dsn)
    try:
        base = datetime(2020, 1, 1, tzinfo=UTC)
        first_id = ""
        chunk = 50_000
        for offset in range(start, start + count, chunk):
            customers: list[tuple[Any, ...]] = []
            activities: list[tuple[Any, ...]] = []
            for n in range(offset, min(start + count, offset + chunk)):
                customer_id = ids.customer_id()
                first_id = first_id or customer_id
                created = base + timedelta(milliseconds=n)
                customers.append(
                    (
                        project_id,
                        customer_id,
                        f"bench-{n}",
                        f"Customer {n}",
                        f"c{n}@example.com",
                        {"city": f"City {n % CITIES}"},
                        {},
                        created,
                    )
                )
                activities.append(
                    (
                        ids.activity_id(),
                        customer_id,
                        "customer.created",
                        "ACTION",
                        {"customer": {"id": customer_id}},
                        "v-bench",
                        created,
                    )
                )
            await conn.copy_records_to_table(
                "customers",
                records=customers,
                columns=[
                    "project_id",
                    "id",
                    "source_id",
                    "name",
                    "email",
                    "address",
                    "metadata",
                    "created_at",
                ],
            )
            await activities_repository.insert_many(conn, project_id, activities)
        if start == 0:
            hot = [
                (
                    ids.activity_id(),
                    first_id,
                    "customer.updated",
                    "ACTION",
                    {"customer": {"id": first_id}},
                    "v-bench",
                    base + timedelta(seconds=n),
                )
                for n in range(HOT_ACTIVITIES)
            ]
            await activities_repository.insert_many(conn, project_id, hot)
        await writes_repository.move_count(conn, project_id, count)
        # As autovacuum would in steady state: statistics, and the visibility map that lets
        # counts run as index-only scans.
        await conn.execute("VACUUM (ANALYZE) customers")
        await conn.execute("VACUUM (ANALYZE) customer_activities")
        return first_id
    finally:
        await conn.close()
