"""The shop's electronic invoices and credit notes: the list, the XML file and the PDF courtesy
copy of each, and the ZIP of a period's XML files for the accountant (owners)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from merchants.access import shop_view
from merchants.models import Membership
from merchants.selectors import invoice_offer

from .. import selectors, services
from ..downloads import pdf_response, xml_response
from ..forms import ExportForm, InvoiceFilterForm
from ..models import Invoice, ReceiptExport
from .back_office import export_start


def _page(
    request: HttpRequest, membership: Membership, *, export_form: ExportForm | None = None
) -> HttpResponse:
    filters = InvoiceFilterForm(request.GET or None)
    criteria = {}
    if filters.is_valid():
        criteria = {name: value for name, value in filters.cleaned_data.items() if value}
    invoices = selectors.invoice_list(merchant=membership.merchant, **criteria)
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    export_form = export_form or ExportForm()
    exports = ReceiptExport.objects.filter(
        merchant=membership.merchant, kind=services.INVOICES_EXPORT
    )[:5]
    return render(
        request,
        "receipts/invoice_list.html",
        {
            "filters": filters,
            "page_obj": page,
            "filtered": bool(criteria),
            "export_form": export_form,
            "exports": exports,
            "invoicing": invoice_offer(membership.merchant),
        },
        status=400 if filters.errors or export_form.errors else 200,
    )


@shop_view()
def invoice_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _page(request, membership)


def _invoice(membership: Membership, invoice_id) -> Invoice:
    return get_object_or_404(Invoice, public_id=invoice_id, merchant=membership.merchant)


@shop_view()
def invoice_xml(request: HttpRequest, membership: Membership, invoice_id) -> HttpResponse:
    """The FatturaPA file, as the SDI gets it."""
    return xml_response(_invoice(membership, invoice_id))


@shop_view()
def invoice_pdf(request: HttpRequest, membership: Membership, invoice_id) -> HttpResponse:
    """The courtesy copy (rendered first if it is not stored yet)."""
    return pdf_response(_invoice(membership, invoice_id))


@shop_view(owner_only=True)
@require_POST
def invoice_export_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    return export_start(request, membership, services.INVOICES_EXPORT, _page)
