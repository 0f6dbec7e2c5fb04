"""What the JS tests need: node, with the packages pinned in tests/js/package.json installed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PINNED: dict[str, str] = json.loads((HERE / "package.json").read_text())["dependencies"]


def installed_version(package: str) -> str | None:
    manifest = HERE / "node_modules" / package / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


def skip_or_fail(reason: str) -> None:
    """Skip, except in CI (`CI` set), where a skip would hide that the tests never ran."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run them, never skip them")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the pinned packages installed beside the scripts."""
    executable = shutil.which("node")
    if executable is None:
        skip_or_fail("node is not on PATH: the JS SDK tests need Node.js and npm")
    assert executable is not None
    for package, version in PINNED.items():
        found = installed_version(package)
        if found != version:
            pytest.fail(
                f"{package} {version} is not installed in {HERE / 'node_modules'}"
                f" (found {found}): run `make js-deps`"
            )
    return executable
