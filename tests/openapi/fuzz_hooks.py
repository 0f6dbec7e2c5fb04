"""Schemathesis hooks for `test_fuzz.py`, loaded by the `schemathesis run` it starts.

`tenant_isolation` replays every request that succeeded for project A on one of A's resources
(an operation with a path parameter) with project B's credentials: B must not be able to tell
A's resource from one that does not exist (a 404, or for the one read that answers unknown ids
too, `GET /v1/customers/{id}/segments`, the same answer as for a made-up id). Schemathesis's
own `object_level_authorization` check replays reads; this one replays writes as well (update,
delete, permanent deletion, consents), and B's failed replay changes nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import schemathesis
from schemathesis.specs.openapi.checks import ensure_resource_availability

# Project B's credentials: {"server": {header: value}, "client": {header: value}}.
PEER_ENV = "PATRON_FUZZ_PEER"
CREDENTIAL_HEADERS = ("x-app-id", "x-app-token", "x-client-application-id", "x-client-token")
REPLAYED_METHODS = ("GET", "POST", "PUT", "DELETE")


def _as_peer(sent: Any, path: str, url: str) -> requests.Response:
    peer: dict[str, dict[str, str]] = json.loads(os.environ[PEER_ENV])
    headers = {
        name: value
        for name, value in sent.headers.items()
        if name.lower() not in CREDENTIAL_HEADERS
    }
    headers.update(peer["client" if path.startswith("/client/") else "server"])
    # A request of its own (no shared session): schemathesis calls checks from several threads.
    return requests.request(
        sent.method, url, headers=headers, data=sent.body, timeout=30, allow_redirects=False
    )


def _without_ids(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.content
    if isinstance(body, dict):
        body.pop("request_id", None)
    return body


@schemathesis.check
def tenant_isolation(ctx: schemathesis.CheckContext, response: Any, case: Any) -> bool | None:
    """Another project cannot tell this project's resources from ones that do not exist."""
    sent = response.request
    if (
        not 200 <= response.status_code < 300
        or not case.path_parameters
        or sent.method not in REPLAYED_METHODS
    ):
        return None
    template = case.operation.path
    replay = _as_peer(sent, template, sent.url)
    if replay.status_code == 404:
        return None
    absent = template.format(
        **{name: f"absent-{secrets.token_hex(8)}" for name in case.path_parameters}
    )
    parts = urlsplit(sent.url)
    probe = _as_peer(sent, template, urlunsplit((*parts[:2], absent, parts.query, "")))
    if (probe.status_code, _without_ids(probe)) != (replay.status_code, _without_ids(replay)):
        raise AssertionError(
            f"{sent.method} {sent.url} answered {response.status_code} to project A, and"
            f" project B got {replay.status_code} there but {probe.status_code} for an id that"
            f" does not exist: {replay.text[:300]}"
        )
    return None


def _erased(recorder: Any, case: Any) -> bool:
    """A successful `POST …/{customerId}/permanent-deletion` of this customer earlier in the
    scenario: schemathesis counts only a DELETE, or another unsafe method on the same path, as
    a removal."""
    wanted = (case.path_parameters or {}).get("customerId")
    if wanted is None:
        return False
    for prior in recorder.find_all_cases():
        if prior.id == case.id or not prior.path.endswith("/permanent-deletion"):
            continue
        if (prior.path_parameters or {}).get("customerId") != wanted:
            continue
        answer = recorder.find_response(case_id=prior.id)
        if answer is not None and 200 <= answer.status_code < 300:
            return True
    return False


@schemathesis.check
def resource_available_unless_erased(
    ctx: schemathesis.CheckContext, response: Any, case: Any
) -> bool | None:
    """Schemathesis's `ensure_resource_availability` (ST302), a permanent deletion counting as
    a removal: a customer erased by it answers 404 afterwards, as it must."""
    recorder = ctx.internals.recorder
    if response.status_code == 404 and recorder is not None and _erased(recorder, case):
        return None
    result: bool | None = ensure_resource_availability(ctx, response, case)
    return result


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    """Leaves out the cases that send an `Idempotency-Key`: keys drawn at random repeat across
    operations and bodies, and the 422s and replays that follow would read as failures to checks
    that know nothing of keys. The header has tests of its own (tests/idempotency)."""
    return not any(name.lower() == "idempotency-key" for name in (case.headers or {}))


@schemathesis.hook
def before_add_examples(ctx: Any, examples: list[Any]) -> None:
    """The examples phase's cases (which `filter_case` does not see) without `Idempotency-Key`,
    for the same reason: an optional header, so they stay valid."""
    for case in examples:
        for name in [name for name in case.headers or {} if name.lower() == "idempotency-key"]:
            del case.headers[name]
