"""Receipts for the shop (list, PDF, CSV, ZIP exports) and for the customer (signed link); the
pages of every export (progress, download, retry), the payments CSVs' too."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from links.payment_csv import csv_filename
from merchants.access import shop_view
from merchants.models import Membership
from vpos.documents import documents
from vpos.money import to_decimal
from vpos.spreadsheet import Echo, spreadsheet_text

from .. import selectors, services
from ..downloads import pdf_response
from ..forms import ExportForm, ReceiptFilterForm
from ..models import Receipt, ReceiptExport, RefundNote
from ..payment_exports import PAYMENTS_EXPORT


def _filtered(request: HttpRequest, membership: Membership):
    filters = ReceiptFilterForm(request.GET or None)
    kwargs = {}
    if filters.is_valid():
        kwargs = {k: v for k, v in filters.cleaned_data.items() if v}
    return filters, selectors.receipt_list(merchant=membership.merchant, **kwargs)


def _list_page(
    request: HttpRequest, membership: Membership, *, export_form: ExportForm | None = None
) -> HttpResponse:
    """The receipts page; 400 when the filters or the export form need correcting."""
    filters, receipts = _filtered(request, membership)
    export_form = export_form or ExportForm()
    page = Paginator(receipts, 25).get_page(request.GET.get("page"))
    exports = ReceiptExport.objects.filter(
        merchant=membership.merchant, kind=services.RECEIPTS_EXPORT
    )[:5]
    return render(
        request,
        "receipts/receipt_list.html",
        {
            "filters": filters,
            "page_obj": page,
            "export_form": export_form,
            "exports": exports,
            "filtered": bool(
                request.GET.get("q") or request.GET.get("date_from") or request.GET.get("date_to")
            ),
        },
        status=400 if filters.errors or export_form.errors else 200,
    )


@shop_view()
def receipt_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _list_page(request, membership)


@shop_view()
def receipt_pdf(request: HttpRequest, membership: Membership, receipt_id: int) -> HttpResponse:
    receipt = get_object_or_404(Receipt, pk=receipt_id, merchant=membership.merchant)
    return pdf_response(receipt)


@shop_view()
def refund_note_pdf(request: HttpRequest, membership: Membership, note_id: int) -> HttpResponse:
    note = get_object_or_404(RefundNote, pk=note_id, merchant=membership.merchant)
    return pdf_response(note)


def _csv_rows(receipts) -> Iterator[list[str]]:
    yield [
        _("Number"),
        _("Issued"),
        _("Amount"),
        _("Currency"),
        _("Customer"),
        _("Customer email"),
        _("Description"),
        _("Reference"),
        _("VAT rate"),
        _("Stripe payment id"),
    ]
    for receipt in receipts.iterator(chunk_size=500):
        s = receipt.snapshot
        yield [
            receipt.number,
            receipt.issued_at.isoformat(),
            str(to_decimal(receipt.amount, receipt.currency)),
            receipt.currency,
            spreadsheet_text(receipt.customer_name),
            spreadsheet_text(receipt.customer_email),
            spreadsheet_text(s.get("description", "")),
            spreadsheet_text(s.get("reference", "")),
            "" if s.get("vat_rate") is None else str(s["vat_rate"]),
            s.get("provider_id") or "",
        ]


@shop_view()
def receipt_csv(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The filtered receipts as CSV, streamed row by row (constant memory)."""
    filters, receipts = _filtered(request, membership)
    if filters.errors:  # never a CSV of everything when the range was mistyped
        return _list_page(request, membership)
    writer = csv.writer(Echo())
    language = translation.get_language()

    def stream() -> Iterator[str]:
        with translation.override(language):
            for row in _csv_rows(receipts):
                yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="receipts.csv"'
    return response


@shop_view()
@require_POST
def export_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    return export_start(request, membership, services.RECEIPTS_EXPORT, _list_page)


def export_start(
    request: HttpRequest, membership: Membership, kind: str, list_page: Callable[..., HttpResponse]
) -> HttpResponse:
    """Ask for a ZIP of `kind` ("receipts", "invoices"); its progress page follows. A wrong
    period shows `list_page` again with the form's message."""
    form = ExportForm(request.POST)
    if not form.is_valid():
        return list_page(request, membership, export_form=form)
    export = services.export_request(
        merchant=membership.merchant,
        requested_by=request.user,
        date_from=form.cleaned_data["date_from"],
        date_to=form.cleaned_data["date_to"],
        kind=kind,
    )
    return redirect(
        "receipts:export_detail", shop_id=membership.merchant.public_id, export_id=export.pk
    )


@shop_view()
def export_detail(request: HttpRequest, membership: Membership, export_id: int) -> HttpResponse:
    export = get_object_or_404(ReceiptExport, pk=export_id, merchant=membership.merchant)
    return render(
        request,
        "receipts/export_detail.html",
        {"export": export, "days": settings.RETENTION_EXPORT_DAYS},
    )


@shop_view()
@require_POST
def export_retry(request: HttpRequest, membership: Membership, export_id: int) -> HttpResponse:
    """Build a failed export again; whoever may ask for an export of its kind may retry it."""
    export = get_object_or_404(ReceiptExport, pk=export_id, merchant=membership.merchant)
    if export.kind == services.INVOICES_EXPORT and not membership.is_owner:
        raise PermissionDenied
    services.export_retry(export=export, requested_by=request.user)
    return redirect(
        "receipts:export_detail", shop_id=membership.merchant.public_id, export_id=export.pk
    )


@shop_view()
def export_download(request: HttpRequest, membership: Membership, export_id: int) -> HttpResponse:
    export = get_object_or_404(
        ReceiptExport, pk=export_id, merchant=membership.merchant, status=ReceiptExport.Status.DONE
    )
    if export.kind == PAYMENTS_EXPORT:
        italian = export.params.get("query", {}).get("format") == "it"
        name, content_type = csv_filename(italian=italian), "text/csv; charset=utf-8"
    else:
        name = f"{export.kind}-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}.zip"
        content_type = "application/zip"
    return FileResponse(
        documents.open(export.file.name, "rb"),
        as_attachment=True,
        filename=name,
        content_type=content_type,
    )
