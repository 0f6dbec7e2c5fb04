"""The write path under concurrency: scroll exactly once while others write, exact totals,
distinct creation moments never in the future, no per-project lock held to commit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from patron.activities.service import Actor, EventSource
from patron.customers.schemas import CustomerCreate
from patron.db.pool import connect
from patron.projects.service import Credentials
from patron.writes import customers as writes
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, auth_headers
from tests.factories import scroll, unique


class _Writers:
    """Clients that create, update and delete customers until stopped: creations and
    deletions of their own customers, updates of the ones the scroll must see. Each writer
    deletes the customer it created the round before, so the customers do not grow faster than
    an ascending scroll of one per page can reach the end (it took 90 s when they did)."""

    def __init__(self, server: RunningServer, project: Credentials, existing: list[str]) -> None:
        self.server = server
        self.headers = auth_headers(project)
        self.existing = existing
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.created = 0
        self.deleted = 0
        self._lock = threading.Lock()

    def run(self, seed: int) -> None:
        with httpx.Client(base_url=self.server.base_url, headers=self.headers, timeout=60) as c:
            n = 0
            while not self.stop.is_set():
                n += 1
                new = c.post("/v1/customers", json={"source_id": f"w{seed}-{n}", "name": "new"})
                updated = c.put(
                    f"/v1/customers/{self.existing[(seed * 31 + n) % len(self.existing)]}",
                    json={"name": f"renamed {seed}-{n}"},
                )
                statuses = [new.status_code, updated.status_code]
                if n > 1:
                    gone = c.delete(f"/v1/customers/w{seed}-{n - 1}")
                    statuses.append(gone.status_code)
                    with self._lock:
                        self.deleted += gone.status_code == 204
                with self._lock:
                    self.created += new.status_code == 200
                    self.errors += [f"status {s}" for s in statuses if s >= 400]

    def __enter__(self) -> _Writers:
        self.pool = concurrent.futures.ThreadPoolExecutor(4)
        self.futures = [self.pool.submit(self.run, seed) for seed in range(4)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()


class TestScrollWhileWriting:
    def test_both_directions_see_every_existing_customer_exactly_once(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        # One after another: each gets a millisecond of its own.
        existing = [
            http.post("/v1/customers", json={"source_id": f"e{n}"}).json()["id"] for n in range(120)
        ]
        with _Writers(server, project, existing) as writers:
            for limit in (1, 3, 10):
                for ascending in (False, True):
                    seen = scroll(http, ascending=ascending, limit=limit)
                    twice = [key for key, count in Counter(seen).items() if count > 1]
                    assert not twice, f"limit {limit}: seen twice {twice}"
                    assert set(existing) <= set(seen), f"limit {limit}: some never seen"
            time.sleep(0.2)
        assert not writers.errors, writers.errors[:5]
        assert writers.created > 20  # the writers were really writing meanwhile


class TestTotals:
    def test_total_stays_exact_under_concurrent_creation_and_deletion(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        existing = [http.post("/v1/customers", json={}).json()["id"] for _ in range(5)]
        with _Writers(server, project, existing) as writers:
            for _ in range(20):
                # One snapshot: the page and its total agree at any moment.
                page = http.get("/v1/customers", params={"limit": 100}).json()
                if not page["has_more"]:
                    assert page["total"] == len(page["customers"])
        live = server.db.fetchval(
            "SELECT count(*) FROM customers WHERE project_id = $1 AND deleted_at IS NULL",
            project.project_id,
        )
        assert live == 5 + writers.created - writers.deleted
        assert http.get("/v1/customers").json()["total"] == live
        # The count is kept in several slots, none of them a hot row every creation locks.
        slots = server.db.fetchval(
            "SELECT count(*) FROM customer_counts WHERE project_id = $1", project.project_id
        )
        assert slots >= 1


class TestCreationMoments:
    def test_distinct_and_never_in_the_future_after_an_import(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        before = server.db.fetchval("SELECT clock_timestamp()")
        rows = [{"source_id": unique("bulk"), "name": f"n{n}"} for n in range(6000)]
        action = http.post("/v1/customers/bulk/async", json=rows).json()["async_action_id"]
        for n in range(30):
            http.post("/v1/customers", json={"source_id": f"api-{n}"})
        assert wait_done(http, action, timeout=120)["status"] == "DONE"
        stamps = server.db.fetch(
            "SELECT created_at, clock_timestamp() AS now FROM customers"
            " WHERE project_id = $1 AND deleted_at IS NULL",
            project.project_id,
        )
        assert len(stamps) == 6030
        assert len({row["created_at"] for row in stamps}) == 6030
        assert all(row["created_at"] <= row["now"] for row in stamps)
        # API creations are dated at their moment; the import's within the seconds before.
        api = server.db.fetch(
            "SELECT created_at FROM customers WHERE project_id = $1 AND source_id LIKE 'api-%'",
            project.project_id,
        )
        assert all(row["created_at"] >= before.replace(microsecond=0) for row in api)

    def test_concurrent_creations_are_dated_now_or_just_before(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        before = server.db.fetchval("SELECT date_trunc('milliseconds', clock_timestamp())")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: http.post("/v1/customers", json={}), range(100)))
        rows = server.db.fetch(
            "SELECT created_at, clock_timestamp() AS now FROM customers WHERE project_id = $1",
            project.project_id,
        )
        assert len(rows) == 100
        # At most 8 milliseconds back from the creation, and never ahead of the clock.
        assert all(before - timedelta(milliseconds=8) <= r["created_at"] <= r["now"] for r in rows)


class TestPagesOfOneMillisecond:
    def test_a_scroll_page_never_ends_inside_a_millisecond(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        """Customers sharing a created_at (a project creating more than ~1,000 a second) are
        paged together, so the strict created_at cursor skips none of them."""
        ids = [http.post("/v1/customers", json={}).json()["id"] for _ in range(12)]
        shared = server.db.fetchval("SELECT created_at FROM customers WHERE id = $1", ids[3])
        server.db.fetch(
            "UPDATE customers SET created_at = $2 WHERE project_id = $1 AND id = ANY($3::text[])",
            project.project_id,
            shared,
            ids[3:8],
        )
        for limit in (6, 7, 10):
            for ascending in (False, True):
                seen = scroll(http, ascending=ascending, limit=limit)
                assert sorted(seen) == sorted(ids), (limit, ascending)
        # The first page, limit 6, newest first: 4 customers after the five of one moment,
        # then those five on the next page.
        page = http.get(
            "/v1/customers", params={"limit": 6, "starting_after": "2200-01-01T00:00:00Z"}
        ).json()
        assert [c["id"] for c in page["customers"]] == ids[:7:-1]
        assert page["has_more"] is True


class TestNoProjectLock:
    def test_a_creation_does_not_wait_for_another_that_has_not_committed(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        """A transaction that created a customer and holds on: another creation in the same
        project still completes (before: both locked the project's row until commit)."""

        async def hold_a_creation(release: threading.Event, holding: threading.Event) -> None:
            conn = await connect(server.db.dsn)
            try:
                async with conn.transaction():
                    actor = Actor(project.project_id, EventSource("API"), "v-test")
                    await writes.upsert(conn, actor, payload=CustomerCreate(source_id=unique()))
                    holding.set()
                    await asyncio.to_thread(release.wait, 30)
            finally:
                await conn.close()

        release, holding = threading.Event(), threading.Event()
        holder = threading.Thread(target=lambda: asyncio.run(hold_a_creation(release, holding)))
        holder.start()
        try:
            assert holding.wait(30)
            started = time.monotonic()
            response = http.post("/v1/customers", json={"source_id": unique()}, timeout=10)
            assert response.status_code == 200
            assert time.monotonic() - started < 5
            deleted = http.delete(f"/v1/customers/{response.json()['id']}", timeout=10)
            assert deleted.status_code == 204
        finally:
            release.set()
            holder.join(30)


class TestWhatAWriteAnswers:
    def test_post_and_put_answer_the_customer_as_a_read_shows_it(self, http: httpx.Client) -> None:
        """Metadata as jsonb stores it (key order, numbers), in the answer and the snapshot."""
        body = {"source_id": unique(), "metadata": {"bb": 1, "a": 1e16, "z": -0.0, "c": [1.5]}}
        created = http.post("/v1/customers", json=body)
        assert created.status_code == 200
        read = http.get(f"/v1/customers/{created.json()['id']}")
        assert created.text == read.text
        changed = http.put(
            f"/v1/customers/{body['source_id']}", json={"metadata": {"y": 2e20, "b": True}}
        )
        assert changed.text == http.get(f"/v1/customers/{body['source_id']}").text
        timeline = http.get(f"/v1/customers/{body['source_id']}/activity").json()["data"]
        snapshots = {a["type"]: a["data"]["customer"] for a in timeline}
        assert snapshots["customer.updated"] == changed.json()
        assert snapshots["customer.created"] == created.json()


class TestConcurrentUpsertsOfOneCustomer:
    def test_64_posts_changing_one_customer_never_mix_two_bodies(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        """Each POST reads the customer, then writes only if it is still as read (else it locks
        it in a transaction): every answer, the end state and every snapshot is one body."""
        source_id = unique()
        http.post("/v1/customers", json={"source_id": source_id})
        bodies = [
            {"name": f"N{n % 4}", "email": f"n{n % 4}@example.com", "metadata": {"n": n % 4}}
            for n in range(4)
        ]

        def post(n: int) -> httpx.Response:
            with httpx.Client(base_url=server.base_url, headers=http.headers) as client:
                return client.post("/v1/customers", json={"source_id": source_id, **bodies[n % 4]})

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(post, range(64)))

        def fields(customer: dict[str, Any]) -> dict[str, Any]:
            return {key: customer[key] for key in ("name", "email", "metadata")}

        assert {response.status_code for response in responses} == {200}
        assert all(fields(response.json()) in bodies for response in responses)
        final = http.get(f"/v1/customers/{source_id}").json()
        assert fields(final) in bodies
        snapshots = server.db.fetch(
            "SELECT data FROM customer_activities WHERE project_id = $1 AND type = $2",
            project.project_id,
            "customer.updated",
        )
        assert 1 <= len(snapshots) <= 64
        assert all(fields(row["data"]["customer"]) in bodies for row in snapshots)
        assert http.get("/v1/customers").json()["total"] == 1
