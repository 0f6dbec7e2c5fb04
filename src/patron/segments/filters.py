"""Voucherify's segment filter language: parsed and checked into a small tree of tests.

A filter is `{"junction": "and"|"or", "<path>": {"conditions": {"$op": values}}, …}`; a key
whose value holds a `junction` instead of `conditions` is a nested group. The junction and the
operators are read in any letter case (`"AND"`, as Voucherify's examples write it;
`kit.filter_words`). Parsing validates
every path, operator and value (a 400 naming it otherwise) and turns relative dates into
absolute bounds for a given `now`. The tree has two readers that must agree: the repository
renders it as one parameterised SQL predicate over customers, and `matches` decides it for
one customer in memory (a property test checks they agree).

Every leaf is false when the customer has no value for its path, so `NOT` is an exact
negation in both readers: `$is_not`, `$not_in` and `$not_contain` are the negations of `$is`,
`$in` and `$contains`, and match a customer with no value.

A loyalty campaign's points (`loyalty_points.campaigns.<name>.points`) are a value only for a
customer who holds a card of that campaign, as Voucherify treats a customer outside a program as
not having the property: for anyone else they behave exactly like a missing metadata key
(`$has_value` false, `$is_unknown` true, comparisons false, their negations true). A member
with 0 points has the value 0. The balances summed over all cards (`loyalty.points`,
`summary.redemptions.*.amount_to_go`/`points_to_go`) are 0 for a customer with no card.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from patron.errors import InvalidPayload
from patron.kit import filter_words

Kind = Literal["text", "number", "datetime", "date", "boolean"]

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_VALUES = 1000

# --- what a test reads ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A customer field by its filter path (see FIELDS)."""

    path: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Metadata:
    """A top-level metadata key, read as `kind` (no value when stored as another JSON type)."""

    key: str
    kind: Kind | None  # None: any JSON value but null


@dataclass(frozen=True, slots=True)
class EventCount:
    """How many custom events of this name the customer has (0 when none)."""

    event: str
    kind: Kind = "number"


@dataclass(frozen=True, slots=True)
class CampaignPoints:
    """The balance of the loyalty campaign of this name the customer holds a card of (no value
    when it holds none): `customers.loyalty_campaigns -> name -> points`."""

    campaign: str
    kind: Kind = "number"


Expr = Column | Metadata | EventCount | CampaignPoints

# --- tests ---------------------------------------------------------------------------------

CompareOp = Literal["=", "<", ">", "<=", ">="]


@dataclass(frozen=True, slots=True)
class Compare:
    expr: Expr
    op: CompareOp
    value: Any


@dataclass(frozen=True, slots=True)
class AnyOf:
    expr: Expr
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Text:
    expr: Expr
    how: Literal["starts", "ends", "contains"]
    value: str


@dataclass(frozen=True, slots=True)
class Present:
    expr: Expr


@dataclass(frozen=True, slots=True)
class Month:
    """The value's month of the year (in UTC) is `month` — birthdays next month, say."""

    expr: Expr
    month: int


@dataclass(frozen=True, slots=True)
class Not:
    test: Test


@dataclass(frozen=True, slots=True)
class Junction:
    how: Literal["and", "or"]
    tests: tuple[Test, ...]


Test = Compare | AnyOf | Text | Present | Month | Not | Junction


@dataclass(slots=True)
class Filter:
    """A parsed filter: its test, and what evaluating it needs."""

    test: Test
    events: frozenset[str] = frozenset()
    time_dependent: bool = False


# --- the paths customers are segmented on --------------------------------------------------

FIELDS: dict[str, Kind] = {
    "id": "text",
    "source_id": "text",
    "name": "text",
    "email": "text",
    "phone": "text",
    "description": "text",
    "address.city": "text",
    "address.state": "text",
    "address.line_1": "text",
    "address.line_2": "text",
    "address.country": "text",
    "address.postal_code": "text",
    "created_at": "datetime",
    "updated_at": "datetime",
    "birthdate": "date",
    "birthday": "date",
    "summary.orders.total_amount": "number",
    "summary.orders.total_count": "number",
    "summary.orders.average_amount": "number",
    "summary.orders.last_order_amount": "number",
    "summary.orders.last_order_date": "datetime",
    # Sums of the balances of the cards the customer holds (0 with none): cents, points.
    "summary.redemptions.gift.amount_to_go": "number",
    "summary.redemptions.loyalty_card.points_to_go": "number",
    "loyalty.points": "number",
    # Redemption counters (migration 0015), one per redeemable: counts, cents, points.
    "summary.redemptions.total_redeemed": "number",
    "summary.redemptions.total_failed": "number",
    "summary.redemptions.total_succeeded": "number",
    "summary.redemptions.total_rolled_back": "number",
    "summary.redemptions.total_rollback_failed": "number",
    "summary.redemptions.total_rollback_succeeded": "number",
    "summary.redemptions.gift.redeemed_amount": "number",
    "summary.redemptions.loyalty_card.redeemed_points": "number",
}

# Recorded by features Patron does not have yet (referrals): every customer has the value 0.
ZERO_FIELDS = frozenset({"loyalty.referred_customers"})

_EVENT_PATH = re.compile(r"^events\.(.+)\.count$", re.DOTALL)
_CAMPAIGN_PATH = re.compile(r"^loyalty_points\.campaigns\.(.+)\.points$", re.DOTALL)


def resolve_path(path: str, fields: Mapping[str, Kind] | None = None) -> Expr:
    """The value a filter path reads; 400 for a path customers have no such value on.

    With `fields` (another object's paths, e.g. an order export's), only those and
    `metadata.*` are read."""
    if fields is not None:
        if (kind := fields.get(path)) is not None:
            return Column(path, kind)
        if path.startswith("metadata.") and len(path) > len("metadata."):
            return Metadata(path[len("metadata.") :], None)
        raise InvalidPayload(f"Unknown filter path {path!r}")
    kind = FIELDS.get(path)
    if kind is not None:
        return Column(path, kind)
    if path in ZERO_FIELDS:
        return Column(path, "number")
    if path.startswith("metadata.") and len(path) > len("metadata."):
        return Metadata(path[len("metadata.") :], None)
    if match := _EVENT_PATH.match(path):
        return EventCount(match.group(1))
    if match := _CAMPAIGN_PATH.match(path):
        return CampaignPoints(match.group(1))
    raise InvalidPayload(f"Unknown filter path {path!r}")


# --- reading condition values --------------------------------------------------------------

_NUMBER = re.compile(r"^-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?$")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Kept equal to the pattern of patron_iso_timestamp() in the segments migration.
ISO_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?$"
)


def iso_timestamp(value: str) -> datetime | None:
    """A strict ISO 8601 date or date-time (UTC when no offset) or None, as the database's
    patron_iso_timestamp() reads it."""
    try:
        if ISO_DATE.match(value):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        if not ISO_DATETIME.match(value):
            return None
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def as_number(value: Any) -> Decimal | None:
    """A JSON number, or text spelling one ("0" as Voucherify's dashboard sends it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as this float: the digits the JSON had.
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            return None
    return None


def as_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    return None


class _Values:
    """The values of one operator, checked against what the operator needs."""

    def __init__(self, path: str, op: str, raw: Any) -> None:
        self.path = path
        self.op = op
        self.items: list[Any] = raw if isinstance(raw, list) else [raw]
        if len(self.items) > MAX_VALUES:
            raise self.error(f"at most {MAX_VALUES} values")

    def error(self, needs: str) -> InvalidPayload:
        return InvalidPayload(f"Filter {self.path!r}: operator {self.op} needs {needs}")

    def one(self) -> Any:
        if len(self.items) != 1:
            raise self.error("exactly one value")
        return self.items[0]

    def some(self) -> list[Any]:
        if not self.items:
            raise self.error("at least one value")
        return self.items

    def text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.error("text values")
        if "\x00" in value:
            raise self.error("text without NUL characters")
        return value

    def number(self, value: Any) -> Decimal:
        number = as_number(value)
        if number is None:
            raise self.error("number values")
        return number

    def days(self) -> int:
        value = self.one()
        number = as_number(value)
        if number is None or number != number.to_integral_value() or not 0 <= number <= 100_000:
            raise self.error("a whole number of days from 0 to 100000")
        return int(number)

    def moment(self) -> datetime:
        value = self.one()
        parsed = iso_timestamp(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.error("an ISO 8601 date or date-time")
        return parsed


# --- parsing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    now: datetime
    fields: Mapping[str, Kind] | None = None
    events: set[str] = field(default_factory=set)
    time_dependent: bool = False
    conditions: int = 0


def parse(raw: Any, *, now: datetime, fields: Mapping[str, Kind] | None = None) -> Filter:
    """Check a filter and build its test, relative dates taken from `now` (aware); `fields`
    replaces the customer paths (`resolve_path`)."""
    context = _Context(now=now.astimezone(UTC), fields=fields)
    test = _group(raw, context, depth=1, where="filter")
    return Filter(
        test=test, events=frozenset(context.events), time_dependent=context.time_dependent
    )


def _group(raw: Any, context: _Context, *, depth: int, where: str) -> Test:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"Property {where} must be an object")
    if depth > MAX_DEPTH:
        raise InvalidPayload(f"Filter groups may nest at most {MAX_DEPTH} deep")
    junction = filter_words.junction(raw.get("junction", "and"))
    if junction not in filter_words.JUNCTIONS:
        raise InvalidPayload(f"Property {where}.junction must be 'and' or 'or'")
    tests: list[Test] = []
    for key, value in raw.items():
        if key == "junction":
            continue
        if not isinstance(value, dict):
            raise InvalidPayload(f"Filter {key!r} must be an object with conditions")
        if "conditions" in value:
            tests.extend(_path(key, value, context))
        elif "junction" in value:
            tests.append(_group(value, context, depth=depth + 1, where=f"{where}.{key}"))
        else:
            raise InvalidPayload(f"Filter {key!r} must hold conditions or a junction")
    return Junction(junction, tuple(tests))


def _path(path: str, raw: dict[str, Any], context: _Context) -> list[Test]:
    extra = set(raw) - {"conditions"}
    if extra:
        raise InvalidPayload(f"Filter {path!r}: unknown property {sorted(extra)[0]!r}")
    conditions = raw["conditions"]
    if not isinstance(conditions, dict) or not conditions:
        raise InvalidPayload(f"Filter {path!r}: conditions must be an object of operators")
    expr = resolve_path(path, context.fields)
    if isinstance(expr, EventCount):
        context.events.add(expr.event)
    tests = []
    for op, value in conditions.items():
        context.conditions += 1
        if context.conditions > MAX_CONDITIONS:
            raise InvalidPayload(f"A filter has at most {MAX_CONDITIONS} conditions")
        # A documented operator in any letter case is that operator (`$IS`); another stays as
        # sent, and its 400 names it so.
        op = filter_words.operator(op)
        tests.append(_condition(expr, op, _Values(path, op, value), context))
    return tests


def _condition(expr: Expr, op: str, values: _Values, context: _Context) -> Test:
    if op == "$has_value":
        return Present(_any_kind(expr))
    if op == "$is_unknown":
        return Not(Present(_any_kind(expr)))
    if isinstance(expr, Metadata):
        return _metadata_condition(expr, op, values, context)
    kind = expr.kind
    if kind in ("text", "number"):
        return _scalar_condition(expr, op, values, "text" if kind == "text" else "number")
    return _date_condition(expr, op, values, context)


def _any_kind(expr: Expr) -> Expr:
    return Metadata(expr.key, None) if isinstance(expr, Metadata) else expr


def _negated(op: str) -> tuple[str, bool]:
    negations = {"$is_not": "$is", "$not_in": "$in", "$not_contain": "$contains"}
    return (negations[op], True) if op in negations else (op, False)


_TEXT_MATCH: dict[str, Literal["starts", "ends", "contains"]] = {
    "$starts_with": "starts",
    "$ends_with": "ends",
    "$contains": "contains",
}

_ORDER: dict[str, CompareOp] = {
    "$more_than": ">",
    "$less_than": "<",
    "$more_than_equal": ">=",
    "$less_than_equal": "<=",
}


def _scalar_condition(
    expr: Expr, op: str, values: _Values, kind: Literal["text", "number"]
) -> Test:
    """Text and numbers: equality and sets for both, matching for text, order for numbers."""
    positive, negate = _negated(op)
    read = values.text if kind == "text" else values.number
    test: Test
    if positive == "$is":
        test = Compare(expr, "=", read(values.one()))
    elif positive == "$in":
        test = AnyOf(expr, tuple(read(value) for value in values.some()))
    elif kind == "text" and positive in _TEXT_MATCH:
        test = Text(expr, _TEXT_MATCH[positive], values.text(values.one()))
    elif kind == "number" and positive in _ORDER:
        test = Compare(expr, _ORDER[positive], values.number(values.one()))
    else:
        raise _unknown_operator(op, kind)
    return Not(test) if negate else test


def _date_condition(expr: Expr, op: str, values: _Values, context: _Context) -> Test:
    """Dates and date-times. `$more_than`/`$less_than` count days ago, as Voucherify's do."""
    is_date = expr.kind == "date"
    now = context.now
    today = now.date()

    def point(moment: datetime) -> date | datetime:
        return moment.astimezone(UTC).date() if is_date else moment

    def day(offset: int) -> Test:
        """The value falls on the day `offset` days from today (UTC)."""
        start = today + timedelta(days=offset)
        if is_date:
            return Compare(expr, "=", start)
        begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
        return Junction(
            "and",
            (Compare(expr, ">=", begin), Compare(expr, "<", begin + timedelta(days=1))),
        )

    def shifted(days: int) -> date | datetime:
        return today + timedelta(days=days) if is_date else now + timedelta(days=days)

    relative = {
        "$is_days_ago",
        "$is_days_in_future",
        "$more_than_ago",
        "$less_than_ago",
        "$more_than_future",
        "$less_than_future",
        "$more_than",
        "$less_than",
        "$next_month",
    }
    if op in relative:
        context.time_dependent = True
    positive, negate = _negated(op)
    test: Test
    if positive == "$is":
        test = Compare(expr, "=", point(values.moment()))
    elif op == "$before":
        test = Compare(expr, "<", point(values.moment()))
    elif op == "$after":
        test = Compare(expr, ">", point(values.moment()))
    elif op == "$is_days_ago":
        test = day(-values.days())
    elif op == "$is_days_in_future":
        test = day(values.days())
    elif op in ("$more_than_ago", "$more_than"):
        test = Compare(expr, "<", shifted(-values.days()))
    elif op in ("$less_than_ago", "$less_than"):
        test = Junction(
            "and", (Compare(expr, ">", shifted(-values.days())), Compare(expr, "<=", shifted(0)))
        )
    elif op == "$more_than_future":
        test = Compare(expr, ">", shifted(values.days()))
    elif op == "$less_than_future":
        test = Junction(
            "and", (Compare(expr, ">=", shifted(0)), Compare(expr, "<", shifted(values.days())))
        )
    elif op == "$next_month":
        if values.one() not in (True, "true"):
            raise values.error("the value true")
        test = Month(expr, today.month % 12 + 1)
    else:
        raise _unknown_operator(op, "date")
    return Not(test) if negate else test


def _metadata_condition(expr: Metadata, op: str, values: _Values, context: _Context) -> Test:
    """Compared by the stored value's type: the condition's values are read as that type, and
    a stored value of another type (or none) does not match."""
    key = expr.key
    positive, negate = _negated(op)
    test: Test
    if positive in ("$is", "$in"):
        items = [values.one()] if positive == "$is" else values.some()
        for item in items:
            if not isinstance(item, str | int | float | bool):
                raise values.error("text, number or boolean values")
        tests: list[Test] = []
        texts = tuple(dict.fromkeys(item for item in items if isinstance(item, str)))
        numbers = tuple(dict.fromkeys(n for n in map(as_number, items) if n is not None))
        booleans = tuple(dict.fromkeys(b for b in map(as_boolean, items) if b is not None))
        if texts:
            tests.append(AnyOf(Metadata(key, "text"), texts))
        if numbers:
            tests.append(AnyOf(Metadata(key, "number"), numbers))
        if booleans:
            tests.append(AnyOf(Metadata(key, "boolean"), booleans))
        test = Junction("or", tuple(tests))
    elif positive in _TEXT_MATCH:
        test = _scalar_condition(Metadata(key, "text"), positive, values, "text")
    elif positive in _ORDER:
        test = _scalar_condition(Metadata(key, "number"), positive, values, "number")
    else:
        try:
            test = _date_condition(Metadata(key, "datetime"), positive, values, context)
        except InvalidPayload as exc:
            if positive in _DATE_OPERATORS:
                raise
            raise _unknown_operator(op, "metadata") from exc
    return Not(test) if negate else test


_DATE_OPERATORS = frozenset(
    {
        "$before",
        "$after",
        "$is_days_ago",
        "$is_days_in_future",
        "$more_than_ago",
        "$less_than_ago",
        "$more_than_future",
        "$less_than_future",
        "$next_month",
    }
)


def _unknown_operator(op: str, kind: str) -> InvalidPayload:
    return InvalidPayload(f"Unknown filter operator {op!r} for a {kind} value")


# --- deciding a filter for one customer ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What a filter reads of one customer: its stored row and its custom event counts."""

    row: Any  # a stored customer row (or a mapping of its columns)
    events: Mapping[str, int] = field(default_factory=dict)


def _orders_average(row: Mapping[str, Any]) -> Decimal:
    total = int(row.get("orders_total_amount") or 0)
    count = int(row.get("orders_total_count") or 0)
    return Decimal(total // count if count else 0)


def _address(part: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: (row.get("address") or {}).get(part)


def _number_column(column: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: Decimal(row.get(column) or 0)


def _sum_columns(*columns: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: sum((Decimal(row.get(column) or 0) for column in columns), Decimal(0))


def _column(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def _zero(row: Mapping[str, Any]) -> Decimal:
    return Decimal(0)


ADDRESS_PARTS = ("city", "state", "line_1", "line_2", "country", "postal_code")

COLUMN_VALUES: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    **{name: _column(name) for name in FIELDS},
    **{f"address.{part}": _address(part) for part in ADDRESS_PARTS},
    "summary.orders.total_amount": _number_column("orders_total_amount"),
    "summary.orders.total_count": _number_column("orders_total_count"),
    "summary.orders.average_amount": _orders_average,
    "summary.orders.last_order_amount": _number_column("orders_last_amount"),
    "summary.orders.last_order_date": _column("orders_last_date"),
    "summary.redemptions.gift.amount_to_go": _number_column("gift_balance"),
    "summary.redemptions.loyalty_card.points_to_go": _number_column("loyalty_balance"),
    "loyalty.points": _number_column("loyalty_balance"),
    "summary.redemptions.total_redeemed": _sum_columns(
        "redemptions_succeeded", "redemptions_failed"
    ),
    "summary.redemptions.total_failed": _number_column("redemptions_failed"),
    "summary.redemptions.total_succeeded": _number_column("redemptions_succeeded"),
    "summary.redemptions.total_rolled_back": _sum_columns(
        "rollbacks_succeeded", "rollbacks_failed"
    ),
    "summary.redemptions.total_rollback_failed": _number_column("rollbacks_failed"),
    "summary.redemptions.total_rollback_succeeded": _number_column("rollbacks_succeeded"),
    "summary.redemptions.gift.redeemed_amount": _number_column("gift_redeemed"),
    "summary.redemptions.loyalty_card.redeemed_points": _number_column("loyalty_redeemed"),
    **dict.fromkeys(ZERO_FIELDS, _zero),
}


def value_of(expr: Expr, facts: Facts) -> Any:
    """The value a test compares, or None when the customer has none (of that kind)."""
    if isinstance(expr, Column):
        return COLUMN_VALUES[expr.path](facts.row)
    if isinstance(expr, EventCount):
        return Decimal(facts.events.get(expr.event, 0))
    if isinstance(expr, CampaignPoints):
        return _campaign_points(facts.row, expr.campaign)
    stored = (facts.row.get("metadata") or {}).get(expr.key)
    if expr.kind is None or stored is None:
        return stored
    if expr.kind == "text":
        return stored if isinstance(stored, str) else None
    if expr.kind == "boolean":
        return stored if isinstance(stored, bool) else None
    if expr.kind == "number":
        return as_number(stored) if isinstance(stored, int | float) else None
    return iso_timestamp(stored) if isinstance(stored, str) else None


def _campaign_points(row: Mapping[str, Any], campaign: str) -> Decimal | None:
    """A held campaign's points; None for a campaign the customer holds no card of (or an entry
    without a number, which the SQL reading also passes over)."""
    entry = (row.get("loyalty_campaigns") or {}).get(campaign)
    points = entry.get("points") if isinstance(entry, dict) else None
    return as_number(points) if isinstance(points, int | float) else None


def matches(test: Test, facts: Facts) -> bool:
    """Whether one customer passes a test (the in-memory twin of the SQL predicate)."""
    if isinstance(test, Junction):
        results = (matches(inner, facts) for inner in test.tests)
        return all(results) if test.how == "and" else any(results)
    if isinstance(test, Not):
        return not matches(test.test, facts)
    value = value_of(test.expr, facts)
    if value is None:
        return False
    if isinstance(test, Present):
        return True
    if isinstance(test, Compare):
        return _COMPARE[test.op](value, test.value)
    if isinstance(test, AnyOf):
        return value in test.values
    if isinstance(test, Text):
        if test.how == "starts":
            return bool(value.startswith(test.value))
        if test.how == "ends":
            return bool(value.endswith(test.value))
        return test.value in value
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return bool(value.month == test.month)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "<": lambda a, b: bool(a < b),
    ">": lambda a, b: bool(a > b),
    "<=": lambda a, b: bool(a <= b),
    ">=": lambda a, b: bool(a >= b),
}
