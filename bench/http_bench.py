"""`make bench`: Patron against the limit server, endpoint by endpoint, side by side.

    .venv/bin/python -m bench.http_bench [--customers 1000000] [--duration 10] [--quick]

Starts `patron serve` on a fresh embedded PostgreSQL and the limit server (`bench/limit_server.py`)
on the same database, loads a synthetic project of 100,000 customers with COPY, and drives both
with the same load from a separate process (wrk when installed, else an async Python generator),
alternating A and B runs. Reports requests/s and p50/p99 latency per endpoint and the ratio
Patron / limit, and each server's CPU time per request (and limit / Patron of it: steadier than
req/s on a shared host).

Then a second database on the same PostgreSQL gets --customers customers, with its own Patron
and limit server, and the list and activity pages are measured on it and on the small one in
alternation, round by round: the page's cost at the large size against the small one comes from
the same minutes, not from two runs the host may treat differently. Last, the filtered list's
latency at the large size below saturation (--latency-connections).

Between the two, the floor comparison (`--case floor` runs it alone): the floor server
(`bench/floor_server.py`: raw ASGI and asyncpg, one upsert statement and one activity insert, or
one SELECT, per request) beside Patron and the limit server on the same database, after a check
that all three create, update and read customers alike and that Patron shows the floor's
customers as the floor does. Measured in alternation: GET customer and POST customer (half new
customers, half updates of 500 hot ones) at 32 connections, and POST of new customers only at 1,
4 and 32 connections; reported as req/s, p50/p99 and server CPU per request, and the ratios
Patron / floor and Patron / limit.

Then the publication comparison (`--case publication` runs it alone): a discount campaign of
--publication-codes codes made through Patron's API, and Patron, the limit and the floor
publishing them (`POST /v1/publications`, each request to a new customer) at 1 and 32
connections, in alternation, after a check that the three answer alike and that Patron shows
what the floor wrote as the floor answered it.

--quick runs each case for about a second on a small dataset and only checks that every endpoint
answers under load without errors (CI runs it, so that the harness cannot rot).
--patron-workers N adds `--workers N` to `patron serve`; the server's CPU is then that of its
processes together.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.code_generation import create_campaign, wait_for_codes
from bench.dataset import load_customers
from bench.harness import (
    HEADERS,
    ROOT,
    PatronServer,
    free_port,
    patron_server,
    wait_healthy,
)
from bench.harness import load as load_requests
from patron.db.pool import connect


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # The server process's CPU time per request (user + system), µs: unlike req/s, hardly moved
    # by other work on a shared host, so its ratio is the steadier measure of overhead.
    cpu_us: float = float("nan")


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a server: its process and the processes it started
    (uvicorn's workers under `patron serve --workers N`), PostgreSQL's excepted."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                name, rest = stat.read().split(" (", 1)[1].rsplit(")", 1)
        except OSError:  # it has ended meanwhile
            continue
        if name != "postgres":
            children.setdefault(int(rest.split()[1]), []).append(int(entry))
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += process_cpu_seconds(current)
        except OSError:
            continue
        pending.extend(children.get(current, []))
    return total


@dataclass(frozen=True)
class Case:
    """One load: the same request again and again at `connections` concurrent connections.

    A body may vary with the request's number `n` and the run's `run`, a tag no other run
    has (so that "new" source_ids are new in every run); `lua_body` is the same body as a Lua
    expression of `n` and `run`, for wrk.
    """

    name: str
    method: str
    path: str
    body: Callable[[int, str], Any] | None = None
    lua_body: str | None = None
    connections: int = 32


def cases() -> list[Case]:
    return [
        Case("GET customer", "GET", "/v1/customers/bench-7"),
        Case(
            "POST customer (upsert + activity)",
            "POST",
            "/v1/customers",
            body=lambda n, _run: {"source_id": f"bench-{n % 1000}", "name": f"name {n}"},
            lua_body='\'{"source_id":"bench-\' .. (n % 1000) .. \'","name":"name \' .. n .. \'"}\'',
        ),
        Case(
            "PUT customer",
            "PUT",
            "/v1/customers/bench-11",
            body=lambda n, _run: {"name": f"renamed {n}"},
            lua_body="'{\"name\":\"renamed ' .. n .. '\"}'",
        ),
        Case("GET customers (list page)", "GET", "/v1/customers?limit=10"),
        Case("GET customers?city= (list, filter)", "GET", "/v1/customers?city=City%2042&limit=10"),
        # bench-0 has HOT_ACTIVITIES activities (bench/dataset.py); by source_id, so that the
        # same path names it in every database.
        Case("GET activity page", "GET", "/v1/customers/bench-0/activity?limit=10"),
    ]


# The floor comparison's updates go to bench-0 … bench-499 (all in the dataset at every size).
HOT_CUSTOMERS = 500
NEW_CUSTOMER_CONNECTIONS = (1, 4, 32)


def _customer(source_id: str, n: int, run: str) -> dict[str, Any]:
    """A POST body; its name differs in every request, so that an update changes the row."""
    return {
        "source_id": source_id,
        "name": f"name {run} {n}",
        "email": f"c{n}@example.com",
        "metadata": {"n": n},
    }


def _lua_customer(source_id: str) -> str:
    """`_customer`'s body as a Lua expression, for a Lua expression of the source_id."""
    return (
        f'\'{{"source_id":"\' .. {source_id} .. \'","name":"name \' .. run .. \' \' .. n'
        ' .. \'","email":"c\' .. n .. \'@example.com","metadata":{"n":\' .. n .. \'}}\''
    )


def floor_cases() -> list[Case]:
    """The cases of the floor comparison (the floor server serves only these two endpoints)."""
    new = _lua_customer("'new-' .. run .. '-' .. n")
    return [
        Case("GET customer", "GET", "/v1/customers/bench-7"),
        Case(
            "POST customer, half new, half hot",
            "POST",
            "/v1/customers",
            body=lambda n, run: _customer(
                f"new-{run}-{n}" if n % 2 else f"bench-{n // 2 % HOT_CUSTOMERS}", n, run
            ),
            lua_body=_lua_customer(
                f"(n % 2 == 1 and ('new-' .. run .. '-' .. n)"
                f" or ('bench-' .. (math.floor(n / 2) % {HOT_CUSTOMERS})))"
            ),
        ),
        *(
            Case(
                f"POST new customer, {count} connection{'s' if count > 1 else ''}",
                "POST",
                "/v1/customers",
                body=lambda n, run: _customer(f"new-{run}-{n}", n, run),
                lua_body=new,
                connections=count,
            )
            for count in NEW_CUSTOMER_CONNECTIONS
        ),
    ]


PUBLICATION_CONNECTIONS = (1, 32)


def publication_cases(campaign: str) -> list[Case]:
    """The publication comparison: each request publishes one code of `campaign` to a new
    customer (upserted by the publication, as `_customer` describes it)."""
    customer = _lua_customer("'pub-' .. run .. '-' .. n")
    lua_body = f"""'{{"customer":' .. {customer} .. ',"campaign":{{"name":"{campaign}"}}}}'"""
    return [
        Case(
            f"POST publication, {count} connection{'s' if count > 1 else ''}",
            "POST",
            "/v1/publications",
            body=lambda n, run: {
                "customer": _customer(f"pub-{run}-{n}", n, run),
                "campaign": {"name": campaign},
            },
            lua_body=lua_body,
            connections=count,
        )
        for count in PUBLICATION_CONNECTIONS
    ]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(base: str, case: Case, *, duration: float, connections: int, run: str = "") -> Run:
    headers = {**HEADERS, "Content-Type": "application/json"}
    header_lua = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    body = case.lua_body or "nil"
    script = f"""
n = 0
run = "{run}"
request = function()
  n = n + 1
  return wrk.format("{case.method}", "{case.path}", {{{header_lua}}}, {body})
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                file.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return Run(rps, p50, p99, errors)


def run_python(base: str, case: Case, *, requests: int, connections: int, run: str = "") -> Run:
    body = case.body

    def make(n: int) -> tuple[str, str, Any]:
        return case.method, case.path, None if body is None else body(n, run)

    result = load_requests(base, make, requests=requests, concurrency=connections)
    return Run(result.rps, result.percentile(0.5), result.percentile(0.99), result.errors)


async def project_id_of(dsn: str) -> str:
    conn = await connect(dsn)
    try:
        value: str = await conn.fetchval("SELECT id FROM projects WHERE app_id = 'bench'")
        return value
    finally:
        await conn.close()


def measure(
    targets: dict[str, str],
    selected: list[Case],
    *,
    quick: bool,
    rounds: int,
    duration: float,
    use_wrk: bool,
    pids: dict[str, int],
    before_run: Callable[[], None] | None = None,
) -> dict[tuple[str, str], Run]:
    """Each case on each target, alternating, `rounds` times; the medians. `before_run` is
    called before each run, outside the time and CPU measured."""
    results: dict[tuple[str, str], list[Run]] = {}
    for case in selected:
        for _ in range(rounds):
            for target, base in targets.items():  # A then B, alternating every round
                if before_run is not None:
                    before_run()
                tag = secrets.token_hex(4)
                before = server_cpu_seconds(pids[target])
                started = time.perf_counter()
                if use_wrk and not quick:
                    run = run_wrk(
                        base, case, duration=duration, connections=case.connections, run=tag
                    )
                else:
                    # The Python generator cannot keep more connections busy on these cores.
                    run = run_python(
                        base,
                        case,
                        requests=60 if quick else 2000,
                        connections=min(case.connections, 8),
                        run=tag,
                    )
                requests = run.rps * (time.perf_counter() - started)
                spent = server_cpu_seconds(pids[target]) - before
                run.cpu_us = spent / requests * 1e6 if requests else float("nan")
                results.setdefault((case.name, target), []).append(run)
    return {
        key: Run(
            statistics.median(r.rps for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
            statistics.median(r.cpu_us for r in runs),
        )
        for key, runs in results.items()
    }


def latency_profile(
    base: str,
    selected: list[Case],
    *,
    connections: list[int],
    rounds: int,
    duration: float,
    use_wrk: bool,
) -> int:
    """Patron's latency at loads below saturation (32 connections measure throughput, and
    their p99 is mostly time spent queueing for the two cores)."""
    errors = 0
    print("\nPatron's latency by number of connections (median of rounds):")
    print(f"{'endpoint':38s} {'connections':>11s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for case in selected:
        for count in connections:
            runs = [
                run_wrk(base, case, duration=duration, connections=count)
                if use_wrk
                else run_python(base, case, requests=2000, connections=count)
                for _ in range(rounds)
            ]
            errors += sum(run.errors for run in runs)
            print(
                f"{case.name:38s} {count:11d} {statistics.median(r.rps for r in runs):8.0f} "
                f"{statistics.median(r.p50_ms for r in runs):8.2f} "
                f"{statistics.median(r.p99_ms for r in runs):8.2f}"
            )
    return errors


def report(results: dict[tuple[str, str], Run], selected: list[Case]) -> int:
    errors = 0
    print(
        f"{'endpoint':38s} {'Patron req/s':>12s} {'limit req/s':>12s} {'ratio':>6s} "
        f"{'p50 ms':>14s} {'p99 ms':>14s} {'CPU µs/req':>13s} {'CPU ratio':>9s}"
    )
    for case in selected:
        patron, limit = results[(case.name, "patron")], results[(case.name, "limit")]
        errors += patron.errors + limit.errors
        print(
            f"{case.name:38s} {patron.rps:12.0f} {limit.rps:12.0f} {patron.rps / limit.rps:6.2f} "
            f"{patron.p50_ms:6.2f}/{limit.p50_ms:<7.2f} {patron.p99_ms:6.2f}/{limit.p99_ms:<7.2f}"
            f" {patron.cpu_us:6.0f}/{limit.cpu_us:<6.0f} {limit.cpu_us / patron.cpu_us:9.2f}"
            + (f"  ERRORS {patron.errors}/{limit.errors}" if patron.errors + limit.errors else "")
        )
    return errors


def report_floor(results: dict[tuple[str, str], Run], selected: list[Case]) -> int:
    """Print the floor comparison: each server's req/s, p50/p99 (ms) and CPU µs per request,
    Patron / floor and Patron / limit of req/s, then the POST mix's p99 ratio and how each
    server's throughput of new customers scales from 1 to 32 connections. Returns the errors."""
    errors = 0
    print(
        f"{'case (Patron / limit / floor)':38s} {'req/s':>20s} {'P/floor':>7s} {'P/limit':>7s}"
        f" {'p50 ms':>17s} {'p99 ms':>18s} {'CPU µs/req':>17s}"
    )
    for case in selected:
        runs = [results[(case.name, target)] for target in ("patron", "limit", "floor")]
        patron, limit, floor = runs
        failed = sum(run.errors for run in runs)
        errors += failed
        print(
            f"{case.name:38s} {'/'.join(f'{run.rps:.0f}' for run in runs):>20s}"
            f" {patron.rps / floor.rps:7.2f} {patron.rps / limit.rps:7.2f}"
            f" {'/'.join(f'{run.p50_ms:.1f}' for run in runs):>17s}"
            f" {'/'.join(f'{run.p99_ms:.1f}' for run in runs):>18s}"
            f" {'/'.join(f'{run.cpu_us:.0f}' for run in runs):>17s}"
            + (f"  ERRORS {'/'.join(str(run.errors) for run in runs)}" if failed else "")
        )
    mix = [case for case in selected if case.name.startswith("POST customer")]
    for case in mix:
        patron, floor = results[(case.name, "patron")], results[(case.name, "floor")]
        print(f"{case.name}: p99 Patron / floor {patron.p99_ms / floor.p99_ms:.2f}")
    new = {case.connections: case for case in selected if case.name.startswith("POST new")}
    if min(NEW_CUSTOMER_CONNECTIONS) in new and max(NEW_CUSTOMER_CONNECTIONS) in new:
        one, most = new[min(NEW_CUSTOMER_CONNECTIONS)], new[max(NEW_CUSTOMER_CONNECTIONS)]
        scaling = {
            target: results[(most.name, target)].rps / results[(one.name, target)].rps
            for target in ("patron", "limit", "floor")
        }
        print(
            f"new customers, req/s at {most.connections} connections / at {one.connections}:"
            + ", ".join(f" {target} {ratio:.2f}" for target, ratio in scaling.items())
        )
    return errors


def check_answers(targets: dict[str, str]) -> int:
    """Check, before the floor comparison, that each server (`patron`, `limit`, `floor`) creates,
    updates and reads a customer by id and by source_id, and that the floor's answers are
    Patron's: the same customer read through both is the same JSON, and the activities the floor
    recorded show in Patron's timeline. Prints what failed; returns how many checks failed."""
    failures: list[str] = []

    def expect(condition: bool, what: str) -> bool:
        if not condition:
            failures.append(what)
        return condition

    tag = secrets.token_hex(4)
    created: dict[str, str] = {}
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        for target, base in targets.items():
            source_id = f"check-{target}-{tag}"
            body = {"source_id": source_id, "name": "Check", "metadata": {"k": "v"}}
            first = client.post(f"{base}/v1/customers", json=body)
            if not expect(first.status_code == 200, f"{target}: POST {first.status_code}"):
                continue
            customer_id = first.json()["id"]
            expect(first.json()["source_id"] == source_id, f"{target}: POST's source_id")
            second = client.post(f"{base}/v1/customers", json={"source_id": source_id, "name": "2"})
            updated = second.json() if second.status_code == 200 else {}
            expect(
                updated.get("id") == customer_id
                and updated.get("name") == "2"
                and updated.get("metadata") == {"k": "v"},
                f"{target}: an update by source_id (status {second.status_code}, {updated})",
            )
            for key in (customer_id, source_id):
                read = client.get(f"{base}/v1/customers/{key}")
                expect(
                    read.status_code == 200 and read.json() == updated,
                    f"{target}: GET by {key} ({read.status_code}) is not what the update returned",
                )
            created[target] = customer_id
        patron, floor = targets["patron"], targets["floor"]
        missing = client.get(f"{floor}/v1/customers/nobody-{tag}")
        expect(missing.status_code == 404, f"floor: GET of nobody answered {missing.status_code}")
        refused = client.get(f"{floor}/v1/customers/bench-7", headers={"X-App-Token": "wrong"})
        expect(refused.status_code == 401, f"floor: a wrong token answered {refused.status_code}")
        for key in ("bench-7", created.get("floor", "")):
            ours, its = (
                client.get(f"{patron}/v1/customers/{key}"),
                client.get(f"{floor}/v1/customers/{key}"),
            )
            expect(ours.json() == its.json(), f"Patron and the floor show {key} differently")
        timeline = client.get(f"{patron}/v1/customers/{created.get('floor', '')}/activity")
        types = sorted(item["type"] for item in timeline.json().get("data", []))
        expect(
            types == ["customer.created", "customer.updated"],
            f"the floor's activities in Patron's timeline: {types}",
        )
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    if not failures:
        print("checked: Patron, the limit and the floor create, update and read alike")
    return len(failures)


def report_baseline(results: dict[tuple[str, str], Run], selected: list[Case], source: Path) -> int:
    errors = 0
    print(f"\nthis checkout against {source}, measured in alternation:")
    print(
        f"{'endpoint':38s} {'req/s':>13s} {'ratio':>6s} {'CPU µs/req':>13s} "
        f"{'Patron - limit':>14s} {'limit / Patron':>14s}"
    )
    for case in selected:
        ours, theirs = results[(case.name, "patron")], results[(case.name, "baseline")]
        limit = results[(case.name, "limit")]
        errors += theirs.errors
        print(
            f"{case.name:38s} {ours.rps:6.0f}/{theirs.rps:<6.0f} {ours.rps / theirs.rps:6.2f} "
            f"{ours.cpu_us:6.0f}/{theirs.cpu_us:<6.0f} "
            f"{ours.cpu_us - limit.cpu_us:6.0f}/{theirs.cpu_us - limit.cpu_us:<7.0f} "
            f"{limit.cpu_us / ours.cpu_us:6.2f}/{limit.cpu_us / theirs.cpu_us:<7.2f}"
        )
    return errors


FLOOR = "floor"
PUBLICATION = "publication"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--latency-connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 4, 8, 16],
        help="connection counts for the filtered list's latency at the large size",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another Patron commit (git worktree add DIR COMMIT), served beside "
        "on the same database and measured in alternation at the small size",
    )
    parser.add_argument(
        "--case",
        action="append",
        help="only the endpoints whose name contains this text; `floor` for the floor "
        "comparison, `publication` for the publication comparison (repeatable; without it, "
        "everything)",
    )
    parser.add_argument(
        "--publication-codes",
        type=int,
        default=200_000,
        help="codes generated for the publication comparison (every request takes one)",
    )
    parser.add_argument(
        "--patron-workers",
        type=int,
        help="serve Patron with `patron serve --workers N` (not passed when not given)",
    )
    args = parser.parse_args(argv)
    use_wrk = shutil.which("wrk") is not None
    small = 1000 if args.quick else min(100_000, args.customers)
    texts = [text for text in args.case or [] if text not in (FLOOR, PUBLICATION)]
    selected = [c for c in cases() if not args.case or any(text in c.name for text in texts)]
    comparisons = {name: not args.case or name in args.case for name in (FLOOR, PUBLICATION)}
    serve_args = ["--workers", str(args.patron_workers)] if args.patron_workers else []

    with patron_server(serve_args=serve_args) as server:
        if args.quick or args.customers <= small or not scaled_cases(selected):
            return compare(server, None, args, selected, comparisons, use_wrk=use_wrk, small=small)
        # The large dataset lives in a second database of the same PostgreSQL, served by a
        # second Patron, so that both sizes are measured in alternation, in one window.
        large_dsn = asyncio.run(create_database(server.dsn, LARGE_DATABASE))
        with patron_server(large_dsn, serve_args=serve_args) as large:
            return compare(server, large, args, selected, comparisons, use_wrk=use_wrk, small=small)


def scaled_cases(selected: list[Case]) -> list[Case]:
    """The cases measured at both sizes: the pages, whose cost may grow with the table."""
    return [c for c in selected if c.name.startswith(("GET customers", "GET activity"))]


LARGE_DATABASE = "patron_bench_large"


async def create_database(dsn: str, name: str) -> str:
    """A new empty database beside the one of `dsn`, on the same server; its DSN."""
    conn = await connect(dsn)
    try:
        current: str = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(dsn)
    assert parts.path == f"/{current}", dsn
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def bench_server(module: str, server: PatronServer, *args: str) -> Iterator[tuple[str, int]]:
    """A bench server (`bench.limit_server`, `bench.floor_server`) on `server`'s database,
    with these extra arguments: its base URL and pid."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--dsn", server.dsn, "--port", str(port), *args],
        env=server.env,
        cwd=ROOT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/v1/customers/bench-1")
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def limit_server(server: PatronServer, project_id: str) -> AbstractContextManager[tuple[str, int]]:
    """The limit server on `server`'s database and project: its base URL and pid."""
    return bench_server("bench.limit_server", server, "--project", project_id)


def load(server: PatronServer, count: int) -> str:
    """Load `count` customers into the bench project of `server`; the project's id."""
    project_id = asyncio.run(project_id_of(server.dsn))
    started = time.perf_counter()
    asyncio.run(load_customers(server.dsn, project_id, start=0, count=count))
    print(f"loaded {count} customers in {time.perf_counter() - started:.1f}s")
    return project_id


def compare(
    server: PatronServer,
    large: PatronServer | None,
    args: argparse.Namespace,
    selected: list[Case],
    comparisons: dict[str, bool],
    *,
    use_wrk: bool,
    small: int,
) -> int:
    """The selected cases, then the floor and publication comparisons when `comparisons` says
    so, at the small size; then the scaled cases at both sizes. Errors."""
    print(f"load generator: {'wrk' if use_wrk and not args.quick else 'python'}")
    errors = 0
    with ExitStack() as stack:
        project_id = load(server, small)
        limit_base, limit_pid = stack.enter_context(limit_server(server, project_id))
        targets = {"patron": server.base, "limit": limit_base}
        pids = {"patron": server.process.pid, "limit": limit_pid}
        if args.baseline:
            baseline = stack.enter_context(patron_server(server.dsn, source=args.baseline))
            targets["baseline"] = baseline.base
            pids["baseline"] = baseline.process.pid
        if selected:
            results = measure(
                targets,
                selected,
                quick=args.quick,
                rounds=1 if args.quick else args.rounds,
                duration=args.duration,
                use_wrk=use_wrk,
                pids=pids,
            )
            print(f"\nat {small} customers:")
            errors += report(results, selected)
            if args.baseline:
                errors += report_baseline(results, selected, args.baseline)
        if comparisons[FLOOR]:
            errors += compare_floor(server, targets, pids, args, use_wrk=use_wrk, small=small)
        if comparisons[PUBLICATION]:
            errors += compare_publication(server, targets, pids, args, use_wrk=use_wrk)
        scaled = scaled_cases(selected)
        if large is None or not scaled:
            return finish(errors)

        large_project = load(large, args.customers)
        large_limit, large_limit_pid = stack.enter_context(limit_server(large, large_project))
        # Both sizes in alternation, round by round: the page cost at the large size against
        # the small one is then measured in the same minutes, whatever the host does.
        both = measure(
            {
                "patron": large.base,
                "limit": large_limit,
                "patron_small": server.base,
            },
            scaled,
            quick=False,
            rounds=args.rounds,
            duration=args.duration,
            use_wrk=use_wrk,
            pids={
                "patron": large.process.pid,
                "limit": large_limit_pid,
                "patron_small": server.process.pid,
            },
        )
        print(f"\nat {args.customers} customers:")
        errors += report(both, scaled)
        print(
            f"\nPatron's page at {args.customers} customers / at {small} customers, "
            "measured in alternation (a filter matching 1% counts ten times as many matches "
            "for its exact `total` at ten times the size; it is held to its p99 instead):"
        )
        print(f"{'endpoint':38s} {'p50 ratio':>9s} {'req/s ratio':>11s} {'CPU ratio':>9s}")
        for case in scaled:
            big, little = both[(case.name, "patron")], both[(case.name, "patron_small")]
            print(
                f"{case.name:38s} {big.p50_ms / little.p50_ms:9.2f} "
                f"{little.rps / big.rps:11.2f} {big.cpu_us / little.cpu_us:9.2f}"
            )
        errors += latency_profile(
            large.base,
            [c for c in scaled if "filter" in c.name],
            connections=args.latency_connections,
            rounds=args.rounds,
            duration=args.duration,
            use_wrk=use_wrk,
        )
        return finish(errors)


def compare_floor(
    server: PatronServer,
    targets: dict[str, str],
    pids: dict[str, int],
    args: argparse.Namespace,
    *,
    use_wrk: bool,
    small: int,
) -> int:
    """The floor comparison at the small size: the floor server beside Patron and the limit on
    the same database, the answers checked, then `floor_cases()` in alternation. Errors."""
    with bench_server("bench.floor_server", server) as (floor_base, floor_pid):
        trio = {"patron": targets["patron"], "limit": targets["limit"], "floor": floor_base}
        print(f"\nPatron, the limit and the floor at {small} customers:")
        errors = check_answers(trio)
        results = measure(
            trio,
            floor_cases(),
            quick=args.quick,
            rounds=1 if args.quick else args.rounds,
            duration=args.duration,
            use_wrk=use_wrk,
            pids={"patron": pids["patron"], "limit": pids["limit"], "floor": floor_pid},
        )
        return errors + report_floor(results, floor_cases())


def compare_publication(
    server: PatronServer,
    targets: dict[str, str],
    pids: dict[str, int],
    args: argparse.Namespace,
    *,
    use_wrk: bool,
) -> int:
    """The publication comparison: a discount campaign of --publication-codes codes made
    through Patron's API, the floor server beside Patron and the limit, the three's
    publications checked against each other, then `publication_cases` in alternation, the
    vouchers table vacuumed before each run. Errors."""
    campaign = f"bench-publications-{secrets.token_hex(4)}"
    count = 1000 if args.quick else args.publication_codes
    started = time.perf_counter()
    with httpx.Client(base_url=server.base, headers=HEADERS, timeout=None) as client:
        create_campaign(client, campaign, count)
        action = wait_for_codes(client)
    if action["status"] != "DONE":
        print(f"the publication campaign's codes were not made: {action}")
        return 1
    asyncio.run(vacuum_vouchers(server.dsn))
    print(f"\ngenerated {count} codes in {time.perf_counter() - started:.1f}s")
    with bench_server("bench.floor_server", server) as (floor_base, floor_pid):
        trio = {"patron": targets["patron"], "limit": targets["limit"], "floor": floor_base}
        print(f"Patron, the limit and the floor publishing codes of {campaign}:")
        errors = check_publications(trio, campaign)
        selected = publication_cases(campaign)
        results = measure(
            trio,
            selected,
            quick=args.quick,
            rounds=1 if args.quick else args.rounds,
            duration=args.duration,
            use_wrk=use_wrk,
            pids={"patron": pids["patron"], "limit": pids["limit"], "floor": floor_pid},
            # Each publication leaves its code's entry dead in the index of free codes, which
            # the next picks step over until a vacuum: each run starts from a clean index.
            before_run=lambda: asyncio.run(vacuum_vouchers(server.dsn)),
        )
        errors += report_floor(results, selected)
    published = asyncio.run(published_count(server.dsn, campaign))
    print(f"codes of {campaign} published: {published} of {count}")
    return errors


async def published_count(dsn: str, campaign: str) -> int:
    """How many codes of the campaign named `campaign` have a holder."""
    conn = await connect(dsn)
    try:
        value: int = await conn.fetchval(
            "SELECT count(*) FROM vouchers v JOIN campaigns c"
            " ON c.project_id = v.project_id AND c.id = v.campaign_id"
            " WHERE c.name = $1 AND v.holder_id IS NOT NULL",
            campaign,
        )
        return value
    finally:
        await conn.close()


async def vacuum_vouchers(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE) vouchers")
    finally:
        await conn.close()


def _shape(value: Any) -> Any:
    """A JSON value's keys and types, without its values (to compare answers with other ids).
    A voucher's `assets` (two signed URLs of this very server, which the floor and the limit
    leave out: an HMAC, no SQL) only has to be there."""
    if isinstance(value, dict):
        return {
            key: "assets" if key == "assets" and "code" in value else _shape(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def check_publications(targets: dict[str, str], campaign: str) -> int:
    """Check, before the publication comparison, that each server (`patron`, `limit`, `floor`)
    publishes a code of `campaign` to a new customer with the same answer (the same keys, in
    the same order, and types), and that Patron shows what the floor wrote as the floor
    answered it: the code, the customer, the publication in the list and the two activities
    on the timeline. Prints what failed; returns how many checks failed."""
    failures: list[str] = []

    def expect(condition: bool, what: str) -> bool:
        if not condition:
            failures.append(what)
        return condition

    tag = secrets.token_hex(4)
    answers: dict[str, dict[str, Any]] = {}
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        for target, base in targets.items():
            source_id = f"pubcheck-{target}-{tag}"
            body = {
                "customer": {"source_id": source_id, "name": "Check", "metadata": {"k": "v"}},
                "campaign": {"name": campaign},
                "source_id": source_id,
                "metadata": {"m": 1},
            }
            response = client.post(f"{base}/v1/publications", json=body)
            if not expect(response.status_code == 200, f"{target}: {response.status_code}"):
                continue
            answer = answers[target] = response.json()
            voucher = answer.get("voucher") or {}
            expect(
                answer.get("result") == "SUCCESS"
                and answer.get("tracking_id") == source_id
                and voucher.get("campaign") == campaign
                and voucher.get("holder_id") == answer.get("customer_id")
                and voucher.get("publish", {}).get("count") == 1,
                f"{target}: the publication's answer {answer}",
            )
        patron = answers.get("patron")
        for target, answer in answers.items():
            expect(
                patron is not None and _shape(answer) == _shape(patron),
                f"{target}'s publication is not shaped as Patron's: {answer}",
            )
        floor = answers.get("floor")
        if floor is not None:
            base = targets["patron"]
            code = floor["voucher"]["code"]
            voucher = client.get(f"{base}/v1/vouchers/{code}").json()
            # Only a voucher read on its own lists its validation rules (none here).
            assignments = voucher.pop("validation_rules_assignments", None)
            expect(
                assignments is None or assignments.get("total") == 0,
                f"Patron shows validation rules on the floor's code: {assignments}",
            )
            expect(
                {**voucher, "assets": None} == {**floor["voucher"], "assets": None},
                f"Patron shows the floor's code as {voucher}",
            )
            customer = client.get(f"{base}/v1/customers/{floor['customer_id']}").json()
            expect(
                {key: customer.get(key) for key in floor["customer"]} == floor["customer"],
                f"Patron shows the floor's customer as {customer}",
            )
            listed = client.get(
                f"{base}/v1/publications", params={"source_id": floor["source_id"]}
            ).json()["publications"]
            expect(
                len(listed) == 1
                and all(
                    listed[0].get(key) == floor[key]
                    for key in ("id", "created_at", "customer_id", "vouchers_id", "customer")
                ),
                f"Patron lists the floor's publication as {listed}",
            )
            timelines = {
                target: client.get(
                    f"{base}/v1/customers/{answers[target]['customer_id']}/activity"
                ).json()["data"]
                for target in ("patron", "floor")
                if target in answers
            }
            for target, timeline in timelines.items():
                types = sorted(item["type"] for item in timeline)
                expect(
                    types == ["customer.created", "customer.publication.succeeded"],
                    f"{target}'s activities in Patron's timeline: {types}",
                )
            if len(timelines) == 2:
                expect(
                    [_shape(item["data"]) for item in timelines["floor"]]
                    == [_shape(item["data"]) for item in timelines["patron"]],
                    "the floor's activities are not shaped as Patron's",
                )
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    if not failures:
        print("checked: Patron, the limit and the floor publish alike")
    return len(failures)


def finish(errors: int) -> int:
    if errors:
        print(f"\n{errors} requests or checks failed")
        return 1
    print("\nevery endpoint answered without errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
