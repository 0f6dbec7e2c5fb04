"""Rule sets: parsing (names, operators, logic) and evaluation against a redemption's facts
(INCENTIVES.md §3.1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.validation_rules.rules import (
    Facts,
    InvalidValidationRules,
    RuleSet,
    Violation,
    evaluate,
    parse,
)


def facts(**values: Any) -> Facts:
    defaults: dict[str, Any] = {
        "customer_id": "cust_1",
        "customer_metadata": {},
        "segment_ids": frozenset(),
        "order": None,
        "redemption_metadata": None,
        "redemptions_per_customer": 0,
        "holder_id": None,
    }
    defaults.update(values)
    return Facts(**defaults)


def rule_set(
    *rules: dict[str, Any], logic: str | None = None, message: str | None = None
) -> RuleSet:
    body: dict[str, Any] = {str(number): rule for number, rule in enumerate(rules, 1)}
    if logic is not None:
        body["logic"] = logic
    return parse("val_test", body, {"message": message} if message is not None else None)


def passes(rules: RuleSet, **values: Any) -> bool:
    return evaluate(rules, facts(**values)) is None


def amount(operator: str, value: int, name: str = "order.amount") -> RuleSet:
    return rule_set({"name": name, "conditions": {operator: [value]}})


class TestCustomerSegment:
    @pytest.mark.parametrize("name", ["customer.segment", "customer_segment"])
    def test_is_needs_membership_of_every_segment(self, name: str) -> None:
        rules = rule_set({"name": name, "conditions": {"$is": ["seg_a", "seg_b"]}})
        assert rules.needs_segments
        assert passes(rules, segment_ids=frozenset({"seg_a", "seg_b", "seg_c"}))
        assert not passes(rules, segment_ids=frozenset({"seg_a"}))

    def test_in_needs_one(self) -> None:
        rules = rule_set({"name": "customer.segment", "conditions": {"$in": ["seg_a", "seg_b"]}})
        assert passes(rules, segment_ids=frozenset({"seg_b"}))
        assert not passes(rules, segment_ids=frozenset())

    @pytest.mark.parametrize("operator", ["$is_not", "$not_in"])
    def test_negations_need_none(self, operator: str) -> None:
        rules = rule_set({"name": "customer.segment", "conditions": {operator: ["seg_a", "seg_b"]}})
        assert passes(rules, segment_ids=frozenset({"seg_c"}))
        assert not passes(rules, segment_ids=frozenset({"seg_b"}))

    def test_violation_is_a_customer_one(self) -> None:
        rules = rule_set({"name": "customer.segment", "conditions": {"$is": ["seg_a"]}})
        assert evaluate(rules, facts()) == Violation("customer_rules_violated", None)

    def test_ordering_operators_are_refused(self) -> None:
        with pytest.raises(InvalidValidationRules, match=r"\$more_than"):
            rule_set({"name": "customer.segment", "conditions": {"$more_than": ["seg_a"]}})


class TestMetadata:
    @pytest.mark.parametrize(
        ("name", "field", "key"),
        [
            ("customer.metadata", "customer_metadata", "customer_rules_violated"),
            ("customer_metadata", "customer_metadata", "customer_rules_violated"),
            ("redemption.metadata", "redemption_metadata", "redemption_rules_violated"),
            ("redemption_metadata", "redemption_metadata", "redemption_rules_violated"),
        ],
    )
    def test_reads_its_metadata(self, name: str, field: str, key: str) -> None:
        rules = rule_set({"name": name, "property": "tier", "conditions": {"$is": ["gold"]}})
        assert passes(rules, **{field: {"tier": "gold"}})
        violation = evaluate(rules, facts(**{field: {"tier": "silver"}}))
        assert violation is not None
        assert violation.key == key

    @pytest.mark.parametrize("name", ["order.metadata", "order_metadata"])
    def test_order_metadata(self, name: str) -> None:
        rules = rule_set({"name": name, "property": "shop", "conditions": {"$in": ["a", "b"]}})
        assert passes(rules, order={"amount": 1, "metadata": {"shop": "b"}})
        assert evaluate(rules, facts(order={"metadata": {"shop": "c"}})) == Violation(
            "order_rules_violated", None
        )
        assert not passes(rules, order=None)

    @pytest.mark.parametrize(
        ("operator", "wanted", "value", "expected"),
        [
            ("$is", "gold", "gold", True),
            ("$is", 5, 5.0, True),
            ("$is", 5, "5", True),
            ("$is", True, 1, False),
            ("$is_not", "gold", "silver", True),
            ("$is_not", "gold", "gold", False),
            ("$in", "a", "a", True),
            ("$not_in", "a", "a", False),
            ("$more_than", 10, 11, True),
            ("$more_than", 10, 10, False),
            ("$more_than_or_equal", 10, 10, True),
            ("$greater_than_or_equal", 10, 9, False),
            ("$less_than", 10, 9, True),
            ("$less_than", 10, "9", True),
            ("$less_than_or_equal", 10, 10, True),
            ("$less_than_or_equal", 10, 11, False),
            ("$more_than", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", True),
            ("$more_than", 10, "many", False),
            ("$starts_with", "VIP", "VIP-1", True),
            ("$starts_with", "VIP", "x-VIP", False),
            ("$ends_with", ".pl", "shop.pl", True),
            ("$ends_with", ".pl", "shop.de", False),
            ("$contains", "ee", "green", True),
            ("$contains", "ee", "red", False),
            ("$contains", "red", ["red", "blue"], True),
            ("$contains", 3, 345, False),
            ("$count", 2, ["a", "b"], True),
            ("$count_more", 2, ["a", "b"], False),
            ("$count_less", 3, ["a", "b"], True),
            ("$count", 1, "a", False),
        ],
    )
    def test_operators(self, operator: str, wanted: Any, value: Any, expected: bool) -> None:
        rules = rule_set(
            {"name": "customer.metadata", "property": "p", "conditions": {operator: [wanted]}}
        )
        assert passes(rules, customer_metadata={"p": value}) is expected

    @pytest.mark.parametrize(
        ("operator", "expected"), [("$is", False), ("$is_not", True), ("$not_in", True)]
    )
    def test_a_missing_value_satisfies_only_negations(self, operator: str, expected: bool) -> None:
        rules = rule_set(
            {"name": "customer.metadata", "property": "p", "conditions": {operator: ["x"]}}
        )
        assert passes(rules, customer_metadata={}) is expected
        assert passes(rules, customer_metadata=None) is expected

    def test_a_dotted_property_reads_nested_metadata(self) -> None:
        rules = rule_set(
            {"name": "customer.metadata", "property": "a.b", "conditions": {"$is": [1]}}
        )
        assert passes(rules, customer_metadata={"a": {"b": 1}})
        assert passes(rules, customer_metadata={"a.b": 1})

    def test_several_operators_must_all_hold(self) -> None:
        rules = rule_set(
            {
                "name": "customer.metadata",
                "property": "age",
                "conditions": {"$more_than": [17], "$less_than": [65]},
            }
        )
        assert passes(rules, customer_metadata={"age": 30})
        assert not passes(rules, customer_metadata={"age": 70})

    def test_needs_a_property(self) -> None:
        with pytest.raises(InvalidValidationRules, match="must have a 'property'"):
            rule_set({"name": "order.metadata", "conditions": {"$is": ["x"]}})


class TestOrderAmounts:
    @pytest.mark.parametrize(
        "name",
        [
            "order.amount",
            "order_amount",
            "order.total_amount",
            "order_total_amount",
            "order.initial_amount",
            "order_initial_amount",
        ],
    )
    @pytest.mark.parametrize(
        ("operator", "limit", "expected"),
        [
            ("$is", 1000, True),
            ("$more_than", 999, True),
            ("$more_than", 1000, False),
            ("$more_than_or_equal", 1000, True),
            ("$greater_than_or_equal", 1001, False),
            ("$less_than", 1000, False),
            ("$less_than", 1001, True),
            ("$less_than_or_equal", 1000, True),
        ],
    )
    def test_compares_cents(self, name: str, operator: str, limit: int, expected: bool) -> None:
        field = name.replace("order.", "").replace("order_", "")
        rules = amount(operator, limit, name)
        assert passes(rules, order={field: 1000}) is expected

    def test_total_and_initial_default_to_amount(self) -> None:
        assert passes(amount("$is", 700, "order.total_amount"), order={"amount": 700})
        assert passes(amount("$is", 700, "order.initial_amount"), order={"amount": 700})
        assert not passes(
            amount("$is", 700, "order.total_amount"), order={"amount": 700, "total_amount": 600}
        )

    def test_without_an_order_fails_as_an_order_rule(self) -> None:
        assert evaluate(amount("$more_than", 0), facts()) == Violation("order_rules_violated", None)

    def test_text_operators_are_refused(self) -> None:
        with pytest.raises(InvalidValidationRules, match="Unknown operator '\\$contains'"):
            amount("$contains", 1)


class TestRedemptionsPerCustomer:
    @pytest.mark.parametrize(
        "name", ["redemption.count.per_customer", "redemption_count_per_customer"]
    )
    def test_once_per_customer_counts_the_redemption_being_made(self, name: str) -> None:
        rules = rule_set({"name": name, "conditions": {"$less_than_or_equal": [1]}})
        assert rules.needs_redemption_count
        assert passes(rules, redemptions_per_customer=0)
        assert evaluate(rules, facts(redemptions_per_customer=1)) == Violation(
            "redemption_rules_violated", None
        )

    def test_less_than_two_is_once_too(self) -> None:
        rules = rule_set(
            {"name": "redemption.count.per_customer", "conditions": {"$less_than": [2]}}
        )
        assert passes(rules, redemptions_per_customer=0)
        assert not passes(rules, redemptions_per_customer=1)

    def test_fails_without_a_customer(self) -> None:
        rules = rule_set(
            {"name": "redemption.count.per_customer", "conditions": {"$less_than": [5]}}
        )
        assert not passes(rules, customer_id=None)


class TestRedeemableByLinkedCustomer:
    @pytest.mark.parametrize(
        "name",
        ["publication.redeemable_by_linked_customer", "publication_redeemable_by_linked_customer"],
    )
    def test_only_the_holder_redeems(self, name: str) -> None:
        rules = rule_set({"name": name, "conditions": {}})
        assert passes(rules, customer_id="cust_1", holder_id="cust_1")
        assert not passes(rules, customer_id="cust_2", holder_id="cust_1")
        assert not passes(rules, customer_id=None, holder_id="cust_1")
        assert evaluate(rules, facts(holder_id=None)) == Violation(
            "redemption_rules_violated", None
        )

    def test_is_false_switches_it_off(self) -> None:
        rules = rule_set(
            {"name": "publication.redeemable_by_linked_customer", "conditions": {"$is": [False]}}
        )
        assert passes(rules, customer_id="cust_2", holder_id="cust_1")


GOLD = {"name": "customer.metadata", "property": "tier", "conditions": {"$is": ["gold"]}}
BIG = {"name": "order.amount", "conditions": {"$more_than": [1000]}}
VIP = {"name": "customer.segment", "conditions": {"$is": ["seg_vip"]}}


class TestLogic:
    def test_without_logic_every_rule_must_hold(self) -> None:
        rules = rule_set(GOLD, BIG)
        assert passes(rules, customer_metadata={"tier": "gold"}, order={"amount": 2000})
        assert not passes(rules, customer_metadata={"tier": "gold"}, order={"amount": 10})

    @pytest.mark.parametrize("logic", ["1 or 2", "1 OR 2", "1 Or 2", "(1) or (2)"])
    def test_or_in_any_case(self, logic: str) -> None:
        rules = rule_set(GOLD, BIG, logic=logic)
        assert passes(rules, customer_metadata={"tier": "gold"}, order={"amount": 10})
        assert not passes(rules, customer_metadata={"tier": "x"}, order={"amount": 10})

    def test_parentheses_group(self) -> None:
        rules = rule_set(GOLD, BIG, VIP, logic="(1 OR 2) AnD 3")
        assert passes(rules, order={"amount": 2000}, segment_ids=frozenset({"seg_vip"}))
        assert not passes(rules, order={"amount": 2000})
        assert passes(
            rule_set(GOLD, BIG, VIP, logic="1 or 2 and 3"), customer_metadata={"tier": "gold"}
        )

    def test_an_empty_rule_set_passes(self) -> None:
        assert passes(parse("val_x", {"logic": ""}, None))
        assert passes(parse("val_x", {}, None))

    @pytest.mark.parametrize(
        ("logic", "named"),
        [
            ("1 and", "ends too early"),
            ("1 and 3", "rule 3"),
            ("(1 and 2", "misses a"),
            ("1 2", "unexpected '2'"),
            ("1 xor 2", "cannot be read"),
            ("and 1", "where a rule number belongs"),
            ("()", "where a rule number belongs"),
            ("1 and 2)", "unexpected ')'"),
        ],
    )
    def test_bad_logic_is_refused(self, logic: str, named: str) -> None:
        with pytest.raises(InvalidValidationRules, match=re.escape(named)) as raised:
            rule_set(GOLD, BIG, logic=logic)
        assert raised.value.key == "invalid_validation_rules"
        assert raised.value.status == 400

    @given(st.data())
    def test_logic_evaluates_as_python_does(self, data: st.DataObject) -> None:
        count = data.draw(st.integers(1, 5))
        truths = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
        expression = data.draw(_expressions(count))
        words = data.draw(st.sampled_from([("and", "or"), ("AND", "OR"), ("And", "oR")]))
        logic = expression.replace("&", words[0]).replace("|", words[1])
        python = expression.replace("&", "and").replace("|", "or")
        for number, truth in enumerate(truths, 1):
            python = python.replace(f"#{number}#", str(truth))
        logic = logic.replace("#", "")
        rules = rule_set(
            *(
                {
                    "name": "customer.metadata",
                    "property": f"p{number}",
                    "conditions": {"$is": [True]},
                }
                for number in range(1, count + 1)
            ),
            logic=logic,
        )
        metadata = {f"p{number}": truth for number, truth in enumerate(truths, 1)}
        expected = eval(python)  # the oracle: Python's own and/or over True/False
        assert passes(rules, customer_metadata=metadata) is expected


def _expressions(count: int) -> st.SearchStrategy[str]:
    leaves = st.integers(1, count).map(lambda number: f"#{number}#")
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" & ", " | "]), inner).map("".join),
            inner.map(lambda text: f"({text})"),
        ),
        max_leaves=8,
    )


class TestViolation:
    def test_message_of_the_failing_rule(self) -> None:
        rules = rule_set(
            {**GOLD, "error": {"message": "Gold members only"}},
            {**BIG, "error": {"message": "Spend more"}},
            message="Not for you",
        )
        assert evaluate(rules, facts(customer_metadata={"tier": "gold"}, order={"amount": 5})) == (
            Violation("order_rules_violated", "Spend more")
        )
        assert evaluate(rules, facts(order={"amount": 5000})) == Violation(
            "customer_rules_violated", "Gold members only"
        )

    def test_else_the_rule_sets_message(self) -> None:
        rules = rule_set(GOLD, message="Not for you")
        assert evaluate(rules, facts()) == Violation("customer_rules_violated", "Not for you")

    def test_or_names_its_first_failing_rule(self) -> None:
        rules = rule_set(BIG, GOLD, logic="1 or 2")
        violation = evaluate(rules, facts())
        assert violation is not None
        assert violation.key == "order_rules_violated"

    def test_nested_rules_must_hold_too(self) -> None:
        rules = rule_set(
            {
                **BIG,
                "error": {"message": "outer"},
                "rules": {"1": {**GOLD, "error": {"message": "inner"}}, "logic": "1"},
            },
        )
        assert passes(rules, order={"amount": 5000}, customer_metadata={"tier": "gold"})
        assert evaluate(rules, facts(order={"amount": 5000})) == Violation(
            "customer_rules_violated", "inner"
        )
        assert not rules.needs_segments


class TestParse:
    @pytest.mark.parametrize(
        ("rules", "named"),
        [
            ({"1": {"name": "order.items.count", "conditions": {"$is": [1]}}}, "order.items.count"),
            ({"1": {"name": "order.amount", "conditions": {"$between": [1]}}}, "$between"),
            ({"1": {"conditions": {"$is": [1]}}}, "must have a 'name'"),
            ({"1": "order.amount"}, "must be an object"),
            ({"x": {"name": "order.amount"}}, "Rule key 'x'"),
            ({"1": {"name": "order.amount", "conditions": {}}}, "must have conditions"),
            ({"1": {"name": "order.amount", "conditions": {"$is": []}}}, "needs a value"),
            ({"logic": 1}, "logic must be a string"),
        ],
    )
    def test_refuses_and_names_the_problem(self, rules: dict[str, Any], named: str) -> None:
        with pytest.raises(InvalidValidationRules) as raised:
            parse("val_x", rules, None)
        assert named in str(raised.value)

    def test_a_scalar_condition_value_is_one_value(self) -> None:
        rules = parse("val_x", {"1": {"name": "order.amount", "conditions": {"$is": 5}}}, None)
        assert passes(rules, order={"amount": 5})

    def test_a_rule_set_without_segments_or_counts_needs_neither(self) -> None:
        rules = rule_set(GOLD, BIG)
        assert not rules.needs_segments
        assert not rules.needs_redemption_count
        assert rules.id == "val_test"
