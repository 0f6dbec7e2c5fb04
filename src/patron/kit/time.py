"""Time as Voucherify shows it: ISO 8601 UTC with milliseconds and `Z`; dates as YYYY-MM-DD."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# A "+0000" offset whose plus sign a client left unencoded arrives as a space.
_UNENCODED_PLUS = re.compile(r" (\d{2}:?\d{2})$")


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

    Accepts `2024-01-02`, `2024-01-02T03:04:05Z`, `…05.123Z`, `…05.000000+0000`, `…05+01:00`
    and naive `…05.000000`. Raises ValueError for anything else.
    """
    text = text.strip()
    if not text or len(text) > 40 or not text[:4].isdigit():
        raise ValueError(text)
    parsed = datetime.fromisoformat(_UNENCODED_PLUS.sub(r"+\1", text))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+01:00, which is before the first representable instant
        raise ValueError(text) from None
