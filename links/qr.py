"""QR codes for payment links: inline SVG for pages, PNG and SVG downloads."""

from __future__ import annotations

import io
import re

import qrcode
import qrcode.image.svg
from django.utils.html import escape
from qrcode.constants import ERROR_CORRECT_M


def _qr(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=10)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str, *, title: str = "") -> str:
    """A scalable SVG (one path, no fixed size) to inline in pages or download."""
    image = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    # Drop the fixed size so CSS can scale it (the viewBox stays); name it for screen readers.
    svg = re.sub(r'^(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)
    if title:
        svg = svg.replace(">", f' role="img" aria-label="{escape(title)}">', 1)
    return svg


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    code = _qr(data)
    code.box_size = box_size
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()
