"""Identifiers taken from the path, and the JSON answer every route gives."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.kit.http import json_response, path_key


class TestPathKey:
    @given(st.text(min_size=1, max_size=200).filter(lambda t: "\x00" not in t))
    def test_round_trips_what_the_sdks_encode(self, key: str) -> None:
        try:
            encoded = quote(key, safe="")
        except UnicodeEncodeError:
            return
        assert path_key(encoded) == key

    @pytest.mark.parametrize("raw", ["%00", "a%00b", "%ff", "", "x" * 1025])
    def test_unstorable_keys(self, raw: str) -> None:
        assert path_key(raw) is None

    def test_plus_is_a_plus(self) -> None:
        assert path_key("a+b%40c.com") == "a+b@c.com"


class TestJSONResponse:
    def sent(self, body: Any, status: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        async def receive() -> dict[str, Any]:
            raise AssertionError("a response reads nothing")

        asyncio.run(json_response(body, status)({"type": "http"}, receive, send))
        return messages

    def test_two_messages_with_type_and_length(self) -> None:
        start, body = self.sent({"name": "Zoë", "n": 1}, 202)
        assert start == {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", b"21"),  # bytes, not characters
            ],
        }
        assert body == {
            "type": "http.response.body",
            "body": '{"name":"Zoë","n":1}'.encode(),
            "more_body": False,
        }
