"""Idempotency keys: which POST runs, which retry gets the stored answer, and which waits.

Stripe's rules (README, "Idempotent retries"): a POST with an `Idempotency-Key` header runs
once per project and key for 24 hours; a retry with the same request (method, path, query,
body) gets the first answer again, a request with another one is refused (422). A retry that
arrives while the first request still runs waits for its answer, without holding a database
connection, for up to PATRON_IDEMPOTENCY_WAIT_SECONDS, then is refused (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import msgspec

from patron.db.pool import Pool
from patron.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from patron.idempotency import repository
from patron.idempotency.repository import Answer

logger = logging.getLogger("patron.idempotency")

# How long a key and its answer are kept (Stripe: 24 hours).
KEY_LIFETIME = timedelta(hours=24)
# A key still running after this long was left by a process that died mid-request: a retry
# with the same request takes it over and runs it again.
ABANDONED_AFTER = timedelta(minutes=10)
# How often a waiting retry re-reads a key held by another server process: from the first to
# the last value, doubling.
FIRST_POLL_SECONDS = 0.02
LAST_POLL_SECONDS = 0.25
# How often the worker deletes expired keys, and how many per statement.
CLEANUP_SECONDS = 60.0
CLEANUP_BATCH = 1000


class Run(msgspec.Struct, frozen=True):
    """The request holds its key and runs; its answer is then stored or the key released."""

    owner: uuid.UUID


class Replay(msgspec.Struct, frozen=True):
    """The request is a retry of one that is done: its stored answer is the answer."""

    answer: Answer


class IdempotencyKeys:
    """The keys of one server process: claiming, waiting, storing and releasing them.

    Requests of this process that wait for a key held in this process are woken by the holder
    with its answer (no query); keys held by other processes are polled, each read on a
    connection taken for that statement only.
    """

    def __init__(self, pool: Callable[[], Pool], *, wait_seconds: float) -> None:
        self._pool = pool
        self._wait_seconds = wait_seconds
        # (project id, key) -> (owner, the answer once stored, None once released)
        self._running: dict[tuple[str, str], tuple[uuid.UUID, asyncio.Future[Answer | None]]] = {}

    async def begin(self, project_id: str, key: str, *, fingerprint: bytes) -> Run | Replay:
        """Claim `key` for a request of `fingerprint` (a SHA-256 of method, path, query, body).

        Run: the key was free; call `finish` or `release` after the request. Replay: the same
        request was done before. Raises IdempotencyKeyReused (422) when the key was first sent
        with another request, IdempotencyKeyInUse (409) when the request holding it is still
        running after the wait.
        """
        deadline = time.monotonic() + self._wait_seconds
        poll = FIRST_POLL_SECONDS
        while True:
            owner = uuid.uuid4()
            async with self._pool().acquire() as conn:
                if await repository.claim(
                    conn,
                    project_id,
                    key,
                    fingerprint=fingerprint,
                    owner=owner,
                    lifetime=KEY_LIFETIME,
                    abandoned=ABANDONED_AFTER,
                ):
                    future: asyncio.Future[Answer | None] = (
                        asyncio.get_running_loop().create_future()
                    )
                    self._running[(project_id, key)] = (owner, future)
                    return Run(owner)
                held = await repository.find(conn, project_id, key, lifetime=KEY_LIFETIME)
            if held is None:
                continue  # released (or expired) between the two statements: claim again
            if held.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was first sent with another request (method, path,"
                    " query or body); use a new key for a new request"
                )
            if held.answer is not None:
                return Replay(held.answer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IdempotencyKeyInUse(
                    "A request with this Idempotency-Key is still being processed; retry later"
                )
            local = self._running.get((project_id, key))
            if local is None:
                await asyncio.sleep(min(poll, remaining))
                poll = min(poll * 2, LAST_POLL_SECONDS)
                continue
            try:
                answer = await asyncio.wait_for(asyncio.shield(local[1]), remaining)
            except TimeoutError:
                continue  # the deadline has passed: the next turn says so, or finds it done
            if answer is not None:
                return Replay(answer)
            # Released (the first request failed): claim it again, as any retry would.

    async def finish(self, project_id: str, key: str, *, owner: uuid.UUID, answer: Answer) -> None:
        """Store `answer` for the key `owner` holds and hand it to this process's waiters.
        Raises what the pool raises when the database cannot be reached."""
        try:
            async with self._pool().acquire() as conn:
                stored = await repository.store(conn, project_id, key, owner=owner, answer=answer)
            if not stored:
                logger.warning("idempotency key taken over before its answer was stored")
        finally:
            self._settle(project_id, key, owner, answer)

    async def release(self, project_id: str, key: str, *, owner: uuid.UUID) -> None:
        """Forget the key `owner` holds (its request failed), so that a retry runs again.
        A failure to reach the database is logged: the key is then taken over once abandoned."""
        try:
            async with self._pool().acquire() as conn:
                await repository.release(conn, project_id, key, owner=owner)
        except Exception:
            logger.exception("idempotency key could not be released")
        finally:
            self._settle(project_id, key, owner, None)

    def _settle(self, project_id: str, key: str, owner: uuid.UUID, answer: Answer | None) -> None:
        held = self._running.get((project_id, key))
        if held is not None and held[0] == owner:
            del self._running[(project_id, key)]
            if not held[1].done():
                held[1].set_result(answer)


async def forget_expired_keys(
    pool: Pool, stop: asyncio.Event, *, every_seconds: float = CLEANUP_SECONDS
) -> None:
    """Delete keys older than 24 hours, a batch of `CLEANUP_BATCH` per statement, every
    `every_seconds`, until `stop` is set. Expired keys already count as absent; this only
    frees their space."""
    while not stop.is_set():
        try:
            forgotten = await forget_expired_once(pool)
            if forgotten:
                logger.info("idempotency: %d expired keys deleted", forgotten)
        except Exception:
            logger.exception("idempotency cleanup error; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)


async def forget_expired_once(pool: Pool) -> int:
    """Delete every key older than 24 hours, in batches; how many were deleted."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await repository.forget_expired(
                conn, lifetime=KEY_LIFETIME, batch_size=CLEANUP_BATCH
            )
        total += deleted
        if deleted < CLEANUP_BATCH:
            return total
