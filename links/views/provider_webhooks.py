"""Stripe webhooks: an untrusted trigger.

The signature is checked on the raw body; the event id is stored once, in the same transaction
as its effect, so a failure leaves it unstored and Stripe's retry does the work; the PaymentIntent
is fetched again from Stripe rather than read from the payload. Database trouble answers 503 so
Stripe retries.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, IntegrityError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from merchants.models import Merchant

from ..models import Payment, StripeEvent
from ..payments import payment_apply
from ..providers import ProviderError, provider_for, uses_shop_account
from ..refunds import refund_record_external

logger = logging.getLogger(__name__)


@csrf_exempt
@transaction.non_atomic_requests
@require_POST
def stripe_webhook(request: HttpRequest, shop_id=None) -> JsonResponse:
    merchant = None
    if shop_id is not None:
        merchant = (
            Merchant.objects.select_related("payment_account").filter(public_id=shop_id).first()
        )
        if not uses_shop_account(merchant):
            raise Http404
    provider = provider_for(merchant)
    try:
        event = provider.parse_webhook(request.body, request.headers.get("Stripe-Signature", ""))
    except ValueError as error:
        logger.info("webhook refused: %s", error)
        return JsonResponse({"error": "invalid signature or payload"}, status=400)

    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    StripeEvent.objects.create(
                        event_id=event.id, type=event.type, merchant=merchant
                    )
            except IntegrityError:
                return JsonResponse({"status": "duplicate"})
            if event.payment_id:
                payments = Payment.objects.filter(provider_id=event.payment_id)
                if merchant is not None:
                    # A shop signs its own events: they may only touch payments to its account.
                    payments = payments.filter(merchant=merchant, via_shop_account=True)
                else:
                    # The platform's events concern only payments to the platform account.
                    payments = payments.filter(via_shop_account=False)
                payment = payments.first()
                if payment is None:
                    logger.info(
                        "webhook %s for unknown PaymentIntent %s", event.id, event.payment_id
                    )
                elif event.refund:
                    # Refunds made in Stripe's dashboard: recorded once each, by their id.
                    for answer in provider.list_refunds(event.payment_id):
                        refund_record_external(payment=payment, answer=answer)
                else:
                    current = provider.retrieve_payment(event.payment_id)
                    payment_apply(payment_id=payment.pk, provider_payment=current, source="webhook")
    except ProviderError as error:
        if error.permanent:
            # Retrying cannot help (e.g. the PaymentIntent is unknown to this account).
            logger.warning("webhook %s: provider refused the lookup: %s", event.id, error)
            return JsonResponse({"status": "ignored"})
        logger.warning("webhook %s: provider unavailable: %s", event.id, error)
        return JsonResponse({"error": "provider unavailable, retry"}, status=503)
    except DatabaseError:
        logger.exception("webhook %s: database error", event.id)
        return JsonResponse({"error": "temporary failure, retry"}, status=503)
    return JsonResponse({"status": "ok"})
