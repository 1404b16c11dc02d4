"""Receipts on pages that other apps render: `{% load receipts %}{{ receipt|public_url }}`."""

from __future__ import annotations

from django import template

from receipts.models import Receipt
from receipts.services import receipt_public_url

register = template.Library()


@register.filter
def public_url(receipt: Receipt | None) -> str:
    """The customer's signed link to the receipt's PDF ("" without a receipt)."""
    return receipt_public_url(receipt) if receipt is not None else ""
