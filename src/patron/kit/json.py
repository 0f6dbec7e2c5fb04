"""JSON encoding and decoding, shared by HTTP bodies and jsonb columns."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(data: bytes | str) -> Any:
    return _decoder.decode(data)
