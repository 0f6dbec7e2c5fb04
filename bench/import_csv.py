"""Benchmark: import a large CSV through the API and report rows/s and the server's peak memory.

    .venv/bin/python -m bench.import_csv [--rows 1000000]

Starts `patron serve` on a fresh embedded PostgreSQL, uploads the file to
`POST /v1/customers/importCSV` (streamed from disk), waits for the async action to finish, and
samples the server process's resident memory all along. Targets (issue 3): >= 20,000 rows/s,
and a peak memory that does not grow with the file (compare --rows 100000 with 1000000).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from bench.harness import HEADERS, PatronServer, patron_server

ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("Source_id,Name,Email,Phone,Birthdate,Address_City,Address_Country,tier,vip\n")
        for n in range(rows):
            out.write(
                f"bench-{n},Customer {n},c{n}@example.com,+48 600 {n % 1000:03d},"
                f"19{50 + n % 50}-0{1 + n % 9}-1{n % 10},City {n % 100},PL,{n % 5},"
                f"{'true' if n % 2 else 'false'}\n"
            )


class MemorySampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="patron-bench-csv-") as folder:
        csv_path = Path(folder) / "customers.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows)
        print(
            f"wrote {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        with patron_server() as server:
            measure(server, csv_path, args.rows)


def measure(server: PatronServer, csv_path: Path, rows: int) -> None:
    base = server.base
    idle = psutil.Process(server.process.pid).memory_info().rss
    sampler = MemorySampler(server.process.pid)
    sampler.start()
    t0 = time.perf_counter()
    # One client throughout: a new one per poll builds an SSL context each time, which took
    # ~7 CPU-seconds of a 200,000-row run from the cores the server needs.
    with httpx.Client(timeout=None, headers=HEADERS) as client:
        with csv_path.open("rb") as file:
            response = client.post(
                f"{base}/v1/customers/importCSV",
                files={"file": ("customers.csv", file, "text/csv")},
            )
        response.raise_for_status()
        uploaded = time.perf_counter() - t0
        action_id = response.json()["async_action_id"]
        while True:
            action = client.get(f"{base}/v1/async-actions/{action_id}").json()
            if action["status"] in ("DONE", "FAILED"):
                break
            time.sleep(0.2)
    total = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    print(f"status {action['status']}: {action['result']['message']}")
    print(f"upload + staging: {uploaded:.1f}s; total: {total:.1f}s")
    print(f"rows/s (end to end): {rows / total:,.0f}")
    print(f"rows/s (merge after upload): {rows / max(total - uploaded, 1e-9):,.0f}")
    print(f"server RSS: idle {idle / 2**20:.0f} MiB, peak {sampler.peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
