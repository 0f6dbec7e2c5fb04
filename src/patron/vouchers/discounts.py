"""What a voucher's discount takes off an order, and the order's calculated amounts.

Pure arithmetic, no I/O: validations (INCENTIVES.md §3.2) and redemptions (§4.3) apply the
requested redeemables one after another, in request order, each to what the earlier ones left,
then answer the order's calculated fields (`OrderCalculated`) with `order_amounts`.

All amounts are integers in cents. The discount is the voucher's `discount` as stored
(`schemas.discount_dict`): `type` AMOUNT, PERCENT, FIXED or UNIT and its `effect`.

Decisions where the spec is silent:

- Patron keeps no product/SKU applicability rules yet, so an item effect applies to every item.
- Fractional cents (`amount_off`, `amount_limit`, `fixed_amount` may be floats; percentages
  give fractions) are rounded half up to the cent, as Voucherify rounds to the nearest cent.
- An item's quantity is 1 when not sent; an item without an amount (neither `amount` nor
  `price` * `quantity`) cannot be discounted.
- A value given only as a formula (`amount_off_formula`, …) is not evaluated: the discount is 0.
- PERCENT `amount_limit` caps the order's discount (APPLY_TO_ORDER) or each item's
  (APPLY_TO_ITEMS); `aggregated_amount_limit` ("maximum discount amount per order") caps the
  whole discount of any type, item pieces being scaled down proportionally.
- FIXED APPLY_TO_ITEMS sets each unit's price to `fixed_amount`: an item's discount is what is
  left of it minus `fixed_amount` * quantity.
- UNIT does not add units to the order: the `unit_off` free units are taken off items of the
  order that name `unit_type` (product or SKU id), in item order, at the item's `price`; an
  item the order lacks, whose price Patron does not know, gives 0. The three single-unit
  effects (ADD_MISSING_ITEMS, ADD_NEW_ITEMS, ADD_SAME_ITEMS) therefore behave alike.
- A discount never exceeds what is left to pay, and an item piece never exceeds what is left
  of the item; when item pieces together exceed the order's total (an `amount` below the
  items' sum), they are scaled down proportionally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from math import floor, isfinite
from typing import Any

ORDER_EFFECT = "APPLY_TO_ORDER"
SINGLE_UNIT_EFFECTS = frozenset(["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS", "ADD_SAME_ITEMS"])


@dataclass(frozen=True, slots=True)
class Basket:
    """An order being discounted. Amounts in cents (integers).

    `item_discounts` left empty means each item's own `discount_amount` (0 when absent), so a
    basket built from a stored order counts the discounts the client sent, as `orders.schemas
    .totals` does. Raises ValueError when it is given with a length other than the items'.
    """

    amount: int | None
    items: tuple[Mapping[str, Any], ...]
    discount: int = 0
    item_discounts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.item_discounts:
            stored = tuple(max(0, item.get("discount_amount") or 0) for item in self.items)
            object.__setattr__(self, "item_discounts", stored)
        elif len(self.item_discounts) != len(self.items):
            raise ValueError(
                f"{len(self.item_discounts)} item discounts for {len(self.items)} items"
            )

    @property
    def order_amount(self) -> int | None:
        """`amount`, else the sum of the items' amounts, else None (unknown)."""
        if self.amount is not None:
            return self.amount
        amounts = [a for a in map(item_amount, self.items) if a is not None]
        return sum(amounts) if amounts else None

    @property
    def total(self) -> int:
        """What is left to pay: amount - discount - sum(item_discounts), never below 0."""
        amount = self.order_amount
        if amount is None:
            return 0
        return max(0, amount - self.discount - sum(self.item_discounts))

    def item_left(self, index: int) -> int:
        """What is left of the item at `index` after its discounts (0 when it has no amount)."""
        amount = item_amount(self.items[index])
        if amount is None:
            return 0
        return max(0, amount - self.item_discounts[index])


def item_amount(item: Mapping[str, Any]) -> int | None:
    """The item's amount in cents: `amount`, else `price` * `quantity`, else None."""
    amount = item.get("amount")
    if amount is None and item.get("price") is not None and item.get("quantity") is not None:
        amount = item["price"] * item["quantity"]
    return None if amount is None else max(0, int(amount))


def quantity(item: Mapping[str, Any]) -> int:
    """The item's quantity; 1 when not sent."""
    value = item.get("quantity")
    return 1 if value is None else max(0, int(value))


def cents(value: float | int | None) -> int:
    """A JSON number of cents (or units) as an int, rounded half up; None and negatives are 0.

    Raises ValueError for infinities and NaN (vouchers refuse them at creation)."""
    if value is None:
        return 0
    return max(0, _round(_exact(value)))


def apply_discount(basket: Basket, discount: Mapping[str, Any]) -> tuple[Basket, int]:
    """Apply one voucher's discount (as stored on the voucher) to what is left of the basket;
    return the new basket and this discount's amount in cents (never more than what is left).

    APPLY_TO_ORDER adds to the basket's order-level `discount`; every other effect adds to
    `item_discounts`. Raises ValueError for an unknown `type` or `effect` (vouchers validate
    them at creation, so one here is a programming error). INCENTIVES.md §3.2, §4.3.
    """
    kind = discount.get("type")
    if kind == "UNIT":
        pieces = _unit_pieces(basket, discount)
        return _add_to_items(basket, pieces, discount)
    effect = discount.get("effect") or ORDER_EFFECT
    rule = _RULES.get((kind, effect))
    if rule is None:
        raise ValueError(f"Unknown discount type {kind!r} with effect {effect!r}")
    if effect == ORDER_EFFECT:
        taken = min(rule(basket, discount)[0], basket.total, _aggregated_limit(discount))
        return replace(basket, discount=basket.discount + taken), taken
    return _add_to_items(basket, rule(basket, discount), discount)


def apply_credits(basket: Basket, credits: int) -> tuple[Basket, int]:
    """Gift card credits spent on the order (order-level, capped at what is left); new basket
    and the amount taken, in cents. INCENTIVES.md §4.3. Raises ValueError for negative credits.
    """
    if credits < 0:
        raise ValueError(f"Negative gift credits: {credits}")
    taken = min(credits, basket.total)
    return replace(basket, discount=basket.discount + taken), taken


def order_amounts(basket: Basket, *, initial: Basket) -> dict[str, Any]:
    """The calculated order fields Voucherify answers for a validated/redeemed order:
    discount_amount, items_discount_amount, total_discount_amount, total_amount,
    applied_discount_amount, items_applied_discount_amount, total_applied_discount_amount, and
    `items` with their discount_amount/applied_discount_amount where applicable. `initial` is
    the basket before this request's discounts (so pre-existing order discounts are not counted
    as applied).

    All values are ints in cents. `discount_amount` and `items_discount_amount` count every
    discount (pre-existing and applied); the `applied_*` ones only what `basket` adds to
    `initial`. `total_amount` (= `basket.total`) is left out when the order's amount is unknown,
    as on a stored order. Each item is a copy with `discount_amount` (when non-zero or already
    sent), `applied_discount_amount` (when non-zero) and `subtotal_amount` (amount less its
    discounts, when its amount is known). Raises ValueError when `initial` has other items.
    OpenAPI `OrderCalculated`; INCENTIVES.md §3.2, §4.3.
    """
    if len(initial.items) != len(basket.items):
        raise ValueError(f"{len(initial.items)} initial items for {len(basket.items)} items")
    items_discount = sum(basket.item_discounts)
    applied = max(0, basket.discount - initial.discount)
    items_applied = [
        max(0, now - before)
        for now, before in zip(basket.item_discounts, initial.item_discounts, strict=True)
    ]
    result: dict[str, Any] = {
        "discount_amount": basket.discount,
        "items_discount_amount": items_discount,
        "total_discount_amount": basket.discount + items_discount,
    }
    if basket.order_amount is not None:
        result["total_amount"] = basket.total
    result["applied_discount_amount"] = applied
    result["items_applied_discount_amount"] = sum(items_applied)
    result["total_applied_discount_amount"] = applied + sum(items_applied)
    result["items"] = [
        _render_item(item, discount, item_applied)
        for item, discount, item_applied in zip(
            basket.items, basket.item_discounts, items_applied, strict=True
        )
    ]
    return result


# --- the rules ------------------------------------------------------------------------------

# A rule answers the discount's pieces before the basket's caps: one piece (the order's) for
# APPLY_TO_ORDER, else one per item, each already within what is left of its item.
Rule = Callable[[Basket, Mapping[str, Any]], list[int]]


def _amount_to_order(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    return [cents(discount.get("amount_off"))]


def _amount_to_items(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    off = cents(discount.get("amount_off"))
    return [min(off, basket.item_left(i)) for i in range(len(basket.items))]


def _amount_to_items_by_quantity(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    off = cents(discount.get("amount_off"))
    return [min(off * quantity(item), basket.item_left(i)) for i, item in enumerate(basket.items)]


def _amount_proportionally(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    left = _items_left(basket)
    off = min(cents(discount.get("amount_off")), basket.total, _aggregated_limit(discount))
    return split(off, left, left)


def _amount_proportionally_by_quantity(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    left = _items_left(basket)
    weights = [quantity(item) for item in basket.items]
    off = min(cents(discount.get("amount_off")), basket.total, _aggregated_limit(discount))
    return split(off, weights, left)


def _percent_of(value: int, discount: Mapping[str, Any]) -> int:
    percent = discount.get("percent_off")
    if percent is None:
        return 0
    piece = _round(value * _exact(percent) / 100)
    limit = discount.get("amount_limit")
    return piece if limit is None else min(piece, cents(limit))


def _percent_to_order(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    return [_percent_of(basket.total, discount)]


def _percent_to_items(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    return [_percent_of(left, discount) for left in _items_left(basket)]


def _fixed_to_order(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    fixed = discount.get("fixed_amount")
    return [0 if fixed is None else max(0, basket.total - cents(fixed))]


def _fixed_to_items(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    fixed = discount.get("fixed_amount")
    if fixed is None:
        return [0] * len(basket.items)
    return [
        max(0, basket.item_left(i) - cents(fixed) * quantity(item))
        for i, item in enumerate(basket.items)
    ]


_RULES: dict[tuple[Any, str], Rule] = {
    ("AMOUNT", "APPLY_TO_ORDER"): _amount_to_order,
    ("AMOUNT", "APPLY_TO_ITEMS"): _amount_to_items,
    ("AMOUNT", "APPLY_TO_ITEMS_BY_QUANTITY"): _amount_to_items_by_quantity,
    ("AMOUNT", "APPLY_TO_ITEMS_PROPORTIONALLY"): _amount_proportionally,
    ("AMOUNT", "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"): _amount_proportionally_by_quantity,
    ("PERCENT", "APPLY_TO_ORDER"): _percent_to_order,
    ("PERCENT", "APPLY_TO_ITEMS"): _percent_to_items,
    ("FIXED", "APPLY_TO_ORDER"): _fixed_to_order,
    ("FIXED", "APPLY_TO_ITEMS"): _fixed_to_items,
}


def _unit_pieces(basket: Basket, discount: Mapping[str, Any]) -> list[int]:
    """UNIT: each unit's free units, taken off the matching items at their price."""
    units: Sequence[Mapping[str, Any]]
    effect = discount.get("effect") or ("ADD_MANY_ITEMS" if discount.get("units") else None)
    if effect == "ADD_MANY_ITEMS":
        units = discount.get("units") or ()
    elif effect is None or effect in SINGLE_UNIT_EFFECTS:
        units = (discount,)
    else:
        raise ValueError(f"Unknown UNIT discount effect {effect!r}")
    pieces = [0] * len(basket.items)
    for unit in units:
        unit_effect = unit.get("effect")
        if unit_effect is not None and unit_effect not in SINGLE_UNIT_EFFECTS:
            raise ValueError(f"Unknown UNIT discount effect {unit_effect!r}")
        free = cents(unit.get("unit_off"))
        target = _unit_target(unit)
        for i, item in enumerate(basket.items):
            if free == 0 or target is None:
                break
            price = _price(item)
            if price is None or not _names(item, target):
                continue
            taken = min(free, quantity(item))
            free -= taken
            pieces[i] += min(taken * price, basket.item_left(i) - pieces[i])
    return pieces


def _unit_target(unit: Mapping[str, Any]) -> str | None:
    target = unit.get("unit_type")
    for name in ("sku", "product"):
        ref = unit.get(name)
        if target is None and isinstance(ref, Mapping):
            target = ref.get("id")
    return target if isinstance(target, str) else None


def _names(item: Mapping[str, Any], target: str) -> bool:
    """Whether the item is the product or SKU `target` (its id, or its product's/SKU's id)."""
    if target in (item.get("product_id"), item.get("sku_id")):
        return True
    return any(
        isinstance(item.get(name), Mapping) and item[name].get("id") == target
        for name in ("product", "sku")
    )


def _price(item: Mapping[str, Any]) -> int | None:
    """The item's unit price: `price`, else its amount over its quantity (rounded down)."""
    price = item.get("price")
    if price is not None:
        return max(0, int(price))
    amount, count = item_amount(item), quantity(item)
    return None if amount is None or count == 0 else amount // count


# --- the caps -------------------------------------------------------------------------------


def _add_to_items(
    basket: Basket, pieces: list[int], discount: Mapping[str, Any]
) -> tuple[Basket, int]:
    limit = min(basket.total, _aggregated_limit(discount))
    if sum(pieces) > limit:
        pieces = split(limit, pieces, pieces)
    item_discounts = tuple(
        before + piece for before, piece in zip(basket.item_discounts, pieces, strict=True)
    )
    return replace(basket, item_discounts=item_discounts), sum(pieces)


def _aggregated_limit(discount: Mapping[str, Any]) -> int:
    limit = discount.get("aggregated_amount_limit")
    return 2**63 if limit is None else cents(limit)


def _items_left(basket: Basket) -> list[int]:
    return [basket.item_left(i) for i in range(len(basket.items))]


def split(amount: int, weights: Sequence[int], caps: Sequence[int]) -> list[int]:
    """Share `amount` (cents) among items in proportion to `weights`, each piece within its cap.

    Largest remainder: pieces are the shares rounded down, the cents left over going one each
    to the largest fractional parts (the earlier item on a tie); a piece over its cap is cut to
    it and the excess shared again among the others. The pieces sum to exactly `amount`, or to
    the sum of the caps of the items with a positive weight when that is less. Pure integers.
    """
    pieces = [0] * len(caps)
    left = max(0, amount)
    open_items = [i for i in range(len(caps)) if weights[i] > 0 and caps[i] > 0]
    while left > 0 and open_items:
        weight = sum(weights[i] for i in open_items)
        shares = {i: divmod(left * weights[i], weight) for i in open_items}
        extra = left - sum(share for share, _ in shares.values())
        by_remainder = sorted(open_items, key=lambda i: (-shares[i][1], i))
        for rank, i in enumerate(by_remainder):
            share = shares[i][0] + (1 if rank < extra else 0)
            taken = min(share, caps[i] - pieces[i])
            pieces[i] += taken
            left -= taken
        open_items = [i for i in open_items if pieces[i] < caps[i]]
    return pieces


def _render_item(item: Mapping[str, Any], discount: int, applied: int) -> dict[str, Any]:
    rendered = dict(item)
    if discount or "discount_amount" in item:
        rendered["discount_amount"] = discount
    if applied:
        rendered["applied_discount_amount"] = applied
    amount = item_amount(item)
    if amount is not None:
        rendered["subtotal_amount"] = max(0, amount - discount)
    return rendered


def _exact(value: float | int) -> Fraction:
    """A JSON number as the decimal it was written as (0.1 is 1/10, not the nearest double)."""
    if isinstance(value, float):
        if not isfinite(value):
            raise ValueError(f"Not a finite number: {value}")
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def _round(value: Fraction) -> int:
    """Half up, to the nearest whole cent."""
    return floor(value + Fraction(1, 2))
