"""Voucher import items: the rows of a CSV file made into the JSON items `POST
/v1/vouchers/import` takes, and the dates of an item read in every form Voucherify allows.

Pure functions: the route parses the file before it takes a connection, and the worker applies
each item with `vouchers.service.create`, which reports what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from patron.errors import InvalidPayload
from patron.kit.time import parse_datetime, render_datetime

# Header (lower case, words joined by `_`) -> what the column sets.
_COLUMNS = {
    "code": "code",
    "voucher_type": "type",
    "type": "type",
    "value": "value",
    "balance": "value",
    "discount_type": "discount_type",
    "discount_effect": "effect",
    "effect": "effect",
    "unit_type": "unit_type",
    "category": "category",
    "active": "active",
    "start_date": "start_date",
    "expiration_date": "expiration_date",
    "redemption_limit": "redemption_limit",
    "additional_info": "additional_info",
}
# Standard columns a CSV of Voucherify's may carry that a new code cannot take: skipped rather
# than kept as metadata.
_SKIPPED = frozenset(
    {"redeemed_quantity", "redeemed_amount", "validation_rule_id", "validation_rule", "formula"}
)
# The discount property `Value` fills, by discount type.
_VALUE_OF = {
    "AMOUNT": "amount_off",
    "PERCENT": "percent_off",
    "FIXED": "fixed_amount",
    "UNIT": "unit_off",
}
_SEPARATORS = re.compile(r"[\s\-]+")
_INTEGER = re.compile(r"^-?[0-9]{1,15}$")
_DECIMAL = re.compile(r"^-?[0-9]{1,15}\.[0-9]{1,9}$")


def _column(header: str) -> str:
    return _SEPARATORS.sub("_", header.strip().lower())


def _number(text: str) -> Any:
    """An integer or a decimal as JSON has it; other text as it is (the item then fails)."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def _flag(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def moment(value: Any) -> Any:
    """A date as Voucherify's imports take it (`YYYY-MM-DD`, `YYYY-MM-DDTHH:mm`, with or without
    seconds, fraction and offset; UTC without one) in ISO 8601 UTC; anything else unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return render_datetime(parse_datetime(value))
    except ValueError:
        return value


def with_dates_read(item: Any) -> Any:
    """An import item with its `start_date` and `expiration_date` read by `moment`."""
    if not isinstance(item, dict):
        return item
    dates = {name: moment(item[name]) for name in ("start_date", "expiration_date") if name in item}
    return {**item, **dates} if dates else item


def _item(cells: dict[str, str], metadata: dict[str, str]) -> dict[str, Any]:
    """One voucher item from a row's standard cells (by column) and its metadata cells."""
    item: dict[str, Any] = {}
    for name in ("code", "category", "additional_info"):
        if name in cells:
            item[name] = cells[name]
    kind = cells.get("type")
    if kind is not None:
        item["type"] = kind.upper()
    if "active" in cells:
        item["active"] = _flag(cells["active"])
    for name in ("start_date", "expiration_date"):
        if name in cells:
            item[name] = moment(cells[name])
    if "redemption_limit" in cells:
        item["redemption"] = {"quantity": _number(cells["redemption_limit"])}
    value = _number(cells["value"]) if "value" in cells else None
    discount_type = cells.get("discount_type")
    if item.get("type") == "GIFT_VOUCHER":
        if value is not None:
            item["gift"] = {"amount": value}
    elif discount_type is not None:
        discount_type = discount_type.upper()
        discount: dict[str, Any] = {"type": discount_type}
        field = _VALUE_OF.get(discount_type)
        if field is not None and value is not None:
            discount[field] = value
        for name in ("effect", "unit_type"):
            if name in cells:
                discount[name] = cells[name].upper() if name == "effect" else cells[name]
        item["discount"] = discount
        item.setdefault("type", "DISCOUNT_VOUCHER")
    if metadata:
        item["metadata"] = metadata
    return item


def csv_items(data: bytes, *, max_items: int) -> list[tuple[int, dict[str, Any]]]:
    """The vouchers of a CSV file of standalone codes, each with its row number (1 is the row
    after the header; blank rows are skipped but counted).

    Columns, in any case, with spaces or `_`: `Code`, `Voucher Type` (`DISCOUNT_VOUCHER` or
    `GIFT_VOUCHER`), `Value` (or `Balance`: a gift card's credits in cents; a discount's
    `amount_off` or `fixed_amount` in cents, `percent_off`, or `unit_off`, as the JSON import
    takes them), `Discount Type` (AMOUNT, PERCENT, FIXED, UNIT), `Discount Effect`,
    `Unit Type`, `Category`, `Active` (TRUE/FALSE), `Start Date`, `Expiration Date`,
    `Redemption Limit`, `Additional Info`. `Redeemed Quantity`, `Redeemed Amount`,
    `Validation Rule ID` and `Formula` are skipped; every other column is metadata (text).
    An empty cell sets nothing. Raises InvalidPayload for a file that is not UTF-8 CSV with a
    `Code` column, or has more than `max_items` rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidPayload("The CSV file must be UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidPayload("The CSV file is empty")
        columns = [_column(name) for name in header]
        if "code" not in columns:
            raise InvalidPayload("The CSV file has no Code column")
        items: list[tuple[int, dict[str, Any]]] = []
        for number, line in enumerate(reader, start=1):
            if not any(cell.strip() for cell in line):
                continue
            if len(items) >= max_items:
                raise InvalidPayload(f"At most {max_items} vouchers at once")
            cells: dict[str, str] = {}
            metadata: dict[str, str] = {}
            for name, column, cell in zip(header, columns, line, strict=False):
                if cell == "" or column in _SKIPPED:
                    continue
                known = _COLUMNS.get(column)
                if known is not None:
                    cells[known] = cell.strip()
                else:
                    metadata[name.strip()] = cell
            items.append((number, _item(cells, metadata)))
    except csv.Error as exc:
        raise InvalidPayload(f"The CSV file cannot be read: {exc}") from None
    return items
