"""Which voucher an asset token names, once its signature is checked."""

from __future__ import annotations

from patron.assets import repository, tokens
from patron.db.pool import Connection
from patron.errors import NotFound
from patron.projects import service as projects

# What a token is checked against when its project does not exist, so that an unknown project
# costs the same HMAC and comparison as a wrong signature.
_NO_KEY = bytes(32)


def not_found(token: str) -> NotFound:
    """One answer for every token that does not lead to a live voucher, whatever the reason."""
    return NotFound(f"Cannot find asset with id {token}", resource_id=token, resource_type="asset")


async def voucher_code(conn: Connection, token: str) -> str:
    """The code of the live voucher `token` names (`patron.assets.tokens`).

    Raises NotFound (404 `not_found`, the same body whatever the cause) for a token that is
    malformed, names an unknown project, is not signed with that project's `asset_key`, or names
    a voucher that does not exist or is deleted.
    """
    read = tokens.read_token(token)
    if read is None:
        raise not_found(token)
    project_id, voucher_id, mac = read
    key = await projects.asset_key(conn, project_id)
    if not tokens.token_matches(key or _NO_KEY, project_id, voucher_id, mac) or key is None:
        raise not_found(token)
    code = await repository.find_code(conn, project_id, voucher_id)
    if code is None:
        raise not_found(token)
    return code
