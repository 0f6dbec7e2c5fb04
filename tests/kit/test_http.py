"""Identifiers taken from the path."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.kit.http import path_key


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
