"""Helpers for the payment link tests: English clients, localstripe PaymentIntents, signed webhooks."""

from __future__ import annotations


# --- Stripe webhooks ------------------------------------------------------------------------
