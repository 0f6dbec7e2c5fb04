"""Test data as plain functions with keyword defaults."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import voucherify


def unique(prefix: str = "src") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def customer_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_id": unique(),
        "name": "Bob Smith",
        "description": "A frequent customer",
        "email": "bob.smith@example.com",
        "phone": "+1 933 222 3333",
        "birthdate": "1990-01-31",
        "address": {
            "city": "New York",
            "state": "NY",
            "line_1": "123 Main St.",
            "line_2": "APT 3 BLG 4",
            "country": "United States",
            "postal_code": "10001",
        },
        "metadata": {"lang": "en", "test": True},
    }
    body.update(overrides)
    return body


def create_customer(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    response = http.post("/v1/customers", json=customer_body(**overrides))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def scroll(client: httpx.Client, *, ascending: bool, limit: int) -> list[str]:
    """The JS SDK's `customers.scroll()`: a created_at cursor moved to the last item seen,
    stopping on an empty page or `has_more: false` (CONTRACT.md §4)."""
    params: dict[str, Any] = {"limit": limit}
    if ascending:
        params["order"] = "created_at"
        cursor = "1970-01-01T00:00:00Z"
    else:
        cursor = "2200-01-01T00:00:00Z"
    seen: list[str] = []
    while True:
        response = client.get("/v1/customers", params={**params, "starting_after": cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["customers"]:
            break
        seen += [customer["id"] for customer in page["customers"]]
        cursor = page["customers"][-1]["created_at"]
        if not page["has_more"]:
            break
    return seen


# --- campaigns and vouchers, through the SDK (`campaigns_api`, `vouchers_api` fixtures) -------


def discount_campaign(api: Any, **extra: Any) -> Any:
    """A DISCOUNT_COUPONS campaign ($10 off), its type inferred from the voucher's."""
    voucher = extra.pop(
        "voucher",
        voucherify.CampaignsCreateRequestBodyVoucher(
            type="DISCOUNT_VOUCHER", discount=voucherify.Discount(type="AMOUNT", amount_off=1000)
        ),
    )
    return api.create_campaign(
        voucherify.CampaignsCreateRequestBody(
            name=extra.pop("name", unique("Campaign")), voucher=voucher, **extra
        )
    )


def gift_campaign(api: Any, *, amount: int = 5000, **extra: Any) -> Any:
    """A GIFT_VOUCHERS campaign whose cards start with `amount` cents."""
    return discount_campaign(
        api,
        campaign_type="GIFT_VOUCHERS",
        voucher=voucherify.CampaignsCreateRequestBodyVoucher(
            type="GIFT_VOUCHER", gift=voucherify.Gift(amount=amount)
        ),
        **extra,
    )


def loyalty_campaign(api: Any, *, points: int = 100, **extra: Any) -> Any:
    """A LOYALTY_PROGRAM campaign whose cards start with `points`."""
    return discount_campaign(
        api,
        campaign_type="LOYALTY_PROGRAM",
        voucher=voucherify.CampaignsCreateRequestBodyVoucher(
            type="LOYALTY_CARD", loyalty_card=voucherify.CampaignLoyaltyCard(points=points)
        ),
        **extra,
    )


def gift_card(api: Any, *, amount: int = 1000, **extra: Any) -> Any:
    """A standalone gift card of `amount` cents, with a generated code."""
    return api.generate_random_code(
        voucherify.VouchersCreateRequestBody(
            type="GIFT_VOUCHER", gift=voucherify.Gift(amount=amount), **extra
        )
    )


def discount_voucher(api: Any, **extra: Any) -> Any:
    """A standalone discount code ($5 off), with a generated code unless `code` is given."""
    return api.generate_random_code(
        voucherify.VouchersCreateRequestBody(
            type="DISCOUNT_VOUCHER",
            discount=voucherify.Discount(type="AMOUNT", amount_off=500),
            **extra,
        )
    )
