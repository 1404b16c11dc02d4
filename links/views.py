"""Back-office views for payment links (members of the shop)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _

from merchants.access import shop_view
from merchants.models import Membership
from vpos.money import exponent, to_decimal

from . import selectors, services
from .forms import LinkFilterForm, LinkForm
from .models import PaymentLink


def link_public_url(link: PaymentLink) -> str:
    return settings.SITE_URL + reverse("links:checkout", args=[link.token])


@shop_view()
def link_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    filters = LinkFilterForm(request.GET or None)
    q = status = ""
    if filters.is_valid():
        q, status = filters.cleaned_data["q"], filters.cleaned_data["status"]
    links = selectors.link_list(merchant=membership.merchant, q=q, status=status)
    page = Paginator(links, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "links/link_list.html",
        {"filters": filters, "page_obj": page, "filtered": bool(q or status)},
    )


def _duplicate_initial(membership: Membership, link_id: str | None) -> dict:
    if not link_id or not link_id.isdigit():
        return {}
    source = PaymentLink.objects.filter(merchant=membership.merchant, pk=int(link_id)).first()
    if source is None:
        return {}
    amount = to_decimal(source.amount, source.currency)
    return {
        "amount": formats.number_format(amount, decimal_pos=exponent(source.currency)),
        "currency": source.currency,
        "description": source.description,
        "reference": source.reference,
        "language": source.language,
        "kind": source.kind,
        "max_payments": source.max_payments,
    }


@shop_view()
def link_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    form = LinkForm(
        request.POST or None, merchant=merchant, initial=_duplicate_initial(membership, request.GET.get("from"))
    )
    if request.method == "POST" and form.is_valid():
        try:
            link = services.link_create(merchant=merchant, created_by=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Payment link created. Share it with your customer."))
            return redirect("links:detail", shop_id=merchant.public_id, link_id=link.pk)
    return render(request, "links/link_form.html", {"form": form}, status=400 if form.errors else 200)


@shop_view()
def link_detail(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    link = get_object_or_404(PaymentLink, pk=link_id, merchant=membership.merchant)
    payments = selectors.link_payments(link)[:50]
    return render(
        request,
        "links/link_detail.html",
        {"link": link, "payments": payments, "public_url": link_public_url(link)},
    )


@shop_view()
def link_deactivate(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    link = get_object_or_404(PaymentLink, pk=link_id, merchant=membership.merchant)
    if request.method == "POST":
        try:
            services.link_deactivate(link=link)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("The link was deactivated: customers can no longer pay it."))
        return redirect("links:detail", shop_id=membership.merchant.public_id, link_id=link.pk)
    return render(request, "links/link_deactivate.html", {"link": link})
