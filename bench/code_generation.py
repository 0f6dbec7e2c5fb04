"""Benchmark: generate a campaign's codes through the API; codes/s and the server's peak memory.

    .venv/bin/python -m bench.code_generation [--codes 1000000]

For --codes / 10 and then --codes, each on a fresh `patron serve` (a fresh embedded PostgreSQL,
or PATRON_DATABASE_URL's database when it is set), creates a discount campaign with
`vouchers_count` codes through `POST /v1/campaigns`, polls its `CAMPAIGN.VOUCHERS_GENERATE`
async action until it is DONE, and checks that the campaign then has its codes. Reports codes/s
(the count over the time from the create call to DONE), the server process's resident memory
idle and at its peak (`VmHWM`: the kernel's high-water mark, which no sampling can miss), and
the CPU the server and (embedded) PostgreSQL spent per code. The issue's targets: >= 20,000
codes/s, and a peak memory that does not grow with the count (compare the two sizes).

--baseline DIR runs another checkout's Patron (git worktree add DIR COMMIT) the same way, in
alternation with this one's, so that a change is measured side by side. --quick makes 1,000 and
10,000 codes on one server and only checks that the generation completes (CI).
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from bench.harness import HEADERS, PatronServer, patron_server


def _kib(pid: int, field: str) -> int:
    """A memory figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process, of its children that it has waited for, and of
    its live children: a postmaster's, with its backends' ended or not."""
    process = psutil.Process(pid)
    times = process.cpu_times()
    total = float(times.user + times.system + times.children_user + times.children_system)
    for child in process.children(recursive=True):
        try:
            own = child.cpu_times()
        except psutil.Error:  # it ended meanwhile (and its parent counts it once waited for)
            continue
        total += own.user + own.system
    return total


def _postmaster(server: PatronServer) -> int | None:
    """The embedded PostgreSQL's postmaster pid; None for an external database."""
    if server.env.get("PATRON_DATABASE_URL"):
        return None
    return int((server.data_dir / "pg" / "postmaster.pid").read_text().split()[0])


@dataclass
class Generation:
    codes: int
    seconds: float
    idle_rss: int
    peak_rss: int
    server_cpu: float
    postgres_cpu: float | None

    @property
    def per_second(self) -> float:
        return self.codes / self.seconds


def campaign_body(name: str, count: int) -> dict[str, object]:
    """A discount campaign of `count` codes of the default code_config (8 alphanumerics)."""
    return {
        "name": name,
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "AUTO_UPDATE",
        "vouchers_count": count,
        "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}},
    }


def create_campaign(client: httpx.Client, name: str, count: int) -> dict[str, Any]:
    """Create the campaign `campaign_body` describes through `client` (Patron's API)."""
    created = client.post("/v1/campaigns", json=campaign_body(name, count))
    created.raise_for_status()
    campaign: dict[str, Any] = created.json()
    return campaign


def wait_for_codes(client: httpx.Client) -> dict[str, Any]:
    """The newest async action of the project (the campaign's generation, queued by its
    creation), polled until it is DONE or FAILED."""
    action: dict[str, Any] = client.get("/v1/async-actions", params={"limit": 1}).json()
    action = action["async_actions"][0]
    assert action["type"] == "CAMPAIGN.VOUCHERS_GENERATE", action
    while action["status"] not in ("DONE", "FAILED"):
        time.sleep(0.1)
        action = client.get(f"/v1/async-actions/{action['id']}").json()
    return action


def generate(server: PatronServer, count: int) -> Generation:
    """Create a campaign of `count` codes on `server` and wait until they are made."""
    pid = server.process.pid
    postmaster = _postmaster(server)
    idle = _kib(pid, "VmRSS")
    cpu_before = _tree_cpu_seconds(pid)
    postgres_before = None if postmaster is None else _tree_cpu_seconds(postmaster)
    name = f"bench-{count}-{secrets.token_hex(4)}"
    # One client throughout (a new one per poll builds an SSL context each time).
    with httpx.Client(base_url=server.base, headers=HEADERS, timeout=None) as client:
        started = time.perf_counter()
        campaign = create_campaign(client, name, count)
        action = wait_for_codes(client)
        seconds = time.perf_counter() - started
        server_cpu = _tree_cpu_seconds(pid) - cpu_before
        postgres_cpu = None if postmaster is None else _tree_cpu_seconds(postmaster)
        peak = _kib(pid, "VmHWM")
        assert action["status"] == "DONE", action
        made = client.get(f"/v1/campaigns/{campaign['id']}").json()
    assert made["vouchers_count"] == count, made["vouchers_count"]
    assert made["vouchers_generation_status"] == "DONE", made["vouchers_generation_status"]
    return Generation(
        count,
        seconds,
        idle,
        peak,
        server_cpu,
        None if postgres_cpu is None or postgres_before is None else postgres_cpu - postgres_before,
    )


def _median(runs: list[Generation]) -> Generation:
    """The median run by time (the lower one of an even count)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def report(run: Generation) -> None:
    postgres = (
        "" if run.postgres_cpu is None else f", PostgreSQL {run.postgres_cpu / run.codes * 1e6:.1f}"
    )
    print(
        f"{run.codes:>10,} codes in {run.seconds:7.1f}s: {run.per_second:8,.0f} codes/s;"
        f" server RSS idle {run.idle_rss / 2**20:4.0f} MiB, peak {run.peak_rss / 2**20:4.0f} MiB;"
        f" CPU µs per code: server {run.server_cpu / run.codes * 1e6:.1f}{postgres}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each size, alternating")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 codes (CI)")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout's Patron, measured in alternation"
    )
    args = parser.parse_args(argv)
    total = 10_000 if args.quick else args.codes
    sizes = [total // 10, total]
    sources: dict[str, Path | None] = {"this checkout": None}
    if args.baseline:
        sources[str(args.baseline)] = args.baseline
    database_url = os.environ.get("PATRON_DATABASE_URL")
    runs: dict[tuple[str, int], list[Generation]] = {}

    def record(label: str, run: Generation) -> None:
        print(f"{label:>16s}: ", end="")
        report(run)
        runs.setdefault((label, run.codes), []).append(run)

    for _ in range(args.rounds):
        if args.quick:  # one server for both sizes: quick mode only checks they complete
            for label, source in sources.items():
                with patron_server(database_url, source=source) as server:
                    made = [generate(server, size) for size in sizes]
                for run in made:
                    record(label, run)
            continue
        for size in sizes:
            for label, source in sources.items():
                # A fresh server per run: its memory's high-water mark is that run's alone.
                with patron_server(database_url, source=source) as server:
                    run = generate(server, size)
                record(label, run)
    for label in sources:
        small, large = (_median(runs[(label, size)]) for size in sizes)
        print(
            f"{label}: codes/s at {small.codes:,} / {large.codes:,} codes:"
            f" {small.per_second:,.0f} / {large.per_second:,.0f};"
            f" peak RSS {small.peak_rss / 2**20:.0f} / {large.peak_rss / 2**20:.0f} MiB"
            f" (ratio {large.peak_rss / small.peak_rss:.2f})"
        )
    print("every generation completed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
