"""Bad input of every kind gets a clear 4xx in Voucherify's error shape, never a 5xx."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from patron.writes import segments as segment_moves
from tests.conftest import RunningServer
from tests.factories import create_customer

ERROR_KEYS = {"code", "key", "message", "details", "request_id"}


def assert_error(response: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = response.json()
    assert set(body) >= ERROR_KEYS
    assert body["code"] == status
    assert body["key"] == key
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestMalformedBodies:
    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            (b"{bad json", "Malformed JSON"),
            (b"[]", "Expected `object`"),
            (b'"text"', "Expected `object`"),
            (b"", "cannot be empty"),
            (b'{"name": 5}', ".name"),
            (b'{"email": "not-an-email"}', ".email"),
            (b'{"birthdate": "2021-02-30"}', ".birthdate"),
            (b'{"birthdate": "1990-01-31T10:00:00Z"}', ".birthdate"),
            (b'{"address": "Main St"}', ".address"),
            (b'{"address": {"city": 7}}', ".address.city"),
            (b'{"metadata": [1, 2]}', ".metadata"),
            (b'{"source_id": ""}', ".source_id"),
            (b'{"source_id": 12}', ".source_id"),
            (b'{"name": "a\\u0000b"}', ".name"),
            (b'{"metadata": {"k": "a\\u0000b"}}', ".metadata.k"),
            (b'{"metadata": {"a\\u0000": 1}}', ".metadata"),
            (b'{"name": "\\udc00"}', ""),
            (b'{"metadata": {"n": NaN}}', "Malformed JSON"),
            (b'{"metadata": {"n": Infinity}}', "Malformed JSON"),
            (b'{"metadata": {"n": 1e999}}', ""),
        ],
    )
    def test_create_rejects(self, http: httpx.Client, content: bytes, fragment: str) -> None:
        response = http.post(
            "/v1/customers", content=content, headers={"content-type": "application/json"}
        )
        body = assert_error(response, 400, "invalid_payload")
        assert fragment in body["details"]
        assert http.get("/v1/customers").json()["total"] == 0

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "é" * 600},
            {"source_id": "😀" * 1024},
            {"address": {"city": "x" * 1001}},
            {"description": "x" * 4097},
            {"phone": "1" * 4097},
        ],
    )
    def test_text_too_long_to_store_or_index(
        self, http: httpx.Client, body: dict[str, Any]
    ) -> None:
        assert_error(http.post("/v1/customers", json=body), 400, "invalid_payload")

    def test_long_unindexed_text_is_fine(self, http: httpx.Client) -> None:
        response = http.post("/v1/customers", json={"description": "😀" * 4096})
        assert response.status_code == 200

    def test_deep_metadata_is_refused(self, http: httpx.Client) -> None:
        deep: Any = "leaf"
        for _ in range(40):
            deep = {"k": deep}
        response = http.post("/v1/customers", json={"metadata": deep})
        assert "nested deeper" in assert_error(response, 400, "invalid_payload")["details"]

    def test_update_rejects_and_changes_nothing(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        response = http.put(f"/v1/customers/{customer['id']}", json={"name": "ok", "phone": 5})
        assert_error(response, 400, "invalid_payload")
        assert http.get(f"/v1/customers/{customer['id']}").json() == customer

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
    )
    def test_wrong_content_type(self, http: httpx.Client, content_type: str) -> None:
        response = http.post(
            "/v1/customers", content=b'{"name": "x"}', headers={"content-type": content_type}
        )
        assert_error(response, 415, "unsupported_media_type")

    def test_json_with_charset_is_fine(self, http: httpx.Client) -> None:
        response = http.post(
            "/v1/customers",
            content=b'{"name": "x"}',
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 200


class TestOversizedBodies:
    def test_declared_length_over_10_mib_is_refused(self, http: httpx.Client) -> None:
        body = b'{"metadata": {"blob": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
        response = http.post(
            "/v1/customers", content=body, headers={"content-type": "application/json"}
        )
        error = assert_error(response, 413, "request_entity_too_large")
        assert error["statusCode"] == 413
        assert http.get("/v1/customers").json()["total"] == 0

    def test_chunked_body_over_10_mib_is_refused(self, http: httpx.Client) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"metadata": {"blob": "'
            for _ in range(11):
                yield b"x" * (1024 * 1024)
            yield b'"}}'

        response = http.post(
            "/v1/customers", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(response, 413, "request_entity_too_large")


class TestOddQueryValues:
    @pytest.mark.parametrize(
        "params",
        [
            {"limit": "²"},
            {"limit": "--5"},
            {"page": "1e3"},
            {"limit": " 5"},
            {"created_at[before]": "0001-01-01T00:00:00+01:00"},
            {"starting_after": "9999-12-31T23:59:59-01:00"},
            {"email": "a\x00b"},
        ],
    )
    def test_are_400_never_500(self, http: httpx.Client, params: dict[str, str]) -> None:
        assert_error(http.get("/v1/customers", params=params), 400, "invalid_query_params")


class TestRoutes:
    def test_unknown_route(self, http: httpx.Client) -> None:
        body = assert_error(http.get("/v1/nothing-here"), 404, "not_found")
        assert "/v1/nothing-here" in body["details"]

    def test_unknown_method(self, http: httpx.Client) -> None:
        response = http.patch("/v1/customers", json={})
        body = assert_error(response, 405, "method_not_allowed")
        assert "PATCH" in body["details"]

    def test_encoded_nul_in_path_is_a_404(self, http: httpx.Client) -> None:
        assert_error(http.get("/v1/customers/a%00b"), 404, "not_found")

    def test_invalid_utf8_in_path_is_a_404(self, http: httpx.Client) -> None:
        assert_error(http.get("/v1/customers/%ff%fe"), 404, "not_found")


class TestAllOrNothing:
    def test_a_failure_after_the_write_leaves_nothing_behind(
        self, http: httpx.Client, server: RunningServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        customer = create_customer(http)

        async def broken_settle(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("activity store failed")

        # The last step of a customer write, after its row and activity are written.
        monkeypatch.setattr(segment_moves, "settle", broken_settle)
        update = http.put(f"/v1/customers/{customer['id']}", json={"name": "Half"})
        body = assert_error(update, 500, "internal_server_error")
        assert "activity store failed" not in update.text
        assert "Traceback" not in body["details"]
        tracked = http.post(
            "/v1/events",
            json={"event": "seen", "customer": {"source_id": customer["source_id"], "name": "x"}},
        )
        assert_error(tracked, 500, "internal_server_error")
        monkeypatch.undo()
        assert http.get(f"/v1/customers/{customer['id']}").json()["name"] == "Bob Smith"
        assert http.get("/v1/customers").json()["total"] == 1
        timeline = http.get(f"/v1/customers/{customer['id']}/activity").json()["data"]
        assert [activity["type"] for activity in timeline] == ["customer.created"]


class TestRequestIdInTheLog:
    def test_the_access_line_carries_the_request_id_and_no_email(
        self, http: httpx.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="patron.access"):
            response = http.get("/v1/customers/someone@example.com")
        request_id = response.headers["x-request-id"]
        lines = [r.getMessage() for r in caplog.records if r.name == "patron.access"]
        assert any(request_id in line and " 404 " in line for line in lines), lines
        assert not any("someone@example.com" in line for line in lines)
