"""Where a request's vouchers' QR codes and barcodes are served (`assets` of the voucher)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from patron.assets.tokens import voucher_assets
from patron.dependencies import project_of
from patron.kit.http import base_url
from patron.vouchers.schemas import AssetsOf


def assets_for(request: Request[Any, Any, Any]) -> AssetsOf:
    """The `assets` block of each voucher this request renders: `{qr: {id, url}, barcode:
    {id, url}}`, images this server serves without credentials (`patron.assets`)."""
    project = project_of(request)
    root = base_url(request)

    def assets_of(voucher_id: str) -> dict[str, Any]:
        return voucher_assets(root, project.asset_key, project.id, voucher_id)

    return assets_of
