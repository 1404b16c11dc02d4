"""The public checkout: no login, only the link's random token.

Viewing a page writes nothing (bots and refreshes cost nothing). The browser tokenizes the card
with Stripe.js and posts only that token; the amount always comes from the link on the server.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from merchants.fiscal import DETAIL_FIELDS, InvoiceDetailsForm
from merchants.models import InvoiceOffer
from merchants.selectors import invoice_offer
from vpos.inputs import is_url_token
from vpos.ratelimit import client_ip, limit, rate_limit

from .. import payments, selectors
from ..forms import CheckoutAttemptForm
from ..methods import OFFLINE_METHODS, link_payment_methods, offers
from ..models import LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus
from ..page_cache import LANGUAGES, cached_page, page_cache_key
from ..providers import ProviderError, provider_for
from ..providers.stripe import decline_reason
from ..recipients import recipient_from, recipient_token
from ..selectors import receipt_of

BROWSER_COOKIE = "vpos_checkout"


def _link_or_404(token: str) -> PaymentLink:
    if not is_url_token(token):
        raise Http404
    link = selectors.link_for_checkout(token)
    if link is None:
        raise Http404
    return link


def _link_to_pay(token: str) -> PaymentLink:
    """The link for a call that creates something at the provider (a SetupIntent, a
    PaymentIntent): counted per link, whoever calls, so that no one, from however many addresses,
    makes a link create them without end (card testing). Inside `rate_limit`, which answers 429."""
    link = _link_or_404(token)
    limit(
        "checkout_link",
        str(link.pk),
        message=_(
            "There have been too many payment attempts on this link. Nothing was charged: "
            "please wait a few minutes and try again."
        ),
    )
    return link


def _customer_language(request: HttpRequest, link: PaymentLink) -> str:
    chosen = request.GET.get("lang", "")
    return chosen if chosen in LANGUAGES else link.language


def _in_page_language(view):
    """JSON answers in the language of the page that asked: checkout.js posts with ?lang=."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        language = request.GET.get("lang", "")
        if language not in LANGUAGES:
            return view(request, *args, **kwargs)
        with translation.override(language):
            return view(request, *args, **kwargs)

    return wrapper


def _browser_key(request: HttpRequest) -> str:
    value = request.get_signed_cookie(BROWSER_COOKIE, default="", salt="checkout")
    return value if len(value) == 32 else ""


def _held_by(link: PaymentLink) -> str:
    """A single-use link whose payment is authorized (awaiting the shop's capture) or processing
    (a bank debit awaiting the bank): its status, and the page says so instead of taking another
    payment (payments.checkout_attempt refuses one anyway); "" otherwise."""
    if link.kind != LinkKind.SINGLE:
        return ""
    held = (
        link.payments.filter(status__in=[PaymentStatus.AUTHORIZED, PaymentStatus.PROCESSING])
        .values_list("status", flat=True)
        .first()
    )
    return held or ""


def _render_payable(
    request: HttpRequest, link: PaymentLink, language: str, recipient: str = ""
) -> str:
    context = {
        "link": link,
        "shop": link.merchant,
        "customer_language": language,
        "prefill_email": recipient or link.customer_email,
        "recipient": recipient_token(link, recipient) if recipient else "",
        "payment_form": provider_for(link.merchant).checkout_context(),
        "payment_methods": ",".join(link_payment_methods(link)),
        # Offline (the "setup" flow), a SEPA debit beside the card, when the link offers it.
        "sepa_offered": offers(link, "sepa_debit"),
        "card_offered": offers(link, "card") or not offers(link, "sepa_debit"),
        "setup_url": f"{reverse('links:setup', args=[link.token])}?lang={language}",
        "attempt_url": f"{reverse('links:attempt', args=[link.token])}?lang={language}",
        **_invoice_context(link, language),
    }
    return render_to_string("links/checkout.html", context)


def _invoice_context(link: PaymentLink, language: str) -> dict:
    """ "I need an invoice" on the pay page: the form when the shop offers invoices, or the
    details the shop already put on the link (shown, not asked)."""
    offer = invoice_offer(link.merchant)
    if link.invoice_details:
        return {"invoice_details": link.invoice_details}
    if offer == InvoiceOffer.OFF:
        return {}
    return {
        "invoice_form": InvoiceDetailsForm(prefix=INVOICE_PREFIX),
        "invoice_open": offer == InvoiceOffer.BUSINESS,
        "invoice_check_url": f"{reverse('links:invoice_check', args=[link.token])}?lang={language}",
    }


@rate_limit("checkout", unknown_scope="checkout_unknown")
@require_GET
@never_cache
@ensure_csrf_cookie
@transaction.non_atomic_requests
def checkout(request: HttpRequest, token: str) -> HttpResponse:
    """The payable page is the same HTML for every visitor (the CSRF token travels in its cookie,
    the attempt key is made by the browser), so it is kept in the cache for a few seconds: busy
    links cost no query. A status change drops it at once; expiry is checked on every hit; shop
    branding changes show within settings.CHECKOUT_PAGE_CACHE_SECONDS (10 by default). Paying
    re-checks everything under a lock."""
    if not is_url_token(token):
        raise Http404
    lang = request.GET.get("lang", "")
    lang = lang if lang in LANGUAGES else ""
    key = page_cache_key(token, lang)
    personal = request.GET.get("for", "")  # a link sent by email: never the shared cached page
    cached = None if personal else cached_page(key)
    if cached is not None and (
        cached["expires_at"] is None or timezone.now() < cached["expires_at"]
    ):
        response = HttpResponse(cached["html"])
    else:
        link = _link_or_404(token)
        language = lang or link.language
        with translation.override(language):
            held = _held_by(link) if link.is_payable else ""
            if held:
                html = render_to_string(
                    "links/checkout_held.html",
                    {
                        "link": link,
                        "shop": link.merchant,
                        "customer_language": language,
                        "held": held,
                    },
                )
                cache.set(
                    key,
                    {"html": html, "expires_at": link.expires_at},
                    settings.CHECKOUT_PAGE_CACHE_SECONDS,
                )
                response = HttpResponse(html)
            elif link.is_payable and personal:
                html = _render_payable(request, link, language, recipient_from(personal, link))
                response = HttpResponse(html)
            elif link.is_payable:
                html = _render_payable(request, link, language)
                cache.set(
                    key,
                    {"html": html, "expires_at": link.expires_at},
                    settings.CHECKOUT_PAGE_CACHE_SECONDS,
                )
                response = HttpResponse(html)
            else:
                context = {
                    "link": link,
                    "shop": link.merchant,
                    "customer_language": language,
                    "last_payment": (
                        link.payments.filter(status=PaymentStatus.SUCCEEDED)
                        .order_by("-succeeded_at")
                        .first()
                        if link.status in (LinkStatus.PAID, LinkStatus.COMPLETED)
                        else None
                    ),
                }
                response = render(request, "links/checkout_closed.html", context, status=410)
    if not _browser_key(request):
        response.set_signed_cookie(
            BROWSER_COOKIE,
            secrets.token_hex(16),
            salt="checkout",
            max_age=86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


INVOICE_PREFIX = "invoice"


def invoice_details_posted(request: HttpRequest, link: PaymentLink) -> dict | JsonResponse:
    """The invoice details of an attempt (links.payments.attempt_invoice_details) from what the
    page posted (`invoice-requested`, `invoice-<field>`), or the answer that names each wrong
    field."""
    typed = {
        name: request.POST[f"{INVOICE_PREFIX}-{name}"]
        for name in DETAIL_FIELDS
        if f"{INVOICE_PREFIX}-{name}" in request.POST
    }
    try:
        return payments.attempt_invoice_details(
            link, requested=request.POST.get(f"{INVOICE_PREFIX}-requested") == "on", typed=typed
        )
    except ValidationError as error:
        return JsonResponse(
            {
                "status": "error",
                "code": "invoice_details",
                "message": _("Please check your invoice details: nothing was charged."),
                "fields": error.message_dict,
            },
            status=400,
        )


def _json_error(message: str, code: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"status": "error", "code": code, "message": message}, status=status)


def _public_urls(link: PaymentLink) -> Callable[[Payment], tuple[str, str]]:
    """Where the customer's browser goes next: the result page, or 3-D Secure's completion."""

    def urls(payment: Payment) -> tuple[str, str]:
        return (
            reverse("links:result", args=[link.token, payment.public_id]),
            reverse("links:attempt_complete", args=[link.token, payment.public_id]),
        )

    return urls


def attempt_response(
    payment: Payment, urls: Callable[[Payment], tuple[str, str]], client_secret: str = ""
) -> JsonResponse:
    """The JSON contract checkout.js understands (see its header)."""
    result_url, complete_url = urls(payment)
    body: dict = {"status": payment.status, "payment": str(payment.public_id)}
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        body["client_secret"] = client_secret
        body["complete_url"] = complete_url
    elif payment.status == PaymentStatus.FAILED:
        body["message"] = decline_message(payment)
        body["attempt_key"] = secrets.token_urlsafe(24)
    else:  # succeeded, processing, pending: the result page says which
        body["redirect"] = result_url
    return JsonResponse(body)


def run_attempt(
    request: HttpRequest,
    link: PaymentLink,
    urls: Callable[[Payment], tuple[str, str]],
    *,
    moto: bool = False,
    return_url: Callable[[Payment], str] | None = None,
) -> JsonResponse:
    """Validate the posted payment method and attempt key, charge the link, answer checkout.js.
    `return_url`: where a redirect-based method brings the customer back (customer pages)."""
    form = CheckoutAttemptForm(request.POST)
    if not form.is_valid():
        return _json_error(
            _("The card details could not be read. Please try again."), "bad_request"
        )
    invoice_details = {} if moto else invoice_details_posted(request, link)
    if isinstance(invoice_details, JsonResponse):  # wrong: nothing reserved, nothing charged
        return invoice_details
    try:
        result = payments.checkout_attempt(
            link=link,
            payment_method=form.cleaned_data["payment_method"],
            attempt_key=form.cleaned_data["attempt_key"],
            browser_key=_browser_key(request),
            customer_email=form.cleaned_data["email"]
            or recipient_from(form.cleaned_data["recipient"], link),
            customer_name=form.cleaned_data["name"],
            moto=moto,
            method=form.cleaned_data["method"],
            return_url=return_url,
            customer_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:500],
            invoice_details=invoice_details,
        )
    except payments.CheckoutError as error:
        return _json_error(error.message, error.code, error.refusal)
    except ProviderError:  # settling an earlier attempt first failed: nothing new was charged
        return _json_error(
            _("The payment service could not be reached. Nothing was charged: please try again."),
            "provider_unreachable",
            503,
        )
    return attempt_response(result.payment, urls, result.client_secret)


def run_complete(payment: Payment, urls: Callable[[Payment], tuple[str, str]]) -> JsonResponse:
    """After 3-D Secure in the browser: the server asks Stripe what happened."""
    try:
        payment = payments.payment_refresh(payment=payment, source="browser")
    except ProviderError:
        return _json_error(
            _(
                "We could not check the payment with the card service. Do not pay again: "
                "we will check its outcome in a few minutes."
            ),
            "provider_unreachable",
            503,
        )
    return attempt_response(payment, urls)


def run_setup(link: PaymentLink, method: str = "card") -> JsonResponse:
    """Offline test mode only: a SetupIntent lets localstripe's Stripe.js turn the card, or the
    bank account of a SEPA debit, into a payment method."""
    if not link.is_payable:
        return _json_error(_("This payment link can no longer be paid."), "link_closed", 410)
    if method not in OFFLINE_METHODS or (method != "card" and not offers(link, method)):
        return _json_error(_("This payment method is not offered on this link."), "bad_method")
    try:
        prepared = provider_for(link.merchant).create_setup(method)
    except ProviderError:
        return _json_error(
            _("The payment service could not be reached. Nothing was charged: please try again."),
            "provider_unreachable",
            503,
        )
    return JsonResponse({"client_secret": prepared.client_secret})


def decline_message(payment: Payment) -> str:
    if payment.is_debit:  # Stripe's reasons speak of cards; the bank refused the debit
        return _(
            "Payment not completed: your bank refused the debit. Try again with another "
            "account or pay by card."
        )
    reason = decline_reason(payment.failure_code) or payment.failure_message
    reason = reason or _("The card was declined.")
    return _("Payment not completed: %(reason)s Try again or use another card.") % {
        "reason": reason.rstrip(".") + "."
    }


def return_url(link: PaymentLink, payment: Payment) -> str:
    """The shop's page after a successful payment (API links), naming the payment."""
    if payment.status != PaymentStatus.SUCCEEDED or not link.success_url:
        return ""
    separator = "&" if "?" in link.success_url else "?"
    return f"{link.success_url}{separator}vpos_payment={payment.public_id}&vpos_link={link.pk}"


# Every public checkout endpoint counts unknown tokens (404s) against the same guessing limit; the
# ones that create something at the provider count against the link's own limit too.


@require_POST
@_in_page_language
@rate_limit("checkout_attempt", unknown_scope="checkout_unknown")
def setup(request: HttpRequest, token: str) -> JsonResponse:
    return run_setup(_link_to_pay(token), request.POST.get("method", "card"))


@transaction.non_atomic_requests
@require_POST
@_in_page_language
@rate_limit("checkout_attempt", unknown_scope="checkout_unknown")
def attempt(request: HttpRequest, token: str) -> JsonResponse:
    link = _link_to_pay(token)
    language = request.GET.get("lang", "")
    query = f"?lang={language}" if language in LANGUAGES else ""

    def return_url(payment: Payment) -> str:
        path = reverse("links:attempt_return", args=[link.token, payment.public_id])
        return f"{settings.SITE_URL}{path}{query}"

    return run_attempt(request, link, _public_urls(link), return_url=return_url)


@transaction.non_atomic_requests
@require_POST
@_in_page_language
@rate_limit("checkout", unknown_scope="checkout_unknown")
def invoice_check(request: HttpRequest, token: str) -> JsonResponse:
    """The customer's invoice details checked before the card is even read: the same answer as
    a payment attempt would give, and nothing is written."""
    link = _link_or_404(token)
    details = invoice_details_posted(request, link)
    if isinstance(details, JsonResponse):
        return details
    return JsonResponse({"status": "ok"})


@transaction.non_atomic_requests
@require_POST
@_in_page_language
@rate_limit("checkout", unknown_scope="checkout_unknown")
def attempt_complete(request: HttpRequest, token: str, payment_id) -> JsonResponse:
    link = _link_or_404(token)
    payment = get_object_or_404(Payment, public_id=payment_id, link=link)
    return run_complete(payment, _public_urls(link))


@transaction.non_atomic_requests
@require_GET
@never_cache
@rate_limit("checkout", unknown_scope="checkout_unknown")
def attempt_return(request: HttpRequest, token: str, payment_id) -> HttpResponse:
    """Where a bank, a wallet or 3-D Secure brings the customer back after a redirect. What
    they add to the address (payment_intent, redirect_status…) is never read: the payment is
    settled from the provider's own answer, then the customer sees the result page."""
    link = _link_or_404(token)
    payment = get_object_or_404(Payment, public_id=payment_id, link=link)
    if payment.is_open and payment.provider_id:
        # Unreachable provider: the result page says "processing"; reconciliation settles it.
        with contextlib.suppress(ProviderError):
            payments.payment_refresh(payment=payment, source="redirect")
    target = reverse("links:result", args=[link.token, payment.public_id])
    language = request.GET.get("lang", "")
    return redirect(f"{target}?lang={language}" if language in LANGUAGES else target)


@transaction.non_atomic_requests
@require_GET
@never_cache
@rate_limit("checkout", unknown_scope="checkout_unknown")
def result(request: HttpRequest, token: str, payment_id) -> HttpResponse:
    link = _link_or_404(token)
    payment = get_object_or_404(Payment, public_id=payment_id, link=link)
    if payment.is_open and payment.provider_id:
        # If the provider is unreachable the page says "processing"; reconciliation settles it.
        with contextlib.suppress(ProviderError):
            payment = payments.payment_refresh(payment=payment, source="browser")
    language = _customer_language(request, link)
    with translation.override(language):
        return render(
            request,
            "links/checkout_result.html",
            {
                "link": link,
                "shop": link.merchant,
                "payment": payment,
                "customer_language": language,
                "receipt": receipt_of(payment),
                "return_url": return_url(link, payment),
                "decline_message": decline_message(payment)
                if payment.status == PaymentStatus.FAILED
                else "",
            },
        )
