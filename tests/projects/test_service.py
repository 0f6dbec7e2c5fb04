"""Projects' service: names unique in an installation (and the migration that made them so),
and the credential caches, which keep a project for a while but every token is still checked,
and forget it at once when it changes."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from alembic import command

from patron.db import migrate
from patron.db.pool import Pool, connect, create_pool
from patron.errors import Unauthorized
from patron.projects import service as projects
from patron.projects.service import (
    Authenticator,
    CredentialCache,
    CredentialListener,
    Credentials,
    DuplicateName,
    Project,
)
from tests.conftest import Database, RunningServer, run


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


def listening(
    server: RunningServer, work: Callable[[CredentialListener, Any], Awaitable[None]]
) -> None:
    """Run `work` with a CredentialListener on the test database, over one cache of app ids,
    once it listens; and a connection to send notifications and end sessions with."""

    async def main() -> None:
        cache: CredentialCache[str] = CredentialCache(30.0)
        listener = CredentialListener(
            server.db.dsn, {"project": cache}, check_seconds=0.5, max_backoff_seconds=0.2
        )
        task = asyncio.create_task(listener.run())
        conn = await connect(server.db.dsn)
        try:
            await asyncio.wait_for(listener.listening.wait(), 10)
            await work(listener, (cache, conn))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await conn.close()

    run(main())


async def eventually(condition: Callable[[], bool]) -> bool:
    for _ in range(200):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


class TestCredentialListener:
    def test_a_notification_evicts_only_the_key_it_names(self, server: RunningServer) -> None:
        async def work(listener: CredentialListener, tools: Any) -> None:
            cache, conn = tools
            now = time.monotonic()
            cache.put("app_a", "a", now=now, epoch=cache.epoch)
            cache.put("app_b", "b", now=now, epoch=cache.epoch)
            await conn.execute("SELECT pg_notify('patron_credentials', 'project:app_a')")
            assert await eventually(lambda: cache.get("app_a", now) is None)
            assert cache.get("app_b", now) == "b"
            # A kind it has no cache for: everything is forgotten rather than guessed.
            await conn.execute("SELECT pg_notify('patron_credentials', 'something:else')")
            assert await eventually(lambda: cache.get("app_b", now) is None)

        listening(server, work)

    def test_a_lost_connection_empties_the_cache_until_it_listens_again(
        self, server: RunningServer
    ) -> None:
        async def work(listener: CredentialListener, tools: Any) -> None:
            cache, conn = tools
            now = time.monotonic()
            cache.put("app_a", "a", now=now, epoch=cache.epoch)
            first_pid = listener.backend_pid
            await conn.execute("SELECT pg_terminate_backend($1)", first_pid)
            # It may listen again before a poll sees it stop: its new session tells.
            assert await eventually(
                lambda: listener.backend_pid != first_pid and listener.listening.is_set()
            )
            assert cache.get("app_a", now) is None
            # Listening again: notifications are delivered on the new connection.
            cache.put("app_a", "a", now=now, epoch=cache.epoch)
            assert cache.get("app_a", now) == "a"
            await conn.execute("SELECT pg_notify('patron_credentials', 'project:app_a')")
            assert await eventually(lambda: cache.get("app_a", now) is None)

        listening(server, work)


class TestCredentialCache:
    def test_a_read_overtaken_by_an_eviction_is_not_kept(self) -> None:
        cache: CredentialCache[str] = CredentialCache(30.0)
        now = time.monotonic()
        epoch = cache.epoch  # a read starts …
        cache.evict("app_a")  # … a notification arrives while it waits for the database …
        cache.put("app_a", "old", now=now, epoch=epoch)  # … and what it read may be stale
        assert cache.get("app_a", now) is None
        cache.put("app_a", "new", now=now, epoch=cache.epoch)
        assert cache.get("app_a", now) == "new"
        assert cache.get("app_a", now + 31) is None

    def test_nothing_is_kept_while_suspended(self) -> None:
        cache: CredentialCache[str] = CredentialCache(30.0)
        now = time.monotonic()
        cache.put("app_a", "a", now=now, epoch=cache.epoch)
        cache.suspend()
        assert cache.get("app_a", now) is None
        cache.put("app_a", "a", now=now, epoch=cache.epoch)
        assert cache.get("app_a", now) is None
        cache.resume()
        cache.put("app_a", "a", now=now, epoch=cache.epoch)
        assert cache.get("app_a", now) == "a"


def transaction(db: Database, work: Callable[[Any], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        conn = await connect(db.dsn)
        try:
            async with conn.transaction():
                return await work(conn)
        finally:
            await conn.close()

    return run(main())


class TestCreate:
    def test_a_taken_name_is_refused_and_the_transaction_goes_on(
        self, fresh_database: Database
    ) -> None:
        transaction(fresh_database, lambda conn: projects.create(conn, "shop"))

        async def twice(conn: Any) -> int:
            with pytest.raises(DuplicateName, match="'shop' exists already"):
                await projects.create(conn, "shop")
            await projects.create(conn, "shop 2")
            return int(await conn.fetchval("SELECT count(*) FROM projects"))

        assert transaction(fresh_database, twice) == 2

    def test_concurrent_creations_of_one_name_make_one_project(
        self, fresh_database: Database
    ) -> None:
        async def create() -> str:
            conn = await connect(fresh_database.dsn)
            try:
                async with conn.transaction():
                    await projects.create(conn, "twin")
                    await asyncio.sleep(0.2)  # both inserts are in before either commits
                return "created"
            except DuplicateName:
                return "refused"
            finally:
                await conn.close()

        async def both() -> list[str]:
            return sorted(await asyncio.gather(create(), create()))

        assert run(both()) == ["created", "refused"]
        assert fresh_database.fetchval("SELECT count(*) FROM projects WHERE name = 'twin'") == 1

    def test_ensure_names_a_new_project_after_the_taken_name(
        self, fresh_database: Database
    ) -> None:
        transaction(fresh_database, lambda conn: projects.create(conn, "default"))
        transaction(fresh_database, lambda conn: projects.create(conn, "default (2)"))
        made = transaction(
            fresh_database,
            lambda conn: projects.ensure(conn, app_id="app_fixed", app_token="token-fixed"),
        )
        assert made.name == "default (3)"
        again = transaction(
            fresh_database,
            lambda conn: projects.ensure(conn, app_id="app_fixed", app_token="token-fixed"),
        )
        assert again == made


def admin_execute(server: RunningServer, sql: str) -> None:
    async def main() -> None:
        conn = await connect(server.db.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(main())


@pytest.fixture
def database_at_0016(server: RunningServer) -> Iterator[Database]:
    """A database of its own migrated to the revision before project names became unique."""
    name = f"patron_names_{secrets.token_hex(4)}"
    admin_execute(server, f'CREATE DATABASE "{name}"')
    base, slash, rest = server.db.dsn.partition("?")
    prefix, _, _ = base.rpartition("/")
    dsn = f"{prefix}/{name}{slash}{rest}"
    try:
        migrate.upgrade(dsn, "0016_redemption_amounts")
        yield Database(dsn)
    finally:
        admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def names_by_id(db: Database) -> dict[str, str]:
    return {row["id"]: row["name"] for row in db.fetch("SELECT id, name FROM projects")}


class TestNamesMigration:
    def test_duplicates_are_renamed_oldest_first_and_names_become_unique(
        self, database_at_0016: Database
    ) -> None:
        db = database_at_0016
        # (id, name, age in days): `shop (2)` is taken already, so the second-oldest `shop`
        # becomes `shop (3)`; the id breaks the tie between two created at the same moment.
        rows = [
            ("proj_1", "shop", 3),
            ("proj_2", "shop", 5),
            ("proj_3", "shop", 1),
            ("proj_4", "shop (2)", 9),
            ("proj_5", "blog", 2),
            ("proj_6", "blog", 2),
            ("proj_7", "alone", 1),
        ]
        for project_id, name, days in rows:
            db.fetch(
                "INSERT INTO projects (id, name, app_id, app_token_hash, created_at)"
                " VALUES ($1, $2, $1 || '_app', '', now() - make_interval(days => $3))",
                project_id,
                name,
                days,
            )
        migrate.upgrade(db.dsn, "0017_project_names_unique")
        names = names_by_id(db)
        assert names == {
            "proj_2": "shop",
            "proj_1": "shop (3)",
            "proj_3": "shop (4)",
            "proj_4": "shop (2)",
            "proj_5": "blog",
            "proj_6": "blog (2)",
            "proj_7": "alone",
        }
        with pytest.raises(asyncpg.UniqueViolationError):
            db.fetch(
                "INSERT INTO projects (id, name, app_id, app_token_hash)"
                " VALUES ('proj_8', 'shop', 'app_8', '')"
            )

    def test_downgrade_drops_the_index_and_upgrade_restores_it(
        self, database_at_0016: Database
    ) -> None:
        db = database_at_0016
        migrate.upgrade(db.dsn, "0017_project_names_unique")
        command.downgrade(migrate.alembic_config(db.dsn), "0016_redemption_amounts")
        assert db.fetchval("SELECT to_regclass('projects_name_key')") is None
        for project_id in ("proj_1", "proj_2"):
            db.fetch(
                "INSERT INTO projects (id, name, app_id, app_token_hash)"
                " VALUES ($1, 'twin', $1 || '_app', '')",
                project_id,
            )
        migrate.upgrade(db.dsn)
        assert names_by_id(db) == {
            "proj_1": "twin",
            "proj_2": "twin (2)",
        }
        assert db.fetchval("SELECT to_regclass('projects_name_key')::text") == "projects_name_key"
