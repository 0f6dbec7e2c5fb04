"""`GET /metrics` (PATRON_METRICS): what it counts, and who may read it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

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
