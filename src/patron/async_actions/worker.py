"""Workers: take queued actions one at a time and carry them out; several may share a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from patron.async_actions import repository
from patron.async_actions.service import BATCH_SIZE, Handler, TransientFailure, carry_out
from patron.db.pool import Pool

logger = logging.getLogger("patron.worker")


class Worker:
    """Polls the queue (and wakes on NOTIFY); an advisory lock per action keeps workers apart.

    The lock belongs to a database session, so when a worker dies its actions are free at once
    for another worker, which resumes them from their stored cursor.
    """

    def __init__(
        self,
        pool: Pool,
        handlers: Mapping[str, Handler],
        *,
        poll_seconds: float = 1.0,
        batch_size: int = BATCH_SIZE,
        batch_sizes: Mapping[str, int] | None = None,
    ) -> None:
        self._pool = pool
        self._handlers = handlers
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._batch_sizes = batch_sizes or {}
        self._wake = asyncio.Event()

    async def run_once(self) -> bool:
        """Carry out the oldest action no other worker holds; False when there is none."""
        async with self._pool.acquire() as lock_conn:
            for candidate in await repository.pending(lock_conn):
                project_id, action_id = candidate["project_id"], candidate["id"]
                if not await repository.try_lock(lock_conn, project_id, action_id):
                    continue
                try:
                    await carry_out(
                        self._pool,
                        project_id,
                        action_id,
                        self._handlers,
                        batch_size=self._batch_size,
                        batch_sizes=self._batch_sizes,
                    )
                finally:
                    await repository.unlock(lock_conn, project_id, action_id)
                return True
        return False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set."""
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(repository.NOTIFY_CHANNEL, self._on_notify)
            while not stop.is_set():
                try:
                    worked = await self.run_once()
                except (TransientFailure, OSError) as exc:
                    logger.warning("worker lost the database (%s); retrying", exc)
                    worked = False
                except Exception:
                    # Whatever else went wrong, the worker must outlive it: the action stays
                    # queued and is taken up again.
                    logger.exception("worker error; retrying")
                    worked = False
                if worked:
                    continue
                self._wake.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._wake.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=self._poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(repository.NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(listener)

    def _on_notify(self, *args: Any) -> None:
        self._wake.set()
