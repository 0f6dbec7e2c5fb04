"""A sliding-window request limit per key (a client IP), kept in this process."""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindow:
    """At most `limit` requests per `seconds` for each key."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._seen: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int | None:
        """None when a request by `key` may go ahead now (and count it); else the whole seconds
        to wait."""
        now = time.monotonic()
        window = self._seen.setdefault(key, deque())
        while window and window[0] <= now - self.seconds:
            window.popleft()
        if len(window) >= self.limit:
            return max(1, math.ceil(window[0] + self.seconds - now))
        window.append(now)
        if len(self._seen) > 100_000:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, w in self._seen.items() if not w or w[-1] <= now - self.seconds]:
            del self._seen[key]
