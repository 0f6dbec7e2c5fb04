"""Benchmark: segments on a project of 1,000,000 customers (issue 6).

    .venv/bin/python -m bench.segments [--customers 1000000] [--requests 1500]

1. Creating an auto-update segment: the time to compute its initial members, for a filter
   matching 10,000 customers (a city) and one matching ~111,000 (a name prefix).
2. Listing a segment's members (`GET /v1/customers?segment_id=`): stored members of an
   auto-update segment, a passive segment computed on read, and the same page with the
   plain `city` filter, side by side.
3. A customer write (upsert that changes the customer) in a project with 20 auto-update
   segments against the same write in a project with none, side by side: target <= 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any

import httpx

from bench.dataset import load_customers
from bench.harness import HEADERS, patron_server, report, side_by_side
from bench.http_bench import project_id_of
from patron.db.pool import connect
from patron.projects import service as projects

# Twenty filters of the kinds shops use, over every sort of path.
SEGMENT_FILTERS: list[dict[str, Any]] = [
    {"address.city": {"conditions": {"$is": "City 7"}}},
    {"address.city": {"conditions": {"$in": ["City 1", "City 2", "City 3"]}}},
    {"name": {"conditions": {"$starts_with": "Customer 1"}}},
    {"email": {"conditions": {"$ends_with": "@shop.example"}}},
    {"metadata.tier": {"conditions": {"$in": ["gold", "platinum"]}}},
    {"metadata.visits": {"conditions": {"$more_than": [10]}}},
    {"metadata.newsletter": {"conditions": {"$is": True}}},
    {"summary.orders.total_amount": {"conditions": {"$more_than_equal": [100000]}}},
    {"summary.orders.total_count": {"conditions": {"$more_than": ["5"]}}},
    {"events.review_left.count": {"conditions": {"$more_than": ["0"]}}},
    {"events.sign_up.count": {"conditions": {"$is": [1]}}},
    {"created_at": {"conditions": {"$less_than_ago": [30]}}},
    {"birthdate": {"conditions": {"$next_month": [True]}}},
    {"phone": {"conditions": {"$has_value": ""}}},
    {"address.country": {"conditions": {"$is_not": "Poland"}}},
    {
        "junction": "or",
        "metadata.tier": {"conditions": {"$is": "gold"}},
        "summary.orders.total_count": {"conditions": {"$more_than": [20]}},
    },
    {"description": {"conditions": {"$contains": "VIP"}}},
    {"updated_at": {"conditions": {"$after": "2026-01-01T00:00:00Z"}}},
    {"loyalty.points": {"conditions": {"$more_than": [1000]}}},
    {
        "junction": "and",
        "address.city": {"conditions": {"$is": "City 9"}},
        "metadata.tier": {"conditions": {"$is": "gold"}},
    },
]


async def second_project(dsn: str) -> dict[str, str]:
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            credentials = await projects.create(conn, f"no segments {secrets.token_hex(4)}")
        return {"X-App-Id": credentials.app_id, "X-App-Token": credentials.app_token}
    finally:
        await conn.close()


def timed_create(client: httpx.Client, name: str, segment_filter: dict[str, Any]) -> str:
    started = time.perf_counter()
    response = client.post(
        "/v1/segments", json={"name": name, "type": "auto-update", "filter": segment_filter}
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    segment_id: str = response.json()["id"]
    members = client.get("/v1/customers", params={"segment_id": segment_id, "limit": 1}).json()
    count = members["total"]
    print(f"create auto-update segment {name:28s} {seconds * 1000:8.0f} ms, {count} members")
    return segment_id


def write(n: int) -> tuple[str, str, Any]:
    return (
        "POST",
        "/v1/customers",
        {
            "source_id": f"writer-{n % 500}",
            "name": f"Writer {n}",
            "address": {"city": f"City {n % 100}"},
            "metadata": {"tier": "gold" if n % 3 else "silver", "visits": n % 20},
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()

    with patron_server() as server:
        dsn = server.dsn
        project_id = asyncio.run(project_id_of(dsn))
        started = time.perf_counter()
        asyncio.run(load_customers(dsn, project_id, start=0, count=args.customers))
        print(f"loaded {args.customers} customers in {time.perf_counter() - started:.0f} s")
        other = asyncio.run(second_project(dsn))

        with httpx.Client(base_url=server.base, headers=HEADERS, timeout=600) as client:
            city = timed_create(client, "city (1%)", SEGMENT_FILTERS[0])
            timed_create(client, "name prefix (~11%)", SEGMENT_FILTERS[2])
            for index, segment_filter in enumerate(SEGMENT_FILTERS):
                if index not in (0, 2):
                    client.post(
                        "/v1/segments",
                        json={"name": f"s{index}", "type": "auto-update", "filter": segment_filter},
                    ).raise_for_status()
            passive = client.post(
                "/v1/segments",
                json={"name": "city passive", "type": "passive", "filter": SEGMENT_FILTERS[0]},
            ).json()["id"]
            few = [
                customer["id"]
                for customer in client.get("/v1/customers", params={"limit": 10}).json()[
                    "customers"
                ]
            ]
            static = client.post(
                "/v1/segments", json={"name": "ten", "type": "static", "customers": few}
            ).json()["id"]
            total = client.get("/v1/segments").json()["total"]
            print(f"the project has {total} segments")

        lists = side_by_side(
            server.base,
            {
                "list auto-update members": lambda n: (
                    "GET",
                    f"/v1/customers?segment_id={city}&page={n % 10 + 1}",
                    None,
                ),
                "list passive members": lambda n: (
                    "GET",
                    f"/v1/customers?segment_id={passive}&page={n % 10 + 1}",
                    None,
                ),
                "list static members (10)": lambda n: (
                    "GET",
                    f"/v1/customers?segment_id={static}",
                    None,
                ),
                "list city= (no segment)": lambda n: (
                    "GET",
                    f"/v1/customers?city=City%207&page={n % 10 + 1}",
                    None,
                ),
            },
            requests=args.requests,
        )
        report(lists)

        writes = side_by_side(
            server.base,
            {"write, no segments": write, "write, 20 auto-update segments": write},
            requests=args.requests,
            headers={"write, no segments": other},
        )
        rates = report(writes)
        none, twenty = rates["write, no segments"], rates["write, 20 auto-update segments"]
        print(f"cost ratio (20 segments / none): {none / twenty:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
