"""The customer's side: a receipt or refund note reached through the signed link of its email
or of the payment's success page, with no login."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import services
from ..downloads import pdf_response


def public_download(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's signed link to a receipt or a refund note: no login, expires, and a
    tampered link gets no file."""
    try:
        document = services.document_from_token(token)
    except signing.SignatureExpired:
        return render(request, "receipts/link_invalid.html", {"expired": True}, status=410)
    except signing.BadSignature:
        return render(request, "receipts/link_invalid.html", {"expired": False}, status=400)
    return pdf_response(document, inline=True)
