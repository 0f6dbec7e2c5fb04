"""What validation sessions reserve, against the codes it can refuse (the sessions' query is
skipped for a discount code without a quantity limit: bench/README.md, redemptions)."""

from __future__ import annotations

import httpx

from tests.redemptions.test_redeem import redeem, voucher


class TestSessionsReserve:
    """A LOCK session's reservation counts against a code with a quantity limit; a discount code
    without one does not read the sessions at all (bench/README.md, redemptions)."""

    def test_a_reserved_last_use_is_refused_to_others_and_kept_for_its_session(
        self, http: httpx.Client
    ) -> None:
        code = voucher(http, redemption={"quantity": 1})["code"]
        locked = http.post(
            "/v1/validations",
            json={
                "redeemables": [{"object": "voucher", "id": code}],
                "order": {"amount": 1000},
                "session": {"type": "LOCK"},
            },
        )
        assert locked.status_code == 200, locked.text
        assert locked.json()["valid"] is True
        key = locked.json()["session"]["key"]
        other = redeem(http, redeemables=[{"object": "voucher", "id": code}])
        assert other.status_code == 400, other.text
        assert other.json()["key"] == "quantity_exceeded"
        own = redeem(http, redeemables=[{"object": "voucher", "id": code}], session={"key": key})
        assert own.status_code == 200, own.text

    def test_a_code_without_a_quantity_limit_redeems_beside_a_session(
        self, http: httpx.Client
    ) -> None:
        code = voucher(http)["code"]
        locked = http.post(
            "/v1/validations",
            json={"redeemables": [{"object": "voucher", "id": code}], "session": {"type": "LOCK"}},
        )
        assert locked.status_code == 200, locked.text
        for _ in range(2):
            other = redeem(http, redeemables=[{"object": "voucher", "id": code}])
            assert other.status_code == 200, other.text
