"""Customers from CSV: the file's layout, its rows as customers, and metadata cell typing.

Metadata typing rule: a cell becomes `true`/`false`, `null`, an integer or a decimal number
only when writing that value back gives exactly the cell's text; every other cell stays text.
So `42`, `-7`, `3.5`, `true` are typed, while `007`, `1.50`, `1e3`, `True` and `+1` stay strings
(zip codes and phone numbers keep their zeros). Empty cells are left out of metadata.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import IO, Any

import msgspec

from patron.customers.schemas import (
    ADDRESS_FIELDS,
    MAX_EMAIL,
    MAX_INDEXED_BYTES,
    MAX_TEXT,
    MUTABLE_COLUMNS,
    CustomerFields,
    check_fields,
    column_values,
    is_email,
)
from patron.errors import APIError
from patron.kit import json
from patron.kit.validation import MAX_METADATA_BYTES

# Standard columns, in both spellings Voucherify's docs and template use (case-insensitive).
_STANDARD = {
    "source_id": "source_id",
    "name": "name",
    "email": "email",
    "phone": "phone",
    "birthdate": "birthdate",
    "birthday": "birthday",
    "description": "description",
    "address_line_1": "address.line_1",
    "line_1": "address.line_1",
    "address_line_2": "address.line_2",
    "line_2": "address.line_2",
    "address_postal_code": "address.postal_code",
    "postal_code": "address.postal_code",
    "address_city": "address.city",
    "city": "address.city",
    "address_state": "address.state",
    "state": "address.state",
    "address_country": "address.country",
    "country": "address.country",
}
# Patron assigns ids itself; rows are matched by Source_id, so an Id column is not used.
_IGNORED = {"id"}

MAX_COLUMNS = 500

# Text of at most this many characters fits MAX_INDEXED_BYTES in UTF-8 whatever it holds.
_SURELY_INDEXABLE = MAX_INDEXED_BYTES // 4
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CsvFileError(Exception):
    """The file as a whole cannot be imported."""


def typed_cell(text: str) -> Any:
    """A metadata value from a cell, typed only when unambiguous (see the module docstring)."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text[:1] in "-0123456789" and len(text) <= 30:
        try:
            number = int(text)
        except ValueError:
            try:
                decimal = float(text)
            except ValueError:
                return text
            return decimal if math.isfinite(decimal) and repr(decimal) == text else text
        if str(number) == text and -(2**63) <= number < 2**63:
            return number
    return text


@dataclass(frozen=True, slots=True)
class _Plan:
    """A layout's columns arranged for checking rows quickly (see `CsvLayout.values_of`)."""

    width: int
    # (cell index, column, longest text allowed), in MUTABLE_COLUMNS order; dates have 0.
    cells: tuple[tuple[int, str, int], ...]
    # (cell index, field) of the address columns, in ADDRESS_FIELDS order; None: no address.
    address: tuple[tuple[int, str], ...] | None
    metadata: tuple[tuple[int, str], ...]
    # The JSON of the metadata keys, with room for their punctuation.
    metadata_key_bytes: int


@dataclass(frozen=True)
class CsvLayout:
    """Which column holds what: standard fields by name, every other column as metadata."""

    header: list[str]
    fields: dict[int, str]
    metadata: dict[int, str]
    source_id_column: int

    @classmethod
    def from_header(cls, header: list[str]) -> CsvLayout:
        if not header or all(not cell.strip() for cell in header):
            raise CsvFileError("The file has no header row")
        if len(header) > MAX_COLUMNS:
            raise CsvFileError(f"The file has more than {MAX_COLUMNS} columns")
        fields: dict[int, str] = {}
        metadata: dict[int, str] = {}
        seen: set[str] = set()
        for index, raw in enumerate(header):
            name = raw.strip()
            key = name.lower()
            if not name:
                raise CsvFileError(f"Column {index + 1} has no name in the header")
            target = _STANDARD.get(key)
            if key in seen or (target is not None and target in seen):
                raise CsvFileError(f"Column {name} appears twice in the header")
            seen.add(key)
            if key in _IGNORED:
                continue
            if target is not None:
                seen.add(target)
                fields[index] = target
            elif any(char.isspace() for char in name):
                raise CsvFileError(
                    f"Column '{name}' has a space; metadata column names cannot contain spaces"
                )
            else:
                metadata[index] = name
        source_id_column = next(
            (index for index, target in fields.items() if target == "source_id"), None
        )
        if source_id_column is None:
            raise CsvFileError("The file has no Source_id column; rows are matched by it")
        return cls(list(header), fields, metadata, source_id_column)

    def source_id_of(self, cells: list[str]) -> str | None:
        if self.source_id_column < len(cells):
            return cells[self.source_id_column] or None
        return None

    @cached_property
    def _plan(self) -> _Plan:
        order = {column: position for position, column in enumerate(MUTABLE_COLUMNS)}
        cells = sorted(
            (
                (index, target, 0 if target.startswith("birth") else MAX_TEXT)
                for index, target in self.fields.items()
                if target in order
            ),
            key=lambda cell: order[cell[1]],
        )
        address = sorted(
            (
                (index, target.removeprefix("address."))
                for index, target in self.fields.items()
                if target.startswith("address.")
            ),
            key=lambda cell: ADDRESS_FIELDS.index(cell[1]),
        )
        return _Plan(
            width=len(self.header),
            cells=tuple(cells),
            address=tuple(address) if address else None,
            metadata=tuple(self.metadata.items()),
            metadata_key_bytes=sum(len(json.encode(name)) + 2 for name in self.metadata.values()),
        )

    def values_of(self, cells: list[str]) -> tuple[str, dict[str, Any]]:
        """What `customer` returns, found without msgspec for rows that are surely valid.

        Any row this cannot vouch for goes to `customer`, which has the last word; so both
        accept the same rows and give the same values (a property test holds them to it).
        Cells come from the database, so they hold no NUL characters or lone surrogates.
        """
        plan = self._plan
        if len(cells) != plan.width:
            return self.customer(cells)
        source_id = cells[self.source_id_column]
        if not source_id or len(source_id) > _SURELY_INDEXABLE:
            return self.customer(cells)
        values: dict[str, Any] = {}
        for index, column, longest in plan.cells:
            cell = cells[index]
            if not cell:
                values[column] = None
            elif not longest:
                if not _DATE.fullmatch(cell):
                    return self.customer(cells)
                try:
                    values[column] = date.fromisoformat(cell)
                except ValueError:
                    return self.customer(cells)
            elif len(cell) > longest or (
                (column == "name" and len(cell) > _SURELY_INDEXABLE)
                or (column == "email" and (len(cell) > MAX_EMAIL or not is_email(cell)))
            ):
                return self.customer(cells)
            else:
                values[column] = cell
        if plan.address is not None:
            # Every address column is a key sent (an empty cell is null), as a JSON body's keys
            # are kept (`sent_address`); a row with no address cell filled has no address.
            address: dict[str, str | None] = {}
            for index, field in plan.address:
                cell = cells[index]
                if cell:
                    if len(cell) > MAX_TEXT or (field == "city" and len(cell) > _SURELY_INDEXABLE):
                        return self.customer(cells)
                    address[field] = cell
                else:
                    address[field] = None
            values["address"] = address if any(address.values()) else None
        metadata = {}
        size = plan.metadata_key_bytes
        for index, name in plan.metadata:
            cell = cells[index]
            if cell:
                metadata[name] = typed_cell(cell)
                # An escaped character takes at most 6 bytes of JSON.
                size += 6 * len(cell) + 2
        if size > MAX_METADATA_BYTES:
            return self.customer(cells)
        values["metadata"] = metadata
        return source_id, values

    def customer(self, cells: list[str]) -> tuple[str, dict[str, Any]]:
        """The source_id and the columns this row sets; ValueError says why a row is bad."""
        if len(cells) != len(self.header):
            raise ValueError(f"The row has {len(cells)} cells; the header has {len(self.header)}")
        source_id = cells[self.source_id_column]
        if not source_id:
            raise ValueError("Source_id is empty")
        if len(source_id.encode()) > MAX_INDEXED_BYTES:
            raise ValueError(f"Source_id is longer than {MAX_INDEXED_BYTES} bytes")
        body: dict[str, Any] = {}
        address: dict[str, Any] | None = None
        for index, target in self.fields.items():
            value = cells[index] or None
            if target.startswith("address."):
                address = {} if address is None else address
                address[target.removeprefix("address.")] = value
            elif target != "source_id":
                body[target] = value
        if address is not None:
            body["address"] = address if any(address.values()) else None
        body["metadata"] = {
            name: typed_cell(cells[index]) for index, name in self.metadata.items() if cells[index]
        }
        try:
            fields = msgspec.convert(body, CustomerFields)
            check_fields(fields)
        except msgspec.ValidationError as exc:
            raise ValueError(_column_message(str(exc))) from None
        except APIError as exc:
            raise ValueError(exc.details or exc.message) from None
        return source_id, column_values(fields)


def _column_message(text: str) -> str:
    message, sep, location = text.rpartition(" - at `")
    if not sep:
        return text
    path = location.rstrip("`").removeprefix("$.")
    if path.startswith("address."):
        field = path.removeprefix("address.")
        column = "Address_" + field.capitalize() if field in ADDRESS_FIELDS else path
    else:
        column = path.capitalize()
    return f"{column}: {message}"


def read_rows(file: IO[bytes]) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator of rows of a UTF-8 CSV file; CsvFileError for a bad file."""
    head = file.read(4096)
    if not head.strip():
        raise CsvFileError("The file is empty")
    if b"\x00" in head:
        raise CsvFileError("The file is not a CSV text file")
    file.seek(0)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", errors="strict", newline="")

    def lines() -> Iterator[str]:
        # PostgreSQL cannot store NUL characters, and the csv module lets them through.
        for line in text:
            if "\x00" in line:
                raise CsvFileError("The file is not a CSV text file (it holds NUL characters)")
            yield line

    reader = csv.reader(lines(), strict=True)
    try:
        header = next(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CsvFileError(_file_error(exc)) from None
    except StopIteration:
        raise CsvFileError("The file is empty") from None

    def rows() -> Iterator[list[str]]:
        try:
            for row in reader:
                if row:
                    yield row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvFileError(f"{_file_error(exc)} (near line {reader.line_num})") from None

    return header, rows()


def _file_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "The file is not UTF-8 text"
    return f"The file is not valid CSV: {exc}"
