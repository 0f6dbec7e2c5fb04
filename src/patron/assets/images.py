"""A voucher code drawn as a QR code (segno) or a Code 128 barcode (python-barcode), as PNG or
SVG.

Formats: PNG by default for both, SVG when asked for. Asset URLs are put in e-mails, and the
common e-mail clients (Gmail, Outlook) do not show SVG images, so PNG has to be the default for
the barcode as for the QR code. segno writes PNG by itself; python-barcode draws PNG with
Pillow (its `ImageWriter`), which is therefore a dependency of Patron.

Sizes are chosen for scanning: a QR module is 10 pixels with segno's 4-module quiet zone, and
a barcode module is 3 pixels (0.3 mm at 254 dpi, so every bar is a whole number of pixels and
bars of one width are drawn alike), 15 mm high, with the code written under it.

Drawing takes 10-30 ms of pure Python (segno chooses the QR mask by scoring all eight, and
both libraries encode PNG), so the last images drawn are kept (`CACHED_IMAGES`): a voucher's
code never changes, and an image sent in a campaign's e-mails is fetched by many mail clients
and image proxies within minutes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Literal

import segno
from barcode import Code128
from barcode.errors import BarcodeError
from barcode.writer import ImageWriter, SVGWriter

ImageFormat = Literal["png", "svg"]
MEDIA_TYPES: dict[ImageFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}

QR_SCALE = 10
QR_BORDER = 4
BARCODE_DPI = 254
# Code 128 asks for a quiet zone of 10 modules at least on either side: 15 here, plus a quarter
# of a pixel, so that every bar's edge falls inside a pixel, where python-barcode's sums of
# floating-point widths cannot move it into the next one.
BARCODE_OPTIONS = {"module_width": 0.3, "module_height": 15.0, "quiet_zone": 4.525, "font_size": 10}
# A few KB each for codes of usual length (tens of KB for codes of hundreds of characters).
CACHED_IMAGES = 512


class Undrawable(ValueError):
    """The code cannot be drawn this way (too long for a QR code, or characters Code 128 does
    not have)."""


@lru_cache(maxsize=CACHED_IMAGES)
def qr_code(code: str, image_format: ImageFormat) -> bytes:
    """The QR code of `code` (never a Micro QR code, which few phone scanners read).

    Raises Undrawable for a code too long for any QR code."""
    try:
        symbol = segno.make_qr(code)
    except segno.DataOverflowError:
        raise Undrawable("The voucher's code is too long for a QR code") from None
    out = io.BytesIO()
    symbol.save(out, kind=image_format, scale=QR_SCALE, border=QR_BORDER)
    return out.getvalue()


@lru_cache(maxsize=CACHED_IMAGES)
def barcode(code: str, image_format: ImageFormat) -> bytes:
    """The Code 128 barcode of `code`, with the code written under it.

    Raises Undrawable for a code with characters Code 128 cannot encode."""
    writer = SVGWriter() if image_format == "svg" else ImageWriter(mode="L", dpi=BARCODE_DPI)
    try:
        symbol = Code128(code, writer=writer)
        out = io.BytesIO()
        symbol.write(out, BARCODE_OPTIONS)
    except BarcodeError:
        raise Undrawable("The voucher's code has characters Code 128 cannot hold") from None
    return out.getvalue()
