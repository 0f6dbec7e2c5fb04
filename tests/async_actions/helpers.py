"""Waiting for async actions, as a client polls them."""

from __future__ import annotations

import time
from typing import Any

import httpx


def wait_done(http: httpx.Client, action_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        action: dict[str, Any] = http.get(f"/v1/async-actions/{action_id}").json()
        if action["status"] in ("DONE", "FAILED"):
            return action
        time.sleep(0.05)
    raise AssertionError(f"async action {action_id} did not finish")
