"""Redemptions against the floor, and the cost of validation rules (issue 16).

    .venv/bin/python -m bench.redemptions [--duration 5] [--rounds 3] [--rules 20]
    .venv/bin/python -m bench.redemptions --quick      # CI: a second per case, checks only

Starts `patron serve` on a fresh embedded PostgreSQL, loads --customers customers (`bench-N`)
with COPY, and makes two discount codes through Patron's API (AMOUNT 100 off, no quantity
limit): `BENCH-PLAIN`, and `BENCH-RULES` with --rules validation rules assigned to it (each a
passing `order.amount` `$more_than` 0, made with `POST /v1/validation-rules` and assigned with
`POST /v1/validation-rules/{id}/assignments`). The floor server (`bench/floor_server.py`) runs
beside Patron on the same database.

Each request is `POST /v1/redemptions` of one code, for customer `bench-(n % --customers)`
(existing), with a new order (`amount` 1000, a fresh `source_id`), at --connections
connections (wrk; the Python generator at up to 8 without it). Before measuring, the bench
checks that Patron and the floor answer alike (the same keys and types), that after the same
redemptions their two customers have the same counters in Patron's `GET /v1/customers`
(summary.redemptions and summary.orders), that Patron shows the floor's redemption as the floor
answered it, and that both customers' timelines hold the same activities.

In alternation, every round: Patron redeeming BENCH-PLAIN, the floor redeeming BENCH-PLAIN,
Patron redeeming BENCH-RULES (and with --codes N, Patron and the floor redeeming N codes in
turn, `BENCH-PLAIN-k` for request k % N). Reported: req/s, p50/p99 and server CPU µs per
request (medians of the rounds), Patron / floor, and the cost of the rules (req/s without /
with, CPU with / without). Every request of a one-code case redeems the same code: its row is
the hot lock of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.dataset import load_customers
from bench.harness import HEADERS, PatronServer, patron_server
from bench.http_bench import (
    Case,
    Run,
    bench_server,
    project_id_of,
    run_python,
    run_wrk,
    server_cpu_seconds,
)
from patron.db.pool import connect

PLAIN = "BENCH-PLAIN"
RULED = "BENCH-RULES"
AMOUNT = 1000
AMOUNT_OFF = 100


def redemption_case(name: str, code: str, customers: int, connections: int, codes: int = 1) -> Case:
    """Redeem `code` (or `code-(n % codes)` of `codes` codes) for customer bench-(n % customers)
    with a new order, every request."""

    def body(n: int, run: str) -> dict[str, Any]:
        return {
            "redeemables": [
                {"object": "voucher", "id": f"{code}-{n % codes}" if codes > 1 else code}
            ],
            "customer": {"source_id": f"bench-{n % customers}"},
            "order": {"amount": AMOUNT, "source_id": f"o-{run}-{n}"},
        }

    lua_code = f"{code}-' .. (n % {codes}) .. '" if codes > 1 else code
    lua_body = (
        f'\'{{"redeemables":[{{"object":"voucher","id":"{lua_code}"}}],'
        f'"customer":{{"source_id":"bench-\' .. (n % {customers}) .. \'"}},'
        f'"order":{{"amount":{AMOUNT},"source_id":"o-\' .. run .. \'-\' .. n .. \'"}}}}\''
    )
    return Case(name, "POST", "/v1/redemptions", body, lua_body, connections)


def make_codes(client: httpx.Client, rules: int, codes: int) -> None:
    """BENCH-PLAIN, BENCH-PLAIN-0 … when `codes` > 1, and BENCH-RULES with `rules` passing
    validation rules assigned."""
    ruled: dict[str, Any] = {}
    spread = [f"{PLAIN}-{k}" for k in range(codes)] if codes > 1 else []
    for code in (PLAIN, *spread, RULED):
        response = client.post(
            "/v1/vouchers",
            json={
                "code": code,
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": AMOUNT_OFF},
            },
        )
        response.raise_for_status()
        ruled = response.json()
    for number in range(rules):
        rule = client.post(
            "/v1/validation-rules",
            json={
                "name": f"bench rule {number}",
                "rules": {
                    "1": {"name": "order.amount", "conditions": {"$more_than": [0]}},
                    "logic": "1",
                },
            },
        )
        rule.raise_for_status()
        assigned = client.post(
            f"/v1/validation-rules/{rule.json()['id']}/assignments",
            json={"related_object_type": "voucher", "related_object_id": ruled["id"]},
        )
        assigned.raise_for_status()


def _shape(value: Any) -> Any:
    """A JSON value's keys (sorted: the floor renders in Python what Patron reads back from
    jsonb, whose key order differs) and types, without its values; a voucher's `assets` (two
    signed URLs of this server, left out by the floor) only has to be there."""
    if isinstance(value, dict):
        return {key: "assets" if key == "assets" else _shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def check(targets: dict[str, str], times: int = 3) -> int:
    """Check that Patron and the floor redeem alike: `times` redemptions of BENCH-PLAIN by each
    for a customer of its own (created through Patron); the answers' shapes, both customers'
    counters, the floor's redemption as Patron shows it, and the timelines. Prints what
    failed; returns how many checks failed."""
    failures: list[str] = []

    def expect(condition: bool, what: str) -> bool:
        if not condition:
            failures.append(what)
        return condition

    tag = secrets.token_hex(4)
    patron = targets["patron"]
    answers: dict[str, dict[str, Any]] = {}
    customer_ids: dict[str, str] = {}
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        before = client.get(f"{patron}/v1/vouchers/{PLAIN}").json()
        for target, base in targets.items():
            source_id = f"redcheck-{target}-{tag}"
            made = client.post(f"{patron}/v1/customers", json={"source_id": source_id})
            customer_ids[target] = made.json()["id"]
            for number in range(times):
                response = client.post(
                    f"{base}/v1/redemptions",
                    json={
                        "redeemables": [{"object": "voucher", "id": PLAIN}],
                        "customer": {"source_id": source_id},
                        "order": {"amount": AMOUNT + number, "source_id": f"{source_id}-{number}"},
                    },
                )
                if not expect(response.status_code == 200, f"{target}: {response.text}"):
                    break
                answers[target] = response.json()
        if len(answers) < 2:
            return report_checks(failures)
        ours, floor = answers["patron"], answers["floor"]
        expect(_shape(ours) == _shape(floor), f"the floor's answer is shaped otherwise: {floor}")
        child = floor["redemptions"][0]
        expect(
            child["order"]["total_amount"] == AMOUNT + times - 1 - AMOUNT_OFF
            and child["voucher"]["redemption"]["redeemed_quantity"]
            == ours["redemptions"][0]["voucher"]["redemption"]["redeemed_quantity"] + times,
            f"the floor's redemption: {child}",
        )
        summaries = {}
        for target, customer_id in customer_ids.items():
            summary = client.get(f"{patron}/v1/customers/{customer_id}").json()["summary"]
            summary["orders"].pop("last_order_date", None)
            summaries[target] = summary
        expect(
            summaries["patron"] == summaries["floor"]
            and summaries["floor"]["redemptions"]["total_succeeded"] == times
            and summaries["floor"]["orders"]["total_count"] == times,
            f"the customers' counters differ: Patron's {summaries['patron']},"
            f" the floor's {summaries['floor']}",
        )
        shown = client.get(f"{patron}/v1/redemptions/{child['id']}").json()
        expect(
            {**shown, "voucher": None} == {**child, "voucher": None}
            and {**shown.get("voucher", {}), "assets": None}
            == {**child["voucher"], "assets": None},
            f"Patron shows the floor's redemption as {shown}, the floor answered {child}",
        )
        timelines = {}
        for target, customer_id in customer_ids.items():
            data = client.get(f"{patron}/v1/customers/{customer_id}/activity").json()["data"]
            timelines[target] = sorted((item["type"], str(_shape(item["data"]))) for item in data)
        expect(
            timelines["patron"] == timelines["floor"],
            f"the timelines differ: Patron's {[t for t, _ in timelines['patron']]},"
            f" the floor's {[t for t, _ in timelines['floor']]}",
        )
        after = client.get(f"{patron}/v1/vouchers/{PLAIN}").json()
        expect(
            after["redemption"]["redeemed_quantity"]
            == before["redemption"]["redeemed_quantity"] + times * len(targets),
            f"{PLAIN} was redeemed {after['redemption']['redeemed_quantity']} times",
        )
    return report_checks(failures)


def report_checks(failures: list[str]) -> int:
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    if not failures:
        print("checked: Patron and the floor redeem alike")
    return len(failures)


def alternate(
    runs: list[tuple[str, str, int, Case]],
    *,
    rounds: int,
    duration: float,
    quick: bool,
    use_wrk: bool,
    between: Callable[[], None] | None = None,
) -> dict[str, Run]:
    """Each (name, base URL, server pid, case) in turn, `rounds` times; the medians by name."""
    results: dict[str, list[Run]] = {}
    for _ in range(rounds):
        for name, base, pid, case in runs:
            if between is not None:
                between()
            tag = secrets.token_hex(4)
            before = server_cpu_seconds(pid)
            started = time.perf_counter()
            if use_wrk and not quick:
                run = run_wrk(base, case, duration=duration, connections=case.connections, run=tag)
            else:
                run = run_python(
                    base,
                    case,
                    requests=60 if quick else 2000,
                    connections=min(case.connections, 8),
                    run=tag,
                )
            requests = run.rps * (time.perf_counter() - started)
            spent = server_cpu_seconds(pid) - before
            run.cpu_us = spent / requests * 1e6 if requests else float("nan")
            results.setdefault(name, []).append(run)
            print(
                f"  {name:34s} {run.rps:8.0f} req/s  p50 {run.p50_ms:7.1f}  p99 {run.p99_ms:7.1f}"
                f"  CPU {run.cpu_us:6.0f} µs/req  errors {run.errors}",
                flush=True,
            )
    return {
        name: Run(
            statistics.median(r.rps for r in found),
            statistics.median(r.p50_ms for r in found),
            statistics.median(r.p99_ms for r in found),
            sum(r.errors for r in found),
            statistics.median(r.cpu_us for r in found),
        )
        for name, found in results.items()
    }


async def vacuum(dsn: str) -> None:
    """Vacuum and analyze what redemptions write, before each run. Analyzing also makes
    Patron's connections plan their statements again: a generic plan cached while `orders` was
    nearly empty scans every order of the project for each lookup by id or source_id (found
    here: Patron's rate fell by two thirds, round after round, as the floor's runs grew the
    table; see bench/README.md)."""
    conn = await connect(dsn)
    try:
        await conn.execute(
            "VACUUM (ANALYZE) vouchers, customers, orders, redemptions, customer_activities"
        )
    finally:
        await conn.close()


def measure(server: PatronServer, args: argparse.Namespace, *, use_wrk: bool) -> int:
    project_id = asyncio.run(project_id_of(server.dsn))
    count = min(args.customers, 100) if args.quick else args.customers
    rules = 2 if args.quick else args.rules
    asyncio.run(load_customers(server.dsn, project_id, start=0, count=count))
    with httpx.Client(base_url=server.base, headers=HEADERS, timeout=60) as client:
        make_codes(client, rules, args.codes)
    print(f"{count} customers, {PLAIN}, and {RULED} with {rules} validation rules")
    with bench_server("bench.floor_server", server) as (floor_base, floor_pid):
        errors = check({"patron": server.base, "floor": floor_base})
        plain = redemption_case("redeem", PLAIN, count, args.connections)
        ruled = redemption_case("redeem, rules", RULED, count, args.connections)
        patron_pid = server.process.pid
        runs = [
            ("Patron", server.base, patron_pid, plain),
            ("floor", floor_base, floor_pid, plain),
            (f"Patron, {rules} rules", server.base, patron_pid, ruled),
        ]
        spread = f"{args.codes} codes"
        if args.codes > 1:
            many = redemption_case("redeem, many codes", PLAIN, count, args.connections, args.codes)
            runs += [
                (f"Patron, {spread}", server.base, patron_pid, many),
                (f"floor, {spread}", floor_base, floor_pid, many),
            ]
        load = "wrk" if use_wrk and not args.quick else "python"
        print(f"\n{args.connections} connections ({load}), rounds in alternation:")
        results = alternate(
            runs,
            rounds=1 if args.quick else args.rounds,
            duration=args.duration,
            quick=args.quick,
            use_wrk=use_wrk,
            between=lambda: asyncio.run(vacuum(server.dsn)),
        )
    print(f"\nmedians of {1 if args.quick else args.rounds} rounds:")
    print(f"{'case':34s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU µs/req':>10s}")
    for name, run in results.items():
        errors += run.errors
        print(
            f"{name:34s} {run.rps:8.0f} {run.p50_ms:8.1f} {run.p99_ms:8.1f} {run.cpu_us:10.0f}"
            + (f"  ERRORS {run.errors}" if run.errors else "")
        )
    pairs = [("one code", "Patron", "floor")]
    if args.codes > 1:
        pairs.append((spread, f"Patron, {spread}", f"floor, {spread}"))
    for label, ours_name, floor_name in pairs:
        ours, floor = results[ours_name], results[floor_name]
        print(
            f"Patron / floor, {label}: {ours.rps / floor.rps:.2f} req/s"
            f" (server CPU per redemption Patron / floor {ours.cpu_us / floor.cpu_us:.2f})"
        )
    ours, with_rules = results["Patron"], results[f"Patron, {rules} rules"]
    print(
        f"cost of {rules} rules: {ours.rps / with_rules.rps:.2f}x by req/s,"
        f" {with_rules.cpu_us / ours.cpu_us:.2f}x by server CPU per redemption"
    )
    if errors:
        print(f"\n{errors} requests or checks failed")
        return 1
    print("\nevery redemption answered without errors")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument(
        "--codes",
        type=int,
        default=1,
        help="also measure Patron and the floor redeeming this many codes in turn (a diagnostic: "
        "the one code's row lock out of the way)",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    with patron_server() as server:
        return measure(server, args, use_wrk=shutil.which("wrk") is not None)


if __name__ == "__main__":
    raise SystemExit(main())
