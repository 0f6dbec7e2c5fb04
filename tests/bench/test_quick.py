"""The benchmark tools in quick mode: every endpoint answers under load, on every server.

No speed threshold here; speed targets live in `bench/` and are measured by hand.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import repo_root


def test_quick_mode_runs_every_endpoint_without_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.http_bench", "--quick"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every endpoint answered without errors" in result.stdout
    for endpoint in (
        "GET customer",
        "POST customer",
        "PUT customer",
        "GET customers?city=",
        "GET activity page",
    ):
        assert endpoint in result.stdout


def test_quick_mode_checks_and_loads_the_floor_server() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.http_bench",
            "--quick",
            "--case",
            "floor",
            "--case",
            "publication",
        ],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Patron's, the limit's and the floor's answers were compared before the load.
    assert "checked: Patron, the limit and the floor create, update and read alike" in result.stdout
    for case in (
        "GET customer",
        "POST customer, half new, half hot",
        "POST new customer, 1 connection",
        "POST new customer, 4 connections",
        "POST new customer, 32 connections",
    ):
        assert f"\n{case} " in result.stdout, result.stdout
    assert "new customers, req/s at 32 connections / at 1:" in result.stdout
    # The publication comparison: a campaign's codes made, the three servers' publications
    # compared, then loaded.
    assert "checked: Patron, the limit and the floor publish alike" in result.stdout
    for connections in ("1 connection", "32 connections"):
        assert f"\nPOST publication, {connections} " in result.stdout
    # --case floor and --case publication run those comparisons alone.
    assert "GET customers (list page)" not in result.stdout
    assert "every endpoint answered without errors" in result.stdout


def test_code_generation_completes_at_both_sizes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.code_generation", "--quick"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for count in ("1,000", "10,000"):
        assert f"{count} codes in" in result.stdout
    assert "every generation completed" in result.stdout


def test_overhead_probe_runs_every_case() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.overhead", "--requests", "20", "--rounds", "1"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for case in ("get", "post", "put", "list", "filtered", "activity"):
        assert f"\n{case} " in result.stdout, result.stdout


def test_redemption_bench_checks_the_floor_and_loads_every_case() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.redemptions", "--quick", "--codes", "3"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Patron's and the floor's redemptions were compared before the load.
    assert "checked: Patron and the floor redeem alike" in result.stdout
    for case in ("Patron", "floor", "Patron, 2 rules", "Patron, 3 codes", "floor, 3 codes"):
        assert f"\n{case} " in result.stdout, result.stdout
    assert "Patron / floor, one code:" in result.stdout
    assert "cost of 2 rules:" in result.stdout
    assert "every redemption answered without errors" in result.stdout


def test_export_bench_checks_the_floor_and_downloads() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.exports", "--quick"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked: Patron's and the floor's CSV hold the same 300 rows" in result.stdout
    for case in ("Patron, a tenth", "floor (COPY to the socket)", "export bench done"):
        assert case in result.stdout
