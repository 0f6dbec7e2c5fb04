"""The benchmark tools in quick mode: every endpoint answers under load, on both servers.

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
