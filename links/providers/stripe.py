"""Stripe, through its official SDK: the one implementation of `PaymentProvider`.

Every method returns a value type of `links.providers.base`, never a raw Stripe object, and
every failure is a ProviderError. Stripe's vocabulary (PaymentIntent statuses, event types) is
translated here and goes no further. Where localstripe (offline test mode, `STRIPE_API_BASE`)
and Stripe differ, the difference stays here too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy

from vpos.inflight import mark_money_in_flight
from vpos.inputs import load_json

from . import base

logger = logging.getLogger(__name__)

# PaymentIntent statuses, as the rest of vpos knows them.
STATES = {
    "requires_payment_method": base.PaymentState.NEEDS_PAYMENT_METHOD,
    "requires_confirmation": base.PaymentState.NEEDS_CONFIRMATION,
    "requires_action": base.PaymentState.NEEDS_ACTION,
    "processing": base.PaymentState.PROCESSING,
    "requires_capture": base.PaymentState.AUTHORIZED,
    "succeeded": base.PaymentState.SUCCEEDED,
    "canceled": base.PaymentState.CANCELED,
}
# Cards hold an authorization this long (Stripe says when on the charge; localstripe does not).
HOLD_DAYS = 7
# localstripe's refund for the released rest of a partial capture (see _tag_release).
RELEASE_TAG = "vpos_capture_release"
# The events that make vpos look at a payment again, and those about its refunds.
PAYMENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
    }
)
REFUND_EVENTS = frozenset(
    {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"}
)


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# The card's brand and last 4 digits: on the charge for Stripe, only on the payment method for
# localstripe (its charges have no payment_method_details). Both are ids unless expanded.
_EXPAND = ["latest_charge", "payment_method"]

# Stripe's own messages are English only: the customer reads the reason in the page's language.
DECLINE_REASONS = {
    "insufficient_funds": gettext_lazy("The card has insufficient funds."),
    "expired_card": gettext_lazy("The card has expired."),
    "incorrect_cvc": gettext_lazy("The security code (CVC) is incorrect."),
    "incorrect_number": gettext_lazy("The card number is incorrect."),
    "lost_card": gettext_lazy("The card was declined."),
    "stolen_card": gettext_lazy("The card was declined."),
    "card_declined": gettext_lazy("The card was declined."),
    "generic_decline": gettext_lazy("The card was declined."),
    "do_not_honor": gettext_lazy("The card was declined."),
    "processing_error": gettext_lazy("The card could not be processed."),
    "payment_intent_authentication_failure": gettext_lazy("The 3-D Secure authentication failed."),
}


# What localstripe (offline test mode) can take.
LOCALSTRIPE_TYPES = frozenset({"card", "sepa_debit"})
# Payment method types whose server-side confirmation needs the customer's mandate acceptance.
MANDATE_TYPES = frozenset({"sepa_debit", "bacs_debit", "au_becs_debit", "acss_debit"})


def decline_reason(code: str) -> str:
    """Why a card was refused, in the active language ("" for a code without a message)."""
    known = DECLINE_REASONS.get(code)
    return str(known) if known else ""


class StripeProvider:
    """Stripe through the official SDK; STRIPE_API_BASE points it at localstripe offline (or,
    with STRIPE_API_IS_LOCALSTRIPE=False, at another Stripe-compatible API: a test stub)."""

    def __init__(self, credentials: base.Credentials, api_base: str | None = None):
        self.credentials = credentials
        self.api_base = settings.STRIPE_API_BASE if api_base is None else api_base
        told = settings.STRIPE_API_IS_LOCALSTRIPE
        self.localstripe = bool(self.api_base) and (told is None or bool(told))
        addresses = {"api": self.api_base} if self.api_base else None
        self.client = stripe.StripeClient(
            credentials.secret_key, base_addresses=addresses, max_network_retries=0
        )

    # -- errors ----------------------------------------------------------------------------
    def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.CardError as error:
            raise base.CardDeclined(
                error.user_message or str(error),
                permanent=True,
                code=error.code or "card_declined",
                decline_code=getattr(error, "decline_code", "") or "",
            ) from error
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise base.ProviderError(str(error), permanent=False, code="unreachable") from error
        except stripe.StripeError as error:
            status = getattr(error, "http_status", None) or 0
            raise base.ProviderError(
                str(getattr(error, "user_message", None) or error),
                permanent=400 <= status < 500,
                code=getattr(error, "code", "") or "provider_error",
            ) from error

    def _payment(self, pi: Any) -> base.ProviderPayment:
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
        state = STATES.get(data["status"], base.PaymentState.PROCESSING)  # unknown: settle later
        method = data.get("payment_method")
        types = data.get("payment_method_types") or ["card"]
        method_type = method.get("type") if isinstance(method, dict) else None
        if not card and isinstance(method, dict):
            # A bank debit: its account's last 4 digits, where a card has its number's.
            card = {"last4": (method.get(method_type or "") or {}).get("last4") or ""}
        return base.ProviderPayment(
            id=data["id"],
            state=state,
            amount=int(data["amount"]),
            currency=str(data["currency"]).upper(),
            client_secret=data.get("client_secret") or "",
            card_brand=card.get("brand") or "",
            card_last4=card.get("last4") or "",
            failure_code=error.get("decline_code") or error.get("code") or "",
            failure_message=error.get("message") or "",
            metadata=dict(data.get("metadata") or {}),
            created=int(data.get("created") or 0),
            amount_captured=self._amount_captured(data, charge),
            capture_before=self._capture_before(data, state, card),
            method=str(method_type or (types[0] if len(types) == 1 else "card")),
        )

    def _amount_captured(self, data: dict[str, Any], charge: dict[str, Any] | None) -> int | None:
        """What a manual capture took. Stripe says it (`amount_received`); localstripe does not,
        and shows the released rest as refunded on the charge: right after the capture, the
        charge's amount less its refunds is what was captured."""
        if data.get("capture_method") != "manual" or data["status"] != "succeeded":
            return None
        if data.get("amount_received") is not None:
            return int(data["amount_received"])
        if self.localstripe and charge:
            return int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
        return None

    def _capture_before(
        self, data: dict[str, Any], state: base.PaymentState, card: dict[str, Any]
    ) -> int:
        """When an authorization lapses: Stripe tells it on the charge; localstripe does not, and
        cards hold for 7 days."""
        if state != base.PaymentState.AUTHORIZED:
            return 0
        if card.get("capture_before"):
            return int(card["capture_before"])
        return int(data.get("created") or 0) + HOLD_DAYS * 86400 if data.get("created") else 0

    # -- the interface ------------------------------------------------------------------------
    def checkout_context(self, *, moto: bool = False) -> base.CheckoutContext:
        """Stripe's Payment Element ("element"): every method the account enables. A mail or
        telephone order keyed in by the shop takes a card only, with a card element ("direct").
        localstripe has no Payment Element, and its Stripe.js cannot create payment methods
        directly: offline, the card is tokenized through a SetupIntent first ("setup")."""
        flow = "setup" if self.localstripe else "direct" if moto else "element"
        form = "links/_element_form.html" if flow == "element" else "links/_card_form.html"
        return base.CheckoutContext(
            form_template=form,
            script_url=settings.STRIPE_JS_URL,
            publishable_key=self.credentials.publishable_key,
            flow=flow,
            test_mode=self.credentials.publishable_key.startswith("pk_test_"),
        )

    def verify_credentials(self) -> None:
        """One cheap authenticated call: raises base.ProviderError if the keys do not work."""
        self._call(self.client.v1.payment_intents.list, {"limit": 1})

    def create_setup(self, method: str = "card") -> base.ProviderSetup:
        """A SetupIntent for one kind of payment method (offline: "card" or "sepa_debit")."""
        seti = self._call(self.client.v1.setup_intents.create, {"payment_method_types": [method]})
        return base.ProviderSetup(id=seti.id, client_secret=seti.client_secret)

    def create_payment(self, new: base.NewPayment) -> base.ProviderPayment:
        """Unconfirmed. Narrowed to `method_types`, or every method the account enables (offline,
        localstripe knows neither automatic methods nor most types: what it has of them)."""
        params: dict[str, Any] = {
            "amount": new.amount,
            "currency": new.currency.lower(),
            "payment_method": new.payment_method,
            "metadata": new.metadata,
        }
        if new.moto:
            params["payment_method_types"] = ["card"]
            params["payment_method_options"] = {"card": {"moto": True}}
        elif self.localstripe:
            wanted = new.method_types or sorted(LOCALSTRIPE_TYPES)
            offline = [kind for kind in wanted if kind in LOCALSTRIPE_TYPES]
            params["payment_method_types"] = offline or ["card"]
        elif new.method_types:
            params["payment_method_types"] = list(new.method_types)
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        if new.capture_manual:
            params["capture_method"] = "manual"
        pi = self._call(
            self.client.v1.payment_intents.create, params, {"idempotency_key": new.idempotency_key}
        )
        return self._payment(pi)

    def confirm_payment(
        self,
        payment_id: str,
        *,
        idempotency_key: str,
        return_url: str = "",
        mandate: base.Mandate | None = None,
    ) -> base.ProviderPayment:
        """`return_url`: where a redirect (a bank's page, a wallet, 3-D Secure) brings the
        customer back; `mandate`: sent for the methods that need one. localstripe refuses both
        (its confirm takes no parameters): offline they are not sent."""
        mark_money_in_flight()
        params: dict[str, Any] = {"expand": _EXPAND}
        if return_url and not self.localstripe:
            params["return_url"] = return_url
        if mandate is not None and mandate.method in MANDATE_TYPES and not self.localstripe:
            params["mandate_data"] = {
                "customer_acceptance": {
                    "type": "online",
                    "online": {"ip_address": mandate.ip_address, "user_agent": mandate.user_agent},
                }
            }
        try:
            pi = self._call(
                self.client.v1.payment_intents.confirm,
                payment_id,
                params,
                {"idempotency_key": idempotency_key},
            )
        except base.CardDeclined:
            # The decline is on the PaymentIntent too; the caller reads it from there.
            return self.retrieve_payment(payment_id)
        return self._payment(pi)

    def retrieve_payment(self, payment_id: str) -> base.ProviderPayment:
        pi = self._call(self.client.v1.payment_intents.retrieve, payment_id, {"expand": _EXPAND})
        return self._payment(pi)

    def cancel_payment(self, payment_id: str) -> base.ProviderPayment:
        return self._payment(self._call(self.client.v1.payment_intents.cancel, payment_id))

    def capture_payment(
        self, payment_id: str, *, amount: int, idempotency_key: str
    ) -> base.ProviderPayment:
        """Take `amount` of an authorization; Stripe releases the rest. Moves money."""
        mark_money_in_flight()
        pi = self._call(
            self.client.v1.payment_intents.capture,
            payment_id,
            {"amount_to_capture": amount, "expand": _EXPAND},
            {"idempotency_key": idempotency_key},
        )
        captured = self._payment(pi)
        if self.localstripe and captured.amount_captured != captured.amount:
            self._tag_release(payment_id)
        return captured

    def _tag_release(self, payment_id: str) -> None:
        """localstripe records the released rest of a partial capture as a refund (Stripe does
        not): tagged, so list_refunds never takes it for a refund made outside vpos."""
        try:
            for refund in self._call(
                self.client.v1.refunds.list, {"payment_intent": payment_id, "limit": 100}
            ).data:
                if not _as_dict(refund.metadata):
                    self.annotate_refund(refund.id, {RELEASE_TAG: "1"})
        except base.ProviderError:
            logger.warning("could not tag the released rest of %s", payment_id)

    def refund_payment(
        self, payment_id: str, *, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> base.ProviderRefund:
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

    def list_payments(self, *, created_since: int) -> Iterator[base.ProviderPayment]:
        """Every PaymentIntent created at or after `created_since` (Unix time), page by page.
        Card details are not expanded: retrieve a payment for them. localstripe has no `created`
        filter: there the list is filtered here."""
        params: dict[str, Any] = {"limit": 100}
        if not self.localstripe:
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

    def list_refunds(self, payment_id: str) -> list[base.ProviderRefund]:
        refunds = self._call(
            self.client.v1.refunds.list, {"payment_intent": payment_id, "limit": 100}
        )
        return [
            _refund(refund)
            for refund in refunds.data
            if RELEASE_TAG not in (_as_dict(refund.metadata) or {})
        ]

    def register_domain(self, domain: str) -> None:
        """Register the checkout's domain with the account's payment methods (Apple Pay needs
        it). Raises base.ProviderError with Stripe's reason if refused; localstripe knows no such API
        (it answers 404: a permanent ProviderError)."""
        self._call(self.client.v1.payment_method_domains.create, {"domain_name": domain})

    def parse_webhook(self, payload: bytes, signature: str) -> base.WebhookEvent:
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
        if not isinstance(payment_intent, str) or not (
            event_type in PAYMENT_EVENTS or event_type in REFUND_EVENTS
        ):
            payment_intent = ""
        return base.WebhookEvent(
            id=event_id,
            type=event_type,
            payment_id=payment_intent,
            refund=event_type in REFUND_EVENTS,
        )


def _refund(obj: Any) -> base.ProviderRefund:
    data = _as_dict(obj)
    return base.ProviderRefund(
        id=data["id"],
        amount=int(data["amount"]),
        succeeded=(data.get("status") or "succeeded") == "succeeded",
        metadata=dict(data.get("metadata") or {}),
    )
