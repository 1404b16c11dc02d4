"""Receipts and refund notes in tests: finalize a payment, read a PDF, read a streamed body."""

from __future__ import annotations

import io
import secrets
from datetime import datetime
from typing import Any
from unittest import mock

from pypdf import PdfReader

from links.models import Payment, PaymentLink
from links.payments import payment_apply
from links.providers import PaymentState, ProviderPayment
from tests.support.factories import PaymentFactory


def finalize(
    link: PaymentLink,
    *,
    at: datetime | None = None,
    card_brand: str = "visa",
    card_last4: str = "4242",
    **payment_fields: Any,
) -> Payment:
    """A checkout attempt on `link` that Stripe reports as succeeded, settled by the one finalizer.

    `at` freezes the clock of the finalization (the receipt's date and so its year).
    """
    payment = PaymentFactory(
        link=link, provider_id=f"pi_test_{secrets.token_hex(12)}", **payment_fields
    )
    paid = ProviderPayment(
        id=payment.provider_id,
        state=PaymentState.SUCCEEDED,
        amount=payment.amount,
        currency=payment.currency,
        card_brand=card_brand,
        card_last4=card_last4,
        method=payment.method,
    )
    if at is None:
        return payment_apply(payment_id=payment.pk, provider_payment=paid, source="test")
    with mock.patch("django.utils.timezone.now", return_value=at):
        return payment_apply(payment_id=payment.pk, provider_payment=paid, source="test")


def pdf_text(data: bytes) -> str:
    """The text a reader sees in the PDF, with every kind of space as a plain space."""
    assert data.startswith(b"%PDF-"), data[:20]
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    for space in ("\u00a0", "\u202f", "\u2009"):
        text = text.replace(space, " ")
    return text


def stream_bytes(response: Any) -> bytes:
    """The body of a FileResponse / StreamingHttpResponse / HttpResponse."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content
