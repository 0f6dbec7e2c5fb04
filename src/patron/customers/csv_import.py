"""Customers from CSV: the file's layout, its rows as customers, and metadata column typing.

Rows are matched by `Id` (an existing customer, updated) or by `Source_id` (updated, or created
when new); a row with both is matched by its Id, as `POST /v1/customers` does (CONTRACT.md §5).

Metadata typing rule: a metadata column is typed as a whole, from every cell of the file
(`MetadataTyping`), so that a key holds values of one type across customers (segment filters
compare like with like). A cell reads as `true`/`false`, `null`, an integer or a decimal number
only when writing that value back gives exactly the cell's text (`typed_cell`): `42`, `-7`,
`3.5`, `true`, while `007`, `1.50`, `1e3`, `True` and `+1` are text. A column whose cells are
all numbers (or `null`) holds numbers, one whose cells are all `true`/`false` (or `null`) holds
booleans, one of `null` cells only holds nulls; any other column, one text cell or a mix of
numbers and booleans, holds every cell as its text (zip codes and phone numbers keep their
zeros, `null` stays "null"). Empty cells are left out of metadata.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
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
    "id": "id",
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
MAX_COLUMNS = 500
# Separators a spreadsheet may have used instead of commas, as a file's header shows them.
_OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}
# What `MetadataTyping` decides for a metadata column (see the module docstring).
TEXT, NUMBER, BOOLEAN, NULL = "text", "number", "boolean", "null"

# Text of at most this many characters fits MAX_INDEXED_BYTES in UTF-8 whatever it holds.
_SURELY_INDEXABLE = MAX_INDEXED_BYTES // 4
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CsvFileError(Exception):
    """The file as a whole cannot be imported."""


def cell_type(text: str) -> str:
    """What a non-empty metadata cell reads as alone: NUMBER, BOOLEAN, NULL or TEXT."""
    value = typed_cell(text)
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    return TEXT if isinstance(value, str) else NUMBER


def column_type(cell_types: set[str]) -> str:
    """A column's type from the types of its cells (see the module docstring)."""
    kinds = cell_types - {NULL}
    if not kinds:
        return NULL
    if len(kinds) > 1:
        return TEXT
    return next(iter(kinds))


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
    """Which column holds what: standard fields by name, every other column as metadata, and
    the metadata columns' types (None: each cell typed alone, as actions queued before column
    typing were)."""

    header: list[str]
    fields: dict[int, str]
    metadata: dict[int, str]
    id_column: int | None
    source_id_column: int | None
    # Metadata columns that hold text, by cell index; every other one is typed by typed_cell.
    text_columns: frozenset[int] | None = None

    @classmethod
    def from_header(
        cls, header: list[str], *, metadata_types: dict[str, str] | None = None
    ) -> CsvLayout:
        """The layout of a file with this header row; `metadata_types` (column name: TEXT,
        NUMBER, BOOLEAN or NULL) as `MetadataTyping` decided them. Raises CsvFileError."""
        if not header or all(not cell.strip() for cell in header):
            raise CsvFileError("The file has no header row")
        if len(header) == 1 and "," not in header[0]:
            for separator, name in _OTHER_SEPARATORS.items():
                if separator in header[0]:
                    raise CsvFileError(
                        f"The header holds {name} and no ',': columns must be separated by"
                        " commas (save the file as comma-separated CSV)"
                    )
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
            if target is not None:
                seen.add(target)
                fields[index] = target
            elif any(char.isspace() for char in name):
                raise CsvFileError(
                    f"Column '{name}' has a space; metadata column names cannot contain spaces"
                )
            else:
                metadata[index] = name
        columns = {target: index for index, target in fields.items()}
        id_column = columns.pop("id", None)
        source_id_column = columns.get("source_id")
        if id_column is None and source_id_column is None:
            raise CsvFileError(
                "The file has no Id or Source_id column; rows are matched by one of them"
            )
        for key_column in id_column, source_id_column:
            if key_column is not None:
                del fields[key_column]
        text_columns = None
        if metadata_types is not None:
            text_columns = frozenset(
                index for index, name in metadata.items() if metadata_types.get(name) == TEXT
            )
        return cls(list(header), fields, metadata, id_column, source_id_column, text_columns)

    def _cell(self, cells: list[str], index: int | None) -> str | None:
        if index is not None and index < len(cells):
            return cells[index] or None
        return None

    def source_id_of(self, cells: list[str]) -> str | None:
        """The row's Source_id cell, None when empty or missing (for reports)."""
        return self._cell(cells, self.source_id_column)

    def id_of(self, cells: list[str]) -> str | None:
        """The row's Id cell, None when empty or missing (for reports)."""
        return self._cell(cells, self.id_column)

    def metadata_value(self, index: int, cell: str) -> Any:
        """A non-empty metadata cell as its column's type has it."""
        if self.text_columns is not None and index in self.text_columns:
            return cell
        return typed_cell(cell)

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

    def _key(self, cells: list[str]) -> tuple[str | None, str | None]:
        """(id, None) for a row matched by its Id, (None, source_id) for one matched by its
        Source_id; ValueError when it has neither."""
        customer_id = self.id_of(cells)
        if customer_id is not None:
            return customer_id, None
        source_id = self.source_id_of(cells)
        if source_id is None:
            if self.source_id_column is None:
                raise ValueError("Id is empty")
            if self.id_column is None:
                raise ValueError("Source_id is empty")
            raise ValueError("Id and Source_id are both empty")
        if len(source_id.encode()) > MAX_INDEXED_BYTES:
            raise ValueError(f"Source_id is longer than {MAX_INDEXED_BYTES} bytes")
        return None, source_id

    def values_of(self, cells: list[str]) -> tuple[str | None, str | None, dict[str, Any]]:
        """What `customer` returns, found without msgspec for rows that are surely valid.

        Any row this cannot vouch for goes to `customer`, which has the last word; so both
        accept the same rows and give the same values (a property test holds them to it).
        Cells come from the database, so they hold no NUL characters or lone surrogates.
        """
        plan = self._plan
        if len(cells) != plan.width:
            return self.customer(cells)
        customer_id = self.id_of(cells)
        source_id = None if customer_id is not None else self.source_id_of(cells)
        if customer_id is None and (source_id is None or len(source_id) > _SURELY_INDEXABLE):
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
                metadata[name] = self.metadata_value(index, cell)
                # An escaped character takes at most 6 bytes of JSON.
                size += 6 * len(cell) + 2
        if size > MAX_METADATA_BYTES:
            return self.customer(cells)
        values["metadata"] = metadata
        return customer_id, source_id, values

    def customer(self, cells: list[str]) -> tuple[str | None, str | None, dict[str, Any]]:
        """(id, None) or (None, source_id) as the row is matched (see `_key`), and the columns
        it sets; ValueError says why a row is bad."""
        if len(cells) != len(self.header):
            raise ValueError(f"The row has {len(cells)} cells; the header has {len(self.header)}")
        customer_id, source_id = self._key(cells)
        body: dict[str, Any] = {}
        address: dict[str, Any] | None = None
        for index, target in self.fields.items():
            value = cells[index] or None
            if target.startswith("address."):
                address = {} if address is None else address
                address[target.removeprefix("address.")] = value
            else:
                body[target] = value
        if address is not None:
            body["address"] = address if any(address.values()) else None
        body["metadata"] = {
            name: self.metadata_value(index, cells[index])
            for index, name in self.metadata.items()
            if cells[index]
        }
        try:
            fields = msgspec.convert(body, CustomerFields)
            check_fields(fields)
        except msgspec.ValidationError as exc:
            raise ValueError(_column_message(str(exc))) from None
        except APIError as exc:
            raise ValueError(exc.details or exc.message) from None
        return customer_id, source_id, column_values(fields)


class MetadataTyping:
    """Decides each metadata column's type from every cell of a file, shown a chunk of rows at
    a time, so that the file need not be held in memory (see the module docstring)."""

    def __init__(self, layout: CsvLayout) -> None:
        self._names = dict(layout.metadata)
        self._seen: dict[int, set[str]] = {index: set() for index in layout.metadata}
        # Columns still in question: a text cell settles a column.
        self._open = list(layout.metadata)

    def see(self, rows: Iterable[list[str]]) -> None:
        """Take these rows' metadata cells into account."""
        seen = self._seen
        for cells in rows:
            width = len(cells)
            settled = False
            for index in self._open:
                if index < width and (cell := cells[index]):
                    kinds = seen[index]
                    kind = cell_type(cell)
                    if kind not in kinds:
                        kinds.add(kind)
                        if kind == TEXT or len(kinds - {NULL}) > 1:
                            kinds.add(TEXT)  # settled: text, or numbers mixed with booleans
                            settled = True
            if settled:
                self._open = [index for index in self._open if TEXT not in seen[index]]

    def types(self) -> dict[str, str]:
        """Each metadata column's type by name: TEXT, NUMBER, BOOLEAN or NULL (no cell or only
        `null`s)."""
        return {name: column_type(self._seen[index]) for index, name in self._names.items()}


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
