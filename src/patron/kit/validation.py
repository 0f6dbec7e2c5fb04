"""Input checks that msgspec's types cannot express: text PostgreSQL can store, bounded JSON."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from msgspec import inspect as types

from patron.errors import InvalidPayload

MAX_JSON_DEPTH = 32
MAX_METADATA_BYTES = 1024 * 1024

T = TypeVar("T")


def decode_body(body: bytes, target: type[Any]) -> Any:
    """Decode a JSON body into `target`; every failure is a 400 that names the field."""
    if not body.strip():
        raise InvalidPayload("The payload cannot be empty")
    try:
        try:
            return msgspec.json.decode(body, type=target)
        except msgspec.ValidationError as exc:
            if not _is_float_for_integer(exc):
                raise
            return convert(msgspec.json.decode(body), target)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(_describe_validation_error(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidPayload(f"Malformed JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload(f"The payload is nested deeper than {MAX_JSON_DEPTH} levels") from None


def convert(value: Any, target: type[T]) -> T:
    """`msgspec.convert`, reading a whole number written with a fraction (`2.0`) as an integer.

    JSON has one number type: to Voucherify's JavaScript, and to JSON Schema, `2.0` is the
    integer 2, and clients whose languages print floats that way (Python's json) send it.
    """
    try:
        return msgspec.convert(value, target)
    except msgspec.ValidationError as exc:
        if not _is_float_for_integer(exc):
            raise
    return msgspec.convert(_whole_numbers(value, types.type_info(target)), target)


def _is_float_for_integer(exc: msgspec.ValidationError) -> bool:
    return str(exc).startswith("Expected `int") and "got `float`" in str(exc)


def _whole_numbers(value: Any, kind: types.Type) -> Any:
    """`value` with every integral float where `kind` wants an integer made an int."""
    if isinstance(kind, types.UnionType):
        for option in kind.types:
            if (
                (isinstance(value, float) and isinstance(option, types.IntType))
                or (
                    isinstance(value, dict)
                    and isinstance(option, types.StructType | types.DictType)
                )
                or (isinstance(value, list) and isinstance(option, types.ListType))
            ):
                return _whole_numbers(value, option)
        return value
    if isinstance(kind, types.IntType):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value
    if isinstance(kind, types.StructType) and isinstance(value, dict):
        fields = {field.encode_name: field.type for field in kind.fields}
        return {
            key: _whole_numbers(item, fields[key]) if key in fields else item
            for key, item in value.items()
        }
    if isinstance(kind, types.DictType) and isinstance(value, dict):
        return {key: _whole_numbers(item, kind.value_type) for key, item in value.items()}
    if isinstance(kind, types.ListType) and isinstance(value, list):
        return [_whole_numbers(item, kind.item_type) for item in value]
    return value


def _describe_validation_error(text: str) -> str:
    # msgspec says "Expected `str`, got `int` - at `$.address.city`"; Voucherify says
    # "Property .address.city …".
    message, sep, location = text.rpartition(" - at `")
    if not sep:
        return text
    path = location.rstrip("`")
    path = path[1:] if path.startswith("$") else path
    return f"Property {path or '.'} is invalid: {message}"


def check_text(value: str, path: str) -> None:
    """Reject text PostgreSQL cannot store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise InvalidPayload(f"Property {path} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload(f"Property {path} is not valid Unicode text") from None


def check_json_value(value: Any, path: str, depth: int = 0) -> None:
    """Check free-form JSON (metadata): depth, keys and strings PostgreSQL can store."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidPayload(f"Property {path} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{path} (a key)")
            check_json_value(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise InvalidPayload(f"Property {path} must be a finite number")


def check_metadata(value: dict[str, Any], path: str = ".metadata") -> None:
    check_json_value(value, path)
    if len(msgspec.json.encode(value)) > MAX_METADATA_BYTES:
        raise InvalidPayload(f"Property {path} is larger than {MAX_METADATA_BYTES} bytes")
