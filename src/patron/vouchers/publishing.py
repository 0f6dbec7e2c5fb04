"""When a published code expires: `activity_duration_after_publishing` (INCENTIVES.md §1.2)."""

from __future__ import annotations

from datetime import datetime, timedelta

import isodate

from patron.errors import InvalidPayload


def parse_duration(text: str) -> timedelta | isodate.Duration:
    """An ISO 8601 duration such as `P24D` or `P1M`; 400 `invalid_payload` otherwise."""
    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise InvalidPayload(
            f"activity_duration_after_publishing must be an ISO 8601 duration, got {text!r}"
        ) from None
    if not isinstance(duration, timedelta | isodate.Duration) or duration <= timedelta(0):
        raise InvalidPayload("activity_duration_after_publishing must be a positive duration")
    return duration


def expiry_after(published_at: datetime, duration_text: str | None) -> datetime | None:
    """The expiration_date of a code published at `published_at` (UTC), or None."""
    if duration_text is None:
        return None
    moment: datetime = published_at + parse_duration(duration_text)
    return moment
