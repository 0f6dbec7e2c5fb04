"""Model-based test: random redemptions, rollbacks and gift balance changes, checked after
every step against a plain model of the counters they move (INCENTIVES.md §0.1, §1.5, §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from patron.projects.service import Credentials
from tests.conftest import RunningServer, auth_headers, create_project
from tests.redemptions.summaries import differences

CUSTOMERS = st.sampled_from(["c0", "c1", "c2"])
AMOUNT_OFF = 100


@dataclass
class Card:
    """A code as the model sees it: `quantity` None is unlimited; `balance` None for discounts."""

    code: str
    quantity: int | None
    balance: int | None
    holder: str | None = None
    redeemed: int = 0


@dataclass
class Counters:
    succeeded: int = 0
    failed: int = 0
    rollbacks_succeeded: int = 0
    rollbacks_failed: int = 0
    gift_redeemed: int = 0


@dataclass
class Redeemed:
    """A successful stacked redemption: its parent id, customer and what each code took."""

    parent_id: str
    customer: str
    taken: list[tuple[Card, int]]
    rolled_back: bool = False


@dataclass
class Expected:
    refused: str | None = None
    taken: list[tuple[Card, int]] = field(default_factory=list)


class RedemptionsModel(RuleBasedStateMachine):
    server: RunningServer

    @initialize()
    def start(self) -> None:
        self.credentials: Credentials = create_project(self.server.db, "redemptions-model")
        self.http = httpx.Client(
            base_url=self.server.base_url, headers=auth_headers(self.credentials), timeout=30
        )
        self.cards: list[Card] = []
        self.customers: dict[str, Counters] = {}
        self.redemptions: list[Redeemed] = []
        # Live validation sessions (LOCK, one hour): key -> the code and credits they hold.
        self.sessions: dict[str, tuple[Card, int]] = {}

    def teardown(self) -> None:
        if hasattr(self, "http"):
            try:
                found = differences(self.server.db, self.credentials.project_id)
                assert found == [], found
            finally:
                self.http.close()

    def _customer(self, key: str) -> Counters:
        return self.customers.setdefault(key, Counters())

    # --- codes ---------------------------------------------------------------------------

    @rule(quantity=st.one_of(st.none(), st.integers(1, 3)))
    def create_discount(self, quantity: int | None) -> None:
        body: dict[str, Any] = {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": AMOUNT_OFF},
        }
        if quantity is not None:
            body["redemption"] = {"quantity": quantity}
        response = self.http.post("/v1/vouchers", json=body)
        assert response.status_code == 200, response.text
        self.cards.append(Card(response.json()["code"], quantity, None))

    @rule(amount=st.integers(1, 30).map(lambda n: n * 100), holder=st.none() | CUSTOMERS)
    def create_gift_card(self, amount: int, holder: str | None) -> None:
        response = self.http.post(
            "/v1/vouchers", json={"type": "GIFT_VOUCHER", "gift": {"amount": amount}}
        )
        assert response.status_code == 200, response.text
        card = Card(response.json()["code"], None, amount)
        if holder is not None:
            published = self.http.post(
                "/v1/publications", json={"customer": {"source_id": holder}, "voucher": card.code}
            )
            assert published.status_code == 200, published.text
            card.holder = holder
            self._customer(holder)
        self.cards.append(card)

    # --- redemptions and rollbacks -------------------------------------------------------

    def _expect(
        self, items: list[tuple[Card, int | None]], amount: int, *, key: str | None = None
    ) -> Expected:
        """What Patron should do with these codes, in request order, on an order of `amount`,
        with what sessions other than `key` hold."""
        to_pay = amount
        expected = Expected()
        for card, requested in items:
            held = [
                c for k, (held_card, c) in self.sessions.items() if held_card is card and k != key
            ]
            if card.quantity is not None and card.redeemed + len(held) >= card.quantity:
                expected.refused = expected.refused or "quantity_exceeded"
                continue
            if card.balance is None:
                to_pay -= min(AMOUNT_OFF, to_pay)
                expected.taken.append((card, 0))
                continue
            available = max(0, card.balance - sum(held))
            if requested is None:
                if available == 0:
                    expected.refused = expected.refused or "gift_amount_exceeded"
                    continue
                credits = min(available, to_pay)
            elif requested > available:
                expected.refused = expected.refused or "gift_amount_exceeded"
                continue
            else:
                credits = min(requested, to_pay)
            to_pay -= credits
            expected.taken.append((card, credits))
        return expected

    @precondition(lambda self: bool(self.cards))
    @rule(
        customer=CUSTOMERS,
        picks=st.lists(st.integers(0, 1000), min_size=1, max_size=2),
        credits=st.lists(st.none() | st.integers(1, 40).map(lambda n: n * 100), min_size=2),
        amount=st.integers(3, 40).map(lambda n: n * 100),
        session=st.none() | st.integers(0, 1000),
    )
    def redeem(
        self,
        customer: str,
        picks: list[int],
        credits: list[int | None],
        amount: int,
        session: int | None,
    ) -> None:
        chosen: list[Card] = []
        for pick in picks:
            card = self.cards[pick % len(self.cards)]
            if card not in chosen:
                chosen.append(card)
        # One gift card a request at most: a second would see the order fully paid.
        gifts = [card for card in chosen if card.balance is not None]
        if len(gifts) > 1:
            chosen.remove(gifts[1])
        items = [
            (card, credits[n] if card.balance is not None else None)
            for n, card in enumerate(chosen)
        ]
        keys = sorted(self.sessions)
        key = keys[session % len(keys)] if session is not None and keys else None
        expected = self._expect(items, amount, key=key)
        redeemables = []
        for card, requested in items:
            redeemable: dict[str, Any] = {"object": "voucher", "id": card.code}
            if requested is not None:
                redeemable["gift"] = {"credits": requested}
            redeemables.append(redeemable)
        body: dict[str, Any] = {
            "redeemables": redeemables,
            "customer": {"source_id": customer},
            "order": {"amount": amount},
        }
        if key is not None:
            body["session"] = {"key": key}
        response = self.http.post("/v1/redemptions", json=body)
        counters = self._customer(customer)
        if expected.refused is not None:
            assert response.status_code == 400, response.text
            assert response.json()["key"] == expected.refused
            assert response.json()["resource_id"].startswith("rf_")
            counters.failed += len(items)
            return
        assert response.status_code == 200, response.text
        if key is not None:
            del self.sessions[key]
        body = response.json()
        assert [r["voucher"]["code"] for r in body["redemptions"]] == [c.code for c, _ in items]
        for (card, taken), child in zip(expected.taken, body["redemptions"], strict=True):
            card.redeemed += 1
            if card.balance is not None:
                card.balance -= taken
                assert child["gift"]["amount"] == taken
                assert child["voucher"]["gift"]["balance"] == card.balance
        counters.succeeded += len(items)
        counters.gift_redeemed += sum(taken for _, taken in expected.taken)
        self.redemptions.append(Redeemed(body["parent_redemption"]["id"], customer, expected.taken))

    @precondition(lambda self: bool(self.cards))
    @rule(
        pick=st.integers(0, 1000),
        credits=st.none() | st.integers(1, 40).map(lambda n: n * 100),
        amount=st.integers(3, 40).map(lambda n: n * 100),
    )
    def lock(self, pick: int, credits: int | None, amount: int) -> None:
        card = self.cards[pick % len(self.cards)]
        requested = credits if card.balance is not None else None
        expected = self._expect([(card, requested)], amount)
        redeemable: dict[str, Any] = {"object": "voucher", "id": card.code}
        if requested is not None:
            redeemable["gift"] = {"credits": requested}
        response = self.http.post(
            "/v1/validations",
            json={
                "redeemables": [redeemable],
                "order": {"amount": amount},
                "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"},
            },
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        if expected.refused is not None:
            assert answer["valid"] is False, answer
            error = answer["inapplicable_redeemables"][0]["result"]["error"]
            assert error["key"] == expected.refused
            assert "session" not in answer
            return
        assert answer["valid"] is True, answer
        [(_, taken)] = expected.taken
        self.sessions[answer["session"]["key"]] = (card, taken)

    @precondition(lambda self: bool(self.sessions))
    @rule(pick=st.integers(0, 1000))
    def release(self, pick: int) -> None:
        keys = sorted(self.sessions)
        key = keys[pick % len(keys)]
        card, _ = self.sessions.pop(key)
        response = self.http.delete(f"/v1/vouchers/{card.code}/sessions/{key}")
        assert response.status_code == 204, response.text

    @precondition(lambda self: bool(self.redemptions))
    @rule(pick=st.integers(0, 1000))
    def rollback(self, pick: int) -> None:
        redeemed = self.redemptions[pick % len(self.redemptions)]
        response = self.http.post(
            f"/v1/redemptions/{redeemed.parent_id}/rollbacks", params={"reason": "model"}
        )
        counters = self._customer(redeemed.customer)
        if redeemed.rolled_back:
            assert response.status_code == 400, response.text
            assert response.json()["key"] == "already_rolled_back"
            counters.rollbacks_failed += 1
            return
        assert response.status_code == 200, response.text
        assert response.json()["order"]["status"] == "CANCELED"
        redeemed.rolled_back = True
        for card, taken in redeemed.taken:
            card.redeemed -= 1
            if card.balance is not None:
                card.balance += taken
        counters.rollbacks_succeeded += len(redeemed.taken)
        counters.gift_redeemed -= sum(taken for _, taken in redeemed.taken)

    @precondition(lambda self: any(card.balance is not None for card in self.cards))
    @rule(
        pick=st.integers(0, 1000), amount=st.integers(-30, 30).filter(bool).map(lambda n: n * 100)
    )
    def change_balance(self, pick: int, amount: int) -> None:
        gifts = [card for card in self.cards if card.balance is not None]
        card = gifts[pick % len(gifts)]
        assert card.balance is not None
        response = self.http.post(f"/v1/vouchers/{card.code}/balance", json={"amount": amount})
        if card.balance + amount < 0:
            assert response.status_code == 400, response.text
            assert response.json()["key"] == "gift_amount_exceeded"
            return
        assert response.status_code == 200, response.text
        card.balance += amount
        assert response.json()["balance"] == card.balance

    # --- what the API shows --------------------------------------------------------------

    @invariant()
    def customers_match(self) -> None:
        if not hasattr(self, "http"):
            return
        for key, counters in self.customers.items():
            response = self.http.get(f"/v1/customers/{key}")
            assert response.status_code == 200, response.text
            shown = response.json()["summary"]["redemptions"]
            held = sum(
                card.balance or 0
                for card in self.cards
                if card.holder == key and card.balance is not None
            )
            assert {
                "total_redeemed": shown["total_redeemed"],
                "total_succeeded": shown["total_succeeded"],
                "total_failed": shown["total_failed"],
                "total_rolled_back": shown["total_rolled_back"],
                "total_rollback_succeeded": shown["total_rollback_succeeded"],
                "total_rollback_failed": shown["total_rollback_failed"],
                "redeemed_amount": shown["gift"]["redeemed_amount"],
                "amount_to_go": shown["gift"]["amount_to_go"],
            } == {
                "total_redeemed": counters.succeeded + counters.failed,
                "total_succeeded": counters.succeeded,
                "total_failed": counters.failed,
                "total_rolled_back": counters.rollbacks_succeeded + counters.rollbacks_failed,
                "total_rollback_succeeded": counters.rollbacks_succeeded,
                "total_rollback_failed": counters.rollbacks_failed,
                "redeemed_amount": counters.gift_redeemed,
                "amount_to_go": held,
            }, key

    @invariant()
    def codes_match(self) -> None:
        if not hasattr(self, "http"):
            return
        for card in self.cards:
            shown = self.http.get(f"/v1/vouchers/{card.code}").json()
            assert shown["redemption"]["redeemed_quantity"] == card.redeemed, card
            if card.balance is not None:
                assert shown["gift"]["balance"] == card.balance, card


# A passing run takes seconds; a failing one shrinks for a minute or two before it reports.
@pytest.mark.timeout(300)
def test_redemptions_behave_like_the_model(server: RunningServer) -> None:
    RedemptionsModel.server = server
    runner = RedemptionsModel.TestCase
    runner.settings = settings(
        max_examples=15,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
