"""HTTP routes for a campaign's transactions and summary (INCENTIVES.md §1.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.types import ASGIApp

from patron.campaigns import transactions as service
from patron.campaigns.schemas import campaign_not_found
from patron.campaigns.transactions import CampaignSummary, Condition
from patron.dependencies import project_of, snapshot
from patron.errors import InvalidQueryParams
from patron.kit import filter_words, query
from patron.kit.http import json_response, key_or_404
from patron.kit.query import QueryParams
from patron.kit.time import DATE_PATTERN
from patron.openapi.operation import PathParameter, operation
from patron.vouchers.schemas import TransactionsList

TAG = "Campaigns"
PATH = {"campaign_id": PathParameter("campaignId", "The campaign's `id` or its name.")}
_DATE = re.compile(DATE_PATTERN)


@dataclass(frozen=True)
class Day(query.Parameter):
    """A calendar date, `YYYY-MM-DD` (UTC); None when left out."""

    def parse(self, params: QueryParams) -> date | None:
        raw = query.text(params, self.name)
        if raw is None:
            return None
        if not _DATE.fullmatch(raw):
            raise InvalidQueryParams(f"Query parameter {self.name} must be a date (YYYY-MM-DD)")
        return date.fromisoformat(raw)

    def schema(self) -> query.Schema:
        return {"type": "string", "pattern": DATE_PATTERN, "example": "2024-01-02"}


LIMIT = query.limit()
ORDER = query.Choice(
    "order",
    "`-id` (default): newest first; `id`: oldest first (the order they were made in).",
    service.LIST_ORDERS,
)
STARTING_AFTER = query.Text("starting_after_id", "The page after this transaction.")
JUNCTION = query.Junction(
    "filters[junction]", "How the filters combine: `and` (default) or `or`.", {"and", "or"}
)
START_DATE = Day("start_date", "Only what happened from this day on (UTC).")
END_DATE = Day("end_date", "Only what happened until the end of this day (UTC).")
# filters[<field>][conditions][<operator>]=<value> (`[$in][]`/`[$in][0]` for lists); the
# Python SDK leaves out `[conditions]`.
_FILTER = re.compile(r"^filters\[(\w+)\](\[conditions\])?\[(\$\w+)\](?:\[[0-9]*\])?$")
# What the Python SDK 6.1.1 sends for every operator it was not given (it drops the values it
# was given too): not a filter.
_SDK_PLACEHOLDER = "None"


def _values(params: Any, name: str) -> list[str]:
    getall = getattr(params, "getall", None)
    values: list[str] = list(getall(name)) if getall is not None else [params[name]]
    for value in values:
        if "\x00" in value:
            raise InvalidQueryParams(f"Query parameter {name} must not contain NUL characters")
    return values


def _filters(params: QueryParams) -> list[Condition]:
    """The `filters[…]` conditions of the query: (field, operator, value)."""
    conditions: list[Condition] = []
    lists: dict[tuple[str, str], list[str]] = {}
    for name in dict.fromkeys(params):
        if not name.startswith("filters[") or name == JUNCTION.name:
            continue
        match = _FILTER.match(name)
        if match is None:
            raise InvalidQueryParams(f"Unknown query parameter {name}")
        field, conditions_part, operator = match.groups()
        operator = filter_words.operator(operator)
        values = _values(params, name)
        if conditions_part is None and all(value == _SDK_PLACEHOLDER for value in values):
            continue
        if field not in service.FILTER_FIELDS:
            raise InvalidQueryParams(f"Transactions cannot be filtered by {field}")
        if operator not in service.FILTER_OPERATORS:
            raise InvalidQueryParams(f"Unknown filter operator {operator} in {name}")
        if operator in service.LIST_OPERATORS:
            lists.setdefault((field, operator), []).extend(values)
        elif operator in service.VALUELESS_OPERATORS:
            conditions.append((field, operator, None))
        else:
            if len(values) > 1:
                raise InvalidQueryParams(f"Query parameter {name} must be given once")
            conditions.append((field, operator, values[0]))
    conditions.extend((field, operator, values) for (field, operator), values in lists.items())
    return conditions


def campaign_key(raw: str) -> str:
    return key_or_404(raw, campaign_not_found)


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class CampaignTransactionRoutes(Controller):
    path = "/v1/campaigns"

    @operation(
        "list-campaign-transactions",
        TAG,
        path=PATH,
        query=(LIMIT, ORDER, STARTING_AFTER, JUNCTION),
        response=TransactionsList,
        errors=("NotFound", "InvalidQueryParams"),
        description="The balance transactions of all the campaign's codes (gift credits,"
        " loyalty points), binned codes' included; a discount campaign has none. Filters as"
        " the SDKs send them: `filters[id|voucher_id][conditions][$is|$is_not|$in|$not_in|"
        "$starts_with|$ends_with|$contains|$not_contain|$has_value|$is_unknown]=…`, joined by"
        " `filters[junction]`. No `more_starting_after` when `has_more` is false.",
    )
    @get("/{campaign_id:str}/transactions")
    async def list_campaign_transactions(
        self, request: Request[Any, Any, Any], campaign_id: FromPath[str]
    ) -> ASGIApp:
        """A campaign's balance transactions, newest first by default."""
        project = project_of(request)
        params = request.query_params
        key = campaign_key(campaign_id)
        limit = LIMIT.parse(params)
        order = ORDER.parse(params) or "-id"
        starting_after_id = STARTING_AFTER.parse(params)
        junction = JUNCTION.parse(params) or "and"
        conditions = _filters(params)
        async with snapshot(request) as conn:
            body = await service.list_transactions(
                conn,
                project.id,
                key,
                limit=limit,
                descending=order == "-id",
                starting_after_id=starting_after_id,
                conditions=conditions,
                junction=junction,
            )
            return json_response(body)

    @operation(
        "get-campaign-summary",
        TAG,
        path=PATH,
        query=(START_DATE, END_DATE),
        response=CampaignSummary,
        errors=("NotFound", "InvalidQueryParams"),
        description="Counts and sums of what happened in the campaign (between `start_date`"
        " and `end_date`, both included): codes created and binned, publications, and for"
        " gift cards and loyalty cards the credits (cents) and points added, removed and"
        " binned, from their transactions. Redemptions, rollbacks, validations, orders and"
        " discounts count 0 until Patron has them.",
    )
    @get("/{campaign_id:str}/summary")
    async def get_campaign_summary(
        self, request: Request[Any, Any, Any], campaign_id: FromPath[str]
    ) -> ASGIApp:
        """A campaign's summary."""
        project = project_of(request)
        params = request.query_params
        key = campaign_key(campaign_id)
        start, end = START_DATE.parse(params), END_DATE.parse(params)
        if start is not None and end is not None and end < start:
            raise InvalidQueryParams("Query parameter end_date must not be before start_date")
        since = None if start is None else _moment(start)
        before = None if end is None or end == date.max else _moment(end + timedelta(days=1))
        async with snapshot(request) as conn:
            body = await service.summary(conn, project.id, key, since=since, before=before)
            return json_response(body)
