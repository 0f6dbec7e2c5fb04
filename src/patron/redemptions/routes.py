"""HTTP routes for validations, redemptions, rollbacks and validation sessions, server-side and
client-side, stacked and deprecated single-code (INCENTIVES.md §3.2, §4)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, delete, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.customers import service as customers
from patron.dependencies import actor_of, connection, project_of, snapshot
from patron.errors import InvalidPayload, InvalidQueryParams
from patron.kit import query
from patron.kit.http import json_response, read_json, read_optional_json
from patron.kit.validation import convert
from patron.openapi.operation import PathParameter, operation
from patron.redemptions import service
from patron.redemptions.schemas import (
    LegacyValidation,
    RedeemablesRequest,
    RedeemedObject,
    RedemptionObject,
    RedemptionsList,
    Refusal,
    RollbackBody,
    RollbackObject,
    RolledBackObject,
    ValidationObject,
    VoucherRedemptions,
    given,
)
from patron.vouchers import redeemables as voucher_lookups
from patron.vouchers.assets import assets_for
from patron.vouchers.schemas import voucher_not_found

TAG_VALIDATIONS = "Validations"
TAG_REDEMPTIONS = "Redemptions"
REDEMPTION_PATH = {
    "redemption_id": PathParameter("redemptionId", "A redemption's id (`r_…`, `rf_…`).")
}
ROLLBACK_PATH = {
    "redemption_id": PathParameter("redemptionId", "The redemption to roll back (`r_…`).")
}
PARENT_PATH = {
    "redemption_id": PathParameter(
        "parentRedemptionId", "The parent of a stacked redemption (`r_…`)."
    )
}
CODE_PATH = {"code": PathParameter("code", "The voucher's code or id.")}
SESSION_PATH = {
    "code": PathParameter("code", "The voucher's code or id."),
    "session_key": PathParameter("sessionKey", "The session's key (`ssn_…` or the caller's)."),
}
REASON = query.Text("reason", "Why the redemption is rolled back.")
TRACKING_ID = query.Text("tracking_id", "The customer's source_id.")
LIMIT = query.limit()
PAGE = query.page(1000)
ORDER = query.Choice(
    "order", "`-created_at` (default) or `created_at`.", {"created_at", "-created_at"}
)
RESULT = query.Choice("result", "`SUCCESS` or `FAILURE`.", {"SUCCESS", "FAILURE"})
CAMPAIGN = query.Text("campaign", "Only redemptions of this campaign's codes (name or id).")
CUSTOMER = query.Text("customer", "Only this customer's redemptions (`id` or `source_id`).")
CREATED_BEFORE = query.Timestamp("created_at[before]", "Only redemptions made before.")
CREATED_AFTER = query.Timestamp("created_at[after]", "Only redemptions made after.")
CODE = query.RequiredText("code", "The voucher's code.")
# The operator in any letter case (`kit.filter_words`).
_FILTER = re.compile(r"^filters\[(\w+)\]\[conditions\]\[\$(?i:is|in)\](?:\[\d*\])?$")
_FILTERED = {"result": "result", "voucher_code": "voucher", "related_object_id": "voucher_id"}
_BRACKETS = re.compile(r"^(\w+)\[(\w+)\]$")


def _decode(raw: dict[str, Any]) -> RedeemablesRequest:
    try:
        return convert(raw, RedeemablesRequest)
    except Exception as exc:  # msgspec.ValidationError, the field named
        raise InvalidPayload(str(exc)) from None


# --- validations ---------------------------------------------------------------------------


@operation(
    "validate-stacked-discounts",
    TAG_VALIDATIONS,
    body=RedeemablesRequest,
    body_description="Up to 30 redeemables, the customer, the order, an optional session.",
    response=ValidationObject,
    errors=("NotFound", "Refused"),
    description="Checks every redeemable against the customer and the order (INCENTIVES.md"
    " §3.2): `valid`, each redeemable APPLICABLE (with its effect) or INAPPLICABLE (with its"
    " error), the order as discounted, and `stacking_rules`. Changes nothing, except a"
    " `session` of type LOCK, which reserves what the validation would take for its ttl."
    " Also served at `/client/v1/validations`.",
)
@post(["/v1/validations", "/client/v1/validations"], status_code=200)
async def validate_stacked(request: Request[Any, Any, Any]) -> ASGIApp:
    """Validate redeemables."""
    body = _decode(await read_json(request, dict))
    async with connection(request) as conn:
        answer = await service.validate(
            conn, actor_of(request), body, assets_of=assets_for(request)
        )
    return json_response(answer)


def _single(code: str, raw: dict[str, Any]) -> RedeemablesRequest:
    """A deprecated single-code body as a stacked request of one redeemable."""
    item: dict[str, Any] = {"object": "voucher", "id": code}
    for name in ("gift", "reward"):
        if raw.get(name) is not None:
            item[name] = raw.pop(name)
    raw.pop("voucher", None)
    raw["redeemables"] = [item]
    return _decode(raw)


def _legacy_validation(code: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The deprecated validation's answer: `{valid, code, …}`; an invalid code is a 200 with
    `valid: false`, `reason` and `error`, an unknown one a 404."""
    entry = answer["redeemables"][0]
    if entry["status"] != "APPLICABLE" and entry["result"]["error"]["code"] == 404:
        raise voucher_not_found(code)
    legacy: dict[str, Any] = {"valid": entry["status"] == "APPLICABLE", "code": code}
    if legacy["valid"]:
        legacy.update(entry["result"])
        legacy["applicable_to"] = entry.get("applicable_to")
        legacy["inapplicable_to"] = entry.get("inapplicable_to")
        if "order" in answer:
            legacy["order"] = answer["order"]
        if entry.get("campaign_id") is not None:
            legacy["campaign"] = entry.get("campaign_name")
            legacy["campaign_id"] = entry["campaign_id"]
        if "session" in answer:
            legacy["session"] = answer["session"]
    else:
        error = entry["result"]["error"]
        legacy["reason"] = error["message"]
        legacy["error"] = error
    legacy["tracking_id"] = answer.get("tracking_id")
    legacy["metadata"] = entry.get("metadata") or {}
    return legacy


@operation(
    "validate-voucher",
    TAG_VALIDATIONS,
    path=CODE_PATH,
    response=LegacyValidation,
    errors=("NotFound",),
    deprecated=True,
    description="The deprecated single-code validation the JS SDK calls: an invalid code is a"
    " 200 with `valid: false`, `reason` and `error`.",
)
@post("/v1/vouchers/{code:str}/validate", status_code=200)
async def validate_voucher(code: FromPath[str], request: Request[Any, Any, Any]) -> ASGIApp:
    """Validate one code."""
    raw = await read_optional_json(request, dict) or {}
    body = _single(code, raw)
    async with connection(request) as conn:
        answer = await service.validate(conn, actor_of(request), body)
    return json_response(_legacy_validation(code, answer))


@operation(
    "validate-voucher-client-side",
    TAG_VALIDATIONS,
    query=(CODE,),
    response=LegacyValidation,
    errors=("InvalidQueryParams", "NotFound"),
    deprecated=True,
    description="The deprecated client-side validation (`GET /client/v1/validate?code=…&amount"
    "=…&customer[source_id]=…&tracking_id=…&metadata[key]=…&session_type=LOCK&session_key=…"
    "&session_ttl=…&session_ttl_unit=…`), as the JS client SDK sends it.",
)
@get("/client/v1/validate")
async def validate_by_query(request: Request[Any, Any, Any]) -> ASGIApp:
    """Validate one code, everything in the query."""
    params = request.query_params
    code = CODE.require(params)
    raw: dict[str, Any] = {}
    amount = query.text(params, "amount")
    if amount is not None:
        if not amount.isdigit():
            raise InvalidQueryParams(f"amount must be a whole number of cents, got {amount!r}")
        raw["order"] = {"amount": int(amount)}
    tracking_id = query.text(params, "tracking_id")
    if tracking_id is not None:
        raw["tracking_id"] = tracking_id
    session = _session_from_query(params)
    if session is not None:
        raw["session"] = session
    for name in params:
        match = _BRACKETS.match(name)
        if match is None:
            continue
        group, key = match.groups()
        value = query.text(params, name)
        if group in ("customer", "metadata"):
            raw.setdefault(group, {})[key] = value
        elif group == "order" and key == "amount" and value is not None and value.isdigit():
            raw.setdefault("order", {})["amount"] = int(value)
    body = _single(code, raw)
    async with connection(request) as conn:
        answer = await service.validate(conn, actor_of(request), body)
    return json_response(_legacy_validation(code, answer))


def _session_from_query(params: Any) -> dict[str, Any] | None:
    """The JS client SDK's `session_type`, `session_key`, `session_ttl`, `session_ttl_unit` as a
    validation's `session`, or None when no session is asked for."""
    session_type = query.text(params, "session_type")
    if session_type is None:
        return None
    session: dict[str, Any] = {"type": session_type}
    key = query.text(params, "session_key")
    if key is not None:
        session["key"] = key
    ttl = query.text(params, "session_ttl")
    if ttl is not None:
        if not ttl.isdigit():
            raise InvalidQueryParams(f"session_ttl must be a whole number, got {ttl!r}")
        session["ttl"] = int(ttl)
    unit = query.text(params, "session_ttl_unit")
    if unit is not None:
        session["ttl_unit"] = unit
    return session


@operation(
    "release-validation-session",
    TAG_VALIDATIONS,
    path=SESSION_PATH,
    errors=("NotFound",),
    description="Drops what a LOCK session reserved on the code.",
)
@delete("/v1/vouchers/{code:str}/sessions/{session_key:str}", status_code=204)
async def release_session(
    code: FromPath[str], session_key: FromPath[str], request: Request[Any, Any, Any]
) -> None:
    """Release a validation session."""
    async with connection(request) as conn:
        await service.release_session(conn, project_of(request).id, code, session_key)


# --- redemptions ---------------------------------------------------------------------------


@operation(
    "redeem-stacked-discounts",
    TAG_REDEMPTIONS,
    body=RedeemablesRequest,
    body_description="Up to 30 redeemables, the customer, the order, metadata.",
    response=RedeemedObject,
    errors=("NotFound", "Refused"),
    description="Redeems the codes for the customer (upserted) and the order (upserted PAID,"
    " the discounts applied in request order). Mode ALL (default): all or none; PARTIAL"
    " (`stacking_rules.redeemables_application_mode`): the applicable ones. Moves the"
    " customer's `summary.redemptions`, the codes' counts and balances, records"
    " `customer.redemption.succeeded`. A refusal is stored (`rf_…`, its `resource_id`) and"
    " records `customer.redemption.failed`. Also served at `/client/v1/redemptions`.",
)
@post(["/v1/redemptions", "/client/v1/redemptions"], status_code=200)
async def redeem_stacked(request: Request[Any, Any, Any]) -> ASGIApp:
    """Redeem redeemables."""
    body = _decode(await read_json(request, dict))
    async with connection(request) as conn:
        answer = await service.redeem(
            conn, actor_of(request), body, stacked=True, assets_of=assets_for(request)
        )
    return json_response(answer)


async def _redeem_single(
    request: Request[Any, Any, Any], code: str, body: RedeemablesRequest
) -> dict[str, Any]:
    """The deprecated single-code redemption: a refusal's `details` is the code (INCENTIVES.md
    §4.1, Voucherify's examples); the stored failure keeps the full sentence."""
    async with connection(request) as conn:
        try:
            return await service.redeem(
                conn, actor_of(request), body, stacked=False, assets_of=assets_for(request)
            )
        except Refusal as refused:
            if refused.status == 400:
                refused.details = code
            raise


@operation(
    "redeem-voucher",
    TAG_REDEMPTIONS,
    path=CODE_PATH,
    response=RedemptionObject,
    errors=("NotFound", "Refused"),
    deprecated=True,
    description="The deprecated single-code redemption the JS SDK calls: the redemption, or a"
    " 400 whose `resource_id` is the stored failed redemption (`rf_…`).",
)
@post("/v1/vouchers/{code:str}/redemption", status_code=200)
async def redeem_voucher(code: FromPath[str], request: Request[Any, Any, Any]) -> ASGIApp:
    """Redeem one code."""
    raw = await read_optional_json(request, dict) or {}
    body = _single(code, raw)
    return json_response(await _redeem_single(request, code, body))


@operation(
    "redeem-voucher-client-side",
    TAG_REDEMPTIONS,
    query=(CODE,),
    response=RedemptionObject,
    errors=("NotFound", "Refused", "InvalidQueryParams"),
    deprecated=True,
    description="The deprecated client-side redemption (`POST /client/v1/redeem?code=…`), as"
    " the JS client SDK sends it.",
)
@post("/client/v1/redeem", status_code=200)
async def redeem_by_query(request: Request[Any, Any, Any]) -> ASGIApp:
    """Redeem one code named in the query."""
    code = CODE.require(request.query_params)
    raw = await read_optional_json(request, dict) or {}
    body = _single(code, raw)
    return json_response(await _redeem_single(request, code, body))


@operation(
    "list-redemptions",
    TAG_REDEMPTIONS,
    query=(LIMIT, PAGE, ORDER, RESULT, CAMPAIGN, CUSTOMER, CREATED_BEFORE, CREATED_AFTER),
    response=RedemptionsList,
    errors=("InvalidQueryParams", "NotFound"),
    description="Redemptions, successes and stored failures (stacked parents left out), newest"
    " first by default.",
)
@get("/v1/redemptions")
async def list_redemptions(request: Request[Any, Any, Any]) -> ASGIApp:
    """A page of redemptions."""
    project = project_of(request)
    params = request.query_params
    filters: dict[str, Any] = {}
    result = RESULT.parse(params)
    if result is not None:
        filters["result"] = result
    for parameter, name in ((CREATED_BEFORE, "created_before"), (CREATED_AFTER, "created_after")):
        moment = parameter.parse(params)
        if moment is not None:
            filters[name] = moment
    async with snapshot(request) as conn:
        customer = CUSTOMER.parse(params)
        if customer is not None:
            filters["customer_id"] = await customers.resolve_id(conn, project.id, customer)
        campaign = CAMPAIGN.parse(params)
        if campaign is not None:
            filters["campaign_id"] = await voucher_lookups.campaign_id_of(
                conn, project.id, campaign
            )
        for name in params:
            match = _FILTER.match(name)
            if match is None:
                continue
            field = match.group(1)
            if field not in _FILTERED:
                raise InvalidQueryParams(f"Redemptions cannot be filtered by {field}")
            value = query.text(params, name)
            if value is None:
                continue
            if _FILTERED[field] == "voucher":
                filters["voucher_id"] = await voucher_lookups.voucher_id_of(conn, project.id, value)
            else:
                filters[_FILTERED[field]] = value
        body = await service.list_redemptions(
            conn,
            project.id,
            filters=filters,
            order=ORDER.parse(params) or "-created_at",
            limit=LIMIT.parse(params),
            page=PAGE.parse(params),
        )
    return json_response(body)


@operation(
    "get-redemption",
    TAG_REDEMPTIONS,
    path=REDEMPTION_PATH,
    response=dict[str, Any],
    errors=("NotFound",),
    description="A redemption (`r_…`, `rf_…`) or a rollback (`rr_…`, `rrf_…`).",
)
@get("/v1/redemptions/{redemption_id:str}")
async def get_redemption(redemption_id: FromPath[str], request: Request[Any, Any, Any]) -> ASGIApp:
    """Get a redemption."""
    async with snapshot(request) as conn:
        body = await service.get(conn, project_of(request).id, redemption_id)
    return json_response(body)


@operation(
    "get-voucher-redemptions",
    TAG_REDEMPTIONS,
    path=CODE_PATH,
    response=VoucherRedemptions,
    errors=("NotFound",),
    description="The code's redemptions and rollbacks, oldest first, with its quantity.",
)
@get("/v1/vouchers/{code:str}/redemption")
async def get_voucher_redemptions(code: FromPath[str], request: Request[Any, Any, Any]) -> ASGIApp:
    """A code's redemptions."""
    async with snapshot(request) as conn:
        body = await service.voucher_redemptions(conn, project_of(request).id, code)
    return json_response(body)


# --- rollbacks -----------------------------------------------------------------------------


async def _rollback(
    request: Request[Any, Any, Any], redemption_id: str, *, stacked: bool
) -> ASGIApp:
    params = request.query_params
    raw = await read_optional_json(request, dict) or {}
    try:
        body = convert(raw, RollbackBody) if raw else None
    except Exception as exc:
        raise InvalidPayload(str(exc)) from None
    reason = REASON.parse(params) or (given(body.reason) if body is not None else None)
    tracking_id = TRACKING_ID.parse(params) or (
        given(body.tracking_id) if body is not None else None
    )
    async with connection(request) as conn:
        answer = await service.rollback(
            conn,
            actor_of(request),
            redemption_id,
            reason=reason,
            tracking_id=tracking_id,
            body=body,
            stacked=stacked,
            assets_of=assets_for(request),
        )
    return json_response(answer)


@operation(
    "rollback-redemption",
    TAG_REDEMPTIONS,
    path=ROLLBACK_PATH,
    query=(REASON, TRACKING_ID),
    body=RollbackBody,
    body_description="Optional: the customer and order, which must match the redemption's.",
    response=RollbackObject,
    errors=("NotFound", "Refused"),
    description="Undoes a redemption within 3 months: gives back its use, credits and points,"
    " sets its order CANCELED, moves the customer's counters, records"
    " `customer.redemption.rollback.succeeded`. A refusal is stored (`rrf_…`). A stacked"
    " redemption's children are rolled back only through their parent (`/rollbacks`).",
)
@post("/v1/redemptions/{redemption_id:str}/rollback", status_code=200)
async def rollback_redemption(
    redemption_id: FromPath[str], request: Request[Any, Any, Any]
) -> ASGIApp:
    """Roll back a redemption."""
    return await _rollback(request, redemption_id, stacked=False)


@operation(
    "rollback-stacked-redemptions",
    TAG_REDEMPTIONS,
    path=PARENT_PATH,
    query=(REASON, TRACKING_ID),
    body=RollbackBody,
    body_description="Optional: the customer and order, which must match the redemption's.",
    response=RolledBackObject,
    errors=("NotFound", "Refused"),
    description="Rolls back every redemption of a stacked redemption: `{rollbacks,"
    " parent_rollback, order}`.",
)
@post("/v1/redemptions/{redemption_id:str}/rollbacks", status_code=200)
async def rollback_stacked(
    redemption_id: FromPath[str], request: Request[Any, Any, Any]
) -> ASGIApp:
    """Roll back a stacked redemption."""
    return await _rollback(request, redemption_id, stacked=True)


ROUTES = [
    validate_stacked,
    validate_voucher,
    validate_by_query,
    release_session,
    redeem_stacked,
    redeem_voucher,
    redeem_by_query,
    list_redemptions,
    get_redemption,
    get_voucher_redemptions,
    rollback_redemption,
    rollback_stacked,
]
