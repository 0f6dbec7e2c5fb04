"""Redemptions, rollbacks and validation sessions under concurrent requests (INCENTIVES.md §4):
limits hold exactly, balances never go below zero, and every customer counter ends where the
stored redemptions say (`patron summaries check` finds nothing)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import voucherify

from patron.projects.service import Credentials
from tests.conftest import RunningServer, sdk_client
from tests.redemptions.summaries import assert_consistent

Call = Callable[[httpx.Client], httpx.Response]


@pytest.fixture(autouse=True)
def summaries_check(server: RunningServer, project: Credentials) -> Iterator[None]:
    """After each test, the project's stored aggregates equal what their sources say."""
    yield
    assert_consistent(server.db, project.project_id)


def concurrently(
    server: RunningServer, http: httpx.Client, calls: list[Call], *, threads: int = 16
) -> list[httpx.Response]:
    """Run the calls at once (each on a client of its own, released together by a barrier
    when there are no more calls than threads), answers in the order of the calls."""
    barrier = threading.Barrier(len(calls)) if len(calls) <= threads else None

    def one(call: Call) -> httpx.Response:
        with httpx.Client(
            base_url=server.base_url, headers=dict(http.headers), timeout=60
        ) as client:
            if barrier is not None:
                barrier.wait(timeout=30)
            return call(client)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, calls))


def voucher(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("type", "DISCOUNT_VOUCHER")
    if body["type"] == "DISCOUNT_VOUCHER":
        body.setdefault("discount", {"type": "AMOUNT", "amount_off": 100})
    response = http.post("/v1/vouchers", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def redeem_call(
    code: str, customer: str, *, amount: int = 1000, order: str | None = None, **item: Any
) -> Call:
    """Redeem one code for a customer with an order of its own (`order` names it)."""

    def call(client: httpx.Client) -> httpx.Response:
        return client.post(
            "/v1/redemptions",
            json={
                "redeemables": [{"object": "voucher", "id": code, **item}],
                "customer": {"source_id": customer},
                "order": {"amount": amount, "source_id": order or f"order-{customer}"},
            },
        )

    return call


def rollback_call(redemption_id: str, *, stacked: bool) -> Call:
    path = "rollbacks" if stacked else "rollback"

    def call(client: httpx.Client) -> httpx.Response:
        return client.post(f"/v1/redemptions/{redemption_id}/{path}", params={"reason": "race"})

    return call


def counters(http: httpx.Client, customer: str) -> dict[str, Any]:
    response = http.get(f"/v1/customers/{customer}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["summary"]["redemptions"]
    return found


def redeemed_quantity(http: httpx.Client, code: str) -> int:
    quantity: int = http.get(f"/v1/vouchers/{code}").json()["redemption"]["redeemed_quantity"]
    return quantity


class TestQuantityLimit:
    def test_64_customers_race_for_10_uses(self, server: RunningServer, http: httpx.Client) -> None:
        code = voucher(http, redemption={"quantity": 10})["code"]
        customers = [f"q{number}" for number in range(64)]
        answers = concurrently(server, http, [redeem_call(code, c) for c in customers])
        assert all(a.status_code in (200, 400) for a in answers), [a.text for a in answers]
        won = [c for c, a in zip(customers, answers, strict=True) if a.status_code == 200]
        lost = [
            (c, a.json()) for c, a in zip(customers, answers, strict=True) if a.status_code == 400
        ]
        assert len(won) == 10
        assert len(lost) == 54
        assert {body["key"] for _, body in lost} == {"quantity_exceeded"}
        assert all(body["resource_id"].startswith("rf_") for _, body in lost)
        assert all(body["resource_type"] == "redemption" for _, body in lost)
        failures = http.get("/v1/redemptions", params={"result": "FAILURE", "limit": 100}).json()
        assert failures["total"] == 54
        assert {r["id"] for r in failures["redemptions"]} == {b["resource_id"] for _, b in lost}
        assert {r["failure_code"] for r in failures["redemptions"]} == {"quantity_exceeded"}
        for customer, _ in lost:
            found = counters(http, customer)
            assert (found["total_redeemed"], found["total_failed"]) == (1, 1), customer
            assert found["total_succeeded"] == 0
            activity = http.get(
                f"/v1/customers/{customer}/activity", params={"type": "customer.redemption.failed"}
            ).json()
            assert len(activity["data"]) == 1, customer
        for customer in won:
            found = counters(http, customer)
            assert (found["total_redeemed"], found["total_succeeded"]) == (1, 1), customer
        assert redeemed_quantity(http, code) == 10
        successes = http.get("/v1/redemptions", params={"result": "SUCCESS", "limit": 100}).json()
        assert successes["total"] == 10


class TestGiftBalance:
    def test_64_spends_of_5_00_on_a_100_00_card(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 10000})["code"]
        published = http.post(
            "/v1/publications", json={"customer": {"source_id": "holder"}, "voucher": code}
        )
        assert published.status_code == 200, published.text
        assert counters(http, "holder")["gift"]["amount_to_go"] == 10000
        # Eight spenders, eight requests each: the counters of one customer move concurrently.
        spenders = [f"s{number % 8}" for number in range(64)]
        calls = [
            redeem_call(code, spender, amount=800, order=f"o{number}", gift={"credits": 500})
            for number, spender in enumerate(spenders)
        ]
        answers = concurrently(server, http, calls)
        assert all(a.status_code in (200, 400) for a in answers), [a.text for a in answers]
        won = [a.json() for a in answers if a.status_code == 200]
        lost = [a.json() for a in answers if a.status_code == 400]
        assert len(won) == 20
        assert {body["key"] for body in lost} == {"gift_amount_exceeded"}
        # Each success saw the balance its own spend left: all different, never below zero.
        balances = sorted(body["redemptions"][0]["voucher"]["gift"]["balance"] for body in won)
        assert balances == list(range(0, 10000, 500))
        card = http.get(f"/v1/vouchers/{code}").json()
        assert card["gift"]["balance"] == 0
        assert card["redemption"]["redeemed_quantity"] == 20
        assert counters(http, "holder")["gift"]["amount_to_go"] == 0
        per_spender = Counter(
            spender for spender, a in zip(spenders, answers, strict=True) if a.status_code == 200
        )
        spent = 0
        for spender in sorted(set(spenders)):
            found = counters(http, spender)
            assert found["gift"]["redeemed_amount"] == 500 * per_spender[spender], spender
            assert found["total_succeeded"] == per_spender[spender]
            assert found["total_failed"] == 8 - per_spender[spender]
            spent += found["gift"]["redeemed_amount"]
        assert spent == 10000
        transactions = http.get(f"/v1/vouchers/{code}/transactions", params={"limit": 100}).json()
        assert [t["type"] for t in transactions["data"]] == ["CREDITS_REDEMPTION"] * 20


class TestRedemptionAgainstRollback:
    @pytest.mark.parametrize("rounds", [8])
    def test_a_rollback_and_a_redemption_of_a_single_use_code(
        self, server: RunningServer, http: httpx.Client, rounds: int
    ) -> None:
        """Rollback of A while B redeems the same quantity-1 code: either B came first (refused,
        the code ends unused) or the rollback did (B redeems, the code ends used once)."""
        seen = set()
        for number in range(rounds):
            code = voucher(http, redemption={"quantity": 1})["code"]
            first, second = f"a{number}", f"b{number}"
            redeemed = redeem_call(code, first)(http)
            assert redeemed.status_code == 200, redeemed.text
            parent = redeemed.json()["parent_redemption"]["id"]
            rolled, other = concurrently(
                server, http, [rollback_call(parent, stacked=True), redeem_call(code, second)]
            )
            assert rolled.status_code == 200, rolled.text
            assert other.status_code in (200, 400), other.text
            b_won = other.status_code == 200
            seen.add(b_won)
            if not b_won:
                assert other.json()["key"] == "quantity_exceeded"
            assert redeemed_quantity(http, code) == (1 if b_won else 0)
            a_counts = counters(http, first)
            assert (a_counts["total_succeeded"], a_counts["total_rollback_succeeded"]) == (1, 1)
            b_counts = counters(http, second)
            assert (b_counts["total_succeeded"], b_counts["total_failed"]) == (
                (1, 0) if b_won else (0, 1)
            )
            entries = http.get(f"/v1/vouchers/{code}/redemption").json()
            statuses = sorted(e["status"] for e in entries["redemption_entries"])
            assert statuses == (
                sorted(["ROLLED_BACK", "SUCCEEDED", "SUCCEEDED"])
                if b_won
                else sorted(["ROLLED_BACK", "SUCCEEDED", "FAILED"])
            )
        assert seen  # at least one serial outcome was observed (both are allowed)


class TestConcurrentRollbacks:
    @pytest.mark.parametrize("stacked", [True, False], ids=["stacked", "single"])
    def test_two_rollbacks_of_one_redemption(
        self, server: RunningServer, http: httpx.Client, stacked: bool
    ) -> None:
        for number in range(6):
            code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 1000})["code"]
            customer = f"r{number}"
            body = {
                "customer": {"source_id": customer},
                "order": {"amount": 700},
                "gift": {"credits": 700},
            }
            if stacked:
                made = redeem_call(code, customer, amount=700, gift={"credits": 700})(http)
                assert made.status_code == 200, made.text
                target = made.json()["parent_redemption"]["id"]
            else:
                made = http.post(f"/v1/vouchers/{code}/redemption", json=body)
                assert made.status_code == 200, made.text
                target = made.json()["id"]
            answers = concurrently(
                server, http, [rollback_call(target, stacked=stacked) for _ in range(2)]
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 400], [a.text for a in answers]
            refused = next(a.json() for a in answers if a.status_code == 400)
            assert refused["key"] in ("multiple_requests", "already_rolled_back"), refused
            if refused["key"] == "already_rolled_back":
                assert refused["resource_id"].startswith("rrf_")
            card = http.get(f"/v1/vouchers/{code}").json()
            assert card["gift"]["balance"] == 1000
            assert card["redemption"]["redeemed_quantity"] == 0
            found = counters(http, customer)
            assert found["total_rollback_succeeded"] == 1
            assert found["gift"]["redeemed_amount"] == 0
            assert found["total_rolled_back"] == (
                found["total_rollback_succeeded"] + found["total_rollback_failed"]
            )
            assert found["total_rollback_failed"] == (
                1 if refused["key"] == "already_rolled_back" else 0
            )


class TestValidationSession:
    def test_a_lock_holds_against_others_and_lets_its_key_redeem(
        self, server: RunningServer, http: httpx.Client, project: Credentials
    ) -> None:
        code = voucher(http, redemption={"quantity": 1})["code"]
        validated = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": code}],
                "customer": {"source_id": "locker"},
                "order": {"amount": 1000},
                "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"},
            },
        )
        assert validated.status_code == 200, validated.text
        assert validated.json()["valid"] is True
        key = validated.json()["session"]["key"]
        assert (validated.json()["session"]["ttl"], validated.json()["session"]["ttl_unit"]) == (
            1,
            "HOURS",
        )

        def with_key(client: httpx.Client) -> httpx.Response:
            return client.post(
                "/v1/redemptions",
                json={
                    "redeemables": [{"object": "voucher", "id": code}],
                    "customer": {"source_id": "locker"},
                    "order": {"amount": 1000},
                    "session": {"key": key},
                },
            )

        without, keyed = concurrently(server, http, [redeem_call(code, "intruder"), with_key])
        assert keyed.status_code == 200, keyed.text
        assert without.status_code == 400, without.text
        assert without.json()["key"] == "quantity_exceeded"
        assert redeemed_quantity(http, code) == 1
        assert counters(http, "intruder")["total_failed"] == 1

        # A released session frees the code for anyone.
        other = voucher(http, redemption={"quantity": 1})["code"]
        held = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": other}],
                "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"},
            },
        )
        assert held.status_code == 200, held.text
        other_key = held.json()["session"]["key"]
        blocked = redeem_call(other, "early")(http)
        assert blocked.status_code == 400
        assert blocked.json()["key"] == "quantity_exceeded"
        with sdk_client(server, project) as client:
            voucherify.VouchersApi(client).release_validation_session(other, other_key)
        again = http.delete(f"/v1/vouchers/{other}/sessions/{other_key}")
        assert again.status_code == 404
        freed = redeem_call(other, "late")(http)
        assert freed.status_code == 200, freed.text
        assert redeemed_quantity(http, other) == 1


class TestGiftBalanceAgainstOtherWrites:
    def test_spends_and_manual_additions_interleave(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 5000})["code"]
        published = http.post(
            "/v1/publications", json={"customer": {"source_id": "holder"}, "voucher": code}
        )
        assert published.status_code == 200, published.text

        def add(client: httpx.Client) -> httpx.Response:
            return client.post(f"/v1/vouchers/{code}/balance", json={"amount": 500})

        calls: list[Call] = [
            redeem_call(code, f"s{n % 4}", amount=500, order=f"o{n}", gift={"credits": 500})
            for n in range(32)
        ]
        for n in range(8):
            calls.insert(n * 4, add)
        answers = concurrently(server, http, calls)
        assert all(a.status_code in (200, 400) for a in answers), [a.text for a in answers]
        additions = [a for call, a in zip(calls, answers, strict=True) if call is add]
        assert all(a.status_code == 200 for a in additions), [a.text for a in additions]
        spends = [a for call, a in zip(calls, answers, strict=True) if call is not add]
        won = sum(1 for a in spends if a.status_code == 200)
        assert {a.json()["key"] for a in spends if a.status_code == 400} <= {"gift_amount_exceeded"}
        assert won >= 10
        balance = http.get(f"/v1/vouchers/{code}").json()["gift"]["balance"]
        assert balance == 5000 + 8 * 500 - 500 * won
        assert balance >= 0
        assert counters(http, "holder")["gift"]["amount_to_go"] == balance
        spent = sum(counters(http, f"s{n}")["gift"]["redeemed_amount"] for n in range(4))
        assert spent == 500 * won

    def test_a_card_published_while_it_is_spent(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 10000})["code"]

        def publish(client: httpx.Client) -> httpx.Response:
            return client.post(
                "/v1/publications", json={"customer": {"source_id": "late-holder"}, "voucher": code}
            )

        calls: list[Call] = [
            redeem_call(code, f"s{n}", amount=300, order=f"o{n}", gift={"credits": 300})
            for n in range(15)
        ]
        calls.insert(7, publish)
        answers = concurrently(server, http, calls)
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        balance = http.get(f"/v1/vouchers/{code}").json()["gift"]["balance"]
        assert balance == 10000 - 15 * 300
        assert counters(http, "late-holder")["gift"]["amount_to_go"] == balance


class TestConcurrentSessions:
    def test_one_lock_of_a_single_use_code_among_eight(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        code = voucher(http, redemption={"quantity": 1})["code"]

        def lock(client: httpx.Client) -> httpx.Response:
            return client.post(
                "/v1/validations",
                json={
                    "redeemables": [{"object": "voucher", "id": code}],
                    "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"},
                },
            )

        answers = concurrently(server, http, [lock] * 8)
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert sorted(a.json()["valid"] for a in answers) == [False] * 7 + [True]
        refused = [a.json() for a in answers if not a.json()["valid"]]
        keys = {r["inapplicable_redeemables"][0]["result"]["error"]["key"] for r in refused}
        assert keys == {"quantity_exceeded"}

    def test_a_lock_on_gift_credits_leaves_only_the_rest_to_others(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 1000})["code"]
        validated = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": code, "gift": {"credits": 600}}],
                "order": {"amount": 600},
                "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"},
            },
        )
        assert validated.status_code == 200, validated.text
        key = validated.json()["session"]["key"]

        def keyed(client: httpx.Client) -> httpx.Response:
            return client.post(
                "/v1/redemptions",
                json={
                    "redeemables": [{"object": "voucher", "id": code, "gift": {"credits": 600}}],
                    "customer": {"source_id": "locker"},
                    "order": {"amount": 600},
                    "session": {"key": key},
                },
            )

        others = [
            redeem_call(code, f"o{n}", amount=500, order=f"o{n}", gift={"credits": 500})
            for n in range(4)
        ]
        answers = concurrently(server, http, [keyed, *others])
        assert answers[0].status_code == 200, answers[0].text
        assert all(a.status_code == 400 for a in answers[1:]), [a.text for a in answers]
        assert {a.json()["key"] for a in answers[1:]} == {"gift_amount_exceeded"}
        assert http.get(f"/v1/vouchers/{code}").json()["gift"]["balance"] == 400


class TestConcurrentRollbacksWithoutCustomer:
    def test_eight_rollbacks_of_an_anonymous_redemption(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        """No customer lock to queue on: the redemption's own lock decides."""
        for _ in range(4):
            code = voucher(http, type="GIFT_VOUCHER", gift={"amount": 1000})["code"]
            made = http.post(
                "/v1/redemptions",
                json={
                    "redeemables": [{"object": "voucher", "id": code, "gift": {"credits": 400}}],
                    "order": {"amount": 400},
                },
            )
            assert made.status_code == 200, made.text
            target = made.json()["parent_redemption"]["id"]
            answers = concurrently(
                server, http, [rollback_call(target, stacked=True) for _ in range(8)]
            )
            assert sorted(a.status_code for a in answers) == [200] + [400] * 7, [
                a.text for a in answers
            ]
            keys = {a.json()["key"] for a in answers if a.status_code == 400}
            assert keys <= {"multiple_requests", "already_rolled_back"}
            card = http.get(f"/v1/vouchers/{code}").json()
            assert card["gift"]["balance"] == 1000
            assert card["redemption"]["redeemed_quantity"] == 0


class TestStackedRace:
    def test_two_limited_codes_in_both_orders(
        self, server: RunningServer, http: httpx.Client
    ) -> None:
        """Every redeemable applies or none does: the scarcer code bounds both."""
        first = voucher(http, redemption={"quantity": 5})["code"]
        second = voucher(http, redemption={"quantity": 8})["code"]

        def both(number: int) -> Call:
            codes = [first, second] if number % 2 else [second, first]

            def call(client: httpx.Client) -> httpx.Response:
                return client.post(
                    "/v1/redemptions",
                    json={
                        "redeemables": [{"object": "voucher", "id": code} for code in codes],
                        "customer": {"source_id": f"k{number}"},
                        "order": {"amount": 1000},
                    },
                )

            return call

        answers = concurrently(server, http, [both(n) for n in range(32)])
        assert all(a.status_code in (200, 400) for a in answers), [a.text for a in answers]
        assert sum(1 for a in answers if a.status_code == 200) == 5
        assert {a.json()["key"] for a in answers if a.status_code == 400} == {"quantity_exceeded"}
        assert redeemed_quantity(http, first) == 5
        assert redeemed_quantity(http, second) == 5
        failures = http.get("/v1/redemptions", params={"result": "FAILURE", "limit": 100}).json()
        assert failures["total"] == 2 * 27
