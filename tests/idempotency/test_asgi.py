"""Idempotent retries: POST with an `Idempotency-Key` (README, "Idempotent retries")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import voucherify

from patron.db.pool import connect, create_pool
from patron.idempotency.service import forget_expired_once
from patron.projects.service import Credentials
from tests.conftest import (
    TEST_SETTINGS,
    Database,
    RunningServer,
    _serve,
    auth_headers,
    run,
    sdk_client,
)
from tests.events.test_routes import ClientCredentials, event_count, make_client_key

REPLAYED = "Idempotent-Replayed"


def customer_count(db: Database, project: Credentials) -> int:
    value = db.fetchval("SELECT count(*) FROM customers WHERE project_id = $1", project.project_id)
    return int(value)


def order_count(db: Database, project: Credentials) -> int:
    value = db.fetchval("SELECT count(*) FROM orders WHERE project_id = $1", project.project_id)
    return int(value)


def stored_keys(db: Database, project: Credentials) -> list[str]:
    rows = db.fetch(
        "SELECT key FROM idempotency_keys WHERE project_id = $1 ORDER BY key", project.project_id
    )
    return [row["key"] for row in rows]


class TestRetryWithTheSameKey:
    def test_the_retry_gets_the_stored_answer_marked_replayed(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        # No source_id: every POST that runs creates a customer of its own.
        body = {"name": "Ada", "email": "ada@example.com"}
        first = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "k-1"})
        retry = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == 200
        assert REPLAYED not in first.headers
        assert retry.status_code == 200
        assert retry.headers[REPLAYED] == "true"
        assert retry.content == first.content
        assert retry.headers["content-type"] == first.headers["content-type"]
        assert retry.headers["x-request-id"] != first.headers["x-request-id"]
        assert customer_count(server.db, project) == 1

    def test_sdk_sends_the_key_with_one_call(
        self, server: RunningServer, project: Credentials
    ) -> None:
        with sdk_client(server, project) as client:
            customers = voucherify.CustomersApi(client)
            body = voucherify.CustomersCreateRequestBody(name="Grace")
            first = customers.create_customer_with_http_info(
                body, _headers={"Idempotency-Key": "sdk-1"}
            )
            retry = customers.create_customer_with_http_info(
                body, _headers={"Idempotency-Key": "sdk-1"}
            )
            without = customers.create_customer(body)
        assert first.status_code == retry.status_code == 200
        assert retry.data.id == first.data.id
        assert retry.headers is not None
        assert retry.headers.get(REPLAYED.lower()) == "true"  # the SDK keeps them as sent
        assert without.id != first.data.id
        assert customer_count(server.db, project) == 2

    def test_an_order_is_created_once(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        body = {"amount": 1500, "customer": {"source_id": "buyer"}}
        answers = [
            http.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-1"})
            for _ in range(3)
        ]
        assert {answer.status_code for answer in answers} == {200}
        assert len({answer.content for answer in answers}) == 1
        assert [REPLAYED in answer.headers for answer in answers] == [False, True, True]
        assert order_count(server.db, project) == 1

    def test_a_client_error_is_stored_too(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        body = {"name": "x", "birthdate": "not a date"}
        first = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "bad"})
        retry = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "bad"})
        assert first.status_code == 400
        assert first.json()["key"] == "invalid_payload"
        assert retry.status_code == 400
        assert retry.headers[REPLAYED] == "true"
        assert retry.content == first.content
        assert customer_count(server.db, project) == 0

    def test_an_expired_key_counts_as_absent_and_is_cleaned_up(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        body = {"name": "Old"}
        first = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "old"})
        server.db.fetch(
            "UPDATE idempotency_keys SET created_at = created_at - interval '24 hours 1 second'"
            " WHERE project_id = $1",
            project.project_id,
        )
        again = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "old"})
        assert again.status_code == 200
        assert REPLAYED not in again.headers
        assert again.json()["id"] != first.json()["id"]
        assert customer_count(server.db, project) == 2
        # The key now holds the second answer; once that expires too, the cleanup deletes it.
        server.db.fetch(
            "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'"
            " WHERE project_id = $1",
            project.project_id,
        )

        async def cleanup() -> int:
            pool = await create_pool(server.db.dsn, min_size=1, max_size=1)
            try:
                return await forget_expired_once(pool)
            finally:
                await pool.close()

        assert run(cleanup()) >= 1
        assert stored_keys(server.db, project) == []


class TestRefusedKeys:
    def test_the_same_key_with_another_body_is_422(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        headers = {"Idempotency-Key": "k"}
        first = http.post("/v1/customers", json={"name": "A"}, headers=headers)
        other = http.post("/v1/customers", json={"name": "B"}, headers=headers)
        assert first.status_code == 200
        assert other.status_code == 422
        error = other.json()
        assert error["code"] == 422
        assert error["key"] == "idempotency_key_reused"
        assert error["message"] == "Idempotency key reused"
        assert error["request_id"] == other.headers["x-request-id"]
        assert REPLAYED not in other.headers
        assert customer_count(server.db, project) == 1

    def test_the_same_key_on_another_path_or_query_is_422(self, http: httpx.Client) -> None:
        headers = {"Idempotency-Key": "k"}
        assert http.post("/v1/customers", json={"name": "A"}, headers=headers).status_code == 200
        on_orders = http.post("/v1/orders", json={"amount": 1}, headers=headers)
        assert on_orders.status_code == 422
        with_query = http.post("/v1/customers?x=1", json={"name": "A"}, headers=headers)
        assert with_query.status_code == 422
        # The refusals are not stored: the first answer still stands.
        again = http.post("/v1/customers", json={"name": "A"}, headers=headers)
        assert again.headers[REPLAYED] == "true"

    @pytest.mark.parametrize("key", ["", "k" * 256])
    def test_an_empty_or_too_long_key_is_400(
        self, server: RunningServer, project: Credentials, http: httpx.Client, key: str
    ) -> None:
        answer = http.post("/v1/customers", json={"name": "A"}, headers={"Idempotency-Key": key})
        assert answer.status_code == 400
        assert answer.json()["key"] == "invalid_idempotency_key"
        assert "255" in answer.json()["details"]
        assert customer_count(server.db, project) == 0

    def test_a_key_of_255_characters_is_taken(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        key = "k" * 255
        for _ in range(2):
            answer = http.post(
                "/v1/customers", json={"name": "A"}, headers={"Idempotency-Key": key}
            )
            assert answer.status_code == 200
        assert answer.headers[REPLAYED] == "true"
        assert stored_keys(server.db, project) == [f"app:{key}"]

    def test_a_body_over_the_routes_limit_is_413_and_not_kept(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        answer = http.post(
            "/v1/customers",
            content=body,
            headers={"Idempotency-Key": "big", "content-type": "application/json"},
        )
        assert answer.status_code == 413
        assert answer.json()["key"] == "request_entity_too_large"
        assert stored_keys(server.db, project) == []


class TestScope:
    def test_keys_are_per_project(
        self,
        server: RunningServer,
        project: Credentials,
        another_project: Credentials,
        http: httpx.Client,
    ) -> None:
        body = {"name": "A"}
        ours = http.post("/v1/customers", json=body, headers={"Idempotency-Key": "shared"})
        theirs = httpx.post(
            f"{server.base_url}/v1/customers",
            json=body,
            headers={**auth_headers(another_project), "Idempotency-Key": "shared"},
        )
        assert ours.status_code == theirs.status_code == 200
        assert REPLAYED not in theirs.headers
        assert theirs.json()["id"] != ours.json()["id"]
        assert customer_count(server.db, another_project) == 1

    def test_client_side_posts_are_keyed_by_the_client_keys_project(
        self, server: RunningServer, project: Credentials
    ) -> None:
        client_key: ClientCredentials = make_client_key(server.db, project)
        headers = {**client_key.headers(), "Idempotency-Key": "event-1"}
        body = {"event": "viewed", "customer": {"source_id": "visitor"}}
        answers = [
            httpx.post(f"{server.base_url}/client/v1/events", headers=headers, json=body)
            for _ in range(2)
        ]
        assert [answer.status_code for answer in answers] == [200, 200]
        assert answers[1].headers[REPLAYED] == "true"
        assert event_count(server.db, project, "viewed") == 1
        assert stored_keys(server.db, project) == [f"client:{client_key.key_id}:event-1"]

    def test_each_client_key_and_the_app_have_keys_of_their_own(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        # A client key is public: pages using another key, or the app, never get its answers.
        body = {"event": "viewed", "customer": {"source_id": "visitor"}}
        answers = [
            httpx.post(
                f"{server.base_url}/client/v1/events",
                headers={**make_client_key(server.db, project).headers(), "Idempotency-Key": "k"},
                json=body,
            )
            for _ in range(2)
        ]
        answers.append(http.post("/v1/events", json=body, headers={"Idempotency-Key": "k"}))
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert not any(REPLAYED in answer.headers for answer in answers)
        assert event_count(server.db, project, "viewed") == 3

    def test_the_double_opt_in_header_is_part_of_the_request(
        self, server: RunningServer, project: Credentials
    ) -> None:
        client_key: ClientCredentials = make_client_key(server.db, project)
        url = f"{server.base_url}/client/v1/customers"
        body = {"source_id": "opt-in"}
        refused = httpx.post(
            url,
            headers={
                **client_key.headers(),
                "Idempotency-Key": "signup",
                "X-Voucherify-Double-Opt-In": "true",
            },
            json=body,
        )
        assert refused.status_code == 400
        # The same key without the header is another request, not the stored 400 again.
        again = httpx.post(
            url, headers={**client_key.headers(), "Idempotency-Key": "signup"}, json=body
        )
        assert again.status_code == 422
        assert again.json()["key"] == "idempotency_key_reused"

    def test_other_methods_ignore_the_header(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        http.post("/v1/customers", json={"source_id": "c1", "name": "A"})
        for name in ("B", "C"):
            answer = http.put(
                "/v1/customers/c1", json={"name": name}, headers={"Idempotency-Key": "put"}
            )
            assert answer.status_code == 200
            assert REPLAYED not in answer.headers
            assert answer.json()["name"] == name
        assert stored_keys(server.db, project) == []

    def test_without_the_header_nothing_is_stored(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        for _ in range(2):
            assert http.post("/v1/customers", json={"name": "A"}).status_code == 200
        assert customer_count(server.db, project) == 2
        assert stored_keys(server.db, project) == []

    def test_unauthenticated_requests_are_not_kept(
        self, server: RunningServer, project: Credentials
    ) -> None:
        answer = httpx.post(
            f"{server.base_url}/v1/customers",
            json={"name": "A"},
            headers={"X-App-Id": project.app_id, "X-App-Token": "wrong", "Idempotency-Key": "k"},
        )
        assert answer.status_code == 401
        assert stored_keys(server.db, project) == []

    def test_an_unknown_route_is_not_kept(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        answer = http.post("/v1/nothing-here", json={}, headers={"Idempotency-Key": "k"})
        assert answer.status_code == 404
        assert stored_keys(server.db, project) == []


class TestCSVImport:
    def test_a_retried_upload_queues_one_import(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        content = b"source_id,name\ncsv-1,One\ncsv-2,Two\n"
        headers = {"Idempotency-Key": "import-1"}
        # httpx draws a new multipart boundary for each request: the retry differs in it only.
        first = http.post(
            "/v1/customers/importCSV", files={"file": ("c.csv", content)}, headers=headers
        )
        retry = http.post(
            "/v1/customers/importCSV", files={"file": ("c.csv", content)}, headers=headers
        )
        assert first.status_code == 202
        assert retry.status_code == 202
        assert retry.headers[REPLAYED] == "true"
        assert retry.json() == first.json()
        actions = server.db.fetchval(
            "SELECT count(*) FROM async_actions WHERE project_id = $1", project.project_id
        )
        assert actions == 1
        other = http.post(
            "/v1/customers/importCSV",
            files={"file": ("c.csv", content + b"csv-3,Three\n")},
            headers=headers,
        )
        assert other.status_code == 422
        assert other.json()["key"] == "idempotency_key_reused"


STORM = 32

STORM_CASES = {
    "customers": ("/v1/customers", {"name": "Storm"}, customer_count),
    "orders": ("/v1/orders", {"amount": 700}, order_count),
    "events": (
        "/v1/events",
        {"event": "storm", "customer": {"source_id": "storm"}},
        lambda db, project: event_count(db, project, "storm"),
    ),
}


async def storm(base_url: str, headers: dict[str, str], path: str, body: Any) -> list[Any]:
    limits = httpx.Limits(max_connections=STORM)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.post(path, json=body, headers=headers) for _ in range(STORM))
        )


class TestRetryStorm:
    @pytest.mark.parametrize("case", sorted(STORM_CASES))
    def test_32_concurrent_requests_make_one_write_and_32_equal_answers(
        self, server: RunningServer, project: Credentials, case: str
    ) -> None:
        path, body, count = STORM_CASES[case]
        headers = {**auth_headers(project), "Idempotency-Key": f"storm-{case}"}
        answers = run(storm(server.base_url, headers, path, body))
        assert {answer.status_code for answer in answers} == {200}
        assert len({answer.content for answer in answers}) == 1
        assert sum(answer.headers.get(REPLAYED) == "true" for answer in answers) == STORM - 1
        assert count(server.db, project) == 1


@pytest.fixture
def impatient_server(server: RunningServer) -> Iterator[str]:
    """A Patron of its own on the same database, whose retries wait 0.3 s for a running key."""
    settings = TEST_SETTINGS.model_copy(update={"idempotency_wait_seconds": 0.3})
    yield from _serve(server.db.dsn, settings)


class TestRetryWhileRunning:
    def test_a_retry_waits_then_is_409_and_later_gets_the_answer(
        self, server: RunningServer, project: Credentials, impatient_server: str
    ) -> None:
        headers = {**auth_headers(project), "Idempotency-Key": "slow"}
        created = httpx.post(
            f"{impatient_server}/v1/customers",
            json={"source_id": "held", "name": "Before"},
            headers=auth_headers(project),
        )
        assert created.status_code == 200
        body = {"source_id": "held", "name": "After"}

        async def scenario() -> tuple[httpx.Response, httpx.Response, float, httpx.Response]:
            # The test holds the customer's row lock: the first request blocks on it.
            conn = await connect(server.db.dsn)
            try:
                async with httpx.AsyncClient(base_url=impatient_server, timeout=30) as client:
                    transaction = conn.transaction()
                    await transaction.start()
                    await conn.execute(
                        "SELECT 1 FROM customers WHERE project_id = $1 AND source_id = 'held'"
                        " FOR UPDATE",
                        project.project_id,
                    )
                    first = asyncio.create_task(
                        client.post("/v1/customers", json=body, headers=headers)
                    )
                    await wait_for_a_lock_wait(conn)
                    started = time.monotonic()
                    retry = await client.post("/v1/customers", json=body, headers=headers)
                    waited = time.monotonic() - started
                    await transaction.rollback()
                    first_answer = await first
                    later = await client.post("/v1/customers", json=body, headers=headers)
                    return first_answer, retry, waited, later
            finally:
                await conn.close()

        first, retry, waited, later = run(scenario())
        assert retry.status_code == 409
        error = retry.json()
        assert error["code"] == 409
        assert error["key"] == "idempotency_key_in_use"
        assert error["message"] == "Idempotency key in use"
        assert error["request_id"] == retry.headers["x-request-id"]
        assert waited >= 0.3
        assert first.status_code == 200
        assert first.json()["name"] == "After"
        assert REPLAYED not in first.headers
        assert later.status_code == 200
        assert later.headers[REPLAYED] == "true"
        assert later.content == first.content

    def test_a_retry_on_another_server_waits_for_the_answer(
        self, server: RunningServer, project: Credentials, impatient_server: str
    ) -> None:
        # Two apps on one database: the retry's server knows nothing of the first request but
        # its row, which it reads until the answer is there.
        headers = {**auth_headers(project), "Idempotency-Key": "elsewhere"}
        created = httpx.post(
            f"{server.base_url}/v1/customers",
            json={"source_id": "held", "name": "Before"},
            headers=auth_headers(project),
        )
        assert created.status_code == 200
        body = {"source_id": "held", "name": "After"}

        async def scenario() -> tuple[httpx.Response, httpx.Response, bool]:
            conn = await connect(server.db.dsn)
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    transaction = conn.transaction()
                    await transaction.start()
                    await conn.execute(
                        "SELECT 1 FROM customers WHERE project_id = $1 AND source_id = 'held'"
                        " FOR UPDATE",
                        project.project_id,
                    )
                    first = asyncio.create_task(
                        client.post(f"{impatient_server}/v1/customers", json=body, headers=headers)
                    )
                    await wait_for_a_lock_wait(conn)
                    retry = asyncio.create_task(
                        client.post(f"{server.base_url}/v1/customers", json=body, headers=headers)
                    )
                    await asyncio.sleep(0.5)
                    waiting = not retry.done()
                    await transaction.rollback()
                    return await first, await retry, waiting
            finally:
                await conn.close()

        first, retry, waiting = run(scenario())
        assert waiting
        assert first.status_code == 200
        assert retry.status_code == 200
        assert retry.headers[REPLAYED] == "true"
        assert retry.content == first.content
        assert customer_count(server.db, project) == 1


async def wait_for_a_lock_wait(conn: Any) -> None:
    """Until a backend of this database waits for a lock (the first request, on the test's)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first request never waited for the test's lock")
