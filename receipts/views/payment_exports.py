"""The payments list's CSV buttons and the shop's payments exports: a CSV of few payments
downloads at once; one of more than EXPORT_INSTANT_MAX_ROWS becomes a background export, with
its progress page and its download (those of the accountant's ZIPs, `back_office`)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from links.payment_csv import csv_response, instant_export
from links.payment_filters import PaymentFilterForm, filtered_payments
from merchants.access import shop_view
from merchants.models import Membership

from .. import services
from ..models import ReceiptExport
from ..payment_exports import PAYMENTS_EXPORT, payments_export_params

RECENT_EXPORTS = 10


@shop_view()
def payment_exports(request: HttpRequest, membership: Membership) -> HttpResponse:
    """GET: the recent exports, and a button for the filters in the query string. POST (the
    payments list's buttons, the filters in the query string): the CSV, at once or as an export
    whose page follows. Mistyped filters: the page with their errors, a 400, nothing exported."""
    merchant = membership.merchant
    form = PaymentFilterForm(request.GET, currency=merchant.default_currency)
    if not form.is_valid():
        return _page(request, membership, form, status=400)
    if request.method != "POST":
        return _page(request, membership, form)
    payments = filtered_payments(form, merchant)
    if instant_export(payments):
        return csv_response(
            payments, italian=form.cleaned_data["format"] == "it", merchant=merchant
        )
    export = services.export_request(
        merchant=merchant,
        requested_by=request.user,
        kind=PAYMENTS_EXPORT,
        params=payments_export_params(form, merchant),
    )
    return redirect("receipts:export_detail", shop_id=merchant.public_id, export_id=export.pk)


def _page(
    request: HttpRequest, membership: Membership, form: PaymentFilterForm, *, status: int = 200
) -> HttpResponse:
    exports = ReceiptExport.objects.filter(
        merchant=membership.merchant, kind=PAYMENTS_EXPORT
    ).select_related("requested_by")[:RECENT_EXPORTS]
    return render(
        request,
        "receipts/payment_exports.html",
        {
            "filters": form,
            "exports": exports,
            "query": request.GET.urlencode(),
            "instant_max_rows": settings.EXPORT_INSTANT_MAX_ROWS,
        },
        status=status,
    )
