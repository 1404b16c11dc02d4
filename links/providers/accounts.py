"""Which account a shop's payments use: the one place that decides.

A shop that connected its own Stripe account (merchants.PaymentAccount) is paid there; every
other shop is paid through the platform's account (settings). A payment remembers which one took
it (`Payment.via_shop_account`), so refunds and lookups go to the same account even after the
shop connects or disconnects one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from merchants.models import Merchant, PaymentAccount, User
from vpos.crypto import encrypt
from vpos.events import Event, record

from ..models import Payment
from .base import Credentials, PaymentProvider, ProviderError


def _provider_class() -> type[PaymentProvider]:
    """The implementation named by settings.PAYMENT_PROVIDER (Stripe's). Named, not imported, so
    a process that never talks to the provider (the documents worker) never loads its SDK."""
    return import_string(settings.PAYMENT_PROVIDER)


def _account(merchant: Merchant | None) -> PaymentAccount | None:
    return getattr(merchant, "payment_account", None) if merchant is not None else None


def uses_shop_account(merchant: Merchant | None) -> bool:
    """Are this shop's new payments made with its own account?"""
    return _account(merchant) is not None


def platform_credentials() -> Credentials:
    return Credentials(
        secret_key=settings.STRIPE_SECRET_KEY,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
    )


def _credentials(account: PaymentAccount) -> Credentials:
    return Credentials(account.secret_key, account.publishable_key, account.webhook_secret)


def platform_provider() -> PaymentProvider:
    return _provider_class()(platform_credentials())


def credentials_for(merchant: Merchant | None) -> Credentials:
    """The keys of the account the shop's new payments use: its own, else the platform's."""
    account = _account(merchant)
    return _credentials(account) if account is not None else platform_credentials()


def provider_for(merchant: Merchant | None) -> PaymentProvider:
    """The provider for the shop's new payments (the platform's without a shop)."""
    return _provider_class()(credentials_for(merchant))


def provider_for_payment(payment: Payment) -> PaymentProvider:
    """The account a payment was made with, even if the shop connected or disconnected one since."""
    if not payment.via_shop_account:
        return platform_provider()
    account = _account(payment.merchant)
    if account is None:
        raise ProviderError(
            "the shop's Stripe account that took this payment is no longer connected",
            permanent=True,
            code="account_disconnected",
        )
    return _provider_class()(_credentials(account))


def accounts_to_search() -> list[tuple[PaymentProvider, Merchant | None]]:
    """Every account payments may have been made with: the platform's (if configured) and each
    shop's own, with its shop (after a restore, recover_from_provider reads them all)."""
    accounts: list[tuple[PaymentProvider, Merchant | None]] = []
    if platform_credentials().secret_key:
        accounts.append((platform_provider(), None))
    for account in PaymentAccount.objects.select_related("merchant"):
        accounts.append((_provider_class()(_credentials(account)), account.merchant))
    return accounts


def moto_enabled(merchant: Merchant) -> bool:
    """MOTO is enabled by Stripe per account: the shop's own, or the platform's."""
    account = _account(merchant)
    return account.moto_enabled if account is not None else settings.STRIPE_PLATFORM_MOTO


def is_live(merchant: Merchant) -> bool:
    """Does this shop take real money (live keys)?"""
    account = _account(merchant)
    if account is not None:
        return account.livemode
    return settings.STRIPE_SECRET_KEY.startswith("sk_live_")


def payment_account_connect(
    *,
    merchant: Merchant,
    secret_key: str,
    publishable_key: str,
    webhook_secret: str,
    moto_enabled: bool,
    actor: User | None = None,
) -> PaymentAccount:
    """Check the keys with one API call, then store them encrypted.

    An empty secret on an existing account keeps the stored one (secrets are never shown again).
    """
    account = PaymentAccount.objects.filter(merchant=merchant).first()
    secret_key = secret_key.strip() or (account.secret_key if account else "")
    webhook_secret = webhook_secret.strip() or (account.webhook_secret if account else "")
    publishable_key = publishable_key.strip()
    if not secret_key:
        raise ValidationError(_("Enter the secret key."))
    # Checked here too: with the stored secret kept, the form never sees both keys.
    if ("_live_" in secret_key) != ("_live_" in publishable_key):
        raise ValidationError(_("Both keys must be test keys or both live keys."))
    try:
        _provider_class()(
            Credentials(secret_key, publishable_key, webhook_secret)
        ).verify_credentials()
    except ProviderError as error:
        if not error.permanent:
            raise ValidationError(
                _(
                    "Stripe could not be reached to check these keys. Nothing was saved: try again in a few minutes."
                )
            ) from error
        raise ValidationError(
            _("Stripe refused these keys: %(reason)s") % {"reason": error.message}
        ) from error
    account = account or PaymentAccount(merchant=merchant)
    account.publishable_key = publishable_key
    account.secret_key_encrypted = encrypt(secret_key)
    account.webhook_secret_encrypted = encrypt(webhook_secret)
    # The column holds 12 characters: "sk_test…abcd".
    account.secret_key_hint = secret_key[:7] + "…" + secret_key[-4:]
    account.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
    account.moto_enabled = moto_enabled
    account.verified_at = timezone.now()
    account.save()
    record(
        Event.PAYMENT_ACCOUNT_CONNECTED,
        merchant_id=merchant.pk,
        obj=account,
        actor=actor,
        summary=f"{account.secret_key_hint} ({'live' if account.livemode else 'test'}, MOTO {'on' if moto_enabled else 'off'})",
    )
    return account


def payment_account_disconnect(*, merchant: Merchant, actor: User | None = None) -> None:
    deleted, _rows = PaymentAccount.objects.filter(merchant=merchant).delete()
    if deleted:
        record(
            Event.PAYMENT_ACCOUNT_DISCONNECTED,
            merchant_id=merchant.pk,
            actor=actor,
            summary="Stripe",
        )


def payment_domain_register(*, merchant: Merchant, domain: str, actor: User | None = None) -> None:
    """Register the checkout's domain with the Stripe account the shop's payments use (Apple
    Pay needs it). Raises ProviderError if Stripe refuses it or cannot be reached."""
    provider_for(merchant).register_domain(domain)
    record(
        Event.PAYMENT_DOMAIN_REGISTERED,
        merchant_id=merchant.pk,
        actor=actor,
        summary=domain,
        data={"domain": domain, "account": "shop" if uses_shop_account(merchant) else "platform"},
    )
