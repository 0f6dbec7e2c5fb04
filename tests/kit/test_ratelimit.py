"""The client-side rate limit, counted in PostgreSQL: one count for every process on a database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.db.pool import Pool, create_pool
from patron.kit.context import REQUEST_ID_KEY
from patron.kit.ratelimit import ClientRateLimit, repository, seconds_to_wait
from patron.kit.ratelimit.repository import Count
from patron.projects.asgi import Authentication, ClientOrigins
from patron.projects.service import Authenticator, ClientAuthenticator
from tests.conftest import Database, run

T = TypeVar("T")

AT = datetime(2026, 11, 30, 12, 0, 0, 200_000, tzinfo=UTC)
WINDOW = timedelta(seconds=5)


def with_pools(db: Database, count: int, work: Callable[[list[Pool]], Awaitable[T]]) -> T:
    """Run `work` with `count` pools on `db`, as that many server processes would have."""

    async def main() -> T:
        pools = [await create_pool(db.dsn, min_size=1, max_size=10) for _ in range(count)]
        try:
            return await work(pools)
        finally:
            for pool in pools:
                await pool.close()

    return run(main())  # type: ignore[no-any-return]


def limit_on(pool: Pool, limit: int = 5, seconds: float = 5.0) -> ClientRateLimit:
    return ClientRateLimit(lambda: pool, limit, seconds)


class TestClientRateLimit:
    def test_two_processes_share_one_limit(self, fresh_database: Database) -> None:
        async def work(pools: list[Pool]) -> list[int | None]:
            first, second = limit_on(pools[0]), limit_on(pools[1])
            return [await (first, second)[i % 2].retry_after("10.0.0.1") for i in range(8)]

        waits = with_pools(fresh_database, 2, work)
        assert waits[:5] == [None] * 5
        assert all(wait is not None and 1 <= wait <= 5 for wait in waits[5:])

    def test_concurrent_requests_never_pass_the_limit(self, fresh_database: Database) -> None:
        async def work(pools: list[Pool]) -> list[int | None]:
            limits = [limit_on(pool) for pool in pools]
            return await asyncio.gather(*(limits[i % 3].retry_after("10.0.0.2") for i in range(30)))

        waits = with_pools(fresh_database, 3, work)
        assert waits.count(None) == 5
        assert (
            fresh_database.fetchval(
                "SELECT sum(hits) FROM client_rate_limits WHERE client = '10.0.0.2'"
            )
            == 5
        )

    def test_keys_are_counted_apart_and_refusals_not_at_all(self, fresh_database: Database) -> None:
        async def work(pools: list[Pool]) -> tuple[list[int | None], list[int | None]]:
            limit = limit_on(pools[0], limit=2)
            one = [await limit.retry_after("10.0.0.3") for _ in range(4)]
            other = [await limit.retry_after("10.0.0.4") for _ in range(2)]
            return one, other

        one, other = with_pools(fresh_database, 1, work)
        assert one[:2] == [None, None]
        assert None not in one[2:]
        assert other == [None, None]
        assert (
            fresh_database.fetchval(
                "SELECT sum(hits) FROM client_rate_limits WHERE client = '10.0.0.3'"
            )
            == 2
        )

    def test_the_window_slides(self, fresh_database: Database) -> None:
        async def work(pools: list[Pool]) -> tuple[list[int | None], float]:
            limit = limit_on(pools[0], limit=2, seconds=1.0)
            started = time.monotonic()
            waits = [await limit.retry_after("10.0.0.5") for _ in range(3)]
            for _ in range(200):
                if await limit.retry_after("10.0.0.5") is None:
                    break
                await asyncio.sleep(0.02)
            return waits, time.monotonic() - started

        waits, let_through_after = with_pools(fresh_database, 1, work)
        assert waits[:2] == [None, None]
        assert waits[2] == 1
        # Remembered for between nine tenths of the window and the whole window.
        assert 0.85 <= let_through_after <= 1.5

    def test_stale_counters_are_deleted(self, fresh_database: Database) -> None:
        fresh_database.fetch(
            "INSERT INTO client_rate_limits (client, bucket, hits)"
            " VALUES ('10.0.0.6', now() - interval '1 hour', 3)"
        )

        async def work(pools: list[Pool]) -> int | None:
            return await limit_on(pools[0]).retry_after("10.0.0.7")

        assert with_pools(fresh_database, 1, work) is None
        rows = fresh_database.fetch("SELECT client, hits FROM client_rate_limits")
        assert [tuple(row) for row in rows] == [("10.0.0.7", 1)]

    def test_count_if_allowed_reports_the_window(self, fresh_database: Database) -> None:
        async def work(pools: list[Pool]) -> list[Count]:
            async with pools[0].acquire() as conn:
                return [
                    await repository.count_if_allowed(
                        conn, "10.0.0.8", limit=2, window=WINDOW, bucket=timedelta(seconds=0.5)
                    )
                    for _ in range(3)
                ]

        counts = with_pools(fresh_database, 1, work)
        assert [count.accepted for count in counts] == [True, True, False]
        assert counts[0].buckets == []
        assert sum(hits for _, hits in counts[2].buckets) == 2
        for bucket, _ in counts[2].buckets:
            assert bucket <= counts[2].at < bucket + WINDOW


class TestSecondsToWait:
    def test_all_in_one_bucket_waits_for_it_to_leave(self) -> None:
        count = Count(False, AT, [(AT - timedelta(seconds=0.2), 5)])
        assert seconds_to_wait(count, limit=5, window=WINDOW) == 5

    def test_waits_only_for_as_many_buckets_as_needed(self) -> None:
        buckets = [(AT - timedelta(seconds=4), 2), (AT - timedelta(seconds=3), 3)]
        count = Count(False, AT, buckets)
        assert seconds_to_wait(count, limit=5, window=WINDOW) == 1
        assert seconds_to_wait(count, limit=4, window=WINDOW) == 1
        assert seconds_to_wait(count, limit=3, window=WINDOW) == 2

    def test_room_in_what_was_seen_or_no_limit_at_all(self) -> None:
        assert seconds_to_wait(Count(False, AT, []), limit=5, window=WINDOW) == 1
        assert seconds_to_wait(Count(False, AT, []), limit=0, window=WINDOW) == 5

    @given(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=9), st.integers(1, 10)),
            unique_by=lambda bucket: bucket[0],
        ),
        st.integers(min_value=0, max_value=20),
        st.floats(min_value=0, max_value=0.499),
    )
    def test_between_one_second_and_the_window(
        self, buckets: list[tuple[int, int]], limit: int, into_bucket: float
    ) -> None:
        start = AT - timedelta(seconds=into_bucket)
        seen = [(start - timedelta(seconds=0.5 * age), hits) for age, hits in sorted(buckets)]
        seen.sort()
        assert 1 <= seconds_to_wait(Count(False, AT, seen), limit=limit, window=WINDOW) <= 5


class TestWhenTheDatabaseFails:
    def test_a_client_request_gets_a_logged_500_with_the_error_body(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        def no_pool() -> Pool:
            raise OSError("connection refused")

        async def never_called(scope: dict[str, Any], receive: Any, send: Any) -> None:
            raise AssertionError("the request went past the limit")

        app = Authentication(
            never_called,
            Authenticator(no_pool),
            ClientAuthenticator(no_pool),
            ClientRateLimit(no_pool, 5, 5.0),
            ClientOrigins(no_pool),
        )
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "path": "/client/v1/events",
            "headers": [],
            "client": ("10.0.0.9", 1234),
            REQUEST_ID_KEY: "v-test",
        }
        run(app(scope, None, send))
        assert sent[0]["status"] == 500
        body = json.loads(sent[1]["body"])
        assert body["code"] == 500
        assert body["request_id"] == "v-test"
        assert "request_id=v-test" in caplog.text
