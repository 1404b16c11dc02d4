"""Which kinds of payment method a link offers (merchants.models.PaymentMethodKind values)."""

from __future__ import annotations

from .models import PaymentLink


def link_payment_methods(link: PaymentLink) -> list[str]:
    """The link's own list, else its shop's; empty: every method enabled in the Stripe account."""
    return list(link.payment_methods or link.merchant.payment_methods or [])


# What offline test mode (localstripe) can take: its Stripe.js makes cards and SEPA debits only.
OFFLINE_METHODS = ("card", "sepa_debit")


def offers(link: PaymentLink, method: str) -> bool:
    """May the link be paid with `method` (an empty list offers every method)?"""
    methods = link_payment_methods(link)
    return not methods or method in methods
