"""HTTP routes for vouchers' QR codes and barcodes: images at the URLs of a voucher's `assets`.

No credentials: the URLs go into `<img src>` tags and e-mails, as Voucherify's do, and the
token in them is the credential (`patron.assets.tokens`); the `Authentication` layer lets
`/v1/assets/` through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from patron.assets import images, service
from patron.assets.images import ImageFormat, Undrawable
from patron.dependencies import read
from patron.errors import NotFound
from patron.kit import query
from patron.kit.http import key_or_404
from patron.openapi.operation import Image, PathParameter, operation

TAG = "Assets"
PATH = {
    "token": PathParameter(
        "assetId", "The asset's `id`: a voucher's `assets.qr.id` or `assets.barcode.id`."
    )
}
FORMAT = query.Choice(
    "format", "The image's format: `png` (the default) or `svg`.", tuple(images.MEDIA_TYPES)
)
# A token names one voucher for good, and a voucher's code never changes.
CACHE_CONTROL = "public, max-age=86400"
IMAGE = Image(tuple(images.MEDIA_TYPES.values()), CACHE_CONTROL)
HEADERS = {
    "cache-control": CACHE_CONTROL,
    "x-content-type-options": "nosniff",
    # An SVG opened by itself is a document of this origin: it may style itself, nothing more.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
}


async def _image(
    request: Request[Any, Any, Any], token: str, draw: Callable[[str, ImageFormat], bytes]
) -> Response[bytes]:
    image_format: ImageFormat = "svg" if FORMAT.parse(request.query_params) == "svg" else "png"
    key = key_or_404(token, service.not_found)
    async with read(request) as conn:
        code = await service.voucher_code(conn, key)
    try:
        # Off the event loop: drawing is some tens of milliseconds of CPU (images.py).
        content = await asyncio.to_thread(draw, code, image_format)
    except Undrawable as error:
        raise NotFound(str(error), resource_id=key, resource_type="asset") from None
    return Response(
        content=content,
        status_code=200,
        media_type=images.MEDIA_TYPES[image_format],
        headers=HEADERS,
    )


@operation(
    "get-voucher-qr-code",
    TAG,
    path=PATH,
    query=(FORMAT,),
    response=IMAGE,
    response_description="The QR code of the voucher's code.",
    errors=("NotFound", "InvalidQueryParams"),
    public=True,
    description="The URL of a voucher's `assets.qr`; no credentials needed. A 404 for a token"
    " that was not made by this server, or whose voucher is deleted.",
)
@get("/v1/assets/qr/{token:str}")
async def get_voucher_qr_code(
    request: Request[Any, Any, Any], token: FromPath[str]
) -> Response[bytes]:
    """A voucher's code as a QR code image."""
    return await _image(request, token, images.qr_code)


@operation(
    "get-voucher-barcode",
    TAG,
    path=PATH,
    query=(FORMAT,),
    response=IMAGE,
    response_description="The Code 128 barcode of the voucher's code, with the code under it.",
    errors=("NotFound", "InvalidQueryParams"),
    public=True,
    description="The URL of a voucher's `assets.barcode`; no credentials needed. A 404 for a"
    " token that was not made by this server, or whose voucher is deleted, and for a code with"
    " characters Code 128 cannot hold.",
)
@get("/v1/assets/barcode/{token:str}")
async def get_voucher_barcode(
    request: Request[Any, Any, Any], token: FromPath[str]
) -> Response[bytes]:
    """A voucher's code as a Code 128 barcode image."""
    return await _image(request, token, images.barcode)
