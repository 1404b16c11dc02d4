"""What the rest of vpos knows of a payment provider: this interface and its small value types.

No provider's own vocabulary leaves `links/providers/`: states are `PaymentState`, failures are
`ProviderError`, and the checkout page asks the provider for its `CheckoutContext` (which script,
which keys, which form). A new payment method is a change in a provider and its form template.

Contracts every provider keeps:

- `create_payment` moves no money: our record of the payment commits before any money moves.
- `confirm_payment` moves money (or asks the customer to authenticate), or only holds it on the
  card when the payment was created with `capture_manual`; `capture_payment` then takes all or
  part of what is held and releases the rest.
- `retrieve_payment` is the only source of truth for a payment's state; webhooks and browser
  returns are only triggers to call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class ProviderError(Exception):
    """A failure talking to the provider; `permanent` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool, code: str = "", decline_code: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.decline_code = decline_code


class CardDeclined(ProviderError):
    """The card was refused: the customer can try another card."""


class PaymentState(StrEnum):
    """Where a payment stands at the provider."""

    NEEDS_CONFIRMATION = "needs_confirmation"  # created, not confirmed: no money moved
    NEEDS_PAYMENT_METHOD = "needs_payment_method"  # refused: the customer may try another card
    NEEDS_ACTION = "needs_action"  # the customer must authenticate (3-D Secure)
    PROCESSING = "processing"  # money is moving
    AUTHORIZED = "authorized"  # held on the card, waiting to be captured
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @property
    def money_moved(self) -> bool:
        """The customer's money has moved, or is moving."""
        return self in (PaymentState.PROCESSING, PaymentState.AUTHORIZED, PaymentState.SUCCEEDED)


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    state: PaymentState
    amount: int
    currency: str  # upper case ISO 4217
    client_secret: str = ""
    card_brand: str = ""
    card_last4: str = ""
    failure_code: str = ""
    failure_message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    created: int = 0  # Unix time the payment was created
    method: str = "card"  # the payment method's type (merchants.models.PaymentMethodKind values)
    amount_captured: int | None = None  # what an authorize-only payment's capture took
    capture_before: int = 0  # Unix time an authorization lapses (0: not authorized, or unknown)


@dataclass(frozen=True)
class Mandate:
    """The customer's online acceptance of a mandate (what a direct debit needs), from the
    browser that paid. The provider sends it only for the methods that need one."""

    method: str  # the payment method's type the customer chose
    ip_address: str
    user_agent: str


@dataclass(frozen=True)
class NewPayment:
    """A payment to create at the provider, unconfirmed (creating it moves no money). The same
    `idempotency_key` creates it once, however often it is asked."""

    amount: int
    currency: str
    payment_method: str  # what the checkout page's script made of the card
    metadata: dict[str, str]
    idempotency_key: str
    moto: bool = False  # a mail or telephone order keyed in by the shop
    # What the payment may be made with; empty: every method enabled in the provider's account.
    method_types: tuple[str, ...] = ("card",)
    capture_manual: bool = False  # authorize only: capture_payment takes the money later
    return_url: str = ""  # where a redirect-based method brings the customer back
    mandate: Mandate | None = None  # for methods that need one (SEPA Direct Debit…)


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    amount: int
    succeeded: bool
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderSetup:
    id: str
    client_secret: str


@dataclass(frozen=True)
class WebhookEvent:
    """A provider's notification, verified. It only says which payment to look at again."""

    id: str
    type: str
    payment_id: str = ""  # the provider's id of the payment it concerns, if any
    refund: bool = False  # it is about a refund of that payment


@dataclass(frozen=True)
class Credentials:
    secret_key: str
    publishable_key: str
    webhook_secret: str


@dataclass(frozen=True)
class CheckoutContext:
    """What a page that takes a payment needs from the provider: the form to include, the
    script it loads and what the script is told (`flow`: how the form turns what the customer
    entered into a payment method: "element" offers every method, the others cards only)."""

    form_template: str
    script_url: str
    publishable_key: str
    flow: str
    test_mode: bool


class PaymentProvider(Protocol):
    """The interface the rest of vpos speaks; `StripeProvider` is the one implementation."""

    def checkout_context(self, *, moto: bool = False) -> CheckoutContext: ...

    def verify_credentials(self) -> None: ...

    def create_setup(self, method: str = "card") -> ProviderSetup: ...

    def create_payment(self, new: NewPayment) -> ProviderPayment: ...

    def confirm_payment(
        self,
        payment_id: str,
        *,
        idempotency_key: str,
        return_url: str = "",
        mandate: Mandate | None = None,
    ) -> ProviderPayment: ...

    def retrieve_payment(self, payment_id: str) -> ProviderPayment: ...

    def cancel_payment(self, payment_id: str) -> ProviderPayment: ...

    def capture_payment(
        self, payment_id: str, *, amount: int, idempotency_key: str
    ) -> ProviderPayment: ...

    def refund_payment(
        self, payment_id: str, *, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund: ...

    def list_refunds(self, payment_id: str) -> list[ProviderRefund]: ...

    def annotate_payment(self, payment_id: str, metadata: dict[str, str]) -> None: ...

    def annotate_refund(self, refund_id: str, metadata: dict[str, str]) -> None: ...

    def list_payments(self, *, created_since: int) -> Iterator[ProviderPayment]: ...

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent: ...

    def register_domain(self, domain: str) -> None: ...
