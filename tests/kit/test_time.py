"""Dates as the SDKs send them, and as Patron renders them."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.kit.time import DATE_PATTERN, MOMENT_PATTERN, parse_datetime, render_datetime

moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


class TestParseDatetime:
    @given(moments)
    def test_python_sdk_format(self, moment: datetime) -> None:
        # voucherify 6.1.1 formats datetimes with "%Y-%m-%dT%H:%M:%S.%f%z".
        assert parse_datetime(moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")) == moment

    @given(moments)
    def test_naive_values_are_utc(self, moment: datetime) -> None:
        naive = moment.replace(tzinfo=None)
        assert parse_datetime(naive.strftime("%Y-%m-%dT%H:%M:%S.%f")) == moment

    @given(moments, offsets)
    def test_any_offset(self, moment: datetime, offset: timezone) -> None:
        assert parse_datetime(moment.astimezone(offset).isoformat()) == moment

    @given(moments)
    def test_rendered_values_parse_back_to_the_millisecond(self, moment: datetime) -> None:
        rendered = render_datetime(moment)
        assert rendered.endswith("Z")
        assert parse_datetime(rendered) == moment.replace(
            microsecond=moment.microsecond // 1000 * 1000
        )

    def test_bare_date_is_midnight_utc(self) -> None:
        assert parse_datetime("2016-11-16") == datetime(2016, 11, 16, tzinfo=UTC)

    def test_unencoded_plus_sign(self) -> None:
        expected = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert parse_datetime("2024-01-02T03:04:05.000000 0000") == expected

    @pytest.mark.parametrize(
        "text", ["", "yesterday", "2021-02-30", "2021-13-01", "12345", "2021-01-01T25:00:00Z"]
    )
    def test_rejects(self, text: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011
            parse_datetime(text)

    @given(st.text(max_size=50))
    def test_never_fails_otherwise(self, text: str) -> None:
        with contextlib.suppress(ValueError):
            parse_datetime(text)


class TestPatterns:
    """The patterns the OpenAPI document states are exactly what Patron accepts."""

    @given(st.from_regex(MOMENT_PATTERN, fullmatch=True))
    def test_every_moment_the_pattern_admits_parses(self, text: str) -> None:
        parse_datetime(text)

    @given(st.text(max_size=40) | st.from_regex(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ].{0,20}$"))
    def test_every_other_text_is_refused(self, text: str) -> None:
        if re.fullmatch(MOMENT_PATTERN, text) is None:
            with pytest.raises(ValueError):  # noqa: PT011
                parse_datetime(text)

    @given(st.from_regex(DATE_PATTERN, fullmatch=True))
    def test_every_date_the_pattern_admits_is_a_date(self, text: str) -> None:
        msgspec.json.decode(msgspec.json.encode(text), type=date)

    @given(st.dates())
    def test_every_date_matches_the_pattern(self, day: date) -> None:
        assert re.fullmatch(DATE_PATTERN, day.isoformat())
