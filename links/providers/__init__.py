"""The payment provider seam (see `base`): the interface, its Stripe implementation, and the one
place that decides which account a shop's payments use (`accounts`)."""

from .accounts import (
    accounts_to_search,
    credentials_for,
    is_live,
    moto_enabled,
    payment_account_connect,
    payment_account_disconnect,
    platform_credentials,
    platform_provider,
    provider_for,
    provider_for_payment,
    uses_shop_account,
)
from .base import (
    CardDeclined,
    CheckoutContext,
    Credentials,
    NewPayment,
    PaymentProvider,
    PaymentState,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderSetup,
    WebhookEvent,
)
from .stripe import StripeProvider, decline_reason

__all__ = [
    "CardDeclined",
    "CheckoutContext",
    "Credentials",
    "NewPayment",
    "PaymentProvider",
    "PaymentState",
    "ProviderError",
    "ProviderPayment",
    "ProviderRefund",
    "ProviderSetup",
    "StripeProvider",
    "WebhookEvent",
    "accounts_to_search",
    "credentials_for",
    "decline_reason",
    "is_live",
    "moto_enabled",
    "payment_account_connect",
    "payment_account_disconnect",
    "platform_credentials",
    "platform_provider",
    "provider_for",
    "provider_for_payment",
    "uses_shop_account",
]
