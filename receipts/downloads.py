"""A stored receipt, refund note or invoice as a download, for the back office, the customer's
signed link and the API alike."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse

from vpos.documents import documents

from .models import Invoice
from .services import Document, document_ensure_pdf


def pdf_response(document: Document, *, inline: bool = False) -> FileResponse:
    """The document's PDF (rendered again first if its file is gone), never cached by a proxy."""
    document = document_ensure_pdf(document)
    response = FileResponse(
        documents.open(document.pdf.name, "rb"),
        content_type="application/pdf",
        as_attachment=not inline,
        filename=document.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def xml_response(invoice: Invoice) -> HttpResponse:
    """An invoice's FatturaPA file as the SDI gets it, under its file name, never cached."""
    response = HttpResponse(invoice.xml.encode("utf-8"), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{invoice.file_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
