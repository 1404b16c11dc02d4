"""The payment provider interface and its Stripe implementation.

Small and explicit: every method returns a small dataclass, never a raw Stripe object, and every
failure is a ProviderError that says whether trying again can help (`permanent`). Contracts:

- `create_payment` moves no money: it creates the PaymentIntent unconfirmed, so that our record
  of it can be committed before any money moves.
- `confirm_payment` moves money (or asks for 3-D Secure).
- `retrieve_payment` is the only source of truth for a payment's state; webhooks and browser
  returns are only triggers to call it.

Where localstripe (offline test mode) and Stripe differ, the difference stays here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.conf import settings

from vpos.inflight import mark_money_in_flight
from vpos.inputs import load_json

logger = logging.getLogger(__name__)


class ProviderError(Exception):
    def __init__(self, message: str, *, permanent: bool, code: str = "", decline_code: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.decline_code = decline_code


class CardDeclined(ProviderError):
    """The card was refused: the customer can try another card."""


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str  # Stripe's PaymentIntent status
    amount: int
    currency: str  # upper case ISO 4217
    client_secret: str = ""
    card_brand: str = ""
    card_last4: str = ""
    failure_code: str = ""
    failure_message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    created: int = 0  # Unix time the PaymentIntent was created


@dataclass(frozen=True)
class ProviderSetup:
    id: str
    client_secret: str


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    object_id: str
    object_type: str
    payment_intent: str = ""  # for charge and refund events: the PaymentIntent they belong to


@dataclass(frozen=True)
class Credentials:
    secret_key: str
    publishable_key: str
    webhook_secret: str


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# The card's brand and last 4 digits: on the charge for Stripe, only on the payment method for
# localstripe (its charges have no payment_method_details). Both are ids unless expanded.
_EXPAND = ["latest_charge", "payment_method"]


class StripeProvider:
    """Stripe through the official SDK; STRIPE_API_BASE points it at localstripe offline."""

    def __init__(self, credentials: Credentials, api_base: str | None = None):
        self.credentials = credentials
        self.api_base = settings.STRIPE_API_BASE if api_base is None else api_base
        base = {"api": self.api_base} if self.api_base else None
        self.client = stripe.StripeClient(
            credentials.secret_key, base_addresses=base, max_network_retries=0
        )

    # -- errors ----------------------------------------------------------------------------
    def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.CardError as error:
            raise CardDeclined(
                error.user_message or str(error),
                permanent=True,
                code=error.code or "card_declined",
                decline_code=getattr(error, "decline_code", "") or "",
            ) from error
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise ProviderError(str(error), permanent=False, code="unreachable") from error
        except stripe.StripeError as error:
            status = getattr(error, "http_status", None) or 0
            raise ProviderError(
                str(getattr(error, "user_message", None) or error),
                permanent=400 <= status < 500,
                code=getattr(error, "code", "") or "provider_error",
            ) from error

    def _payment(self, pi: Any) -> ProviderPayment:
        data = _as_dict(pi)
        charge = data.get("latest_charge")
        if isinstance(charge, str):  # real Stripe returns an id unless expanded
            charge = None
        card = ((charge or {}).get("payment_method_details") or {}).get("card") or {}
        if not card:
            card = (
                _as_dict(data.get("payment_method"))
                if isinstance(data.get("payment_method"), dict)
                else {}
            ).get("card") or {}
        error = data.get("last_payment_error") or {}
        return ProviderPayment(
            id=data["id"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=str(data["currency"]).upper(),
            client_secret=data.get("client_secret") or "",
            card_brand=card.get("brand") or "",
            card_last4=card.get("last4") or "",
            failure_code=error.get("decline_code") or error.get("code") or "",
            failure_message=error.get("message") or "",
            metadata=dict(data.get("metadata") or {}),
            created=int(data.get("created") or 0),
        )

    # -- the interface ------------------------------------------------------------------------
    def verify_credentials(self) -> None:
        """One cheap authenticated call: raises ProviderError if the keys do not work."""
        self._call(self.client.v1.payment_intents.list, {"limit": 1})

    def create_setup(self) -> ProviderSetup:
        seti = self._call(self.client.v1.setup_intents.create, {"payment_method_types": ["card"]})
        return ProviderSetup(id=seti.id, client_secret=seti.client_secret)

    def create_payment(
        self,
        *,
        amount: int,
        currency: str,
        payment_method: str,
        metadata: dict[str, str],
        idempotency_key: str,
        moto: bool = False,
    ) -> ProviderPayment:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if moto:
            params["payment_method_options"] = {"card": {"moto": True}}
        pi = self._call(
            self.client.v1.payment_intents.create, params, {"idempotency_key": idempotency_key}
        )
        return self._payment(pi)

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        mark_money_in_flight()
        try:
            pi = self._call(
                self.client.v1.payment_intents.confirm,
                payment_id,
                {"expand": _EXPAND},
                {"idempotency_key": idempotency_key},
            )
        except CardDeclined:
            # The decline is on the PaymentIntent too; the caller reads it from there.
            return self.retrieve_payment(payment_id)
        return self._payment(pi)

    def retrieve_payment(self, payment_id: str) -> ProviderPayment:
        pi = self._call(self.client.v1.payment_intents.retrieve, payment_id, {"expand": _EXPAND})
        return self._payment(pi)

    def cancel_payment(self, payment_id: str) -> ProviderPayment:
        return self._payment(self._call(self.client.v1.payment_intents.cancel, payment_id))

    def refund_payment(
        self, payment_id: str, *, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund:
        """Moves money back. The caller enforces the refundable remainder: localstripe does not."""
        mark_money_in_flight()
        refund = self._call(
            self.client.v1.refunds.create,
            {"payment_intent": payment_id, "amount": amount, "metadata": metadata},
            {"idempotency_key": idempotency_key},
        )
        return _refund(refund)

    def annotate_payment(self, payment_id: str, metadata: dict[str, str]) -> None:
        """Add keys to a PaymentIntent's metadata (the others stay): moves no money."""
        self._call(self.client.v1.payment_intents.update, payment_id, {"metadata": metadata})

    def annotate_refund(self, refund_id: str, metadata: dict[str, str]) -> None:
        self._call(self.client.v1.refunds.update, refund_id, {"metadata": metadata})

    def list_payments(self, *, created_since: int) -> Iterator[ProviderPayment]:
        """Every PaymentIntent created at or after `created_since` (Unix time), page by page.
        Card details are not expanded: retrieve a payment for them. localstripe has no `created`
        filter: there the list is filtered here."""
        params: dict[str, Any] = {"limit": 100}
        if not self.api_base:
            params["created"] = {"gte": created_since}
        while True:
            page = self._call(self.client.v1.payment_intents.list, params)
            for pi in page.data:
                payment = self._payment(pi)
                if payment.created >= created_since:
                    yield payment
            if not page.has_more or not page.data:
                return
            params["starting_after"] = page.data[-1].id

    def list_refunds(self, payment_id: str) -> list[ProviderRefund]:
        refunds = self._call(
            self.client.v1.refunds.list, {"payment_intent": payment_id, "limit": 100}
        )
        return [_refund(refund) for refund in refunds.data]

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """Verify the signature over the raw body; raises ValueError on anything untrustworthy.

        A correctly signed body of an unexpected shape is refused too (ValueError), never a 500.
        """
        if not self.credentials.webhook_secret:
            raise ValueError("no webhook secret configured")
        try:
            stripe.WebhookSignature.verify_header(
                payload,
                signature,
                self.credentials.webhook_secret,
                stripe.Webhook.DEFAULT_TOLERANCE,
            )
            data = load_json(payload)
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise ValueError(str(error)) from error
        if not isinstance(data, dict):
            raise ValueError("event is not an object")
        event_id, event_type = data.get("id"), data.get("type")
        if not (isinstance(event_id, str) and 0 < len(event_id) <= 255):
            raise ValueError("event without a usable id")
        if not (isinstance(event_type, str) and 0 < len(event_type) <= 100):
            raise ValueError("event without a usable type")
        body = data.get("data")
        obj = body.get("object") if isinstance(body, dict) else None
        if not isinstance(obj, dict):
            obj = {}
        object_id, object_type = obj.get("id", ""), obj.get("object", "")
        if not isinstance(object_id, str) or not isinstance(object_type, str):
            raise ValueError("event object without a usable id")
        payment_intent = obj.get("payment_intent")
        if object_type == "payment_intent":
            payment_intent = object_id
        return WebhookEvent(
            id=event_id,
            type=event_type,
            object_id=object_id,
            object_type=object_type,
            payment_intent=payment_intent if isinstance(payment_intent, str) else "",
        )


def platform_credentials() -> Credentials:
    return Credentials(
        secret_key=settings.STRIPE_SECRET_KEY,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
    )


def credentials_for(merchant: Any) -> Credentials:
    """The shop's own Stripe account if connected, else the platform's keys."""
    account = getattr(merchant, "payment_account", None) if merchant is not None else None
    if account is not None:
        return Credentials(account.secret_key, account.publishable_key, account.webhook_secret)
    return platform_credentials()


def provider_for(merchant: Any) -> StripeProvider:
    return StripeProvider(credentials_for(merchant))


def provider_for_payment(payment: Any) -> StripeProvider:
    """The account a payment was made with, even if the shop connected or disconnected one since."""
    account = getattr(payment.merchant, "payment_account", None)
    if not payment.via_shop_account:
        return StripeProvider(platform_credentials())
    if account is None:
        raise ProviderError(
            "the shop's Stripe account that took this payment is no longer connected",
            permanent=True,
            code="account_disconnected",
        )
    return StripeProvider(
        Credentials(account.secret_key, account.publishable_key, account.webhook_secret)
    )


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    amount: int
    status: str
    metadata: dict[str, str] = field(default_factory=dict)


def _refund(obj: Any) -> ProviderRefund:
    data = _as_dict(obj)
    return ProviderRefund(
        id=data["id"],
        amount=int(data["amount"]),
        status=data.get("status") or "succeeded",
        metadata=dict(data.get("metadata") or {}),
    )
