"""Time as Voucherify shows it: ISO 8601 UTC with milliseconds and `Z`; dates as YYYY-MM-DD."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# A "+0000" offset whose plus sign a client left unencoded arrives as a space.
_UNENCODED_PLUS = re.compile(r" (\d{2}:?\d{2})$")


def date_pattern(year: str, leap_year: str) -> str:
    """A regular expression for the real calendar dates `YYYY-MM-DD` of these years."""
    return (
        f"(?:{year}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
        "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
        f"|{leap_year}-02-29)"
    )


# Years 0001-9999, and the leap years among them.
ANY_YEAR = "(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
# `YYYY-MM-DD` as msgspec reads a `date` (request bodies).
DATE_PATTERN = f"^{date_pattern(ANY_YEAR, LEAP_YEAR)}$"
HOUR = "(?:[01][0-9]|2[0-3])"
# Years 0002-9998: any offset then leaves the moment inside what a datetime can hold.
_MOMENT_YEAR = (
    "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
# A moment in a query parameter: a date, or a date and time (seconds, fraction and offset
# optional); `Z` or `+hh:mm`/`-hhmm`, whose `+` may arrive as a space. The OpenAPI document
# states this same pattern.
MOMENT_PATTERN = (
    f"^{date_pattern(_MOMENT_YEAR, LEAP_YEAR)}"
    f"(?:T{HOUR}:[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{{1,9}})?)?"
    f"(?:Z|[+ -]{HOUR}:?[0-5][0-9])?)?$"
)
_MOMENT = re.compile(MOMENT_PATTERN)


def render_datetime(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def render_optional_datetime(value: datetime | None) -> str | None:
    return None if value is None else render_datetime(value)


def render_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_datetime(text: str) -> datetime:
    """Parse a date or a date-time in every form the SDKs send; naive values are UTC.

    Accepts what MOMENT_PATTERN does: `2024-01-02`, `2024-01-02T03:04:05Z`, `…05.123Z`,
    `…05.000000+0000`, `…05+01:00` and naive `…05.000000`. Raises ValueError for anything else.
    """
    if len(text) > 40 or not _MOMENT.fullmatch(text):
        raise ValueError(text)
    parsed = datetime.fromisoformat(_UNENCODED_PLUS.sub(r"+\1", text))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+01:00, which is before the first representable instant
        raise ValueError(text) from None
