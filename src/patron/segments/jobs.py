"""The periodic job that keeps time-dependent auto-update segments up to date."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from patron.db.pool import Pool
from patron.segments import service

logger = logging.getLogger("patron.segments")


async def reconcile_once(pool: Pool, *, every_seconds: float) -> int:
    """One pass over the segments due; returns how many customers entered or left."""
    async with pool.acquire() as conn:
        return await service.reconcile_due(conn, every_seconds=every_seconds)


async def keep_segments_current(pool: Pool, stop: asyncio.Event, *, every_seconds: float) -> None:
    """Re-evaluate filters that move with time alone ("N days ago", birthdays) every
    `every_seconds`, until `stop` is set."""
    while not stop.is_set():
        try:
            moved = await reconcile_once(pool, every_seconds=every_seconds)
            if moved:
                logger.info("segments: %d customers entered or left with time", moved)
        except Exception:
            logger.exception("segments job error; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
