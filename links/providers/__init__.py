"""The payment provider seam (see `base`): the interface, and the one place that decides which
account a shop's payments use and which implementation serves it (`accounts`). The Stripe
implementation (`links.providers.stripe`) is named by settings.PAYMENT_PROVIDER and imported by
whoever needs it by name, so that importing this package does not load Stripe's SDK."""

from .accounts import (
    accounts_to_search,
    credentials_for,
    is_live,
    moto_enabled,
    payment_account_connect,
    payment_account_disconnect,
    payment_domain_register,
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
    Mandate,
    NewPayment,
    PaymentProvider,
    PaymentState,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderSetup,
    WebhookEvent,
)

__all__ = [
    "CardDeclined",
    "CheckoutContext",
    "Credentials",
    "Mandate",
    "NewPayment",
    "PaymentProvider",
    "PaymentState",
    "ProviderError",
    "ProviderPayment",
    "ProviderRefund",
    "ProviderSetup",
    "WebhookEvent",
    "accounts_to_search",
    "credentials_for",
    "is_live",
    "moto_enabled",
    "payment_account_connect",
    "payment_account_disconnect",
    "payment_domain_register",
    "platform_credentials",
    "platform_provider",
    "provider_for",
    "provider_for_payment",
    "uses_shop_account",
]
