"""Benchmark: orders against customers, side by side (issue 4).

    .venv/bin/python bench/orders.py [--requests 2000]

1. GET of a customer with 10,000 orders against GET of one with none: the ratio should be ~1,
   because summary.orders is stored on the customer and moved by each order change.
2. Order creation (PAID, with its customer upsert, summary move and activities) against a plain
   customer upsert: how much an order costs over a customer write.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.harness import HEADERS, patron_server, report, side_by_side


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()

    with patron_server() as server:
        base = server.base
        with httpx.Client(base_url=base, headers=HEADERS, timeout=120) as client:
            client.post("/v1/customers", json={"source_id": "no-orders"}).raise_for_status()
            client.post("/v1/customers", json={"source_id": "many-orders"}).raise_for_status()
            for start in range(0, args.orders, 2000):
                batch = [
                    {
                        "source_id": f"o-{n}",
                        "amount": 100 + n % 50,
                        "status": "PAID",
                        "customer": {"source_id": "many-orders"},
                    }
                    for n in range(start, min(args.orders, start + 2000))
                ]
                action = client.post("/v1/orders/import", json=batch).json()["async_action_id"]
                while client.get(f"/v1/async-actions/{action}").json()["status"] != "DONE":
                    time.sleep(0.2)
            summary = client.get("/v1/customers/many-orders").json()["summary"]["orders"]
            assert summary["total_count"] == args.orders, summary
            print(f"customer many-orders has {summary['total_count']} orders")

        reads = side_by_side(
            base,
            {
                "GET customer with 0 orders": lambda n: ("GET", "/v1/customers/no-orders", None),
                f"GET customer with {args.orders} orders": lambda n: (
                    "GET",
                    "/v1/customers/many-orders",
                    None,
                ),
            },
            requests=args.requests,
        )
        read = report(reads)
        names = list(read)
        print(f"ratio (with orders / without): {read[names[1]] / read[names[0]]:.2f}")

        writes = side_by_side(
            base,
            {
                "POST customer (upsert)": lambda n: (
                    "POST",
                    "/v1/customers",
                    {"source_id": f"c-{n % 500}", "name": f"n{n}"},
                ),
                "POST order (PAID, new)": lambda n: (
                    "POST",
                    "/v1/orders",
                    {"amount": 1000, "status": "PAID", "customer": {"source_id": f"c-{n % 500}"}},
                ),
            },
            requests=args.requests,
        )
        write = report(writes)
        names = list(write)
        print(f"ratio (order creation / customer upsert): {write[names[1]] / write[names[0]]:.2f}")


if __name__ == "__main__":
    main()
