"""A receipt says what was true when it was issued, whatever the shop changes afterwards."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from merchants.services import merchant_update
from receipts.models import Receipt
from receipts.services import receipt_ensure_pdf
from tests.support.documents import finalize, pdf_text, stream_bytes
from tests.support.factories import PaymentLinkFactory
from vpos.documents import documents

RED, BLUE = (200, 0, 0), (0, 0, 200)


def png(colour: tuple[int, int, int]) -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), colour).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name="logo.png")


def logo_colours(pdf: bytes) -> list[tuple[int, int, int]]:
    """The colour of the middle pixel of every image in the PDF."""
    colours = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for image in page.images:
            picture = image.image.convert("RGB")
            colours.append(picture.getpixel((picture.width // 2, picture.height // 2)))
    return colours


@pytest.fixture
def issued(shop) -> Receipt:
    merchant_update(
        merchant=shop.merchant,
        data={"legal_name": "Vecchia Ragione Sociale S.r.l.", "vat_number": "01234560017"},
        logo=png(RED),
    )
    payment = finalize(PaymentLinkFactory(merchant=shop.merchant, amount=12200, language="en"))
    return receipt_ensure_pdf(receipt_id=payment.receipt.pk)


def test_first_rendering_shows_the_shop_as_it_was(issued):
    with issued.pdf.open("rb") as fh:
        data = fh.read()
    assert "Vecchia Ragione Sociale S.r.l." in pdf_text(data)
    assert logo_colours(data) == [RED]
    assert hashlib.sha256(data).hexdigest() == issued.pdf_sha256


def test_rerendered_receipt_keeps_the_old_legal_details_and_logo(shop, issued, client_as):
    merchant_update(
        merchant=shop.merchant,
        data={"legal_name": "Nuova Ragione Sociale S.p.A.", "vat_number": "09876543217"},
        logo=png(BLUE),
    )
    documents.delete(issued.pdf.name)  # lost: the PDF view renders it again

    response = client_as("owner").get(
        reverse("receipts:pdf", args=[shop.merchant.public_id, issued.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    data = stream_bytes(response)
    text = pdf_text(data)
    assert "Vecchia Ragione Sociale S.r.l." in text
    assert "01234560017" in text
    assert "Nuova Ragione Sociale" not in text
    assert "09876543217" not in text
    assert logo_colours(data) == [RED]
    issued.refresh_from_db()
    assert documents.exists(issued.pdf.name)
    with documents.open(issued.pdf.name, "rb") as fh:
        stored = fh.read()
    assert stored == data
    assert hashlib.sha256(stored).hexdigest() == issued.pdf_sha256


def test_a_stored_pdf_is_served_as_it_is_not_rendered_again(shop, issued, client_as):
    with issued.pdf.open("rb") as fh:
        original = fh.read()
    rendered_at = issued.rendered_at

    response = client_as("staff").get(
        reverse("receipts:pdf", args=[shop.merchant.public_id, issued.pk])
    )

    assert stream_bytes(response) == original
    issued.refresh_from_db()
    assert issued.rendered_at == rendered_at
    assert hashlib.sha256(original).hexdigest() == issued.pdf_sha256
