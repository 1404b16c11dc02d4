"""Back-office views for payment links (members of the shop)."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from merchants.access import shop_view
from merchants.models import Membership, PaymentAccount
from merchants.services import merchant_update
from vpos.inputs import parse_id
from vpos.money import exponent, to_decimal

from .. import authorizations, notifications, refunds, selectors, services
from ..dashboard import dashboard_figures
from ..forms import (
    HoldForm,
    LinkEmailForm,
    LinkFilterForm,
    LinkForm,
    PaymentAccountForm,
    PaymentMethodsForm,
    RefundForm,
)
from ..models import Payment, PaymentLink, PaymentStatus, Refund
from ..providers import (
    ProviderError,
    payment_account_connect,
    payment_account_disconnect,
    payment_domain_register,
)
from ..qr import qr_png, qr_svg


@shop_view(cached=True)
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
    source_id = parse_id(link_id)
    if source_id is None:
        return {}
    source = PaymentLink.objects.filter(merchant=membership.merchant, pk=source_id).first()
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
        "vat_rate": source.vat_rate,
        "vat_exemption": source.vat_exemption,
        "payment_methods": source.payment_methods,
    }


@shop_view()
def link_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    form = LinkForm(
        request.POST or None,
        merchant=merchant,
        initial=_duplicate_initial(membership, request.GET.get("from")),
    )
    if request.method == "POST" and form.is_valid():
        try:
            link = services.link_create(
                merchant=merchant, created_by=request.user, **form.service_kwargs()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Payment link created. Share it with your customer."))
            return redirect("links:detail", shop_id=merchant.public_id, link_id=link.pk)
    return render(
        request, "links/link_form.html", {"form": form}, status=400 if form.errors else 200
    )


def _shop_link(membership: Membership, link_id: int) -> PaymentLink:
    return get_object_or_404(
        PaymentLink.objects.select_related("merchant"), pk=link_id, merchant=membership.merchant
    )


def send_link_from_form(request: HttpRequest, link: PaymentLink, form: LinkEmailForm) -> bool:
    """Send the link as the posted form asks; say what happened. True when it was queued."""
    if not form.is_valid():
        return False
    try:
        notifications.link_send_email(
            link=link,
            to=form.cleaned_data["to"],
            message=form.cleaned_data["message"],
            language=form.cleaned_data["language"],
            sent_by=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    messages.success(
        request, _("The link is on its way to %(email)s.") % {"email": form.cleaned_data["to"]}
    )
    return True


@shop_view()
def link_detail(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    link = _shop_link(membership, link_id)
    email_form = LinkEmailForm(
        request.POST or None, initial={"to": link.customer_email, "language": link.language}
    )
    if request.method == "POST" and send_link_from_form(request, link, email_form):
        return redirect("links:detail", shop_id=membership.merchant.public_id, link_id=link.pk)
    context = {
        "link": link,
        "payments": selectors.link_payments(link)[:50],
        "emails": selectors.link_emails(link)[:20],
        "email_form": email_form,
        "public_url": link.public_url,
        "qr_svg": qr_svg(link.public_url, title=_("QR code of the payment link")),
        "share_text": _("Pay %(amount)s to %(shop)s: %(url)s")
        % {"amount": link.amount_display, "shop": link.merchant.name, "url": link.public_url},
        # The native share sheet appends its `url` itself: its text must not repeat it.
        "share_message": _("Pay %(amount)s to %(shop)s")
        % {"amount": link.amount_display, "shop": link.merchant.name},
    }
    return render(
        request, "links/link_detail.html", context, status=400 if email_form.errors else 200
    )


def _immutable(response: HttpResponse, filename: str) -> HttpResponse:
    """A link's QR code never changes: let browsers and proxies keep it."""
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@shop_view()
def link_qr(request: HttpRequest, membership: Membership, link_id: int, fmt: str) -> HttpResponse:
    link = _shop_link(membership, link_id)
    # Derived from what the code encodes, so a new SITE_URL gets a new ETag; no token in headers.
    etag = f'"qr-{hashlib.sha256(link.public_url.encode()).hexdigest()[:24]}-{fmt}"'
    # Weak comparison (RFC 9110): a gzipping proxy turns our ETag into W/"...".
    validators = parse_etags(request.headers.get("If-None-Match", ""))
    if etag in {tag.removeprefix("W/") for tag in validators}:
        response = HttpResponse(status=304)
    elif fmt == "png":
        response = HttpResponse(qr_png(link.public_url), content_type="image/png")
    else:
        response = HttpResponse(qr_svg(link.public_url), content_type="image/svg+xml")
    response["ETag"] = etag
    return _immutable(response, f"payment-link-{link.pk}.{fmt}")


@shop_view()
def link_card(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    """A printable counter card: logo, amount, description, QR code and URL (A6, print CSS)."""
    link = _shop_link(membership, link_id)
    return render(
        request,
        "links/link_card.html",
        {"link": link, "qr_svg": qr_svg(link.public_url, title=_("QR code of the payment link"))},
    )


@shop_view()
def link_deactivate(request: HttpRequest, membership: Membership, link_id: int) -> HttpResponse:
    link = _shop_link(membership, link_id)
    if request.method == "POST":
        try:
            services.link_deactivate(link=link, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, _("The link was deactivated: customers can no longer pay it.")
            )
        return redirect("links:detail", shop_id=membership.merchant.public_id, link_id=link.pk)
    return render(request, "links/link_deactivate.html", {"link": link})


def _shop_payment(membership: Membership, payment_id) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("link", "merchant"),
        public_id=payment_id,
        merchant=membership.merchant,
    )


def _payment_page(
    request: HttpRequest,
    membership: Membership,
    payment: Payment,
    form: RefundForm | None,
    status: int = 200,
    errors: list[str] | None = None,
    hold_form_given: HoldForm | None = None,
) -> HttpResponse:
    receipt = selectors.receipt_of(payment)
    refundable = refunds.refund_remainder(payment)
    if form is None and refundable:
        amount = formats.number_format(
            to_decimal(refundable, payment.currency), decimal_pos=exponent(payment.currency)
        )
        form = RefundForm(initial={"amount": amount}, currency=payment.currency)
    refund_form = form if membership.is_owner and refundable else None
    hold_form = None
    if payment.status == PaymentStatus.AUTHORIZED and not payment.hold_decision:
        held = payment.authorized_amount or payment.amount
        hold_form = hold_form_given or HoldForm(
            initial={
                "amount": formats.number_format(
                    to_decimal(held, payment.currency), decimal_pos=exponent(payment.currency)
                )
            },
            currency=payment.currency,
        )
    if refund_form is None and form is not None and form.errors:
        # Nothing is left to refund (or never was): the form is not shown, its errors still are.
        errors = [*(errors or []), *(e for field in form.errors.values() for e in field)]
    context = {
        "payment": payment,
        "link": payment.link,
        "receipt": receipt,
        "refunds": payment.refunds.select_related("note").order_by("-created_at"),
        # Its electronic invoice and credit notes (receipts.Invoice), if the customer asked.
        "invoices": payment.invoices.defer("xml", "snapshot").order_by("issued_at", "id"),
        "timeline": selectors.payment_timeline(payment),
        "refund_form": refund_form,
        "refundable": refundable,
        "refund_errors": errors or [],
        "hold_form": hold_form,
    }
    return render(request, "links/payment_detail.html", context, status=status)


@shop_view()
def payment_detail(request: HttpRequest, membership: Membership, payment_id) -> HttpResponse:
    return _payment_page(request, membership, _shop_payment(membership, payment_id), None)


@shop_view(owner_only=True)
@require_POST
@transaction.non_atomic_requests
def payment_refund(request: HttpRequest, membership: Membership, payment_id) -> HttpResponse:
    """Two steps: the form posts here, a confirmation page shows what will happen, then the refund."""
    payment = _shop_payment(membership, payment_id)
    form = RefundForm(request.POST, currency=payment.currency)
    request_key = form.cleaned_data["request_key"] if form.is_valid() else ""
    request_key = f"office-{request_key}" if request_key else ""
    earlier = refunds.refund_for_request(payment=payment, request_key=request_key)
    if earlier is not None:  # this confirmation was sent before: its refund, not another
        return _refund_outcome(request, membership, payment, earlier)
    try:
        refunds.refund_check(payment=payment)
    except ValidationError as error:
        return _payment_page(request, membership, payment, None, status=400, errors=error.messages)
    if not form.is_valid():
        return _payment_page(request, membership, payment, form, status=400)
    amount = form.cleaned_data["amount"]
    if not form.cleaned_data["confirm"]:
        try:
            refunds.refund_check(payment=payment, amount=amount)
        except ValidationError as error:
            form.add_error("amount", error)
            return _payment_page(request, membership, payment, form, status=400)
        return render(
            request,
            "links/refund_confirm.html",
            {
                "payment": payment,
                "form": form,
                "amount": amount,
                "request_key": secrets.token_urlsafe(24),
            },
        )
    try:
        refund = refunds.refund_create(
            payment=payment,
            amount=amount,
            reason=form.cleaned_data["reason"],
            actor=request.user,
            request_key=request_key,
        )
    except ValidationError as error:
        form.add_error(None, error)
        payment.refresh_from_db()  # a concurrent refund may have taken the remainder
        return _payment_page(request, membership, payment, form, status=400)
    return _refund_outcome(request, membership, payment, refund)


def _refund_outcome(
    request: HttpRequest, membership: Membership, payment: Payment, refund: Refund
) -> HttpResponse:
    if refund.status == Refund.Status.SUCCEEDED:
        messages.success(request, _("%(amount)s refunded.") % {"amount": refund.amount_display})
    elif refund.status == Refund.Status.PENDING:
        messages.warning(
            request,
            _("Stripe did not answer yet: the refund is pending and will be checked again."),
        )
    else:
        messages.error(request, refund.failure_message)
    return redirect(
        "links:payment_detail", shop_id=membership.merchant.public_id, payment_id=payment.public_id
    )


# --- Authorizations: capture (all or less) or release, owners and staff -------------------------


def _hold_step(
    request: HttpRequest, membership: Membership, payment_id, *, capture: bool
) -> HttpResponse:
    """Two steps, as refunds: the form posts here, a confirmation page says what will happen,
    its confirmation (with a key made for it: sent twice, it acts once) does it."""
    payment = _shop_payment(membership, payment_id)
    form = HoldForm(request.POST, currency=payment.currency)
    valid = form.is_valid()
    request_key = form.cleaned_data.get("request_key", "") if valid else ""
    request_key = f"office-{request_key}" if request_key else ""
    amount = form.cleaned_data.get("amount") if valid and capture else None
    if authorizations.payment_for_hold_request(payment=payment, request_key=request_key):
        # This confirmation was sent before: its decision, resumed if Stripe did not answer.
        return _hold_do(request, membership, payment, capture, amount, request_key)
    try:
        authorizations.hold_check(payment=payment, amount=amount)
    except ValidationError as error:
        if valid and error.code in ("zero", "over_authorized"):
            form.add_error("amount", error)
            return _payment_page(request, membership, payment, None, 400, hold_form_given=form)
        return _payment_page(request, membership, payment, None, 400, errors=error.messages)
    if not valid:
        return _payment_page(request, membership, payment, None, 400, hold_form_given=form)
    if not form.cleaned_data["confirm"]:
        return render(
            request,
            "links/hold_confirm.html",
            {
                "payment": payment,
                "capture": capture,
                "amount": amount or payment.authorized_amount or payment.amount,
                "posted_amount": form.data.get("amount", "") if capture else "",
                "request_key": secrets.token_urlsafe(24),
            },
        )
    return _hold_do(request, membership, payment, capture, amount, request_key)


def _hold_do(
    request: HttpRequest,
    membership: Membership,
    payment: Payment,
    capture: bool,
    amount: int | None,
    request_key: str,
) -> HttpResponse:
    service = authorizations.payment_capture if capture else authorizations.payment_release
    try:
        payment = service(
            payment=payment,
            actor=request.user,
            request_key=request_key,
            **({"amount": amount} if capture else {}),
        )
    except ValidationError as error:
        payment.refresh_from_db()  # someone else may have decided meanwhile
        return _payment_page(request, membership, payment, None, 400, errors=error.messages)
    return _hold_outcome(request, membership, payment)


def _hold_outcome(request: HttpRequest, membership: Membership, payment: Payment) -> HttpResponse:
    payment.refresh_from_db()
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(request, _("%(amount)s captured.") % {"amount": payment.amount_display})
    elif payment.status == PaymentStatus.CANCELED:
        messages.success(request, _("Authorization released: nothing was charged."))
    else:
        messages.warning(
            request, _("Stripe did not answer yet: this will be checked again in a few minutes.")
        )
    return redirect(
        "links:payment_detail", shop_id=membership.merchant.public_id, payment_id=payment.public_id
    )


@shop_view()
@require_POST
@transaction.non_atomic_requests
def payment_capture(request: HttpRequest, membership: Membership, payment_id) -> HttpResponse:
    return _hold_step(request, membership, payment_id, capture=True)


@shop_view()
@require_POST
@transaction.non_atomic_requests
def payment_release(request: HttpRequest, membership: Membership, payment_id) -> HttpResponse:
    return _hold_step(request, membership, payment_id, capture=False)


# --- The shop's figures and its payment account ------------------------------------------------


@shop_view(cached=True)
def dashboard(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    figures = dashboard_figures(merchant=merchant)
    checklist = None
    if not figures.has_links:  # a new shop: what to do first instead of empty figures
        checklist = [
            (_("Legal details for receipts"), bool(merchant.vat_number or merchant.tax_code)),
            (_("Logo on the checkout page"), bool(merchant.logo)),
            (_("A team member invited"), merchant.memberships.count() > 1),
        ]
    return render(request, "links/dashboard.html", {"checklist": checklist, "figures": figures})


@shop_view(owner_only=True)
def payment_account(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    account = PaymentAccount.objects.filter(merchant=merchant).first()
    initial = (
        {"publishable_key": account.publishable_key, "moto_enabled": account.moto_enabled}
        if account
        else {}
    )
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = PaymentAccountForm(
        request.POST if action == "" and request.method == "POST" else None,
        initial=initial,
        connected=account is not None,
    )
    methods_form = PaymentMethodsForm(
        request.POST if action == "methods" else None,
        initial={"payment_methods": merchant.payment_methods},
    )
    here = redirect("links:payment_account", shop_id=merchant.public_id)
    if action == "disconnect" and account:
        payment_account_disconnect(merchant=merchant, actor=request.user)
        messages.success(
            request, _("Stripe account disconnected. The platform's account is used again.")
        )
        return here
    if action == "methods" and methods_form.is_valid():
        merchant_update(merchant=merchant, data=methods_form.cleaned_data, actor=request.user)
        messages.success(request, _("Payment methods saved."))
        return here
    if action == "register_domain":
        _register_domain(request, membership)
        return here
    if action == "" and request.method == "POST" and form.is_valid():
        try:
            payment_account_connect(merchant=merchant, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Stripe account connected and checked."))
            return here
    webhook_url = settings.SITE_URL + reverse(
        "links:stripe_webhook_shop", args=[merchant.public_id]
    )
    context = {
        "form": form,
        "methods_form": methods_form,
        "account": account,
        "webhook_url": webhook_url,
        "checkout_domain": checkout_domain(),
    }
    return render(
        request,
        "links/payment_account.html",
        context,
        status=400 if form.errors or methods_form.errors else 200,
    )


def checkout_domain() -> str:
    """The domain customers pay on: the one Apple Pay needs registered with Stripe."""
    return urlsplit(settings.SITE_URL).hostname or ""


def _register_domain(request: HttpRequest, membership: Membership) -> None:
    domain = checkout_domain()
    try:
        payment_domain_register(merchant=membership.merchant, domain=domain, actor=request.user)
    except ProviderError as error:
        if error.permanent:
            message = _(
                "Stripe did not register %(domain)s: %(reason)s (offline test mode cannot "
                "register domains.)"
            ) % {"domain": domain, "reason": error.message}
        else:
            message = _("Stripe could not be reached. Nothing was registered: try again later.")
        messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(domain)s is registered with Stripe: Apple Pay can appear at checkout.")
            % {"domain": domain},
        )
