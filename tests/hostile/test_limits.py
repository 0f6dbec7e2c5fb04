"""The documented limits on metadata: 32 levels of nesting and 1 MiB of JSON, on every body
that carries metadata; past them a 400 in Voucherify's error shape, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.kit.validation import MAX_JSON_DEPTH, MAX_METADATA_BYTES
from tests.factories import create_customer, unique

# POST body (without metadata) and where its metadata goes, per endpoint.
BODIES: dict[str, tuple[str, Any]] = {
    "customer": ("/v1/customers", lambda m: {"source_id": unique(), "metadata": m}),
    "order": ("/v1/orders", lambda m: {"amount": 1, "metadata": m}),
    "event": (
        "/v1/events",
        lambda m: {"event": "e", "customer": {"source_id": unique()}, "metadata": m},
    ),
    "bulk metadata": (
        "/v1/customers/metadata/async",
        lambda m: {"source_ids": [unique()], "metadata": m},
    ),
}


def nested(levels: int) -> dict[str, Any]:
    """Metadata whose innermost value sits `levels` objects deep (the metadata counts as one)."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    assert isinstance(value, dict)
    return value


def sized(size: int) -> dict[str, Any]:
    """Metadata taking exactly `size` bytes as JSON: {"b":"xxx…"}."""
    return {"b": "x" * (size - len('{"b":""}'))}


def assert_refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["key"] == "invalid_payload"
    assert body["message"] == "Invalid payload"
    assert words in body["details"]
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("endpoint", list(BODIES))
class TestMetadataLimits:
    def test_32_levels_are_accepted(self, http: httpx.Client, endpoint: str) -> None:
        path, body = BODIES[endpoint]
        assert http.post(path, json=body(nested(MAX_JSON_DEPTH))).status_code in (200, 202)

    def test_33_levels_are_refused(self, http: httpx.Client, endpoint: str) -> None:
        path, body = BODIES[endpoint]
        response = http.post(path, json=body(nested(MAX_JSON_DEPTH + 1)))
        assert_refused(response, f"nested deeper than {MAX_JSON_DEPTH} levels")

    def test_1_mib_is_accepted(self, http: httpx.Client, endpoint: str) -> None:
        path, body = BODIES[endpoint]
        assert http.post(path, json=body(sized(MAX_METADATA_BYTES))).status_code in (200, 202)

    def test_a_byte_more_is_refused(self, http: httpx.Client, endpoint: str) -> None:
        path, body = BODIES[endpoint]
        response = http.post(path, json=body(sized(MAX_METADATA_BYTES + 1)))
        assert_refused(response, f"larger than {MAX_METADATA_BYTES} bytes")


class TestLimitsOnUpdate:
    def test_put_customer_refuses_too_deep_and_too_large(self, http: httpx.Client) -> None:
        customer = create_customer(http)
        path = f"/v1/customers/{customer['id']}"
        assert_refused(http.put(path, json={"metadata": nested(MAX_JSON_DEPTH + 1)}), "deeper")
        too_large = {"metadata": sized(MAX_METADATA_BYTES + 1)}
        assert_refused(http.put(path, json=too_large), "larger than")
        assert http.get(path).json() == customer
