"""The tokens that name a voucher's QR code and barcode in their URLs, and those URLs.

An asset URL goes into `<img src>` tags and e-mails, so it carries its own credential: the
token is `base64url(version | mac | project_id NUL voucher_id)` without padding, where `mac` is
the first 16 bytes of HMAC-SHA256 over `version | project_id NUL voucher_id` with the project's
`asset_key` (32 random bytes, `projects.asset_key`). Whoever holds a voucher's asset URL can
see its code, and nobody can make the URL of another voucher, or of another project's voucher,
without that project's key. The ids are readable by anyone holding the token (a voucher object
shows them anyway); a token names one voucher for good, so its images can be cached.

Mechanisms only (next to `kit`): the route looks the key up and checks the MAC
(`token_matches`); a voucher's rendering calls `voucher_assets`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

VERSION = 1
MAC_BYTES = 16
# Far beyond any real token (two ids of at most a few hundred characters), and what the route
# accepts at most before decoding anything.
MAX_TOKEN_LENGTH = 1024

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def _signed(project_id: str, voucher_id: str) -> bytes:
    return bytes([VERSION]) + project_id.encode() + b"\x00" + voucher_id.encode()


def _mac(asset_key: bytes, signed: bytes) -> bytes:
    return hmac.new(asset_key, signed, hashlib.sha256).digest()[:MAC_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def asset_token(asset_key: bytes, project_id: str, voucher_id: str) -> str:
    """The URL-safe token naming `voucher_id` of `project_id`, signed with the project's key.

    The same ids and key always give the same token. Raises ValueError for a project id with a
    NUL character (project ids are generated and never have one) or an empty id.
    """
    if not project_id or not voucher_id or "\x00" in project_id:
        raise ValueError("a token needs a project id without NUL and a voucher id")
    signed = _signed(project_id, voucher_id)
    return _encode(signed[:1] + _mac(asset_key, signed) + signed[1:])


def read_token(token: str) -> tuple[str, str, bytes] | None:
    """`(project_id, voucher_id, mac)` as `token` states them, unverified; None for anything
    `asset_token` cannot have made. Check the MAC with `token_matches` and the project's key."""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # One spelling per token: base64 leaves a few bits unused at the end, which could
    # otherwise be set to make other strings naming the same bytes.
    if _encode(raw) != token:
        return None
    if len(raw) < 1 + MAC_BYTES or raw[0] != VERSION:
        return None
    mac, ids = raw[1 : 1 + MAC_BYTES], raw[1 + MAC_BYTES :]
    project, separator, voucher = ids.partition(b"\x00")
    if not separator or not project or not voucher:
        return None
    try:
        return project.decode(), voucher.decode(), mac
    except UnicodeDecodeError:
        return None


def token_matches(asset_key: bytes, project_id: str, voucher_id: str, mac: bytes) -> bool:
    """Whether `mac` (from `read_token`) is the project's for these ids; constant-time."""
    return hmac.compare_digest(_mac(asset_key, _signed(project_id, voucher_id)), mac)


def voucher_assets(
    base_url: str, asset_key: bytes, project_id: str, voucher_id: str
) -> dict[str, Any]:
    """A voucher's `assets` as Voucherify renders them: `{"qr": {"id", "url"}, "barcode":
    {"id", "url"}}`, each `id` the voucher's token and each `url` an image this server serves
    at `base_url` (`patron.kit.http.base_url`, no trailing slash): PNG, or SVG with
    `?format=svg` appended."""
    token = asset_token(asset_key, project_id, voucher_id)
    return {
        "qr": {"id": token, "url": f"{base_url}/v1/assets/qr/{token}"},
        "barcode": {"id": token, "url": f"{base_url}/v1/assets/barcode/{token}"},
    }
