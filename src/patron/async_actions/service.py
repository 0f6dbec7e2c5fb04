"""Queueing async actions, reading them, and carrying one out batch by batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg

from patron.activities.service import Actor
from patron.async_actions import repository
from patron.async_actions.schemas import render_action
from patron.db.pool import Connection, Pool, transaction
from patron.errors import NotFound
from patron.kit import ids, json
from patron.kit.metrics import WORKER_BATCHES

logger = logging.getLogger("patron.async_actions")

BATCH_SIZE = 5000
_CONFLICT_RETRIES = 5
MAX_STORED_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class Action:
    """What a handler needs to know about the action whose rows it applies."""

    project_id: str
    id: str
    type: str
    request_id: str
    params: dict[str, Any]


@dataclass(slots=True)
class BatchOutcome:
    done: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


# A handler applies one batch of input rows (row number, JSON) in the caller's transaction.
Handler = Callable[[Connection, Action, Sequence[tuple[int, Any]]], Awaitable[BatchOutcome]]

P = TypeVar("P")


class PreparedHandler(Generic[P]):
    """A handler in two steps, so that a worker prepares one batch while the database applies
    the one before it: Python and PostgreSQL then work at the same time instead of in turn.

    `prepare` turns input rows into what `apply` writes, reading nothing but its arguments, so
    that it can run in a thread, ahead of its batch, and be thrown away unused; `apply` writes
    in the batch's transaction. Called as a plain Handler it does the two in turn.
    """

    def __init__(
        self,
        prepare: Callable[[Action, Iterable[tuple[int, Any]]], P],
        apply: Callable[[Connection, Action, P], Awaitable[BatchOutcome]],
    ) -> None:
        self.prepare = prepare
        self.apply = apply

    async def __call__(
        self, conn: Connection, action: Action, rows: Sequence[tuple[int, Any]]
    ) -> BatchOutcome:
        return await self.apply(conn, action, self.prepare(action, rows))


# In params: how many input rows each stored record holds (1 when absent). A record's row
# number is that of its last row, so the cursor and progress still count rows.
ROWS_PER_RECORD = "rows_per_record"


async def start(
    conn: Connection, actor: Actor, *, action_type: str, params: dict[str, Any] | None = None
) -> str:
    """Create an action in the request's transaction; add its rows, then `seal` it."""
    action_id = ids.async_action_id()
    await repository.insert(
        conn,
        actor.project_id,
        action_id=action_id,
        action_type=action_type,
        request_id=actor.request_id,
        params={**(params or {}), "event_source": actor.source.render()},
    )
    return action_id


async def add_rows(
    conn: Connection, project_id: str, action_id: str, rows: Sequence[tuple[int, Any]]
) -> None:
    """Store input rows (row number, JSON), or records of several rows (see ROWS_PER_RECORD)."""
    await repository.copy_rows(conn, project_id, action_id, rows)


async def seal(
    conn: Connection,
    project_id: str,
    action_id: str,
    total_rows: int,
    *,
    params: dict[str, Any] | None = None,
) -> None:
    """Record how many rows the action has, and `params` learnt from its rows (merged into
    those it started with), and wake the workers (on commit)."""
    await repository.set_total(conn, project_id, action_id, total_rows)
    if params:
        await repository.merge_params(conn, project_id, action_id, params)
    await repository.notify(conn)


async def enqueue(
    conn: Connection,
    actor: Actor,
    *,
    action_type: str,
    rows: Sequence[Any],
    params: dict[str, Any] | None = None,
) -> str:
    """Queue an action whose input rows are all at hand; returns its id."""
    action_id = await start(conn, actor, action_type=action_type, params=params)
    await add_rows(conn, actor.project_id, action_id, list(enumerate(rows)))
    await seal(conn, actor.project_id, action_id, len(rows))
    return action_id


def not_found(action_id: str) -> NotFound:
    return NotFound(
        f"Cannot find async_action with id {action_id}",
        resource_id=action_id,
        resource_type="async_action",
    )


async def get(conn: Connection, project_id: str, action_id: str) -> dict[str, Any]:
    row = await repository.find(conn, project_id, action_id)
    if row is None:
        raise not_found(action_id)
    return render_action(row, with_result=True)


async def list_actions(
    conn: Connection, project_id: str, *, limit: int, end_date: datetime | None
) -> dict[str, Any]:
    rows = await repository.list_page(conn, project_id, limit=limit + 1, end_date=end_date)
    return {
        "object": "list",
        "data_ref": "async_actions",
        "async_actions": [render_action(row, with_result=False) for row in rows[:limit]],
        "has_more": len(rows) > limit,
    }


class TransientFailure(Exception):
    """The database went away mid-action; the action stays queued and is resumed later."""


async def carry_out(
    pool: Pool,
    project_id: str,
    action_id: str,
    handlers: Mapping[str, Handler],
    *,
    batch_size: int = BATCH_SIZE,
    batch_sizes: Mapping[str, int] | None = None,
) -> None:
    """Apply an action's remaining rows, one transaction per batch, until it is DONE or FAILED.

    Each batch moves the cursor in the same transaction as its effects, and the action row is
    locked for the batch, so a crash at any point resumes exactly after the last batch committed.
    A PreparedHandler's next batch is read and prepared while the current one is written.
    """
    async with pool.acquire() as conn:
        await repository.mark_started(conn, project_id, action_id)
    # One thread: a batch's preparation never competes with the next one's for the GIL.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patron-prepare")
    try:
        await _batches(
            pool,
            project_id,
            action_id,
            handlers,
            sizes=batch_sizes or {},
            default_size=batch_size,
            executor=executor,
        )
    finally:
        # A preparation still running is left to finish on its own; nothing waits for it.
        executor.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class _Ahead:
    """The batch after the one being written: read, and being prepared in a thread."""

    start: int
    rows: list[tuple[int, Any]]
    prepared: asyncio.Future[Any]


def _decoded(rows: Sequence[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    # One at a time: a batch's decoded rows never all wait in memory together.
    for number, text in rows:
        yield number, None if text is None else json.decode(text)


async def _fetch(
    conn: Connection, action: Action, *, start: int, limit: int, as_text: bool
) -> list[tuple[int, Any]]:
    rows = await repository.fetch_rows(
        conn, action.project_id, action.id, start=start, limit=limit, as_text=as_text
    )
    return [(row["row_number"], row["data"]) for row in rows]


async def _batches(
    pool: Pool,
    project_id: str,
    action_id: str,
    handlers: Mapping[str, Handler],
    *,
    sizes: Mapping[str, int],
    default_size: int,
    executor: ThreadPoolExecutor,
) -> None:
    loop = asyncio.get_running_loop()

    def preparing(
        handler: PreparedHandler[Any], action: Action, rows: list[tuple[int, Any]]
    ) -> asyncio.Future[Any]:
        # Rows come as JSON text and are decoded in the thread too.
        return loop.run_in_executor(executor, lambda: handler.prepare(action, _decoded(rows)))

    ahead: _Ahead | None = None
    conflicts = 0
    try:
        while True:
            try:
                async with transaction(pool) as conn:
                    row = await repository.find(conn, project_id, action_id, for_update=True)
                    if row is None or row["status"] in ("DONE", "FAILED"):
                        return
                    action = Action(
                        project_id=project_id,
                        id=action_id,
                        type=row["type"],
                        request_id=row["request_id"],
                        params=row["params"],
                    )
                    handler = handlers.get(action.type)
                    if handler is None:
                        await _mark_failed(
                            conn,
                            project_id,
                            action_id,
                            f"No worker knows how to carry out {action.type}",
                        )
                        return
                    size = sizes.get(action.type, default_size)
                    limit = max(1, size // int(action.params.get(ROWS_PER_RECORD, 1)))
                    prepared: asyncio.Future[Any] | None = None
                    if ahead is not None and ahead.start == row["cursor"]:
                        batch, prepared = ahead.rows, ahead.prepared
                    else:
                        if ahead is not None:
                            ahead.prepared.cancel()
                        batch = await _fetch(
                            conn,
                            action,
                            start=row["cursor"],
                            limit=limit,
                            as_text=isinstance(handler, PreparedHandler),
                        )
                    ahead = None
                    if not batch:
                        failed = row["failed_count"]
                        await repository.finish(
                            conn,
                            project_id,
                            action_id,
                            status="DONE",
                            operation_status="SUCCESS" if failed == 0 else "FAILED",
                        )
                        return
                    if isinstance(handler, PreparedHandler):
                        if prepared is None:
                            prepared = preparing(handler, action, batch)
                        start = batch[-1][0] + 1
                        following = await _fetch(
                            conn, action, start=start, limit=limit, as_text=True
                        )
                        if following:
                            ahead = _Ahead(start, following, preparing(handler, action, following))
                        outcome = await handler.apply(conn, action, await prepared)
                    else:
                        outcome = await handler(conn, action, batch)
                    await repository.advance(
                        conn,
                        project_id,
                        action_id,
                        cursor=batch[-1][0] + 1,
                        done=outcome.done,
                        failed=len(outcome.errors),
                        errors=outcome.errors,
                        max_errors=MAX_STORED_ERRORS,
                    )
                WORKER_BATCHES.inc()  # committed
                conflicts = 0
            except asyncpg.TransactionRollbackError:
                # A deadlock or serialization failure undid the whole batch; it is safe to redo.
                conflicts += 1
                if conflicts <= _CONFLICT_RETRIES:
                    await asyncio.sleep(0.05 * conflicts)
                    continue
                logger.exception("async action %s kept conflicting", action_id)
                await _fail(
                    pool, project_id, action_id, "It kept conflicting with concurrent changes."
                )
                return
            except (
                asyncpg.PostgresConnectionError,
                asyncpg.InterfaceError,
                asyncpg.OperatorInterventionError,
                OSError,
            ) as exc:
                raise TransientFailure(str(exc)) from exc
            except Exception:
                logger.exception("async action %s failed", action_id)
                await _fail(
                    pool, project_id, action_id, "It failed unexpectedly; the error is logged."
                )
                return
    finally:
        if ahead is not None:
            ahead.prepared.cancel()


async def _fail(pool: Pool, project_id: str, action_id: str, failure: str) -> None:
    async with pool.acquire() as conn:
        await _mark_failed(conn, project_id, action_id, failure)


async def _mark_failed(conn: Connection, project_id: str, action_id: str, failure: str) -> None:
    await repository.finish(
        conn, project_id, action_id, status="FAILED", operation_status="FAILED", failure=failure
    )
