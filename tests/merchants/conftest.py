"""Fixtures for the shop pages: English clients for each actor and valid shop form data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from merchants.forms import MerchantForm
from merchants.models import Merchant


@pytest.fixture
def shop_form_data() -> Callable[..., dict[str, Any]]:
    """What the shop form posts for `merchant` (or for a new valid shop), with `overrides`."""
    return _shop_form_data


def _shop_form_data(merchant: Merchant | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Bottega Nuova",
        "legal_name": "Bottega Nuova S.r.l.",
        "vat_number": "01234560017",
        "tax_code": "01234560017",
        "address": "Via Dante 2",
        "postal_code": "10121",
        "city": "Torino",
        "province": "TO",
        "country": "IT",
        "contact_email": "info@bottega-nuova.example",
        "contact_phone": "",
        "pec": "",
        "sdi_code": "",
        "default_currency": "EUR",
        "default_language": "it",
        "time_zone": "Europe/Rome",
        "brand_color": "#0d6efd",
    }
    if merchant is not None:
        data = {name: getattr(merchant, name) for name in MerchantForm.Meta.fields}
    data.update(overrides)
    return data
