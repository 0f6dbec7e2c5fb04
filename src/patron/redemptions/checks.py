"""What makes a voucher inapplicable before its validation rules are read: the checks of
INCENTIVES.md §3.2, in its order, on a voucher row (`vouchers.repository`) at a moment (UTC).

Pure: the caller reads the voucher, its campaign's state and what sessions reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import isodate

from patron.redemptions.schemas import Refusal, refusal


@dataclass(frozen=True, slots=True)
class Reserved:
    """What other validation sessions hold on a voucher until they expire: uses, credits
    (cents), points."""

    quantity: int = 0
    credits: int = 0
    points: int = 0


NOTHING_RESERVED = Reserved()


def _python_weekday_to_voucherify(moment: datetime) -> int:
    """0 = Sunday … 6 = Saturday, as `validity_day_of_week` counts."""
    return (moment.weekday() + 1) % 7


def _clock(text: str) -> time | None:
    try:
        hours, minutes = text.split(":")[:2]
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        return None


def within_hours(validity_hours: Any, now: datetime) -> bool:
    """`validity_hours.daily[]`: `{start_time: "HH:MM", expiration_time: "HH:MM",
    days_of_week: [0..6]}`; valid when any entry covers `now` (UTC). An entry whose end is not
    after its start runs past midnight."""
    daily = (validity_hours or {}).get("daily") or []
    if not daily:
        return True
    today = _python_weekday_to_voucherify(now)
    clock = now.time().replace(second=0, microsecond=0)
    for entry in daily:
        start = _clock(entry.get("start_time", ""))
        end = _clock(entry.get("expiration_time", ""))
        days = entry.get("days_of_week")
        if start is None or end is None:
            continue
        if start < end:
            if (days is None or today in days) and start <= clock < end:
                return True
        else:
            yesterday = (today - 1) % 7
            if (days is None or today in days) and clock >= start:
                return True
            if (days is None or yesterday in days) and clock < end:
                return True
    return False


def within_timeframe(timeframe: Any, origin: datetime, now: datetime) -> bool:
    """`validity_timeframe {interval, duration}` (ISO 8601 durations): from `origin` (the
    voucher's start_date, else its creation), valid for `duration` at the start of every
    `interval`."""
    if not timeframe:
        return True
    try:
        duration = isodate.parse_duration(timeframe.get("duration") or "")
    except (isodate.ISO8601Error, ValueError):
        return True
    interval_text = timeframe.get("interval")
    if now < origin:
        return False
    if not interval_text:
        return bool(now < origin + duration)
    try:
        interval = isodate.parse_duration(interval_text)
    except (isodate.ISO8601Error, ValueError):
        return True
    if isinstance(interval, timedelta):
        if interval <= timedelta(0):
            return True
        start = origin + ((now - origin) // interval) * interval
        return bool(now < start + duration)
    # Calendar intervals (months, years): step forward from the origin.
    start = origin
    for _ in range(10_000):
        following = start + interval
        if following > now:
            break
        start = following
    return bool(now < start + duration)


def check_voucher(
    voucher: Any,
    *,
    campaign_active: bool,
    now: datetime,
    reserved: Reserved,
    customer_id: str | None,
) -> Refusal | None:
    """The first of `voucher_disabled`, `voucher_not_active`, `voucher_expired`,
    `voucher_not_active_now`, `quantity_exceeded`, `invalid_customer` (a loyalty card held by
    someone else) that applies, or None. INCENTIVES.md §3.2."""
    code = voucher["code"]
    if not voucher["active"] or not campaign_active:
        return refusal("voucher_disabled", "Voucher is disabled", f"{code} is disabled")
    if voucher["start_date"] is not None and voucher["start_date"] > now:
        return refusal("voucher_not_active", "Voucher not active", f"{code} is not active yet")
    if voucher["expiration_date"] is not None and voucher["expiration_date"] < now:
        return refusal("voucher_expired", "Voucher expired", f"{code} has expired")
    day_of_week = voucher["validity_day_of_week"]
    if day_of_week and _python_weekday_to_voucherify(now) not in day_of_week:
        return refusal(
            "voucher_not_active_now", "Voucher not active now", f"{code} is not valid today"
        )
    if not within_hours(voucher["validity_hours"], now) or not within_timeframe(
        voucher["validity_timeframe"], voucher["start_date"] or voucher["created_at"], now
    ):
        return refusal(
            "voucher_not_active_now", "Voucher not active now", f"{code} is not valid at this time"
        )
    quantity = voucher["redemption_quantity"]
    if quantity is not None and voucher["redeemed_quantity"] + reserved.quantity >= quantity:
        return refusal(
            "quantity_exceeded",
            "Quantity exceeded",
            f"{code} has been redeemed {voucher['redeemed_quantity']} of {quantity} times",
        )
    if voucher["type"] == "LOYALTY_CARD" and (
        customer_id is None or voucher["holder_id"] != customer_id
    ):
        return refusal(
            "invalid_customer",
            "Invalid customer",
            f"Loyalty card {code} is not held by the redeeming customer",
        )
    return None


def gift_credits(
    voucher: Any, requested: int | None, *, reserved: Reserved, to_pay: int | None
) -> tuple[int | None, Refusal | None]:
    """The credits (cents) a gift card gives: those requested, else what is left to pay capped
    by the balance; never more than is left to pay. Refused with `missing_order` without an
    order amount to pay, and `gift_amount_exceeded` beyond the balance others' sessions do not
    hold. INCENTIVES.md §4.3."""
    code = voucher["code"]
    available = max(0, (voucher["balance"] or 0) - reserved.credits)
    if to_pay is None:
        return None, refusal(
            "missing_order", "Missing order", f"Gift card {code} needs an order with an amount"
        )
    credits = requested if requested is not None else min(available, to_pay)
    if credits > available or (requested is None and available == 0):
        return None, refusal(
            "gift_amount_exceeded",
            "Gift amount exceeded",
            f"Gift card {code} has {available} credits available, {credits} were asked",
        )
    return min(credits, to_pay), None
