"""Streaming multipart/form-data: one file field spooled to disk, never held whole in memory."""

from __future__ import annotations

import tempfile
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from patron.errors import InvalidPayload, UnsupportedMediaType

# Uploads up to this size stay in memory; larger ones go to a temporary file.
_IN_MEMORY_BYTES = 1024 * 1024


async def spool_file_field(request: Any, field_name: str) -> IO[bytes]:
    """Stream the request body and return the content of its `field_name` part, rewound."""
    content_type = request.headers.get("content-type", "")
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'} is not supported here; "
            f"send multipart/form-data with a `{field_name}` field"
        )
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES)  # noqa: SIM115
    state: dict[str, Any] = {"header_field": b"", "header_value": b"", "name": None, "found": 0}

    def on_part_begin() -> None:
        state["name"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        if state["header_field"].lower() == b"content-disposition":
            _, params = parse_options_header(state["header_value"])
            name = params.get(b"name")
            state["name"] = name.decode("latin-1") if name is not None else None
            if state["name"] == field_name:
                state["found"] += 1
        state["header_field"] = b""
        state["header_value"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["name"] == field_name and state["found"] == 1:
            spool.write(data[start:end])

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        spool.close()
        raise InvalidPayload(f"Malformed multipart body: {exc}") from None
    if not state["found"]:
        spool.close()
        raise InvalidPayload(f"The multipart body has no `{field_name}` field")
    spool.seek(0)
    return spool
