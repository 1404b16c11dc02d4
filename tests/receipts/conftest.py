"""Helpers for the receipt tests: payments finalized the way production finalizes them, PDF text."""

from __future__ import annotations

import pytest

from links.models import PaymentLink
from tests.support.factories import PaymentLinkFactory


@pytest.fixture
def link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.merchant, amount=12200, currency="EUR")
