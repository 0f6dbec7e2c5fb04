"""`GET /metrics` (PATRON_METRICS): what it counts, who may read it, and where."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from patron.db.pool import create_pool
from patron.metrics import MetricsPort
from patron.projects.service import Credentials
from tests.conftest import TEST_SETTINGS, RunningServer, _serve, auth_headers, create_project

TOKEN = "metrics-token-0123456789"
CUSTOMER_ROUTE = "/v1/customers/{customer_id}"


@pytest.fixture(scope="module")
def open_metrics(server: RunningServer) -> Iterator[str]:
    yield from _serve(server.db.dsn, TEST_SETTINGS.model_copy(update={"metrics": "open"}))


@pytest.fixture(scope="module")
def token_metrics(server: RunningServer) -> Iterator[str]:
    settings = TEST_SETTINGS.model_copy(update={"metrics": "token", "metrics_token": TOKEN})
    yield from _serve(server.db.dsn, settings)


def requests_counted(text: str, method: str, route: str, status: int) -> float:
    """The count of requests in an exposition, 0 when the series is not there yet."""
    series = f'patron_http_requests_total{{method="{method}",route="{route}",status="{status}"}} '
    for line in text.splitlines():
        if line.startswith(series):
            return float(line[len(series) :])
    return 0.0


class TestMetrics:
    def test_counts_a_request_by_route_template_and_status(
        self, open_metrics: str, server: RunningServer
    ) -> None:
        project: Credentials = create_project(server.db)
        with httpx.Client(base_url=open_metrics, timeout=30) as client:
            before = requests_counted(client.get("/metrics").text, "GET", CUSTOMER_ROUTE, 404)
            missing = client.get("/v1/customers/nobody", headers=auth_headers(project))
            assert missing.status_code == 404
            response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert requests_counted(response.text, "GET", CUSTOMER_ROUTE, 404) == before + 1
        assert "nobody" not in response.text
        timed = 'patron_http_request_duration_seconds_count{method="GET",route="%s"}'
        assert timed % CUSTOMER_ROUTE in response.text

    def test_reads_the_pool_the_async_actions_and_the_segments(self, open_metrics: str) -> None:
        response = httpx.get(f"{open_metrics}/metrics", timeout=30)
        assert response.status_code == 200
        for gauge in (
            "patron_db_pool_in_use ",
            "patron_db_pool_waiting ",
            'patron_async_actions{status="ENQUEUED"} ',
            'patron_async_actions{status="IN_PROGRESS"} ',
            "patron_async_action_oldest_queued_age_seconds ",
            "patron_segment_refresh_lag_seconds ",
            "patron_worker_batches_total ",
        ):
            assert gauge in response.text, gauge

    def test_off_answers_404(self, anonymous_http: httpx.Client) -> None:
        response = anonymous_http.get("/metrics")
        assert response.status_code == 404
        assert response.json()["key"] == "not_found"

    def test_token_refuses_a_request_without_it(self, token_metrics: str) -> None:
        response = httpx.get(f"{token_metrics}/metrics", timeout=30)
        assert response.status_code == 401
        body = response.json()
        assert (body["code"], body["key"], body["message"]) == (401, "unauthorized", "Unauthorized")
        assert body["request_id"] == response.headers["x-request-id"]

    def test_token_refuses_a_wrong_token(self, token_metrics: str) -> None:
        response = httpx.get(
            f"{token_metrics}/metrics", headers={"authorization": "Bearer wrong"}, timeout=30
        )
        assert response.status_code == 401

    def test_token_answers_with_it(self, token_metrics: str) -> None:
        response = httpx.get(
            f"{token_metrics}/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        assert response.status_code == 200
        assert "patron_http_requests_total" in response.text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_metrics(url: str) -> httpx.Response:
    """GET `url`, asked again for up to 10 s while nothing listens yet (the metrics port is
    bound by a task the server's lifespan starts)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return httpx.get(url, timeout=30)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def port_metrics(server: RunningServer) -> Iterator[tuple[str, str]]:
    """(the API's URL, the metrics port's URL) of a server run with PATRON_METRICS=port."""
    port = free_port()
    settings = TEST_SETTINGS.model_copy(update={"metrics": "port", "metrics_port": port})
    for api in _serve(server.db.dsn, settings):
        yield api, f"http://127.0.0.1:{port}"


class TestMetricsPort:
    def test_served_on_its_port_only_counting_the_api_port(
        self, port_metrics: tuple[str, str], server: RunningServer
    ) -> None:
        api, metrics_url = port_metrics
        project: Credentials = create_project(server.db)
        before = wait_for_metrics(f"{metrics_url}/metrics")
        assert before.status_code == 200
        counted = requests_counted(before.text, "GET", CUSTOMER_ROUTE, 404)
        with httpx.Client(base_url=api, timeout=30) as client:
            on_api = client.get("/metrics")
            assert on_api.status_code == 404
            assert on_api.json()["key"] == "not_found"
            missing = client.get("/v1/customers/nobody", headers=auth_headers(project))
            assert missing.status_code == 404
        response = httpx.get(f"{metrics_url}/metrics", timeout=30)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert requests_counted(response.text, "GET", CUSTOMER_ROUTE, 404) == counted + 1
        for gauge in ("patron_db_pool_in_use ", 'patron_async_actions{status="ENQUEUED"} '):
            assert gauge in response.text, gauge

    def test_one_process_holds_the_port_and_another_takes_over(self, server: RunningServer) -> None:
        port = free_port()

        async def main() -> None:
            pool = await create_pool(server.db.dsn, min_size=1, max_size=2)
            first = MetricsPort("127.0.0.1", port, lambda: pool, retry_seconds=0.1)
            second = MetricsPort("127.0.0.1", port, lambda: pool, retry_seconds=0.1)
            first_task = asyncio.create_task(first.run())
            await asyncio.wait_for(first.serving.wait(), 10)
            second_task = asyncio.create_task(second.run())
            await asyncio.sleep(0.5)
            assert not second.serving.is_set()  # the port has one listener
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.get(f"http://127.0.0.1:{port}/metrics")
                assert response.status_code == 200
                assert "patron_segment_refresh_lag_seconds " in response.text
                first_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await first_task
                await asyncio.wait_for(second.serving.wait(), 10)
                assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
            second_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await second_task
            await pool.close()

        asyncio.run(main())
