"""Voucher codes: the effective code_config, how many codes it can yield, and the codes."""

from __future__ import annotations

import collections
import re
from contextlib import AbstractContextManager
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.errors import InvalidCodeConfig
from patron.vouchers.codes import (
    ALPHANUMERIC,
    DEFAULT_CODE_CONFIG,
    capacity,
    check_capacity,
    effective_code_config,
    generate,
)

# Characters a charset may hold: letters, digits, punctuation and symbols, any script.
charset_chars = st.characters(categories=["L", "N", "P", "S"])
# Characters prefix, postfix and the pattern's fixed parts may hold: all but control ones.
literal_chars = st.characters(exclude_categories=["Cc", "Cs"])


@st.composite
def code_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid raw code_config: every field sent or left out, `length` as an int or a float."""
    config: dict[str, Any] = {}
    if draw(st.booleans()):
        config["charset"] = draw(st.text(charset_chars, min_size=1, max_size=12))
    if draw(st.booleans()):
        pieces = draw(st.lists(st.just("#") | literal_chars.filter(lambda c: c != "#"), max_size=8))
        config["pattern"] = "".join([*pieces, "#"])
    if draw(st.booleans()):
        length = draw(st.integers(1, 12))
        config["length"] = float(length) if draw(st.booleans()) else length
    for field in ("prefix", "postfix"):
        if draw(st.booleans()):
            config[field] = draw(st.text(literal_chars, max_size=6))
    if draw(st.booleans()):
        config["initial_count"] = draw(st.integers(0, 1000))
    return config


def refused(details: str) -> AbstractContextManager[pytest.ExceptionInfo[InvalidCodeConfig]]:
    """Expect an InvalidCodeConfig whose details contain `details`."""
    return pytest.raises(InvalidCodeConfig, match=re.escape(details))


def assert_shaped(code: str, config: dict[str, Any]) -> None:
    """`code` is prefix + pattern with each '#' a charset character + postfix."""
    prefix, pattern, postfix = config["prefix"], config["pattern"], config["postfix"]
    assert code.startswith(prefix)
    assert code.endswith(postfix)
    assert len(code) == len(prefix) + len(pattern) + len(postfix)
    middle = code[len(prefix) : len(code) - len(postfix)]
    for char, slot in zip(middle, pattern, strict=True):
        if slot == "#":
            assert char in config["charset"]
        else:
            assert char == slot


class TestEffectiveCodeConfig:
    def test_none_gives_the_defaults(self) -> None:
        assert effective_code_config(None) == DEFAULT_CODE_CONFIG

    def test_empty_object_gives_the_defaults(self) -> None:
        assert effective_code_config({}) == DEFAULT_CODE_CONFIG

    def test_defaults_are_voucherifys(self) -> None:
        assert DEFAULT_CODE_CONFIG == {
            "pattern": "########",
            "length": 8,
            "charset": "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "prefix": "",
            "postfix": "",
        }

    def test_nulls_count_as_absent(self) -> None:
        raw = dict.fromkeys(["pattern", "length", "charset", "prefix", "postfix", "initial_count"])
        assert effective_code_config(raw) == DEFAULT_CODE_CONFIG

    def test_length_makes_the_pattern(self) -> None:
        config = effective_code_config({"length": 5, "prefix": "SUMMER-"})
        expected = {**DEFAULT_CODE_CONFIG, "pattern": "#####", "length": 5, "prefix": "SUMMER-"}
        assert config == expected

    def test_integral_float_length_is_an_int(self) -> None:
        config = effective_code_config({"length": 8.0})
        assert config["length"] == 8
        assert type(config["length"]) is int

    def test_pattern_overrides_length(self) -> None:
        config = effective_code_config({"pattern": "AB-###-##", "length": 12})
        assert config["pattern"] == "AB-###-##"
        assert config["length"] == 5

    def test_initial_count_is_kept_as_an_int(self) -> None:
        assert effective_code_config({"initial_count": 3.0})["initial_count"] == 3
        assert "initial_count" not in effective_code_config({"length": 6})

    def test_unknown_fields_are_dropped(self) -> None:
        assert effective_code_config({"colour": "red"}) == DEFAULT_CODE_CONFIG

    def test_sent_charset_is_kept_as_sent(self) -> None:
        assert effective_code_config({"charset": "aab"})["charset"] == "aab"

    def test_non_ascii_charset_and_literals_are_accepted(self) -> None:
        raw = {"charset": "αβγ€🎉", "pattern": "Zoë-##", "prefix": "ÉTÉ ", "postfix": "—"}
        assert effective_code_config(raw) == {**raw, "length": 2}

    @pytest.mark.parametrize("raw", [[], "########", 8])
    def test_non_object_is_refused(self, raw: Any) -> None:
        with refused("code_config must be an object"):
            effective_code_config(raw)

    @pytest.mark.parametrize("field", ["charset", "prefix", "postfix", "pattern"])
    @pytest.mark.parametrize("value", [5, ["a"], {"a": 1}, True])
    def test_non_string_text_field_is_refused(self, field: str, value: Any) -> None:
        with refused(f"code_config.{field} must be a string"):
            effective_code_config({field: value})

    @pytest.mark.parametrize("length", [8.5, 0, -3, 0.0, "8", True, float("nan"), float("inf")])
    def test_length_not_a_positive_whole_number_is_refused(self, length: Any) -> None:
        with refused("code_config.length must be a positive"):
            effective_code_config({"length": length})

    def test_bad_length_is_refused_even_beside_a_pattern(self) -> None:
        with refused("code_config.length"):
            effective_code_config({"pattern": "####", "length": 2.5})

    @pytest.mark.parametrize("initial_count", [-1, 1.5, "3", False])
    def test_initial_count_not_a_whole_number_is_refused(self, initial_count: Any) -> None:
        with refused("code_config.initial_count"):
            effective_code_config({"initial_count": initial_count})

    def test_empty_charset_is_refused(self) -> None:
        with refused("code_config.charset must not be empty"):
            effective_code_config({"charset": ""})

    def test_huge_charset_is_refused(self) -> None:
        with refused("code_config.charset must have at most"):
            effective_code_config({"charset": "a" * 1001})

    @pytest.mark.parametrize("char", [" ", "\t", "\n", "\x00", "\x7f", "\u00a0", "\u200b"])
    def test_control_or_whitespace_in_charset_is_refused(self, char: str) -> None:
        with refused("code_config.charset must not contain"):
            effective_code_config({"charset": f"ab{char}c"})

    @pytest.mark.parametrize("field", ["prefix", "postfix", "pattern"])
    @pytest.mark.parametrize("char", ["\x00", "\n", "\ud800"])
    def test_control_character_in_literal_is_refused(self, field: str, char: str) -> None:
        raw = {field: f"A{char}#"}
        with refused(f"code_config.{field} must not contain"):
            effective_code_config(raw)

    def test_pattern_without_hash_is_refused(self) -> None:
        with refused("code_config.pattern must contain"):
            effective_code_config({"pattern": "SUMMER"})

    def test_length_over_100_is_refused(self) -> None:
        assert effective_code_config({"length": 100})["length"] == 100
        with refused("code_config.length must be at most 100"):
            effective_code_config({"length": 101})

    def test_enormous_length_is_refused_without_building_a_pattern(self) -> None:
        with refused("code_config.length must be at most 100"):
            effective_code_config({"length": 10**18})

    def test_pattern_with_over_100_hashes_is_refused(self) -> None:
        with refused("code_config.pattern must contain at most"):
            effective_code_config({"pattern": "#" * 101})

    def test_codes_over_200_characters_are_refused(self) -> None:
        assert effective_code_config({"prefix": "P" * 96, "postfix": "Q" * 96})["length"] == 8
        with refused("make codes of 201 characters"):
            effective_code_config({"prefix": "P" * 97, "postfix": "Q" * 96})

    def test_error_is_a_400_invalid_code_config(self) -> None:
        with pytest.raises(InvalidCodeConfig) as caught:
            effective_code_config({"charset": ""})
        assert caught.value.body("v-1") == {
            "code": 400,
            "key": "invalid_code_config",
            "message": "Invalid code config",
            "details": "code_config.charset must not be empty",
            "request_id": "v-1",
        }

    @given(code_configs())
    def test_round_trips_through_storage(self, raw: dict[str, Any]) -> None:
        config = effective_code_config(raw)
        assert effective_code_config(config) == config
        assert effective_code_config(msgspec.json.decode(msgspec.json.encode(config))) == config
        assert config["length"] == config["pattern"].count("#")
        if "pattern" not in raw:
            assert config["pattern"] == "#" * int(raw.get("length", 8))
        sent = {field: value for field, value in raw.items() if field != "length"}
        assert {field: config[field] for field in sent} == sent


class TestCapacity:
    def test_default_is_62_to_the_8th(self) -> None:
        assert capacity({}) == 62**8

    def test_counts_only_the_hashes(self) -> None:
        assert capacity({"charset": "ab", "pattern": "X-##-Y", "prefix": "PRE"}) == 4

    def test_repeated_charset_characters_count_once(self) -> None:
        assert capacity({"charset": "aabbb", "length": 3}) == 8

    def test_bad_config_is_refused(self) -> None:
        with pytest.raises(InvalidCodeConfig):
            capacity({"charset": ""})


class TestCheckCapacity:
    def test_capacity_10_cannot_be_asked_for_11(self) -> None:
        config = {"charset": "0123456789", "length": 1}
        check_capacity(config, 10)
        with pytest.raises(InvalidCodeConfig) as caught:
            check_capacity(config, 11)
        assert caught.value.details == (
            "code_config can yield at most 10 distinct codes, 11 were asked for"
        )

    def test_default_allows_millions(self) -> None:
        check_capacity({}, 10_000_000)


class TestGenerate:
    def test_default_codes_are_8_alphanumerics(self) -> None:
        codes = generate(DEFAULT_CODE_CONFIG, 1000)
        assert len(codes) == 1000
        assert all(len(code) == 8 and set(code) <= set(ALPHANUMERIC) for code in codes)

    def test_raw_config_is_filled_in(self) -> None:
        (code,) = generate({"prefix": "SUMMER-", "length": 4.0}, 1)
        assert code.startswith("SUMMER-")
        assert len(code) == 11

    def test_pattern_keeps_its_fixed_characters(self) -> None:
        codes = generate({"pattern": "%s-##-{}-#", "charset": "xy", "postfix": "#"}, 8)
        assert sorted(codes) == sorted(
            f"%s-{a}{b}-{{}}-{c}#" for a in "xy" for b in "xy" for c in "xy"
        )

    def test_zero_codes(self) -> None:
        assert generate({}, 0) == []

    def test_negative_count_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match=re.escape("count must not be negative")):
            generate({}, -1)

    def test_small_config_yields_exactly_its_4_codes(self) -> None:
        codes = generate({"charset": "ab", "pattern": "##"}, 4)
        assert sorted(codes) == ["aa", "ab", "ba", "bb"]

    def test_more_than_capacity_is_refused(self) -> None:
        with refused("at most 4 distinct codes, 5 were asked"):
            generate({"charset": "ab", "pattern": "##"}, 5)

    def test_whole_capacity_of_a_larger_config(self) -> None:
        codes = generate({"charset": "0123456789", "length": 4}, 10_000)
        assert len(set(codes)) == 10_000

    def test_one_character_charset(self) -> None:
        assert generate({"charset": "z", "length": 3}, 1) == ["zzz"]

    def test_charset_of_more_than_256_characters(self) -> None:
        charset = "".join(chr(code_point) for code_point in range(0x4E00, 0x4E00 + 300))
        codes = generate({"charset": charset, "length": 3}, 500)
        assert len(set(codes)) == 500
        assert all(len(code) == 3 and set(code) <= set(charset) for code in codes)

    def test_each_of_two_characters_comes_up_about_half_the_time(self) -> None:
        # 20 * 10,000 = 200,000 draws: the standard deviation of the count of "a" is ~224,
        # so a 2% (4,000) bound is 18 standard deviations: it never fails by chance.
        draws = "".join(generate({"charset": "ab", "length": 20}, 10_000))
        counts = collections.Counter(draws)
        assert set(counts) == {"a", "b"}
        assert abs(counts["a"] - len(draws) / 2) < 0.02 * len(draws)

    def test_every_character_of_an_awkward_charset_comes_up_alike(self) -> None:
        # 129 characters: nearly half the random bytes are dropped to keep the draw unbiased;
        # without that, the first 127 characters would come up twice as often as the others.
        charset = "".join(chr(code_point) for code_point in range(0x100, 0x100 + 129))
        counts = collections.Counter("".join(generate({"charset": charset, "length": 50}, 4000)))
        expected = 4000 * 50 / 129
        assert set(counts) == set(charset)
        assert all(abs(count - expected) < 0.2 * expected for count in counts.values())

    @given(code_configs(), st.integers(0, 40))
    def test_codes_have_the_configs_shape(self, raw: dict[str, Any], count: int) -> None:
        config = effective_code_config(raw)
        codes = generate(raw, min(count, capacity(config)))
        for code in codes:
            assert_shaped(code, config)

    @given(
        st.text(st.sampled_from("abc"), min_size=1, max_size=3),
        st.integers(1, 6),
        st.data(),
    )
    def test_codes_are_distinct_up_to_the_capacity(
        self, charset: str, length: int, data: st.DataObject
    ) -> None:
        config = {"charset": charset, "length": length}
        count = data.draw(st.integers(0, capacity(config)))
        codes = generate(config, count)
        assert len(codes) == len(set(codes)) == count
