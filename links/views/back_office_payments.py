"""The shop's payments: the filtered list (keyset pages, never a COUNT) and its CSV export."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from merchants.access import shop_view
from merchants.models import Membership, Merchant

from .. import payment_csv as payment_csv_module
from .. import payment_selectors as selectors
from ..payment_filters import PaymentFilterForm, filtered_payments


def _filter_form(request: HttpRequest, merchant: Merchant) -> PaymentFilterForm:
    # Amounts are typed in the shop's currency: "19,99" means 1999 cents in EUR, 20 yen in JPY.
    return PaymentFilterForm(request.GET, currency=merchant.default_currency)


def _list_page(request: HttpRequest, form: PaymentFilterForm, merchant: Merchant) -> HttpResponse:
    """The list, or the form with its errors and a 400 when the query string needs correcting."""
    pager = None
    if form.is_valid():
        payments = (
            filtered_payments(form, merchant).select_related("link").only(*selectors.PAYMENT_ROW)
        )
        pager = selectors.payment_page(
            payments,
            sort=form.chosen_sort,
            after=form.cleaned_data["after"],
            before=form.cleaned_data["before"],
        )
    sort = form.chosen_sort if pager else selectors.DEFAULT_SORT
    context = {
        "filters": form,
        "pager": pager,
        "filtered": pager is not None and form.filters().active,
        "sort": sort,
        # The column headers sort by their column, and flip the direction when already sorted.
        "date_sort": "date" if sort == "-date" else "-date",
        "amount_sort": "amount" if sort == "-amount" else "-amount",
    }
    return render(request, "links/payment_list.html", context, status=200 if pager else 400)


@shop_view(cached=True)
def payment_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _list_page(request, _filter_form(request, membership.merchant), membership.merchant)


# --- CSV -----------------------------------------------------------------------------------------


@shop_view()
def payment_csv(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The filtered payments as CSV at once when there are few (the page's buttons post to
    `receipts:payment_exports`, which also starts a background export for many). Beyond
    EXPORT_INSTANT_MAX_ROWS this address shows that page instead: a stream of a million rows
    would race the request timeout."""
    merchant = membership.merchant
    form = _filter_form(request, merchant)
    if not form.is_valid():  # never a CSV of everything when a filter was mistyped
        return _list_page(request, form, merchant)
    payments = filtered_payments(form, merchant)
    if not payment_csv_module.instant_export(payments):
        url = reverse("receipts:payment_exports", args=[merchant.public_id])
        return redirect(f"{url}?{request.GET.urlencode()}")
    return payment_csv_module.csv_response(
        payments, italian=form.cleaned_data["format"] == "it", merchant=merchant
    )
