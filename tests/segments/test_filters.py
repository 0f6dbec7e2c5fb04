"""The filter language: the SQL predicate and the in-memory evaluator agree on random
customers and random filters, and bad filters are refused with a message that names them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.db.pool import connect
from patron.errors import InvalidPayload
from patron.segments.filters import Facts, iso_timestamp, matches, parse
from patron.segments.repository import Predicate
from tests.conftest import RunningServer

NOW = datetime(2026, 6, 15, 12, 30, 45, 123456, tzinfo=UTC)

# --- random customers ------------------------------------------------------------------------

WORDS = ["", "a", "ab", "ba", "abc", "Ab", "b%", "_c", "zz"]
ISO_TEXTS = [
    "2026-06-14",
    "2026-06-15T12:00:00Z",
    "2026-06-13T23:59:59.5+02:00",
    "2026-07-01T00:00",
    "2021-02-30",  # not a date
    "2026-06-15T24:00:00Z",  # not a time
    "tomorrow",
]
text_value = st.one_of(st.none(), st.sampled_from(WORDS))
moment = st.integers(min_value=-40 * 24 * 60, max_value=40 * 24 * 60).map(
    lambda minutes: NOW + timedelta(minutes=minutes)
)
day = st.integers(min_value=-800, max_value=800).map(lambda days: NOW.date() + timedelta(days=days))
metadata_value = st.one_of(
    st.none(),
    st.sampled_from(WORDS),
    st.sampled_from(ISO_TEXTS),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([0.5, 2.25, -1.5, 1e16]),
    st.booleans(),
    st.sampled_from(["1", "2.5", "true"]),
)
# Loyalty programs by name, one with a dot and a quote (names are values, never SQL). An entry
# is what the write path stores, `{"points": n}`, or now and then a shape it never stores.
CAMPAIGNS = ["Club", "Tiers 2", "O'Neil.points"]
campaign_entry = st.one_of(
    st.fixed_dictionaries({"points": st.integers(min_value=0, max_value=200)}),
    st.sampled_from([{}, {"points": None}, {"points": "5"}, {"points": True}, {"points": 2.5}, 7]),
)


@st.composite
def customers(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=0, max_value=4))
    total = draw(st.integers(min_value=0, max_value=10_000)) if count else 0
    return {
        "source_id": draw(text_value),
        "name": draw(text_value),
        "email": draw(text_value),
        "phone": draw(text_value),
        "description": draw(text_value),
        "address": draw(
            st.one_of(st.none(), st.fixed_dictionaries({"city": text_value, "country": text_value}))
        ),
        "metadata": draw(st.dictionaries(st.sampled_from(["k", "n", "d"]), metadata_value)),
        "birthdate": draw(st.one_of(st.none(), day)),
        "created_at": draw(moment),
        "updated_at": draw(st.one_of(st.none(), moment)),
        "orders_total_count": count,
        "orders_total_amount": Decimal(total),
        "orders_last_amount": draw(st.integers(min_value=0, max_value=5000)) if count else 0,
        "orders_last_date": draw(moment) if count else None,
        "gift_balance": draw(st.integers(min_value=0, max_value=10_000)),
        "loyalty_balance": draw(st.integers(min_value=0, max_value=400)),
        "loyalty_campaigns": draw(st.dictionaries(st.sampled_from(CAMPAIGNS), campaign_entry)),
        "events": draw(st.dictionaries(st.sampled_from(["signup", "review"]), st.integers(1, 3))),
    }


# --- random filters --------------------------------------------------------------------------

TEXT_PATHS = [
    "source_id",
    "name",
    "email",
    "phone",
    "description",
    "address.city",
    "address.country",
]
NUMBER_PATHS = [
    "summary.orders.total_amount",
    "summary.orders.total_count",
    "summary.orders.average_amount",
    "summary.orders.last_order_amount",
    "summary.redemptions.total_redeemed",
    "summary.redemptions.gift.amount_to_go",
    "summary.redemptions.loyalty_card.points_to_go",
    "loyalty.points",
    "loyalty.referred_customers",
    *(f"loyalty_points.campaigns.{name}.points" for name in [*CAMPAIGNS, "Nobody's"]),
    "events.signup.count",
    "events.review.count",
]
BALANCE_PATHS = [path for path in NUMBER_PATHS if path.startswith(("loyalty", "summary.red"))]
DATETIME_PATHS = ["created_at", "updated_at", "summary.orders.last_order_date"]
METADATA_PATHS = ["metadata.k", "metadata.n", "metadata.d"]
DAYS = st.integers(min_value=0, max_value=60)
NUMBER = st.one_of(
    st.integers(min_value=-2, max_value=10_000), st.sampled_from(["0", "1", "2.5", 2.25])
)
# Near the balances the customers hold, so that comparisons split them.
BALANCE = st.integers(min_value=0, max_value=200)
ISO_VALUE = st.one_of(
    st.sampled_from(["2026-06-14", "2026-06-15T12:00:00Z", "2026-06-01T08:00:00+02:00"]),
    moment.map(lambda value: value.isoformat()),
)
ANY_TIME = ["$is_unknown", "$has_value"]


def _wrap(op: str, value: Any, as_list: bool) -> dict[str, Any]:
    return {op: [value] if as_list else value}


@st.composite
def number_conditions(draw: st.DrawFn, paths: list[str]) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(paths))
    op = draw(
        st.sampled_from(
            [
                "$is",
                "$is_not",
                "$more_than",
                "$less_than",
                "$more_than_equal",
                "$less_than_equal",
                "$in",
                "$not_in",
                *ANY_TIME,
            ]
        )
    )
    if op in ("$in", "$not_in"):
        return path, {op: draw(st.lists(BALANCE | NUMBER, min_size=1, max_size=3))}
    return path, _wrap(op, draw(BALANCE | NUMBER), draw(st.booleans()))


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["text", "number", "datetime", "date", "metadata"]))
    as_list = draw(st.booleans())
    if kind == "text":
        path = draw(st.sampled_from(TEXT_PATHS))
        op = draw(
            st.sampled_from(
                [
                    "$is",
                    "$is_not",
                    "$starts_with",
                    "$ends_with",
                    "$contains",
                    "$not_contain",
                    "$in",
                    "$not_in",
                    *ANY_TIME,
                ]
            )
        )
        if op in ("$in", "$not_in"):
            return path, {op: draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))}
        return path, _wrap(op, draw(st.sampled_from(WORDS)), as_list)
    if kind == "number":
        return draw(number_conditions(NUMBER_PATHS))
    if kind in ("datetime", "date"):
        path = draw(st.sampled_from(DATETIME_PATHS)) if kind == "datetime" else "birthdate"
        op = draw(
            st.sampled_from(
                [
                    "$before",
                    "$after",
                    "$is",
                    "$is_not",
                    "$is_days_ago",
                    "$is_days_in_future",
                    "$more_than_ago",
                    "$less_than_ago",
                    "$more_than_future",
                    "$less_than_future",
                    "$more_than",
                    "$less_than",
                    "$next_month",
                    *ANY_TIME,
                ]
            )
        )
        if op in ("$before", "$after", "$is", "$is_not"):
            return path, _wrap(op, draw(ISO_VALUE), as_list)
        if op == "$next_month":
            return path, _wrap(op, True, as_list)
        return path, _wrap(op, draw(DAYS), as_list)
    path = draw(st.sampled_from(METADATA_PATHS))
    op = draw(
        st.sampled_from(
            [
                "$is",
                "$is_not",
                "$in",
                "$not_in",
                "$starts_with",
                "$contains",
                "$more_than",
                "$less_than_equal",
                "$before",
                "$after",
                "$less_than_ago",
                "$is_days_ago",
                *ANY_TIME,
            ]
        )
    )
    if op in ("$is", "$is_not"):
        return path, _wrap(op, draw(metadata_value.filter(lambda v: v is not None)), as_list)
    if op in ("$in", "$not_in"):
        values = st.lists(metadata_value.filter(lambda v: v is not None), min_size=1, max_size=3)
        return path, {op: draw(values)}
    if op in ("$starts_with", "$contains"):
        return path, _wrap(op, draw(st.sampled_from(WORDS)), as_list)
    if op in ("$more_than", "$less_than_equal"):
        return path, _wrap(op, draw(NUMBER), as_list)
    if op in ("$before", "$after"):
        return path, _wrap(op, draw(ISO_VALUE), as_list)
    return path, _wrap(op, draw(DAYS), as_list)


ConditionStrategy = st.SearchStrategy[tuple[str, dict[str, Any]]]


def groups(
    depth: int = 0, leaves: ConditionStrategy | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        group: dict[str, Any] = {"junction": draw(st.sampled_from(["and", "or"]))}
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            path, ops = draw(conditions() if leaves is None else leaves)
            group.setdefault(path, {"conditions": {}})["conditions"].update(ops)
        if depth < 2 and draw(st.booleans()):
            group[f"group_{depth}"] = draw(groups(depth + 1, leaves))
        return group

    return build()


# --- the agreement ----------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def conn(server: RunningServer, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    connection = loop.run_until_complete(connect(server.db.dsn))
    yield connection
    loop.run_until_complete(connection.close())


async def _store(conn: Any, rows: list[dict[str, Any]]) -> list[asyncpg.Record]:
    await conn.execute(
        "INSERT INTO projects (id, name, app_id, app_token_hash)"
        " VALUES ('proj_f', 'f', 'app_f', '')"
    )
    taken: set[datetime] = set()
    for index, row in enumerate(rows):
        # A project's live customers have distinct creation moments (a unique index).
        while row["created_at"] in taken:
            row = {**row, "created_at": row["created_at"] + timedelta(microseconds=1)}
        taken.add(row["created_at"])
        await conn.execute(
            """
            INSERT INTO customers (project_id, id, source_id, name, email, phone, description,
                address, metadata, birthdate, created_at, updated_at, orders_total_count,
                orders_total_amount, orders_last_amount, orders_last_date, gift_balance,
                loyalty_balance, loyalty_campaigns)
            VALUES ('proj_f', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                $16, $17, $18)
            """,
            f"cust_{index}",
            None if row["source_id"] is None else f"{row['source_id']}{index}",
            *(
                row[name]
                for name in (
                    "name",
                    "email",
                    "phone",
                    "description",
                    "address",
                    "metadata",
                    "birthdate",
                    "created_at",
                    "updated_at",
                    "orders_total_count",
                    "orders_total_amount",
                    "orders_last_amount",
                    "orders_last_date",
                    "gift_balance",
                    "loyalty_balance",
                    "loyalty_campaigns",
                )
            ),
        )
        for event, count in row["events"].items():
            await conn.execute(
                "INSERT INTO customer_event_counts VALUES ('proj_f', $1, $2, $3, now(), now())",
                f"cust_{index}",
                event,
                count,
            )
    return list(await conn.fetch("SELECT * FROM customers WHERE project_id = 'proj_f'"))


async def _both_ways(
    conn: Any, rows: list[dict[str, Any]], filters: list[dict[str, Any]]
) -> list[tuple[set[str], set[str]]]:
    results = []
    transaction = conn.transaction()
    await transaction.start()
    try:
        stored = await _store(conn, rows)
        events = {f"cust_{index}": row["events"] for index, row in enumerate(rows)}
        for raw in filters:
            parsed = parse(raw, now=NOW)
            args: list[Any] = ["proj_f"]
            condition = Predicate(parsed.test).render(args)
            in_sql = {
                row["id"]
                for row in await conn.fetch(
                    f"SELECT c.id FROM customers c WHERE c.project_id = $1 AND {condition}",
                    *args,
                )
            }
            args = ["proj_f"]
            value = Predicate(parsed.test).render(args, where=False)
            decided = await conn.fetch(
                f"SELECT c.id, {value} AS inside FROM customers c WHERE c.project_id = $1", *args
            )
            assert all(row["inside"] is not None for row in decided), raw
            assert {row["id"] for row in decided if row["inside"]} == in_sql, raw
            in_memory = {
                row["id"] for row in stored if matches(parsed.test, Facts(row, events[row["id"]]))
            }
            results.append((in_sql, in_memory))
    finally:
        await transaction.rollback()
    return results


class TestSqlAndMemoryAgree:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rows=st.lists(customers(), min_size=1, max_size=6),
        filters=st.lists(groups(), min_size=1, max_size=6),
    )
    def test_on_random_customers_and_filters(
        self,
        conn: Any,
        loop: asyncio.AbstractEventLoop,
        rows: list[dict[str, Any]],
        filters: list[dict[str, Any]],
    ) -> None:
        for raw, (in_sql, in_memory) in zip(
            filters, loop.run_until_complete(_both_ways(conn, rows, filters)), strict=True
        ):
            assert in_sql == in_memory, raw

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rows=st.lists(customers(), min_size=2, max_size=6),
        filters=st.lists(groups(leaves=number_conditions(BALANCE_PATHS)), min_size=1, max_size=6),
    )
    def test_on_balances_and_loyalty_campaigns(
        self,
        conn: Any,
        loop: asyncio.AbstractEventLoop,
        rows: list[dict[str, Any]],
        filters: list[dict[str, Any]],
    ) -> None:
        """The paths read from the cards customers hold, each drawn far more often than among
        every path above."""
        for raw, (in_sql, in_memory) in zip(
            filters, loop.run_until_complete(_both_ways(conn, rows, filters)), strict=True
        ):
            assert in_sql == in_memory, raw

    @pytest.mark.parametrize(
        "value", [*ISO_TEXTS, "2026-06-15T12:00:00-14:00", "0001-01-01", "2026-6-1", "x"]
    )
    def test_dates_in_metadata_are_read_alike(
        self, conn: Any, loop: asyncio.AbstractEventLoop, value: str
    ) -> None:
        in_sql = loop.run_until_complete(conn.fetchval("SELECT patron_iso_timestamp($1)", value))
        assert in_sql == iso_timestamp(value)


# --- what each operator means ------------------------------------------------------------------


def decide(raw: dict[str, Any], row: dict[str, Any], events: dict[str, int] | None = None) -> bool:
    return matches(parse(raw, now=NOW).test, Facts(row, events or {}))


def condition(path: str, op: str, value: Any) -> dict[str, Any]:
    return {"junction": "and", path: {"conditions": {op: value}}}


class TestOperators:
    @pytest.mark.parametrize(
        ("op", "value", "name", "expected"),
        [
            ("$is", "Bob", "Bob", True),
            ("$is", ["Bob"], "bob", False),
            ("$is_not", "Bob", "Ann", True),
            ("$is_not", "Bob", None, True),
            ("$in", ["Ann", "Bob"], "Bob", True),
            ("$not_in", ["Ann", "Bob"], "Bob", False),
            ("$has_value", "", "Bob", True),
            ("$has_value", "", None, False),
            ("$is_unknown", "", None, True),
            ("$starts_with", "Bo", "Bob", True),
            ("$ends_with", "ob", "Bob", True),
            ("$ends_with", "Bo", "Bob", False),
            ("$contains", "o", "Bob", True),
            ("$not_contain", "o", "Bob", False),
            ("$not_contain", "o", None, True),
        ],
    )
    def test_text(self, op: str, value: Any, name: str | None, expected: bool) -> None:
        assert decide(condition("name", op, value), {"name": name}) is expected

    @pytest.mark.parametrize(
        ("op", "value", "count", "expected"),
        [
            ("$more_than", ["0"], 1, True),
            ("$more_than", [1], 1, False),
            ("$more_than_equal", 1, 1, True),
            ("$less_than", "2", 1, True),
            ("$less_than_equal", [0], 1, False),
            ("$is", 3, 3, True),
            ("$in", [1, "3"], 3, True),
            ("$not_in", [1, 3], 3, False),
            ("$more_than", ["0"], 0, False),
        ],
    )
    def test_numbers(self, op: str, value: Any, count: int, expected: bool) -> None:
        events = {"signup": count} if count else {}
        assert decide(condition("events.signup.count", op, value), {}, events) is expected

    @pytest.mark.parametrize(
        ("op", "value", "created", "expected"),
        [
            ("$before", "2026-06-01T00:00:00Z", NOW - timedelta(days=20), True),
            ("$after", "2026-06-01", NOW - timedelta(days=20), False),
            ("$more_than", [10], NOW - timedelta(days=20), True),
            ("$less_than", [10], NOW - timedelta(days=20), False),
            ("$more_than_ago", [10], NOW - timedelta(days=5), False),
            ("$less_than_ago", [10], NOW - timedelta(days=5), True),
            ("$less_than_ago", [10], NOW + timedelta(days=1), False),
            ("$is_days_ago", [2], datetime(2026, 6, 13, 0, 0, tzinfo=UTC), True),
            ("$is_days_ago", [2], datetime(2026, 6, 12, 23, 59, tzinfo=UTC), False),
            ("$is_days_in_future", [1], datetime(2026, 6, 16, 23, 59, tzinfo=UTC), True),
            ("$more_than_future", [1], NOW + timedelta(days=2), True),
            ("$less_than_future", [3], NOW + timedelta(days=2), True),
            ("$less_than_future", [3], NOW - timedelta(days=2), False),
            ("$next_month", [True], datetime(2020, 7, 4, tzinfo=UTC), True),
            ("$next_month", True, datetime(2020, 6, 4, tzinfo=UTC), False),
        ],
    )
    def test_dates(self, op: str, value: Any, created: datetime, expected: bool) -> None:
        assert decide(condition("created_at", op, value), {"created_at": created}) is expected

    def test_birthdays_next_month(self) -> None:
        raw = condition("birthdate", "$next_month", [True])
        assert decide(raw, {"birthdate": date(1990, 7, 31)})
        assert not decide(raw, {"birthdate": date(1990, 6, 30)})
        assert parse(raw, now=NOW).time_dependent
        assert not parse(condition("birthdate", "$before", "2000-01-01"), now=NOW).time_dependent

    @pytest.mark.parametrize(
        ("op", "value", "stored", "expected"),
        [
            ("$is", "gold", "gold", True),
            ("$is", "5", 5, True),
            ("$is", 5, "5", False),
            ("$is", "true", True, True),
            ("$in", ["a", 2.5], 2.5, True),
            ("$more_than", "4", 5, True),
            ("$more_than", 4, "5", False),
            ("$before", "2026-01-01", "2025-12-31", True),
            ("$before", "2026-01-01", "yesterday", False),
            ("$starts_with", "go", "gold", True),
            ("$has_value", "", False, True),
            ("$is_unknown", "", None, True),
        ],
    )
    def test_metadata_compared_by_the_stored_type(
        self, op: str, value: Any, stored: Any, expected: bool
    ) -> None:
        row = {"metadata": {"tier": stored}}
        assert decide(condition("metadata.tier", op, value), row) is expected

    @pytest.mark.parametrize(
        ("op", "value", "campaigns", "expected"),
        [
            ("$more_than", [100], {"Club": {"points": 150}}, True),
            ("$more_than", [100], {"Club": {"points": 100}}, False),
            ("$is", 0, {"Club": {"points": 0}}, True),
            ("$has_value", "", {"Club": {"points": 0}}, True),
            # Not a member: no value, like a missing metadata key.
            ("$is", 0, {"Other": {"points": 0}}, False),
            ("$less_than", [1], {}, False),
            ("$has_value", "", {"Other": {"points": 5}}, False),
            ("$is_unknown", "", {"Other": {"points": 5}}, True),
            ("$is_unknown", "", {"Club": {"points": 5}}, False),
            ("$is_not", 5, {}, True),
            ("$not_in", [5], {"Club": {"points": 5}}, False),
        ],
    )
    def test_loyalty_campaign_points_only_for_members(
        self, op: str, value: Any, campaigns: dict[str, Any], expected: bool
    ) -> None:
        row = {"loyalty_campaigns": campaigns, "loyalty_balance": 150}
        raw = condition("loyalty_points.campaigns.Club.points", op, value)
        assert decide(raw, row) is expected

    @pytest.mark.parametrize(
        ("path", "row", "value"),
        [
            ("summary.redemptions.gift.amount_to_go", {"gift_balance": 2500}, 2500),
            ("summary.redemptions.loyalty_card.points_to_go", {"loyalty_balance": 40}, 40),
            ("loyalty.points", {"loyalty_balance": 40}, 40),
            ("loyalty.points", {}, 0),
            ("summary.redemptions.total_redeemed", {"loyalty_balance": 40}, 0),
            ("loyalty.referred_customers", {"loyalty_balance": 40}, 0),
        ],
    )
    def test_balances_read_the_stored_sums(
        self, path: str, row: dict[str, Any], value: int
    ) -> None:
        assert decide(condition(path, "$is", value), row)
        assert decide(condition(path, "$has_value", ""), row)

    def test_nested_groups(self) -> None:
        raw = {
            "junction": "or",
            "name": {"conditions": {"$is": "Ann"}},
            "either": {
                "junction": "and",
                "email": {"conditions": {"$ends_with": "@shop.example"}},
                "summary.orders.total_count": {"conditions": {"$more_than": 0}},
            },
        }
        shopper = {"email": "x@shop.example", "orders_total_count": 2, "orders_total_amount": 5}
        assert decide(raw, shopper)
        assert decide(raw, {"name": "Ann"})
        assert not decide(raw, {"email": "x@shop.example"})


class TestBadFilters:
    @pytest.mark.parametrize(
        ("raw", "named"),
        [
            ([], "must be an object"),
            ({"junction": "nand"}, "junction"),
            ({"colour": {"conditions": {"$is": "red"}}}, "'colour'"),
            ({"name": {"conditions": {"$between": [1, 2]}}}, "'$between'"),
            ({"name": {"conditions": {"$more_than": [1]}}}, "'$more_than'"),
            ({"name": {"conditions": {"$is": ["a", "b"]}}}, "exactly one value"),
            ({"name": {"conditions": {"$in": []}}}, "at least one value"),
            ({"name": {"conditions": {"$is": 1}}}, "text values"),
            ({"created_at": {"conditions": {"$more_than": [-1]}}}, "whole number of days"),
            ({"created_at": {"conditions": {"$more_than": [1.5]}}}, "whole number of days"),
            ({"created_at": {"conditions": {"$next_month": [False]}}}, "the value true"),
            ({"created_at": {"conditions": {"$starts_with": "2"}}}, "'$starts_with'"),
            ({"loyalty.points": {"conditions": {"$is": True}}}, "number values"),
            ({"metadata.x": {"conditions": {"$is": {"a": 1}}}}, "text, number or boolean"),
            ({"metadata.x": {"conditions": {"$dow": [1]}}}, "'$dow'"),
            ({"name": {"conditions": {}}}, "conditions must be"),
            ({"name": {"conditions": {"$is": "a"}, "junction": "and"}}, "unknown property"),
            ({"name": "Bob"}, "must be an object"),
            (
                {
                    "g": {
                        "junction": "and",
                        "g": {
                            "junction": "and",
                            "g": {
                                "junction": "and",
                                "g": {
                                    "junction": "and",
                                    "g": {
                                        "junction": "and",
                                        "g": {
                                            "junction": "and",
                                            "g": {"junction": "and", "g": {"junction": "and"}},
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
                "nest at most",
            ),
        ],
    )
    def test_is_refused_naming_the_problem(self, raw: Any, named: str) -> None:
        with pytest.raises(InvalidPayload) as raised:
            parse(raw, now=NOW)
        assert named in str(raised.value.details)
