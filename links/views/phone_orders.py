"""Mail and telephone orders (MOTO): a phone order link while the customer is on the line, and the
virtual terminal where a clerk keys in the customer's card.

Both create a short-lived single-use link, so the payment goes through the same checkout,
finalization, receipt and emails as any other. The terminal's card still goes straight from the
browser to Stripe; the PaymentIntent carries the MOTO flag.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from merchants.access import shop_view
from merchants.models import Membership

from .. import services
from ..forms import LinkEmailForm, QuickLinkForm
from ..models import LinkChannel, LinkKind, Payment, PaymentLink
from ..providers import moto_enabled, provider_for
from ..qr import qr_svg
from .back_office import send_link_from_form
from .public_checkout import run_attempt, run_complete, run_setup

QUICK_LINK_EXPIRY = timedelta(hours=1)


def _quick_link(
    request: HttpRequest, membership: Membership, form: QuickLinkForm, channel: str
) -> PaymentLink:
    data = form.cleaned_data
    return services.link_create(
        merchant=membership.merchant,
        created_by=request.user,
        amount=data["amount"],
        currency=membership.merchant.default_currency,
        description=data["description"],
        customer_email=data.get("customer_email", ""),
        customer_phone=data.get("customer_phone", ""),
        kind=LinkKind.SINGLE,
        expires_at=timezone.now() + QUICK_LINK_EXPIRY,
        channel=channel,
        authorize_only=data.get("authorize_only", False),
        invoice_details=data.get("invoice_details") or {},
    )


def _channel_link(membership: Membership, link_id: int, channel: str) -> PaymentLink:
    return get_object_or_404(
        PaymentLink.objects.select_related("merchant"),
        pk=link_id,
        merchant=membership.merchant,
        channel=channel,
    )


# --- Phone order --------------------------------------------------------------------------------


@shop_view()
def phone_order_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = QuickLinkForm(request.POST or None, merchant=membership.merchant)
    if request.method == "POST" and form.is_valid():
        link = _quick_link(request, membership, form, LinkChannel.PHONE)
        return redirect("links:phone_order", shop_id=membership.merchant.public_id, link_id=link.pk)
    return render(
        request, "links/phone_order_new.html", {"form": form}, status=400 if form.errors else 200
    )


@shop_view()
def phone_order(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    """The screen a clerk keeps open on the phone: QR, URL, send buttons, and live status."""
    link = _channel_link(membership, link_id, LinkChannel.PHONE)
    email_form = LinkEmailForm(
        request.POST or None, initial={"to": link.customer_email, "language": link.language}
    )
    if request.method == "POST" and send_link_from_form(request, link, email_form):
        return redirect("links:phone_order", shop_id=membership.merchant.public_id, link_id=link.pk)
    share_text = _("Pay %(amount)s to %(shop)s") % {
        "amount": link.amount_display,
        "shop": link.merchant.name,
    }
    phone = "".join(c for c in link.customer_phone if c.isdigit() or c == "+")
    context = {
        "link": link,
        "email_form": email_form,
        "qr_svg": qr_svg(link.public_url, title=_("QR code of the payment link")),
        "share_text": f"{share_text}: {link.public_url}",
        "phone": phone,
        "wa_phone": phone.lstrip("+"),
        "status_url": reverse("links:status", args=[membership.merchant.public_id, link.pk]),
    }
    return render(
        request, "links/phone_order.html", context, status=400 if email_form.errors else 200
    )


@shop_view()
@require_GET
def link_status(request: HttpRequest, membership: Membership, link_id: int) -> JsonResponse:
    """Polled by the phone order screen: has the customer paid yet?"""
    link = get_object_or_404(PaymentLink, pk=link_id, merchant=membership.merchant)
    response = JsonResponse(
        {
            "status": link.effective_status,
            "label": link.get_effective_status_display(),
            "paid": link.payments_count > 0,
            "paid_at": link.paid_at.isoformat() if link.paid_at else None,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


# --- Virtual terminal ----------------------------------------------------------------------------


@shop_view()
def terminal_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    if not moto_enabled(merchant):
        return render(request, "links/terminal_unavailable.html", status=403)
    form = QuickLinkForm(request.POST or None, merchant=merchant, with_phone=False)
    if request.method == "POST" and form.is_valid():
        link = _quick_link(request, membership, form, LinkChannel.TERMINAL)
        return redirect("links:terminal_pay", shop_id=merchant.public_id, link_id=link.pk)
    return render(
        request, "links/terminal_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _terminal_urls(membership: Membership, link: PaymentLink):
    shop_id = membership.merchant.public_id

    def urls(payment: Payment) -> tuple[str, str]:
        return (
            reverse("links:payment_detail", args=[shop_id, payment.public_id]),
            reverse("links:terminal_complete", args=[shop_id, link.pk, payment.public_id]),
        )

    return urls


def _terminal_link(membership: Membership, link_id: int) -> PaymentLink:
    if not moto_enabled(membership.merchant):
        raise Http404
    return _channel_link(membership, link_id, LinkChannel.TERMINAL)


@shop_view()
def terminal_pay(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    link = _terminal_link(membership, link_id)
    if not link.is_payable:
        messages.info(request, _("This terminal payment is closed."))
        return redirect("links:detail", shop_id=membership.merchant.public_id, link_id=link.pk)
    shop_id = membership.merchant.public_id
    context = {
        "link": link,
        "terminal": True,
        "payment_form": provider_for(link.merchant).checkout_context(moto=True),
        "customer_language": request.LANGUAGE_CODE,
        "setup_url": reverse("links:terminal_setup", args=[shop_id, link.pk]),
        "attempt_url": reverse("links:terminal_attempt", args=[shop_id, link.pk]),
    }
    return render(request, "links/terminal_pay.html", context)


@shop_view()
@require_POST
@transaction.non_atomic_requests
def terminal_setup(request: HttpRequest, membership: Membership, link_id: int) -> JsonResponse:
    return run_setup(_terminal_link(membership, link_id))


@shop_view()
@require_POST
@transaction.non_atomic_requests
def terminal_attempt(request: HttpRequest, membership: Membership, link_id: int) -> JsonResponse:
    link = _terminal_link(membership, link_id)
    return run_attempt(request, link, _terminal_urls(membership, link), moto=True)


@shop_view()
@require_POST
@transaction.non_atomic_requests
def terminal_complete(
    request: HttpRequest, membership: Membership, link_id: int, payment_id
) -> JsonResponse:
    link = _terminal_link(membership, link_id)
    payment = get_object_or_404(Payment, public_id=payment_id, link=link)
    return run_complete(payment, _terminal_urls(membership, link))
