"""Hostile JSON against every JSON endpoint: thousands of generated bodies, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers

ENDPOINTS = [
    ("POST", "/v1/customers"),
    ("PUT", "/v1/customers/hostile"),
    ("POST", "/v1/customers/bulk/async"),
    ("POST", "/v1/customers/metadata/async"),
    ("POST", "/v1/orders"),
    ("PUT", "/v1/orders/hostile"),
    ("POST", "/v1/orders/import"),
    ("POST", "/v1/events"),
    ("PUT", "/v1/customers/hostile/consents"),
    ("POST", "/v1/segments"),
]

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\ud800",
            "\udfff",
            "😀" * 300,
            "x" * 5000,
            "",
            " ",
            "cust_",
            "%00",
            "../..",
            "1e999",
            "NaN",
            "-0",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    nasty_text,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(nasty_text, children, max_size=4),
    ),
    max_leaves=12,
)
# Bodies shaped like the real ones, with every field hostile.
field_names = st.sampled_from(
    [
        "source_id",
        "id",
        "name",
        "email",
        "phone",
        "birthdate",
        "birthday",
        "address",
        "metadata",
        "description",
        "status",
        "amount",
        "items",
        "customer",
        "event",
        "referral",
        "loyalty",
        "source_ids",
        "created_at",
        "unsubscribed",
        "city",
        "type",
        "customers",
        "filter",
    ]
)
shaped = st.dictionaries(field_names, values, max_size=6)


def _deep(depth: int) -> str:
    return '{"metadata": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b'{"name": NaN}',
            b'{"name": Infinity}',
            b'{"a": 1, "a": 2}',
            b"[" * 5000,
            b'{"metadata": {"n": 123456789012345678901234567890}}',
            b"\xff\xfe",
            b"null",
            b"0",
            _deep(40).encode(),
            _deep(2000).encode(),
            b'"\\ud800"',
            b'{"name": "\\u0000"}',
        ]
    ),
)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=False).encode()


bodies = st.one_of(shaped.map(_json), values.map(_json), raw_bodies)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # One client for all the bodies: a new one per request (httpx.request) builds an SSL
    # context each time, which was most of these tests' time.
    with httpx.Client(timeout=30) as client:
        yield client


# 10 endpoints x 660 = 6,600 generated cases per database; one test per endpoint, so that xdist
# spreads them over the workers.
# The suite's 120 s per test is a guard against hangs; these generate and send 660 bodies,
# which on a busy two-core machine takes longer than that without anything being wrong.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
@settings(
    max_examples=660,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies,
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
        ]
    ),
)
def test_hostile_json_never_gets_a_5xx(
    server: RunningServer,
    project: Credentials,
    client: httpx.Client,
    endpoint: tuple[str, str],
    body: bytes,
    content_type: str,
) -> None:
    method, path = endpoint
    response = client.request(
        method,
        server.base_url + path,
        content=body,
        headers={**auth_headers(project), "content-type": content_type},
    )
    assert response.status_code < 500, (response.status_code, response.text, body[:200])
    if response.status_code >= 400:
        error = response.json()
        assert error["code"] == response.status_code
        assert error["request_id"] == response.headers["x-request-id"]
