"""HTTP routes for publications, the client-side publish, and a customer's redeemables
(INCENTIVES.md §2, CONTRACT.md §5)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.customers import service as customers
from patron.customers.schemas import CUSTOMER_PATH
from patron.dependencies import actor_of, connection, project_of, snapshot
from patron.errors import InvalidPayload, InvalidQueryParams
from patron.kit import query
from patron.kit.http import json_response, path_key, read_json
from patron.kit.validation import convert
from patron.openapi.operation import operation
from patron.publications import service
from patron.publications.schemas import (
    PublicationCreate,
    PublicationCreated,
    PublicationsList,
    check_publication,
)
from patron.vouchers import redeemables
from patron.vouchers.assets import assets_for
from patron.vouchers.schemas import RedeemablesList

TAG = "Publications"
JOIN_ONCE = query.Choice(
    "join_once",
    "`true`: a customer holding a code of the campaign gets the same publication again.",
    {"true", "false"},
)
LIMIT = query.limit()
PAGE = query.page(1000)
ORDER = query.Choice("order", "Sort order (`-created_at`).", service.LIST_ORDERS)
CUSTOMER = query.Text("customer", "Only this customer's publications (`id` or `source_id`).")
CAMPAIGN = query.Text("campaign", "Only publications from this campaign (its name or id).")
VOUCHER = query.Text("voucher", "Only publications of this code.")
RESULT = query.Choice("result", "`SUCCESS` or `FAILURE`.", {"SUCCESS", "FAILURE"})
SOURCE_ID = query.Text("source_id", "Only the publication with this source_id.")
VOUCHER_TYPE = query.Choice(
    "voucher_type", "Only publications of this type of code.", {"discount", "loyalty", "gift"}
)
IS_REFERRAL = query.Choice("is_referral_code", "Only referral codes, or none.", {"true", "false"})
_VOUCHER_TYPES = {"discount": "DISCOUNT_VOUCHER", "loyalty": "LOYALTY_CARD", "gift": "GIFT_VOUCHER"}
# filters[<field>][conditions][$is]=<value>, as the SDKs send list filters.
# The operator in any letter case (`kit.filter_words`).
_FILTER = re.compile(r"^filters\[(\w+)\]\[conditions\]\[\$(?i:is|in)\](?:\[\d*\])?$")
_FILTERED = {"failure_code", "result", "source_id", "customer_id", "campaign_id"}
# customer[source_id]=…, campaign[name]=…, metadata[key]=… in GET /v1/publications/create.
_BRACKETS = re.compile(r"^(\w+)\[(\w+)\]$")


def _join_once(request: Request[Any, Any, Any]) -> bool | None:
    value = JOIN_ONCE.parse(request.query_params)
    return None if value is None else value == "true"


async def _publish(
    request: Request[Any, Any, Any], body: PublicationCreate, *, refuse_rejoining: bool
) -> ASGIApp:
    actor = actor_of(request)
    check_publication(body)
    async with connection(request) as conn:
        publication = await service.publish(
            conn,
            actor,
            body=body,
            join_once=_join_once(request),
            refuse_rejoining=refuse_rejoining,
            assets_of=assets_for(request),
        )
    return json_response(publication)


@operation(
    "create-publication",
    TAG,
    query=(JOIN_ONCE,),
    body=PublicationCreate,
    body_description="The customer, and the code or the campaign to publish from.",
    response=PublicationCreated,
    errors=("NotFound", "Refused"),
    description="Gives the customer (upserted as by POST /v1/customers) the code, or `count`"
    " codes of the campaign (an AUTO_UPDATE campaign makes new ones when it has none left)."
    " Records `customer.publication.succeeded`; a refusal is stored as a failed publication"
    " and records `customer.publication.failed`. Also served at `/client/v1/publish`, where"
    " the campaign may be given in the query (the JS client SDK's way).",
)
@post(["/v1/publications", "/client/v1/publish"], status_code=200)
async def create_publication(request: Request[Any, Any, Any]) -> ASGIApp:
    """Publish a code, or codes of a campaign, to a customer."""
    raw = await read_json(request, dict)
    campaign = query.text(request.query_params, "campaign")
    if campaign is not None and raw.get("campaign") is None and raw.get("voucher") is None:
        raw["campaign"] = {"name": campaign}
    body = _decode(raw)
    return await _publish(request, body, refuse_rejoining=False)


def _decode(raw: dict[str, Any]) -> PublicationCreate:
    if raw.get("customer") is None:
        raise InvalidPayload("Property .customer is required")
    try:
        body: PublicationCreate = convert(raw, PublicationCreate)
    except Exception as exc:  # msgspec.ValidationError, with the field named
        raise InvalidPayload(str(exc)) from None
    return body


@operation(
    "create-publication-by-query",
    TAG,
    query=(JOIN_ONCE,),
    response=PublicationCreated,
    errors=("NotFound", "Refused", "InvalidQueryParams"),
    description="POST /v1/publications with its body in the query: `customer[source_id]=…`,"
    " `voucher=…` or `campaign[name]=…`, `source_id`, `channel`, `metadata[key]=…`. A customer"
    " who already holds a loyalty card of the campaign gets `voucher_cannot_be_published`.",
)
@get("/v1/publications/create")
async def create_publication_by_query(request: Request[Any, Any, Any]) -> ASGIApp:
    """Publish a code to a customer, everything in the query."""
    raw: dict[str, Any] = {}
    for name in request.query_params:
        value = query.text(request.query_params, name)
        if value is None or name == "join_once":
            continue
        nested = _BRACKETS.match(name)
        if nested is not None:
            outer, inner = nested.groups()
            if outer not in ("customer", "campaign", "metadata"):
                raise InvalidQueryParams(f"Unknown query parameter {name}")
            part = raw.setdefault(outer, {})
            if not isinstance(part, dict):
                raise InvalidQueryParams(f"Query parameter {outer} is given twice")
            part[inner] = (
                int(value) if (outer, inner) == ("campaign", "count") and value.isdigit() else value
            )
        elif name in ("voucher", "source_id", "channel", "campaign"):
            raw[name] = value
        else:
            raise InvalidQueryParams(f"Unknown query parameter {name}")
    if isinstance(raw.get("voucher"), str):
        raw.pop("campaign", None)
    body = _decode(raw)
    return await _publish(request, body, refuse_rejoining=True)


@operation(
    "list-publications",
    TAG,
    query=(
        LIMIT,
        PAGE,
        ORDER,
        CUSTOMER,
        CAMPAIGN,
        VOUCHER,
        RESULT,
        SOURCE_ID,
        VOUCHER_TYPE,
        IS_REFERRAL,
    ),
    response=PublicationsList,
    errors=("InvalidQueryParams", "NotFound"),
    description="Publications, successes and failures, newest first by default. Besides the"
    " parameters, `filters[failure_code|result|source_id|customer_id|campaign_id][conditions]"
    "[$is]=…` filter as the SDKs send them.",
)
@get("/v1/publications")
async def list_publications(request: Request[Any, Any, Any]) -> ASGIApp:
    """A page of publications."""
    project = project_of(request)
    params = request.query_params
    filters: dict[str, Any] = {}
    for name in params:
        match = _FILTER.match(name)
        if match is not None:
            field = match.group(1)
            if field not in _FILTERED:
                raise InvalidQueryParams(f"Publications cannot be filtered by {field}")
            filters[field] = query.text(params, name)
    for parameter, field in ((RESULT, "result"), (SOURCE_ID, "source_id")):
        value = parameter.parse(params)
        if value is not None:
            filters[field] = value
    voucher_type = VOUCHER_TYPE.parse(params)
    if voucher_type is not None:
        filters["voucher_type"] = _VOUCHER_TYPES[voucher_type]
    referral = IS_REFERRAL.parse(params)
    if referral is not None:
        filters["is_referral_code"] = referral == "true"
    async with snapshot(request) as conn:
        customer = CUSTOMER.parse(params)
        if customer is not None:
            filters["customer_id"] = await customers.resolve_id(conn, project.id, customer)
        campaign = CAMPAIGN.parse(params)
        if campaign is not None:
            filters["campaign_id"] = await redeemables.campaign_id_of(conn, project.id, campaign)
        voucher = VOUCHER.parse(params)
        if voucher is not None:
            filters["voucher_id"] = await redeemables.voucher_id_of(conn, project.id, voucher)
        body = await service.list_publications(
            conn,
            project.id,
            filters=filters,
            order=ORDER.parse(params) or "-created_at",
            limit=LIMIT.parse(params),
            page=PAGE.parse(params),
        )
        return json_response(body)


REDEEMABLES_LIMIT = query.limit()
REDEEMABLES_ORDER = query.Choice(
    "order", "`id` (default) or `-id`.", {"id", "-id", "created_at", "-created_at"}
)
STARTING_AFTER = query.Text("starting_after_id", "The page after this redeemable.")


@operation(
    "list-customer-redeemables",
    "Customers",
    path=CUSTOMER_PATH,
    query=(REDEEMABLES_LIMIT, REDEEMABLES_ORDER, STARTING_AFTER),
    response=RedeemablesList,
    errors=("NotFound", "InvalidQueryParams"),
    description="The codes the customer holds, each with its status (first that applies:"
    " DISABLED, NOT_ACTIVE_YET, EXPIRED, USED, NO_BALANCE, ACTIVE).",
)
@get("/v1/customers/{customer_id:str}/redeemables")
async def list_customer_redeemables(
    customer_id: FromPath[str], request: Request[Any, Any, Any]
) -> ASGIApp:
    """The codes a customer holds."""
    project = project_of(request)
    params = request.query_params
    order = REDEEMABLES_ORDER.parse(params) or "id"
    async with snapshot(request) as conn:
        key = path_key(customer_id) or customer_id
        holder = await customers.resolve_id(conn, project.id, key)
        body = await redeemables.list_held(
            conn,
            project.id,
            holder,
            limit=REDEEMABLES_LIMIT.parse(params),
            descending=order.startswith("-"),
            starting_after_id=STARTING_AFTER.parse(params),
            assets_of=assets_for(request),
        )
        return json_response(body)
