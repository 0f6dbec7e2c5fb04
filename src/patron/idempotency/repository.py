"""SQL for `idempotency_keys`: the keys of POST requests and the answers stored for their retries.

Every statement runs on its own (autocommit), never inside a request's transaction: a key is
claimed before the handler opens its transaction and settled after it has committed. Times are
the database's clock, so every server process on the database agrees on what has expired.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import msgspec

from patron.db.pool import Connection


class Answer(msgspec.Struct, frozen=True):
    """A response as stored: HTTP status, headers as (name, value) pairs in order (without
    `content-length`), and the body's bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Held(msgspec.Struct, frozen=True):
    """A live key as found: the SHA-256 fingerprint of the request that first sent it, and its
    answer once that request is done (None while it runs)."""

    fingerprint: bytes
    answer: Answer | None


# A new key is inserted as running. An existing row is taken over (its answer forgotten) only
# when it has expired, or when it has been running for longer than `abandoned` with the same
# fingerprint: the process that ran it died with it.
_CLAIM = """
INSERT INTO idempotency_keys AS held (project_id, key, fingerprint, state, owner)
VALUES ($1, $2, $3, 'running', $4)
ON CONFLICT (project_id, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, state = 'running', owner = EXCLUDED.owner,
    status = NULL, headers = NULL, body = NULL, created_at = now()
WHERE held.created_at <= now() - $5::interval
   OR (held.state = 'running' AND held.fingerprint = EXCLUDED.fingerprint
       AND held.created_at <= now() - $6::interval)
RETURNING true
"""


async def claim(
    conn: Connection,
    project_id: str,
    key: str,
    *,
    fingerprint: bytes,
    owner: UUID,
    lifetime: timedelta,
    abandoned: timedelta,
) -> bool:
    """Hold `key` for `owner`'s request: True when it was absent (or expired, or abandoned by a
    request running for longer than `abandoned`), False when another request holds it. One
    statement; it waits only for a concurrent claim of the same key to commit."""
    claimed = await conn.fetchval(_CLAIM, project_id, key, fingerprint, owner, lifetime, abandoned)
    return claimed is True


_FIND = """
SELECT fingerprint, state, status, headers, body
FROM idempotency_keys
WHERE project_id = $1 AND key = $2 AND created_at > now() - $3::interval
"""


async def find(conn: Connection, project_id: str, key: str, *, lifetime: timedelta) -> Held | None:
    """The live (younger than `lifetime`) row of `key`, None when there is none."""
    row = await conn.fetchrow(_FIND, project_id, key, lifetime)
    if row is None:
        return None
    answer = None
    if row["state"] == "done":
        answer = Answer(
            status=row["status"],
            headers=[(name, value) for name, value in row["headers"]],
            body=row["body"],
        )
    return Held(fingerprint=row["fingerprint"], answer=answer)


_STORE = """
UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6
WHERE project_id = $1 AND key = $2 AND owner = $3 AND state = 'running'
"""


async def store(
    conn: Connection, project_id: str, key: str, *, owner: UUID, answer: Answer
) -> bool:
    """Store `answer` for the running key `owner` holds; False when it no longer holds it."""
    status = await conn.execute(
        _STORE, project_id, key, owner, answer.status, answer.headers, answer.body
    )
    return status == "UPDATE 1"


_RELEASE = """
DELETE FROM idempotency_keys
WHERE project_id = $1 AND key = $2 AND owner = $3 AND state = 'running'
"""


async def release(conn: Connection, project_id: str, key: str, *, owner: UUID) -> None:
    """Forget the running key `owner` holds, so that a retry runs the request again."""
    await conn.execute(_RELEASE, project_id, key, owner)


_FORGET_EXPIRED = """
DELETE FROM idempotency_keys
WHERE (project_id, key) IN (
    SELECT project_id, key FROM idempotency_keys
    WHERE created_at <= now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""


async def forget_expired(conn: Connection, *, lifetime: timedelta, batch_size: int) -> int:
    """Delete at most `batch_size` keys older than `lifetime`; how many were deleted."""
    status = await conn.execute(_FORGET_EXPIRED, lifetime, batch_size)
    return int(status.rpartition(" ")[2])
