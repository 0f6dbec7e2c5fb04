"""Query-string parsing: every bad value becomes a 400 invalid_query_params that names it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime

from patron.errors import InvalidQueryParams
from patron.kit.time import parse_datetime

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
