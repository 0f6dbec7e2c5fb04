"""Rule sets: parsed once from their stored JSON, then evaluated against what a redemption
knows (INCENTIVES.md §3.1). Pure: no I/O.

The subset kept, and the decisions where the contract is silent:

- Names, in their dotted or underscore spelling: `customer.segment`, `customer.metadata`,
  `order.metadata`, `redemption.metadata` (these three need a `property`), `order.amount`,
  `order.total_amount`, `order.initial_amount` (cents; a missing total or initial amount is
  read as `amount`), `redemption.count.per_customer`,
  `publication.redeemable_by_linked_customer`.
- Operators: `$is`, `$is_not`, `$in`, `$not_in`, `$more_than`, `$more_than_or_equal` (also
  spelled `$greater_than_or_equal`), `$less_than`, `$less_than_or_equal`; metadata also
  `$starts_with`, `$ends_with`, `$contains` (a substring, or an element of a list), `$count`,
  `$count_more`, `$count_less` (a list's length). Several operators in one rule must all hold.
- Segments: `$is` means a member of every segment listed, `$in` of at least one, `$is_not` and
  `$not_in` of none. Other values: `$is`/`$in` equal one of the values, `$is_not`/`$not_in`
  none. A missing value satisfies only `$is_not` and `$not_in`.
- Comparisons take the first value: numbers by value (a numeric text counts as its number),
  texts by their characters (ISO 8601 moments in one format compare as moments).
- `redemption.count.per_customer` counts the redemption being made: `prior + 1` is compared,
  so `$less_than_or_equal: [1]` means once per customer. Without a customer it fails.
- `publication.redeemable_by_linked_customer` passes only when the customer redeeming holds
  the voucher; a voucher without a holder is linked to nobody, so it fails too. A condition
  `$is: [false]` switches the rule off.
- `logic`: rule numbers, `and`, `or` (any letter case), parentheses; `and` binds tighter than
  `or`. Absent or empty: every rule, AND-ed. A rule's own `rules` (with their own `logic`)
  must hold as well as its conditions.
- The violation names the first rule, left to right, that made the logic fail (inside it, the
  innermost nested rule that failed): its key comes from that rule's name (`customer.*` →
  `customer_rules_violated`, `order.*` → `order_rules_violated`, else
  `redemption_rules_violated`), its message is that rule's `error.message`, else its parent
  rules', else the rule set's, else None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patron.validation_rules.schemas import InvalidValidationRules

__all__ = [
    "Facts",
    "InvalidValidationRules",
    "RuleSet",
    "Violation",
    "evaluate",
    "parse",
]


@dataclass(frozen=True, slots=True)
class Facts:
    """What a redemption knows that rules look at; amounts in cents."""

    customer_id: str | None
    customer_metadata: Mapping[str, Any] | None
    segment_ids: frozenset[str]  # segments the customer is a member of
    order: Mapping[str, Any] | None  # {"amount", "initial_amount", "total_amount", "metadata"…}
    redemption_metadata: Mapping[str, Any] | None
    # Earlier successful, not rolled back, redemptions by this customer in the voucher's
    # campaign (of the voucher when it has none).
    redemptions_per_customer: int
    holder_id: str | None  # the voucher's holder


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a rule set refused: `customer_rules_violated`, `order_rules_violated` or
    `redemption_rules_violated`, and the message to show (`error.message`), if any."""

    key: str
    message: str | None


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # canonical spelling
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # canonical, dotted
    property: str | None
    conditions: tuple[Condition, ...]
    nested: Rules | None
    message: str | None


# The logic: a rule number, or ("and" | "or", left, right).
Logic = str | tuple[str, "Logic", "Logic"]


@dataclass(frozen=True, slots=True)
class Rules:
    """Numbered rules and the logic between them."""

    rules: Mapping[str, Rule]
    logic: Logic | None  # None: no rules at all


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A parsed rule set (`parse`)."""

    id: str
    root: Rules
    message: str | None
    needs_segments: bool  # evaluation reads `Facts.segment_ids`
    needs_redemption_count: bool  # evaluation reads `Facts.redemptions_per_customer`


_EQUALITY = frozenset({"$is", "$is_not", "$in", "$not_in"})
_ORDERING = frozenset({"$more_than", "$more_than_or_equal", "$less_than", "$less_than_or_equal"})
_TEXT = frozenset(
    {"$starts_with", "$ends_with", "$contains", "$count", "$count_more", "$count_less"}
)
_OPERATORS_OF = {
    "customer.segment": _EQUALITY,
    "customer.metadata": _EQUALITY | _ORDERING | _TEXT,
    "order.metadata": _EQUALITY | _ORDERING | _TEXT,
    "redemption.metadata": _EQUALITY | _ORDERING | _TEXT,
    "order.amount": _EQUALITY | _ORDERING,
    "order.total_amount": _EQUALITY | _ORDERING,
    "order.initial_amount": _EQUALITY | _ORDERING,
    "redemption.count.per_customer": _EQUALITY | _ORDERING,
    "publication.redeemable_by_linked_customer": frozenset({"$is"}),
}
_NAMES = {name: name for name in _OPERATORS_OF} | {
    name.replace(".", "_"): name for name in _OPERATORS_OF
}
_OPERATOR_SPELLINGS = {"$greater_than_or_equal": "$more_than_or_equal"}
_WITH_PROPERTY = frozenset({"customer.metadata", "order.metadata", "redemption.metadata"})
_MAX_DEPTH = 8


def parse(rule_id: str, rules: Mapping[str, Any], error: Mapping[str, Any] | None) -> RuleSet:
    """Parse a rule set's `rules` (`{"1": {name, property?, conditions, rules?, error?}, …,
    "logic"}`) and its `error` (`{message}`). INCENTIVES.md §3.1.

    Raises InvalidValidationRules (400 `invalid_validation_rules`) naming an unknown rule name
    or operator, a missing `property`, a malformed rule, or bad logic.
    """
    root = _parse_rules(rules, "rules", 0)
    return RuleSet(
        id=rule_id,
        root=root,
        message=_message(error, "error"),
        needs_segments=_uses(root, "customer.segment"),
        needs_redemption_count=_uses(root, "redemption.count.per_customer"),
    )


def _message(error: object, path: str) -> str | None:
    if error is None:
        return None
    if not isinstance(error, Mapping):
        raise InvalidValidationRules(f"Property {path} must be an object with a message")
    message = error.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidValidationRules(f"Property {path}.message must be a string")
    return message


def _parse_rules(rules: object, path: str, depth: int) -> Rules:
    if depth > _MAX_DEPTH:
        raise InvalidValidationRules(f"Rules nest deeper than {_MAX_DEPTH} levels")
    if not isinstance(rules, Mapping):
        raise InvalidValidationRules(f"Property {path} must be an object")
    parsed: dict[str, Rule] = {}
    for number, rule in rules.items():
        if number == "logic":
            continue
        if not isinstance(number, str) or not number.isdigit() or not number.isascii():
            raise InvalidValidationRules(
                f"Rule key '{number}' in {path} must be a rule number or 'logic'"
            )
        parsed[str(int(number))] = _parse_rule(rule, f"{path}.{number}", depth)
    text = rules.get("logic")
    if text is not None and not isinstance(text, str):
        raise InvalidValidationRules(f"Property {path}.logic must be a string")
    logic: Logic | None
    if text is None or not text.strip():
        logic = _all_of(sorted(parsed, key=int))
    else:
        logic = parse_logic(text)
        for number in _numbers(logic):
            if number not in parsed:
                raise InvalidValidationRules(
                    f"Logic '{text}' of {path} names rule {number}, which is not defined"
                )
    return Rules(parsed, logic)


def _parse_rule(rule: object, path: str, depth: int) -> Rule:
    if not isinstance(rule, Mapping):
        raise InvalidValidationRules(f"Rule {path} must be an object")
    raw_name = rule.get("name")
    if not isinstance(raw_name, str):
        raise InvalidValidationRules(f"Rule {path} must have a 'name'")
    name = _NAMES.get(raw_name)
    if name is None:
        raise InvalidValidationRules(f"Unknown rule name '{raw_name}' in {path}")
    prop = rule.get("property")
    if prop is not None and not isinstance(prop, str):
        raise InvalidValidationRules(f"Property {path}.property must be a string")
    if name in _WITH_PROPERTY and not prop:
        raise InvalidValidationRules(f"Rule '{raw_name}' must have a 'property'")
    raw_conditions = rule.get("conditions")
    if raw_conditions is None:
        raw_conditions = {}
    if not isinstance(raw_conditions, Mapping):
        raise InvalidValidationRules(f"Property {path}.conditions must be an object")
    conditions = []
    for raw_operator, values in raw_conditions.items():
        operator = _OPERATOR_SPELLINGS.get(raw_operator, raw_operator)
        if operator not in _OPERATORS_OF[name]:
            raise InvalidValidationRules(
                f"Unknown operator '{raw_operator}' for rule '{raw_name}' in {path}"
            )
        listed = tuple(values) if isinstance(values, list) else (values,)
        if not listed and operator not in ("$in", "$not_in"):
            raise InvalidValidationRules(f"Operator '{raw_operator}' in {path} needs a value")
        conditions.append(Condition(operator, listed))
    if not conditions and name != "publication.redeemable_by_linked_customer":
        raise InvalidValidationRules(f"Rule {path} ('{raw_name}') must have conditions")
    nested_raw = rule.get("rules")
    nested = None
    if nested_raw:
        nested = _parse_rules(nested_raw, f"{path}.rules", depth + 1)
        if nested.logic is None:
            nested = None
    return Rule(
        name=name,
        property=prop if name in _WITH_PROPERTY else None,
        conditions=tuple(conditions),
        nested=nested,
        message=_message(rule.get("error"), f"{path}.error"),
    )


def _all_of(numbers: list[str]) -> Logic | None:
    logic: Logic | None = None
    for number in numbers:
        logic = number if logic is None else ("and", logic, number)
    return logic


def _numbers(logic: Logic) -> list[str]:
    if isinstance(logic, str):
        return [logic]
    return _numbers(logic[1]) + _numbers(logic[2])


def _uses(rules: Rules, name: str) -> bool:
    return any(
        rule.name == name or (rule.nested is not None and _uses(rule.nested, name))
        for rule in rules.rules.values()
    )


# --- logic: a small recursive-descent parser ---------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+)|(and|or)\b|(\()|(\)))", re.IGNORECASE | re.ASCII)


def _tokens(text: str) -> list[str]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            rest = text[position:].strip()
            raise InvalidValidationRules(f"Logic '{text}' cannot be read at '{rest[:20]}'")
        number, word, opening, closing = match.groups()
        if number is not None:
            tokens.append(str(int(number)))
        elif word is not None:
            tokens.append(word.lower())
        else:
            tokens.append(opening or closing)
        position = match.end()
    return tokens


def parse_logic(text: str) -> Logic:
    """`"(1 and 2) OR 3"` → `("or", ("and", "1", "2"), "3")`. Raises InvalidValidationRules."""
    tokens = _tokens(text)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        token = peek()
        if token is None:
            raise InvalidValidationRules(f"Logic '{text}' ends too early")
        position += 1
        return token

    def disjunction(depth: int) -> Logic:
        left = conjunction(depth)
        while peek() == "or":
            take()
            left = ("or", left, conjunction(depth))
        return left

    def conjunction(depth: int) -> Logic:
        left = operand(depth)
        while peek() == "and":
            take()
            left = ("and", left, operand(depth))
        return left

    def operand(depth: int) -> Logic:
        token = take()
        if token == "(":
            if depth > 50:
                raise InvalidValidationRules(f"Logic '{text}' nests too deep")
            inner = disjunction(depth + 1)
            if peek() != ")":
                raise InvalidValidationRules(f"Logic '{text}' misses a ')'")
            take()
            return inner
        if token.isdigit():
            return token
        raise InvalidValidationRules(f"Logic '{text}' has '{token}' where a rule number belongs")

    logic = disjunction(0)
    if peek() is not None:
        raise InvalidValidationRules(f"Logic '{text}' has an unexpected '{peek()}'")
    return logic


# --- evaluation ---------------------------------------------------------------------------------


def evaluate(rule_set: RuleSet, facts: Facts) -> Violation | None:
    """None when the facts satisfy the rule set, else the violation (INCENTIVES.md §3.1)."""
    failed = _failing(rule_set.root, facts)
    if failed is None:
        return None
    chain = failed
    message = next((rule.message for rule in chain if rule.message is not None), None)
    return Violation(_key_of(chain[0].name), message or rule_set.message)


def _key_of(name: str) -> str:
    if name.startswith("customer."):
        return "customer_rules_violated"
    if name.startswith("order."):
        return "order_rules_violated"
    return "redemption_rules_violated"


def _failing(rules: Rules, facts: Facts) -> list[Rule] | None:
    """None when the rules hold, else the failing rule chain, innermost first (the outermost
    rule last)."""
    if rules.logic is None:
        return None
    return _failing_logic(rules.logic, rules, facts)


def _failing_logic(logic: Logic, rules: Rules, facts: Facts) -> list[Rule] | None:
    if isinstance(logic, str):
        rule = rules.rules[logic]
        if not _holds(rule, facts):
            return [rule]
        if rule.nested is not None:
            inner = _failing(rule.nested, facts)
            if inner is not None:
                return [*inner, rule]
        return None
    operator, left, right = logic
    failed = _failing_logic(left, rules, facts)
    if operator == "and":
        return failed if failed is not None else _failing_logic(right, rules, facts)
    if failed is None or _failing_logic(right, rules, facts) is None:
        return None
    return failed


_MISSING = object()


def _holds(rule: Rule, facts: Facts) -> bool:
    name = rule.name
    if name == "customer.segment":
        return all(_segment_holds(c, facts.segment_ids) for c in rule.conditions)
    if name == "publication.redeemable_by_linked_customer":
        if any(False in c.values for c in rule.conditions):
            return True
        return facts.holder_id is not None and facts.customer_id == facts.holder_id
    if name == "redemption.count.per_customer":
        if facts.customer_id is None:
            return False
        value: Any = facts.redemptions_per_customer + 1
    elif name in _WITH_PROPERTY:
        value = _property(_metadata_of(name, facts), rule.property or "")
    else:
        value = _amount(name, facts.order)
    return all(_condition_holds(c, value) for c in rule.conditions)


def _metadata_of(name: str, facts: Facts) -> Mapping[str, Any] | None:
    if name == "customer.metadata":
        return facts.customer_metadata
    if name == "redemption.metadata":
        return facts.redemption_metadata
    order_metadata = (facts.order or {}).get("metadata")
    return order_metadata if isinstance(order_metadata, Mapping) else None


def _property(metadata: Mapping[str, Any] | None, path: str) -> Any:
    if metadata is None:
        return _MISSING
    if path in metadata:
        return metadata[path]
    value: Any = metadata
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _amount(name: str, order: Mapping[str, Any] | None) -> Any:
    if order is None:
        return _MISSING
    field = name.removeprefix("order.")
    value = order.get(field)
    if value is None:
        value = order.get("amount")
    return _MISSING if value is None else value


def _segment_holds(condition: Condition, segment_ids: frozenset[str]) -> bool:
    members = [value in segment_ids for value in condition.values]
    if condition.operator == "$is":
        return all(members)
    if condition.operator == "$in":
        return any(members)
    return not any(members)


def _condition_holds(condition: Condition, value: Any) -> bool:
    operator, values = condition.operator, condition.values
    if operator in ("$is_not", "$not_in"):
        return value is _MISSING or not any(_equal(value, wanted) for wanted in values)
    if value is _MISSING or value is None:
        return False
    if operator in ("$is", "$in"):
        return any(_equal(value, wanted) for wanted in values)
    if operator in _ORDERING:
        ordered = _ordered(value, values[0])
        if ordered is None:
            return False
        left, right = ordered
        if operator == "$more_than":
            return bool(left > right)
        if operator == "$more_than_or_equal":
            return bool(left >= right)
        if operator == "$less_than":
            return bool(left < right)
        return bool(left <= right)
    if operator in ("$count", "$count_more", "$count_less"):
        limit = _number(values[0])
        if not isinstance(value, list) or limit is None:
            return False
        if operator == "$count":
            return len(value) == limit
        return len(value) > limit if operator == "$count_more" else len(value) < limit
    if operator == "$contains" and isinstance(value, list):
        return any(_equal(item, wanted) for item in value for wanted in values)
    if not isinstance(value, str):
        return False
    texts = [wanted for wanted in values if isinstance(wanted, str)]
    if operator == "$starts_with":
        return any(value.startswith(wanted) for wanted in texts)
    if operator == "$ends_with":
        return any(value.endswith(wanted) for wanted in texts)
    return any(wanted in value for wanted in texts)


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value) if _NUMERIC.fullmatch(value.strip()) else None
        except ValueError:
            return None
    return None


_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    if isinstance(value, int | float) or isinstance(wanted, int | float):
        left, right = _number(value), _number(wanted)
        return left is not None and right is not None and left == right
    return bool(value == wanted)


def _ordered(value: Any, wanted: Any) -> tuple[Any, Any] | None:
    left, right = _number(value), _number(wanted)
    if left is not None and right is not None:
        return left, right
    if isinstance(value, str) and isinstance(wanted, str):
        return value, wanted
    return None
