"""Opaque identifiers with Voucherify's prefixes, generated in one place."""

from __future__ import annotations

import random
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


# 248 = 4 * 62: bytes at or above it are dropped, so every character is equally likely.
_UNBIASED_LIMIT = 248
_TO_ALPHABET = bytes(ord(_ALPHABET[byte % 62]) for byte in range(256))
_DROPPED = bytes(range(_UNBIASED_LIMIT, 256))


def _alnum(length: int) -> str:
    chars = b""
    while len(chars) < length:
        # About 3% of the bytes are dropped: ask for a little more than is missing.
        missing = length - len(chars)
        chars += secrets.token_bytes(missing + missing // 16 + 4).translate(_TO_ALPHABET, _DROPPED)
    return chars[:length].decode("ascii")


def customer_id() -> str:
    return "cust_" + _alnum(24)


def customer_ids(count: int) -> list[str]:
    """`count` customer ids at once (bulk imports)."""
    text = _alnum(24 * count)
    return ["cust_" + text[start : start + 24] for start in range(0, 24 * count, 24)]


def activity_id() -> str:
    return "evcus_" + secrets.token_hex(9)


def activity_ids(count: int) -> list[str]:
    """`count` activity ids at once (bulk imports)."""
    text = secrets.token_hex(9 * count)
    return ["evcus_" + text[start : start + 18] for start in range(0, 18 * count, 18)]


def permanent_deletion_id() -> str:
    return "del_" + _alnum(24)


def async_action_id() -> str:
    return "aa_" + secrets.token_hex(9)


def order_id() -> str:
    return "ord_" + _alnum(24)


def client_key_id() -> str:
    return "client_" + secrets.token_hex(12)


def consent_id() -> str:
    return "cnst_" + _alnum(24)


def consent_group_id() -> str:
    return "cnstgr_" + _alnum(24)


def project_id() -> str:
    return "proj_" + _alnum(16)


def request_id() -> str:
    # Request ids label log lines and activities; they need to be unique, not unguessable,
    # and the CSPRNG's system call showed up in profiles of every request.
    return f"v-{random.getrandbits(72):018x}"


def app_id() -> str:
    return secrets.token_hex(16)


def app_token() -> str:
    return secrets.token_urlsafe(32)


def segment_id() -> str:
    return "seg_" + _alnum(24)
