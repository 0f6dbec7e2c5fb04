"""The authenticator's cache: a project is read once per period, every token is still checked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from patron.db.pool import Pool, create_pool
from patron.errors import Unauthorized
from patron.projects.service import Authenticator, Credentials, Project
from tests.conftest import RunningServer, run


def with_authenticator(
    server: RunningServer,
    work: Callable[[Authenticator, Callable[[], int], Pool], Awaitable[None]],
    *,
    ttl_seconds: float = 30.0,
) -> None:
    """Run `work` with an authenticator over a real pool and a count of its database reads."""

    async def main() -> None:
        pool = await create_pool(server.db.dsn, min_size=1, max_size=2)
        reads = 0

        def counting_pool() -> Pool:
            nonlocal reads
            reads += 1
            return pool

        try:
            await work(Authenticator(counting_pool, ttl_seconds=ttl_seconds), lambda: reads, pool)
        finally:
            await pool.close()

    run(main())


def test_a_known_project_is_read_once_and_every_token_still_checked(
    server: RunningServer, project: Credentials
) -> None:
    key = server.db.fetchval("SELECT asset_key FROM projects WHERE id = $1", project.project_id)

    async def work(authenticator: Authenticator, reads: Callable[[], int], pool: Pool) -> None:
        first = await authenticator.authenticate(project.app_id, project.app_token)
        second = await authenticator.authenticate(project.app_id, project.app_token)
        assert first == second == Project(project.project_id, project.name, project.app_id, key)
        assert reads() == 1
        for token in (project.app_token + "x", project.app_token[:-1], "", None):
            with pytest.raises(Unauthorized):
                await authenticator.authenticate(project.app_id, token)
        assert reads() == 1  # refused from the cache, not let through by it

    with_authenticator(server, work)


def test_a_wrong_token_is_refused_before_anything_is_cached(
    server: RunningServer, project: Credentials
) -> None:
    async def work(authenticator: Authenticator, reads: Callable[[], int], pool: Pool) -> None:
        with pytest.raises(Unauthorized):
            await authenticator.authenticate(project.app_id, project.app_token + "x")
        assert await authenticator.authenticate(project.app_id, project.app_token)

    with_authenticator(server, work)


def test_unknown_app_ids_are_refused_and_read_each_time(server: RunningServer) -> None:
    async def work(authenticator: Authenticator, reads: Callable[[], int], pool: Pool) -> None:
        for _ in range(2):
            with pytest.raises(Unauthorized):
                await authenticator.authenticate("no-such-app", "token")
        assert reads() == 2  # nothing cached for an id that names no project

    with_authenticator(server, work)


def test_a_changed_token_is_seen_once_the_cached_entry_expires(
    server: RunningServer, project: Credentials
) -> None:
    async def work(authenticator: Authenticator, reads: Callable[[], int], pool: Pool) -> None:
        await authenticator.authenticate(project.app_id, project.app_token)
        await pool.execute(
            "UPDATE projects SET app_token_hash = sha256('rotated'::bytea) WHERE id = $1",
            project.project_id,
        )
        with pytest.raises(Unauthorized):
            await authenticator.authenticate(project.app_id, project.app_token)
        assert await authenticator.authenticate(project.app_id, "rotated")
        assert reads() == 3

    with_authenticator(server, work, ttl_seconds=0)
