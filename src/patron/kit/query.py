"""Query-string parsing: every bad value becomes a 400 invalid_query_params that names it.

A route declares its parameters as `Parameter`s (`Text`, `Integer`, `Choice`, `Timestamp`,
`Texts`) next to it, parses with them, and names them in its `@operation(query=…)`: the OpenAPI
document shows the same definitions (`Parameter.openapi()`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.errors import InvalidQueryParams
from patron.kit import filter_words
from patron.kit.fields import NO_NUL
from patron.kit.time import MOMENT_PATTERN, parse_datetime

QueryParams = Mapping[str, str]

_INTEGER = re.compile(r"-?[0-9]{1,9}")


def _one(params: QueryParams, name: str) -> str | None:
    """The parameter's value; a parameter sent twice is a 400, not a silent pick of one."""
    getall = getattr(params, "getall", None)
    if getall is not None and len(getall(name, ())) > 1:
        raise InvalidQueryParams(f"Query parameter {name} must be given once")
    return params.get(name)


def text(params: QueryParams, name: str) -> str | None:
    value = _one(params, name)
    if value is None:
        return None
    if "\x00" in value:
        raise InvalidQueryParams(f"Query parameter {name} must not contain NUL characters")
    return value


def integer(params: QueryParams, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = _one(params, name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise InvalidQueryParams(f"Query parameter {name} must be an integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise InvalidQueryParams(
            f"Query parameter {name} must be between {minimum} and {maximum}, got {value}"
        )
    return value


def choice(params: QueryParams, name: str, allowed: Collection[str]) -> str | None:
    raw = _one(params, name)
    if raw is None:
        return None
    if raw not in allowed:
        raise InvalidQueryParams(
            f"Query parameter {name} must be one of: {', '.join(sorted(allowed))}"
        )
    return raw


def timestamp(params: QueryParams, name: str) -> datetime | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        raise InvalidQueryParams(
            f"Query parameter {name} cannot be recognized as a ISO-8601 compliant date"
        ) from None


def texts(params: QueryParams, name: str) -> tuple[str, ...] | None:
    """Every value of a list parameter: `name=a&name=b`, `name[]=a` or `name[0]=a`."""
    getall = getattr(params, "getall", None)
    found: list[str] = []
    for key in params:
        if key == name or key == f"{name}[]" or re.fullmatch(re.escape(name) + r"\[[0-9]+\]", key):
            found.extend(getall(key) if getall is not None else [params[key]])
    if not found:
        return None
    for value in found:
        if "\x00" in value:
            raise InvalidQueryParams(f"Query parameter {name} must not contain NUL characters")
    return tuple(dict.fromkeys(found))


class _Params(Mapping[str, str]):
    """Query parameters as (name, value) pairs, read like Litestar's: `get` and `[]` give the
    first value of a name, `getall` every one."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for key, value in pairs:
            self._first.setdefault(key, value)

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Any:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getall(self, key: str, default: Any = None) -> list[str]:
        found = [value for name, value in self._pairs if name == key]
        if found:
            return found
        if default is not None:
            return list(default)
        raise KeyError(key)


_FILTER_OPERATOR = re.compile(r"\[(\$[A-Za-z_]+)\]")


def filter_words_read(params: QueryParams) -> QueryParams:
    """The query with each `filters[<field>][conditions][$<operator>]` name's operator in its
    documented spelling, whatever case it was sent in (`kit.filter_words`; `Junction` reads the
    junction so). Undocumented words stay as sent, so that a route's 400 names them so."""

    def name(key: str) -> str:
        if not key.startswith("filters["):
            return key
        return _FILTER_OPERATOR.sub(lambda m: f"[{filter_words.operator(m.group(1))}]", key)

    getall = getattr(params, "getall", None)
    pairs: list[tuple[str, str]] = []
    for key in dict.fromkeys(params):
        values = list(getall(key)) if getall is not None else [params[key]]
        pairs.extend((name(key), value) for value in values)
    return _Params(pairs)


# --- declared parameters: what a route parses is what the OpenAPI document states -------------

Schema = dict[str, Any]


@dataclass(frozen=True)
class Parameter:
    """One query parameter a route reads: its name, its rule, and the words that explain it.

    The route parses with `parse`; the OpenAPI document shows `openapi()`; both read this one
    definition, so the document cannot state a rule the route does not apply.
    """

    name: str
    description: str

    def schema(self) -> Schema:
        raise NotImplementedError

    def openapi(self) -> Schema:
        """The parameter as an OpenAPI parameter object (`in: query`)."""
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": self.schema(),
        }


@dataclass(frozen=True)
class Text(Parameter):
    """Text of any length without NUL characters; None when left out."""

    def parse(self, params: QueryParams) -> str | None:
        return text(params, self.name)

    def schema(self) -> Schema:
        return {"type": "string", "pattern": NO_NUL}


@dataclass(frozen=True)
class RequiredText(Text):
    """Text that must be given, not empty: 400 `invalid_query_params` naming it otherwise."""

    def require(self, params: QueryParams) -> str:
        value = text(params, self.name)
        if not value:
            raise InvalidQueryParams(f"Query parameter {self.name} is required")
        return value

    def schema(self) -> Schema:
        return {"type": "string", "minLength": 1, "pattern": NO_NUL}

    def openapi(self) -> Schema:
        return {**super().openapi(), "required": True}


@dataclass(frozen=True)
class Integer(Parameter):
    """An integer from `minimum` to `maximum`; `default` when left out."""

    default: int
    minimum: int
    maximum: int

    def parse(self, params: QueryParams) -> int:
        return integer(
            params, self.name, default=self.default, minimum=self.minimum, maximum=self.maximum
        )

    def schema(self) -> Schema:
        return {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
            "default": self.default,
        }


@dataclass(frozen=True)
class Choice(Parameter):
    """One of `allowed`; None when left out."""

    allowed: Collection[str]

    def parse(self, params: QueryParams) -> str | None:
        return choice(params, self.name, self.allowed)

    def schema(self) -> Schema:
        return {"type": "string", "enum": sorted(self.allowed)}


@dataclass(frozen=True)
class Junction(Choice):
    """`filters[junction]`: `and` or `or`, read in any letter case (Voucherify's examples
    write `AND`) and returned in lower case; None when left out."""

    def parse(self, params: QueryParams) -> str | None:
        raw = _one(params, self.name)
        return choice({self.name: filter_words.junction(raw)}, self.name, self.allowed)

    def schema(self) -> Schema:
        return {"type": "string", "pattern": "^(?:[Aa][Nn][Dd]|[Oo][Rr])$"}

    def openapi(self) -> Schema:
        return {**super().openapi(), "description": self.description + " Any letter case."}


@dataclass(frozen=True)
class Timestamp(Parameter):
    """An ISO 8601 date or moment (`parse_datetime`); None when left out."""

    def parse(self, params: QueryParams) -> datetime | None:
        return timestamp(params, self.name)

    def schema(self) -> Schema:
        return {"type": "string", "pattern": MOMENT_PATTERN, "example": "2024-01-02T03:04:05Z"}

    def openapi(self) -> Schema:
        return {
            **super().openapi(),
            "description": self.description
            + " ISO 8601: a date such as `2024-01-02`, or a date and time (UTC when it has no"
            " offset), in the years 0002 to 9998; anything else is a 400 `invalid_query_params`.",
        }


@dataclass(frozen=True)
class Texts(Parameter):
    """A list of texts (`texts`): `name=a&name=b`, `name[]=a` or `name[0]=a`.

    `allowed`, when given, is stated to the document; the route checks it (its message names
    the field that several parameters filter on).
    """

    allowed: Collection[str] | None = None

    def parse(self, params: QueryParams) -> tuple[str, ...] | None:
        return texts(params, self.name)

    def schema(self) -> Schema:
        if self.allowed is not None:
            return {"type": "array", "items": {"type": "string", "enum": sorted(self.allowed)}}
        return {"type": "array", "items": {"type": "string", "pattern": NO_NUL}}


def limit(maximum: int = 100, default: int = 10) -> Integer:
    """The page size parameter every list takes."""
    return Integer(
        "limit",
        f"How many items a page holds (1 to {maximum}; {default} when left out).",
        default=default,
        minimum=1,
        maximum=maximum,
    )


def page(maximum: int) -> Integer:
    """The page number parameter of lists that take one."""
    return Integer(
        "page", f"Which page to return (1 to {maximum}).", default=1, minimum=1, maximum=maximum
    )
