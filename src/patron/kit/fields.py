"""Annotations for the fields of bodies: what the OpenAPI document states about them.

msgspec applies a `Meta`'s constraints (lengths, ranges) when it decodes a body and writes them
into the body's JSON Schema. Rules it cannot apply — no NUL character, the byte bound of indexed
text, the e-mail shape, free-form JSON without NUL characters — are applied by the domains'
`check_*` functions (with Voucherify's error messages) and stated to the document here, through
`extra_json_schema`, from the same constants those functions use. `Count` and `Moment` are the
fields of responses every domain renders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from patron.kit.validation import MAX_JSON_DEPTH, MAX_METADATA_BYTES

# PostgreSQL cannot store the NUL character: no text Patron reads may hold one.
NO_NUL = r"^[^\x00]*$"

MAX_TEXT = 4096
# Indexed text must fit a btree entry (about 2,700 bytes); the checks bound it in UTF-8 bytes,
# which the document can state only as a number of characters.
MAX_INDEXED_BYTES = 1000

# A bound in UTF-8 bytes, an OpenAPI extension keyword; the document's builder also makes it the
# schema's `maxLength` (text of more characters has more bytes).
MAX_BYTES = "x-max-bytes"

# --- in responses ---

Count = Annotated[int, Meta(ge=0)]
# A moment as Patron renders it (`render_datetime`): ISO 8601 UTC with milliseconds and `Z`.
Moment = Annotated[
    datetime,
    Meta(examples=["2024-01-02T03:04:05.678Z"], extra_json_schema={"format": "date-time"}),
]

JSON_VALUE_REF: dict[str, Any] = {"$ref": "#/components/schemas/JsonValue"}

METADATA_LIMITS = (
    " Keys and strings may not hold NUL characters; metadata may nest at most"
    f" {MAX_JSON_DEPTH} levels and take at most {MAX_METADATA_BYTES // (1024 * 1024)} MiB as JSON"
    " (400 `invalid_payload` otherwise)."
)


def text(
    max_length: int = MAX_TEXT,
    *,
    min_length: int | None = None,
    indexed: bool = False,
    description: str | None = None,
) -> Meta:
    """Text Patron stores: at most `max_length` characters, no NUL (`check_text`).

    `indexed`: the checks also bound it to MAX_INDEXED_BYTES bytes of UTF-8 (`check_indexed`);
    the document states that as its maximum length (`MAX_BYTES`: msgspec writes `max_length`
    over any `maxLength` given here, so the document's builder applies it).
    """
    schema: dict[str, Any] = {"pattern": NO_NUL}
    if indexed:
        schema[MAX_BYTES] = MAX_INDEXED_BYTES
        bound = f"At most {MAX_INDEXED_BYTES:,} bytes of UTF-8."
        description = f"{description} {bound}" if description else bound
    return Meta(
        min_length=min_length,
        max_length=max_length,
        description=description,
        extra_json_schema=schema,
    )


def metadata(description: str) -> Meta:
    """An object of custom attributes (free-form JSON), bounded by `check_metadata`."""
    return Meta(
        description=description + METADATA_LIMITS,
        extra_json_schema={
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        },
    )


def json_values(description: str, *, max_items: int | None = None) -> Meta:
    """A list of any JSON values (bulk rows), each checked by the operation that applies it."""
    schema: dict[str, Any] = {"items": JSON_VALUE_REF}
    if max_items is not None:
        schema["maxItems"] = max_items  # the route checks it, with its own message
    return Meta(description=description, extra_json_schema=schema)


def pattern(regex: str, description: str | None = None, **extra: Any) -> Meta:
    """A pattern the checks apply by hand (with their own message), stated to the document."""
    return Meta(description=description, extra_json_schema={"pattern": regex, **extra})
