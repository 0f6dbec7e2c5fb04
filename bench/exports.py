"""Benchmark: a customer export's download against the floor, rows/s and peak memory (issue 17).

    .venv/bin/python -m bench.exports [--customers 1000000]
    .venv/bin/python -m bench.exports --quick          # CI (tests/bench): 3,000 customers

Seeds the customers straight into PostgreSQL (`generate_series`), creates an export of 12
columns (ids, names, e-mail, city, summary counters and amounts, dates, one metadata key) through
Patron's API and downloads it anonymously through its `result.url`, streamed, as a client would.

The floor is the least the contract needs: a bare asyncio HTTP server in a process of its own
(`--floor PORT DSN`) that answers with `COPY (SELECT <the same columns>) TO STDOUT WITH CSV`
through asyncpg, each chunk written to the socket as it comes. Patron and the floor run one
after the other on the same database; for each the bench reports rows/s and the server
process's RSS before the download and its peak (`VmHWM`, the kernel's high-water mark, which no
sampling can miss). Patron downloads a tenth of the rows first and then all, so that its peak
after each shows whether memory grows with the number of rows.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from bench.harness import HEADERS, free_port, patron_server, wait_healthy
from patron.exports.repository import CUSTOMER_COLUMNS

FIELDS = [
    "id",
    "source_id",
    "name",
    "email",
    "address_city",
    "orders_total_amount",
    "orders_total_count",
    "orders_average_amount",
    "redemptions_total_redeemed",
    "loyalty_points",
    "created_at",
]
METADATA_KEY = "tier"


def _kib(pid: int, field: str) -> int:
    """A memory figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _floor_query(limit: int) -> str:
    """The floor's SELECT: Patron's export columns for these fields, newest first."""
    columns = [CUSTOMER_COLUMNS[field] for field in FIELDS]
    columns.append(f"(c.metadata ->> '{METADATA_KEY}')")
    return (
        f"SELECT {', '.join(columns)} FROM customers c"
        " WHERE c.project_id = (SELECT id FROM projects WHERE app_id = 'bench')"
        f" AND c.deleted_at IS NULL AND (c.metadata ->> 'n')::int < {limit}"
        " ORDER BY c.created_at DESC, c.id DESC"
    )


async def _floor_serve(port: int, dsn: str) -> None:
    """The floor: answers any request with the CSV of `?rows=N` customers, from COPY."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        target = request.split(" ", 2)[1]
        limit = int(parse_qs(urlsplit(target).query).get("rows", ["0"])[0])
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\n\r\n"
        )

        async def sink(chunk: bytes) -> None:
            writer.write(chunk)
            await writer.drain()

        async with pool.acquire() as conn:
            await conn.copy_from_query(_floor_query(limit), output=sink, format="csv")
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def _seed(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        project_id = await conn.fetchval("SELECT id FROM projects WHERE app_id = 'bench'")
        # `metadata.n` numbers them, so `metadata.n < N` picks the first N.
        await conn.execute(
            """
            INSERT INTO customers (project_id, id, source_id, name, email, address, metadata,
                                   orders_total_amount, orders_total_count, created_at)
            SELECT $1, 'cust_bench' || lpad(n::text, 8, '0'), 'bench-' || lpad(n::text, 8, '0'),
                   'Customer ' || n, 'customer' || n || '@example.com',
                   jsonb_build_object('city', (ARRAY['Paris', 'Rome', 'New York, NY'])[n % 3 + 1]),
                   jsonb_build_object(
                       'tier', (ARRAY['gold', 'silver', 'bronze'])[n % 3 + 1], 'n', n),
                   n % 100000, n % 7, now() - make_interval(secs => $2 - n)
            FROM generate_series(0, $2 - 1) AS n
            """,
            project_id,
            count,
        )
        await conn.execute("VACUUM (ANALYZE) customers")
    finally:
        await conn.close()


@dataclass
class Download:
    rows: int
    seconds: float
    first_byte: float
    idle_rss: int
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _download(client: httpx.Client, url: str, pid: int, params: dict[str, str]) -> Download:
    idle = _kib(pid, "VmRSS")
    started = time.perf_counter()
    first: float | None = None
    newlines = 0
    tail = b""
    with client.stream("GET", url, params=params) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            if first is None:
                first = time.perf_counter() - started
            newlines += chunk.count(b"\n")
            tail = (tail + chunk)[-4096:]
    seconds = time.perf_counter() - started
    assert tail.endswith(b"\n"), tail[-200:]
    return Download(newlines, seconds, first or seconds, idle, _kib(pid, "VmHWM"))


def _line(name: str, run: Download, rows: int) -> str:
    return (
        f"{name:<28} {rows:>9,} rows {run.seconds:7.2f} s {run.rate:10,.0f} rows/s"
        f"  first byte {run.first_byte * 1000:6.1f} ms"
        f"  RSS idle {run.idle_rss / 2**20:5.0f} MiB peak {run.peak_rss / 2**20:5.0f} MiB"
    )


def _sample(client: httpx.Client, url: str, params: dict[str, str]) -> list[list[str]]:
    text = client.get(url, params=params).text
    return list(csv.reader(io.StringIO(text)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--floor", nargs=2, metavar=("PORT", "DSN"))
    args = parser.parse_args()
    if args.floor:
        asyncio.run(_floor_serve(int(args.floor[0]), args.floor[1]))
        return
    count = 3000 if args.quick else args.customers
    small = max(1, count // 10)

    with patron_server() as server:
        started = time.perf_counter()
        asyncio.run(_seed(server.dsn, count))
        print(f"seeded {count:,} customers in {time.perf_counter() - started:.1f} s")
        port = free_port()
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.exports", "--floor", str(port), server.dsn]
        )
        try:
            floor_base = f"http://127.0.0.1:{port}"
            wait_healthy(f"{floor_base}/?rows=0")
            with (
                httpx.Client(base_url=server.base, headers=HEADERS, timeout=600) as api,
                httpx.Client(timeout=600) as anonymous,
            ):
                urls = {}
                for rows in (small, count):
                    filters = {"metadata.n": {"conditions": {"$less_than": rows}}}
                    body = {
                        "exported_object": "customer",
                        "parameters": {
                            "fields": [*FIELDS, f"metadata.{METADATA_KEY}"],
                            "filters": filters,
                        },
                    }
                    created = api.post("/v1/exports", json=body)
                    assert created.status_code == 200, created.text
                    urls[rows] = api.get(f"/v1/exports/{created.json()['id']}").json()["result"][
                        "url"
                    ]

                def patron(rows: int) -> Download:
                    parts = urlsplit(urls[rows])
                    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    url = server.base + parts.path
                    return _download(anonymous, url, server.process.pid, params)

                def floor_run(rows: int) -> Download:
                    return _download(anonymous, floor_base + "/", floor.pid, {"rows": str(rows)})

                # The same rows from both: Patron's CSV has a header line.
                parts = urlsplit(urls[small])
                mine = _sample(
                    anonymous,
                    server.base + parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                )
                theirs = _sample(anonymous, floor_base + "/", {"rows": str(small)})
                assert mine[0] == [*FIELDS, f"metadata.{METADATA_KEY}"], mine[0]
                assert mine[1:] == theirs, (mine[1:3], theirs[:2])
                print(f"checked: Patron's and the floor's CSV hold the same {small:,} rows")

                patron_small = patron(small)
                patron_all = patron(count)
                floor_all = floor_run(count)
            print(_line("Patron, a tenth", patron_small, small))
            print(_line("Patron", patron_all, count))
            print(_line("floor (COPY to the socket)", floor_all, count))
            assert patron_small.rows == small + 1
            assert patron_all.rows == count + 1
            assert floor_all.rows == count
            print(
                f"Patron / floor: rate {patron_all.rate / floor_all.rate:.2f},"
                f" peak RSS {patron_all.peak_rss / floor_all.peak_rss:.2f} times,"
                f" Patron's peak growth from {small:,} to {count:,} rows"
                f" {(patron_all.peak_rss - patron_small.peak_rss) / 2**20:+.1f} MiB"
            )
            print("export bench done")
        finally:
            floor.terminate()
            floor.wait(timeout=30)


if __name__ == "__main__":
    main()
