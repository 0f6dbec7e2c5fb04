"""Discount arithmetic: each type and effect, gift credits, the calculated order fields."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voucherify.models.redemptions_redeem_response_body_order import (
    RedemptionsRedeemResponseBodyOrder,
)
from voucherify.models.validations_validate_response_body_order import (
    ValidationsValidateResponseBodyOrder,
)

from patron.vouchers.discounts import (
    Basket,
    apply_credits,
    apply_discount,
    cents,
    order_amounts,
    split,
)


def item(price: int, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """An item as `orders.schemas.render_items` stores it."""
    return {
        "object": "order_item",
        "price": price,
        "quantity": quantity,
        "amount": price * quantity,
        **extra,
    }


def basket(*items: dict[str, Any], amount: int | None = None, discount: int = 0) -> Basket:
    total = sum(i["amount"] for i in items) if amount is None and items else amount
    return Basket(amount=total, items=tuple(items), discount=discount)


# Items of 1000, 3 x 500 and 2 x 250: 3000 in all.
THREE = (item(1000, product_id="prod_a"), item(500, 3, sku_id="sku_b"), item(250, 2))


class TestBasket:
    def test_total_is_amount_less_discounts(self) -> None:
        assert Basket(5000, (item(2000),), 700, (300,)).total == 4000

    def test_total_never_below_zero(self) -> None:
        assert Basket(500, (item(500),), 400, (300,)).total == 0

    def test_item_discounts_default_to_the_items_own(self) -> None:
        cart = Basket(3000, (item(1000, discount_amount=100), item(2000)))
        assert cart.item_discounts == (100, 0)
        assert cart.total == 2900

    def test_unknown_amount_is_the_items_sum(self) -> None:
        assert Basket(None, THREE).total == 3000

    def test_unknown_amount_without_items_is_nothing(self) -> None:
        assert Basket(None, ()).total == 0

    def test_item_discounts_of_another_length_are_refused(self) -> None:
        with pytest.raises(ValueError, match="2 item discounts for 1 items"):
            Basket(1000, (item(1000),), 0, (0, 0))


# (discount, expected amount, expected order-level discount, expected item discounts)
CASES: list[tuple[str, dict[str, Any], int, int, tuple[int, ...]]] = [
    ("amount to order", {"type": "AMOUNT", "amount_off": 700}, 700, 700, (0, 0, 0)),
    (
        "amount without effect is to order",
        {"type": "AMOUNT", "amount_off": 700, "effect": None},
        700,
        700,
        (0, 0, 0),
    ),
    (
        "amount to order, float rounded half up",
        {"type": "AMOUNT", "amount_off": 700.5, "effect": "APPLY_TO_ORDER"},
        701,
        701,
        (0, 0, 0),
    ),
    (
        "amount to order, capped by the total",
        {"type": "AMOUNT", "amount_off": 9999, "effect": "APPLY_TO_ORDER"},
        3000,
        3000,
        (0, 0, 0),
    ),
    (
        "amount to each item, capped by the item",
        {"type": "AMOUNT", "amount_off": 600, "effect": "APPLY_TO_ITEMS"},
        1700,
        0,
        (600, 600, 500),
    ),
    (
        "amount per unit",
        {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
        600,
        0,
        (100, 300, 200),
    ),
    (
        "amount per unit, capped by the item",
        {"type": "AMOUNT", "amount_off": 400, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
        2100,
        0,
        (400, 1200, 500),
    ),
    (
        "amount split by amount",
        {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"},
        1000,
        0,
        (333, 500, 167),
    ),
    (
        "amount split by quantity",
        {
            "type": "AMOUNT",
            "amount_off": 1000,
            "effect": "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
        },
        1000,
        0,
        (167, 500, 333),
    ),
    (
        "amount split by quantity, a capped item's excess shared by the others",
        {
            "type": "AMOUNT",
            "amount_off": 2700,
            "effect": "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
        },
        2700,
        0,
        (700, 1500, 500),
    ),
    (
        "amount split, capped by the aggregated limit",
        {
            "type": "AMOUNT",
            "amount_off": 1000,
            "aggregated_amount_limit": 600,
            "effect": "APPLY_TO_ITEMS_PROPORTIONALLY",
        },
        600,
        0,
        (200, 300, 100),
    ),
    (
        "percent of the order",
        {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"},
        300,
        300,
        (0, 0, 0),
    ),
    (
        "percent of the order, rounded half up",
        {"type": "PERCENT", "percent_off": 12.35, "effect": "APPLY_TO_ORDER"},
        371,  # 370.5
        371,
        (0, 0, 0),
    ),
    (
        "percent of the order, capped by amount_limit",
        {"type": "PERCENT", "percent_off": 50, "amount_limit": 1000, "effect": "APPLY_TO_ORDER"},
        1000,
        1000,
        (0, 0, 0),
    ),
    (
        "percent of each item",
        {"type": "PERCENT", "percent_off": 25, "effect": "APPLY_TO_ITEMS"},
        750,
        0,
        (250, 375, 125),
    ),
    (
        "percent of each item, each capped by amount_limit",
        {"type": "PERCENT", "percent_off": 25, "amount_limit": 200, "effect": "APPLY_TO_ITEMS"},
        525,
        0,
        (200, 200, 125),
    ),
    (
        "percent of each item, capped in all by the aggregated limit",
        {
            "type": "PERCENT",
            "percent_off": 20,
            "aggregated_amount_limit": 300,
            "effect": "APPLY_TO_ITEMS",
        },
        300,
        0,
        (100, 150, 50),
    ),
    (
        "hundred percent",
        {"type": "PERCENT", "percent_off": 100, "effect": "APPLY_TO_ORDER"},
        3000,
        3000,
        (0, 0, 0),
    ),
    (
        "fixed order total",
        {"type": "FIXED", "fixed_amount": 2500, "effect": "APPLY_TO_ORDER"},
        500,
        500,
        (0, 0, 0),
    ),
    (
        "fixed order total above the total",
        {"type": "FIXED", "fixed_amount": 4000, "effect": "APPLY_TO_ORDER"},
        0,
        0,
        (0, 0, 0),
    ),
    (
        "fixed unit price",
        {"type": "FIXED", "fixed_amount": 400, "effect": "APPLY_TO_ITEMS"},
        900,
        0,
        (600, 300, 0),
    ),
    (
        "formula only: not evaluated",
        {"type": "AMOUNT", "amount_off_formula": "1+1", "effect": "APPLY_TO_ORDER"},
        0,
        0,
        (0, 0, 0),
    ),
    (
        "unit of a product in the order",
        {"type": "UNIT", "unit_off": 1, "unit_type": "prod_a", "effect": "ADD_MISSING_ITEMS"},
        1000,
        0,
        (1000, 0, 0),
    ),
    (
        "units of a SKU, capped by its quantity",
        {"type": "UNIT", "unit_off": 5, "unit_type": "sku_b", "effect": "ADD_NEW_ITEMS"},
        1500,
        0,
        (0, 1500, 0),
    ),
    (
        "units of a SKU, some of them",
        {"type": "UNIT", "unit_off": 2, "unit_type": "sku_b", "effect": "ADD_SAME_ITEMS"},
        1000,
        0,
        (0, 1000, 0),
    ),
    (
        "unit missing from the order",
        {"type": "UNIT", "unit_off": 1, "unit_type": "prod_z", "effect": "ADD_MISSING_ITEMS"},
        0,
        0,
        (0, 0, 0),
    ),
    (
        "many units",
        {
            "type": "UNIT",
            "effect": "ADD_MANY_ITEMS",
            "units": [
                {"unit_off": 1, "unit_type": "prod_a", "effect": "ADD_MISSING_ITEMS"},
                {"unit_off": 1.0, "unit_type": "sku_b", "effect": "ADD_NEW_ITEMS"},
                {"unit_off": 1, "unit_type": "prod_z", "effect": "ADD_NEW_ITEMS"},
            ],
        },
        1500,
        0,
        (1000, 500, 0),
    ),
    (
        "many units without an effect",
        {"type": "UNIT", "units": [{"unit_off": 1, "unit_type": "sku_b"}]},
        500,
        0,
        (0, 500, 0),
    ),
]


class TestApplyDiscount:
    @pytest.mark.parametrize(
        ("discount", "amount", "order_discount", "item_discounts"),
        [case[1:] for case in CASES],
        ids=[case[0] for case in CASES],
    )
    def test_type_and_effect(
        self,
        discount: dict[str, Any],
        amount: int,
        order_discount: int,
        item_discounts: tuple[int, ...],
    ) -> None:
        after, taken = apply_discount(basket(*THREE), discount)
        assert taken == amount
        assert after.discount == order_discount
        assert after.item_discounts == item_discounts
        assert after.total == 3000 - amount

    def test_applies_to_what_earlier_discounts_left(self) -> None:
        cart, _ = apply_discount(basket(*THREE), {"type": "AMOUNT", "amount_off": 1000})
        after, taken = apply_discount(cart, {"type": "PERCENT", "percent_off": 10})
        assert taken == 200
        assert after.total == 1800

    def test_item_effect_skips_what_is_left_of_the_item(self) -> None:
        cart = Basket(3000, THREE, 0, (900, 0, 0))
        after, taken = apply_discount(
            cart, {"type": "AMOUNT", "amount_off": 200, "effect": "APPLY_TO_ITEMS"}
        )
        assert taken == 500
        assert after.item_discounts == (1000, 200, 200)

    def test_item_pieces_capped_by_an_order_amount_below_the_items(self) -> None:
        cart = Basket(1000, (item(1000), item(1000)))
        after, taken = apply_discount(
            cart, {"type": "AMOUNT", "amount_off": 800, "effect": "APPLY_TO_ITEMS"}
        )
        assert taken == 1000
        assert after.item_discounts == (500, 500)
        assert after.total == 0

    def test_unit_price_from_amount_when_price_missing(self) -> None:
        cart = Basket(None, ({"amount": 900, "quantity": 3, "product_id": "prod_a"},))
        _, taken = apply_discount(cart, {"type": "UNIT", "unit_off": 1, "unit_type": "prod_a"})
        assert taken == 300

    def test_unit_matches_the_items_product_object(self) -> None:
        cart = basket(item(700, product={"id": "prod_a", "name": "A"}))
        _, taken = apply_discount(cart, {"type": "UNIT", "unit_off": 1, "unit_type": "prod_a"})
        assert taken == 700

    def test_unknown_amount_and_no_items_is_nothing(self) -> None:
        cart = Basket(None, ())
        for _, discount, *_ in CASES:
            assert apply_discount(cart, discount) == (cart, 0)

    @pytest.mark.parametrize(
        "discount",
        [
            {"type": "SHIPPING", "amount_off": 1},
            {"type": "PERCENT", "percent_off": 1, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
            {"type": "AMOUNT", "amount_off": 1, "effect": "ADD_MISSING_ITEMS"},
            {"type": "UNIT", "unit_off": 1, "unit_type": "p", "effect": "APPLY_TO_ORDER"},
            {"type": "UNIT", "effect": "ADD_MANY_ITEMS", "units": [{"effect": "APPLY_TO_ORDER"}]},
        ],
    )
    def test_unknown_type_or_effect_raises(self, discount: dict[str, Any]) -> None:
        with pytest.raises(ValueError, match="Unknown"):
            apply_discount(basket(*THREE), discount)


class TestApplyCredits:
    def test_takes_the_credits(self) -> None:
        after, taken = apply_credits(basket(*THREE, discount=500), 1000)
        assert (taken, after.discount, after.total) == (1000, 1500, 1500)

    def test_capped_at_what_is_left(self) -> None:
        after, taken = apply_credits(basket(*THREE), 5000)
        assert (taken, after.total) == (3000, 0)

    def test_negative_credits_raise(self) -> None:
        with pytest.raises(ValueError, match="Negative"):
            apply_credits(basket(*THREE), -1)


class TestOrderAmounts:
    def test_counts_only_this_requests_discounts_as_applied(self) -> None:
        initial = Basket(
            3000,
            (item(1000, discount_amount=100), item(2000)),
            discount=200,
        )
        cart, _ = apply_discount(initial, {"type": "AMOUNT", "amount_off": 300})
        cart, _ = apply_discount(
            cart, {"type": "AMOUNT", "amount_off": 50, "effect": "APPLY_TO_ITEMS"}
        )
        amounts = order_amounts(cart, initial=initial)
        assert {k: v for k, v in amounts.items() if k != "items"} == {
            "discount_amount": 500,
            "items_discount_amount": 200,
            "total_discount_amount": 700,
            "total_amount": 2300,
            "applied_discount_amount": 300,
            "items_applied_discount_amount": 100,
            "total_applied_discount_amount": 400,
        }
        first, second = amounts["items"]
        assert (first["discount_amount"], first["applied_discount_amount"]) == (150, 50)
        assert first["subtotal_amount"] == 850
        assert (second["discount_amount"], second["applied_discount_amount"]) == (50, 50)
        assert second["subtotal_amount"] == 1950

    def test_untouched_item_carries_no_discount_fields(self) -> None:
        cart = basket(item(1000))
        (rendered,) = order_amounts(cart, initial=cart)["items"]
        assert "discount_amount" not in rendered
        assert "applied_discount_amount" not in rendered
        assert rendered["subtotal_amount"] == 1000

    def test_unknown_amount_leaves_total_amount_out(self) -> None:
        cart = Basket(None, ())
        amounts = order_amounts(cart, initial=cart)
        assert "total_amount" not in amounts
        assert amounts["total_discount_amount"] == 0

    def test_other_items_raise(self) -> None:
        with pytest.raises(ValueError, match="initial items"):
            order_amounts(basket(*THREE), initial=basket(item(1)))

    def test_the_sdk_reads_it(self) -> None:
        initial = basket(*THREE)
        cart, _ = apply_discount(
            initial, {"type": "AMOUNT", "amount_off": 1000.4, "effect": "APPLY_TO_ITEMS"}
        )
        cart, _ = apply_credits(cart, 100)
        amounts = order_amounts(cart, initial=initial)
        body = {**amounts, "amount": 3000, "object": "order"}
        order = ValidationsValidateResponseBodyOrder.from_dict(body)
        assert order is not None
        assert order.total_amount == 3000 - 2500 - 100
        assert [i.applied_discount_amount for i in order.items or []] == [1000, 1000, 500]
        assert RedemptionsRedeemResponseBodyOrder.from_dict(body) is not None


class TestCents:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, 0), (0, 0), (10, 10), (10.49, 10), (10.5, 11), (2.675, 3), (-3, 0), (1e3, 1000)],
    )
    def test_rounds_half_up(self, value: float | None, expected: int) -> None:
        assert cents(value) == expected

    def test_infinity_raises(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            cents(float("inf"))


# --- properties ---------------------------------------------------------------------------------

money = st.integers(min_value=0, max_value=10**9)
counts = st.integers(min_value=0, max_value=50)


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    price = draw(st.integers(min_value=0, max_value=10**6))
    count = draw(st.none() | counts)
    data: dict[str, Any] = {"object": "order_item", "price": price, "quantity": count}
    data["product_id"] = draw(st.sampled_from(["prod_a", "prod_b", "prod_c"]))
    if count is not None and draw(st.booleans()):
        data["amount"] = price * count
    if draw(st.booleans()):
        data["discount_amount"] = draw(st.integers(min_value=0, max_value=10**6))
    return data


@st.composite
def baskets(draw: st.DrawFn) -> Basket:
    drawn = tuple(draw(st.lists(items(), max_size=6)))
    return Basket(
        amount=draw(st.none() | money),
        items=drawn,
        discount=draw(st.integers(min_value=0, max_value=10**6)),
    )


numbers = money | st.floats(min_value=0, max_value=10**9, allow_nan=False)


@st.composite
def discounts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["AMOUNT", "PERCENT", "FIXED", "UNIT"]))
    data: dict[str, Any]
    if kind == "AMOUNT":
        effect = draw(
            st.sampled_from(
                [
                    "APPLY_TO_ORDER",
                    "APPLY_TO_ITEMS",
                    "APPLY_TO_ITEMS_PROPORTIONALLY",
                    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
                    "APPLY_TO_ITEMS_BY_QUANTITY",
                ]
            )
        )
        data = {"type": kind, "effect": effect, "amount_off": draw(numbers)}
    elif kind == "PERCENT":
        effect = draw(st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]))
        percent = draw(st.integers(0, 100) | st.floats(0, 100, allow_nan=False))
        data = {"type": kind, "effect": effect, "percent_off": percent}
        if draw(st.booleans()):
            data["amount_limit"] = draw(numbers)
    elif kind == "FIXED":
        effect = draw(st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]))
        data = {"type": kind, "effect": effect, "fixed_amount": draw(numbers)}
    else:
        unit: dict[str, Any] = {
            "unit_off": draw(counts),
            "unit_type": draw(st.sampled_from(["prod_a", "prod_b", "prod_z"])),
            "effect": draw(st.sampled_from(["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"])),
        }
        if draw(st.booleans()):
            data = {"type": kind, **unit}
        else:
            data = {"type": kind, "effect": "ADD_MANY_ITEMS", "units": [unit, unit]}
    if draw(st.booleans()):
        data["aggregated_amount_limit"] = draw(money)
    return data


class TestProperties:
    @given(baskets(), discounts())
    def test_a_discount_takes_what_is_left_at_most(
        self, cart: Basket, discount: dict[str, Any]
    ) -> None:
        after, taken = apply_discount(cart, discount)
        assert 0 <= taken <= cart.total
        assert after.total == cart.total - taken
        assert after.discount >= cart.discount
        for i, (before, now) in enumerate(
            zip(cart.item_discounts, after.item_discounts, strict=True)
        ):
            assert 0 <= now - before <= cart.item_left(i)
        order_level = after.discount - cart.discount
        items_level = sum(after.item_discounts) - sum(cart.item_discounts)
        assert order_level + items_level == taken

    @given(baskets(), st.lists(discounts() | st.integers(0, 10**7), max_size=5))
    def test_a_sequence_takes_the_sum_of_its_amounts(
        self, cart: Basket, steps: list[dict[str, Any] | int]
    ) -> None:
        initial, taken = cart, 0
        for step in steps:
            if isinstance(step, int):
                cart, amount = apply_credits(cart, step)
            else:
                cart, amount = apply_discount(cart, step)
            taken += amount
        assert cart.total >= 0
        assert cart.total == initial.total - taken
        amounts = order_amounts(cart, initial=initial)
        assert amounts["total_applied_discount_amount"] == taken
        assert amounts["total_discount_amount"] == cart.discount + sum(cart.item_discounts)
        assert amounts["items_applied_discount_amount"] == sum(
            i.get("applied_discount_amount", 0) for i in amounts["items"]
        )
        if cart.order_amount is not None:
            assert amounts["total_amount"] == cart.total
        assert ValidationsValidateResponseBodyOrder.from_dict(amounts) is not None

    @given(
        st.integers(0, 10**9),
        st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 10**6)), max_size=8),
    )
    def test_split_sums_exactly_within_caps(
        self, amount: int, pairs: list[tuple[int, int]]
    ) -> None:
        weights = [w for w, _ in pairs]
        caps = [c for _, c in pairs]
        pieces = split(amount, weights, caps)
        reachable = sum(c for w, c in pairs if w > 0)
        assert sum(pieces) == min(amount, reachable)
        assert all(0 <= p <= c for p, c in zip(pieces, caps, strict=True))
        assert all(p == 0 for p, w in zip(pieces, weights, strict=True) if w == 0)

    @given(st.integers(0, 10**9), st.lists(st.integers(1, 10**6), min_size=1, max_size=8))
    def test_split_is_proportional_within_a_cent(self, amount: int, weights: list[int]) -> None:
        pieces = split(amount, weights, [10**16] * len(weights))
        total = sum(weights)
        assert all(
            abs(p * total - amount * w) < total for p, w in zip(pieces, weights, strict=True)
        )
