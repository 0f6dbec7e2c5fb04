"""Workers: take queued actions one at a time and carry them out; several may share a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from patron.async_actions import repository
from patron.async_actions.service import BATCH_SIZE, Handler, TransientFailure, carry_out
from patron.db.pool import Connection, Pool, PoolConnection

logger = logging.getLogger("patron.worker")


class Worker:
    """Polls the queue (and wakes on NOTIFY); an advisory lock per action keeps workers apart.

    The lock belongs to a database session, so when a worker dies its actions are free at once
    for another worker, which resumes them from their stored cursor. That session (which also
    LISTENs) is one connection the worker holds while it runs and resets before it gives it
    back: the pool does not reset the connections it lends (`db.pool.create_pool`).
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

    async def run_once(self, session: Connection) -> bool:
        """Carry out the oldest action no other worker holds, locking it in `session`; False
        when there is none."""
        for candidate in await repository.pending(session):
            project_id, action_id = candidate["project_id"], candidate["id"]
            if not await repository.try_lock(session, project_id, action_id):
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
                await repository.unlock(session, project_id, action_id)
            return True
        return False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set."""
        session: PoolConnection | None = None
        try:
            while not stop.is_set():
                try:
                    if session is None:
                        session = await self._pool.acquire()
                        await session.add_listener(repository.NOTIFY_CHANNEL, self._on_notify)
                    worked = await self.run_once(session)
                except Exception as exc:
                    # Whatever went wrong, the worker must outlive it: the action stays queued
                    # and is taken up again, in a new session.
                    if isinstance(exc, (TransientFailure, OSError)):
                        logger.warning("worker lost the database (%s); retrying", exc)
                    else:
                        logger.exception("worker error; retrying")
                    if session is not None:
                        await self._end_session(session)
                        session = None
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
            if session is not None:
                await self._end_session(session)

    async def _end_session(self, session: PoolConnection) -> None:
        with contextlib.suppress(Exception):
            await session.remove_listener(repository.NOTIFY_CHANNEL, self._on_notify)
        # Its LISTEN, and any action lock an error left behind, end with the session (or with
        # the connection, when the session cannot be reset).
        try:
            await session.reset()
        except Exception:
            session.terminate()
        await self._pool.release(session)

    def _on_notify(self, *args: Any) -> None:
        self._wake.set()
