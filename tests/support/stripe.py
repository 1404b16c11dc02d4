"""Stripe test mode (localstripe) in tests: cards, PaymentIntents, signed webhook events, 3-D Secure."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
import urllib.request
from typing import Any

import stripe
from django.test import Client

CARD_3DS = "4000002500003155"
CARD_OK = "4242424242424242"


CARD_DECLINED = "4000000000000341"


def card_payment_method(api: stripe.StripeClient, number: str = CARD_OK) -> str:
    pm = api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return pm.id


def payment_intent(
    api: stripe.StripeClient,
    *,
    amount: int,
    currency: str = "EUR",
    card: str = CARD_OK,
    metadata: dict[str, str] | None = None,
    confirm: bool = True,
) -> Any:
    """A PaymentIntent created (and confirmed) in localstripe, as a customer's checkout would."""
    return api.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": card_payment_method(api, card),
            "payment_method_types": ["card"],
            "metadata": metadata or {},
            "confirm": confirm,
        }
    )


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> bytes:
    """A Stripe event about `obj` as Stripe sends it (the fields we read, plus a few we do not)."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "api_version": "2017-08-15",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def event_body(
    object_id: str,
    *,
    event_type: str = "payment_intent.succeeded",
    event_id: str | None = None,
    status: str = "succeeded",
) -> bytes:
    """A PaymentIntent event."""
    obj = {"id": object_id, "object": "payment_intent", "status": status}
    return stripe_event(event_type, obj, event_id=event_id)


def charge_event(
    charge_id: str, pi_id: str, *, event_type: str = "charge.refunded", event_id: str | None = None
) -> bytes:
    """A charge event (what real Stripe sends on a dashboard refund; localstripe never does)."""
    obj = {"id": charge_id, "object": "charge", "payment_intent": pi_id, "refunded": False}
    return stripe_event(event_type, obj, event_id=event_id)


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe computes: t=<unix time>,v1=HMAC-SHA256(secret, "t.body")."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def post_webhook(client: Client, url: str, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(url, data=body, content_type="application/json", **headers)


def complete_3ds(base_url: str, pi: Any, *, publishable_key: str, success: bool = True) -> None:
    """What the customer's click in localstripe's 3-D Secure pop-up does (localstripe only)."""
    body = urllib.parse.urlencode(
        {
            "key": publishable_key,
            "client_secret": pi.client_secret,
            "success": "true" if success else "false",
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's own localstripe on loopback
        f"{base_url}/v1/payment_intents/{pi.id}/_authenticate", data=body, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        response.read()


# SEPA Direct Debit on localstripe: an account it debits at once, and one whose debit it refuses
# about half a second after confirmation (the PaymentIntent is `processing` until then).
IBAN_OK = "IT60X0542811101000000123456"
IBAN_REFUSED = "DE62370400440532013001"


def sepa_payment_method(api: stripe.StripeClient, iban: str = IBAN_OK) -> str:
    pm = api.v1.payment_methods.create(
        params={
            "type": "sepa_debit",
            "sepa_debit": {"iban": iban},
            "billing_details": {"name": "Giulia Bianchi", "email": "giulia@example.com"},
        }
    )
    return pm.id
