"""Where a request's vouchers' QR codes and barcodes are served (`assets` of the voucher)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from patron.vouchers.schemas import AssetsOf, no_assets


def assets_for(request: Request[Any, Any, Any]) -> AssetsOf:
    """The `assets` block of each voucher this request renders."""
    return no_assets
