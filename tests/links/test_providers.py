"""The provider seam: Stripe's vocabulary stays inside links/providers, one place picks the
account, and the checkout page's payment form comes from the provider."""

from __future__ import annotations

import pytest

from links.providers import (
    PaymentState,
    credentials_for,
    payment_account_connect,
    provider_for,
    uses_shop_account,
)
from links.providers.stripe import STATES, StripeProvider


@pytest.mark.parametrize(
    ("stripe_status", "state", "money_moved"),
    [
        ("requires_payment_method", PaymentState.NEEDS_PAYMENT_METHOD, False),
        ("requires_confirmation", PaymentState.NEEDS_CONFIRMATION, False),
        ("requires_action", PaymentState.NEEDS_ACTION, False),
        ("processing", PaymentState.PROCESSING, True),
        ("requires_capture", PaymentState.AUTHORIZED, True),
        ("succeeded", PaymentState.SUCCEEDED, True),
        ("canceled", PaymentState.CANCELED, False),
    ],
)
def test_every_stripe_status_has_a_state_of_ours(stripe_status, state, money_moved):
    assert STATES[stripe_status] == state
    assert state.money_moved is money_moved


def test_a_status_stripe_adds_later_is_settled_later_never_taken_for_a_failure(settings):
    provider = StripeProvider(credentials_for(None))
    answer = provider._payment(
        {"id": "pi_1", "status": "requires_something_new", "amount": 500, "currency": "eur"}
    )

    assert answer.state == PaymentState.PROCESSING  # reconciliation asks again; never "failed"


def test_offline_the_card_goes_through_a_setup_intent_online_straight_to_a_payment(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:8420"
    offline = provider_for(None).checkout_context()
    settings.STRIPE_API_BASE = ""
    terminal = provider_for(None).checkout_context(moto=True)

    assert (offline.flow, terminal.flow) == ("setup", "direct")
    assert offline.form_template == terminal.form_template == "links/_card_form.html"


def test_online_customers_get_the_payment_element_even_through_a_stub_api(settings):
    settings.STRIPE_API_BASE = ""
    online = provider_for(None).checkout_context()
    settings.STRIPE_API_BASE = "http://127.0.0.1:8421"
    settings.STRIPE_API_IS_LOCALSTRIPE = False
    stub = provider_for(None).checkout_context()

    assert online.flow == stub.flow == "element"
    assert online.form_template == "links/_element_form.html"
    assert provider_for(None).checkout_context(moto=True).flow == "direct"


def test_a_shop_with_its_own_account_is_paid_there(shop, stripe_settings):
    assert not uses_shop_account(shop.merchant)
    platform = provider_for(shop.merchant).checkout_context()

    payment_account_connect(
        merchant=shop.merchant,
        secret_key="sk_test_shopsown",
        publishable_key="pk_test_shopsown",
        webhook_secret="whsec_shop",
        moto_enabled=False,
    )
    shop.merchant.refresh_from_db()

    assert uses_shop_account(shop.merchant)
    assert platform.publishable_key == stripe_settings.STRIPE_PUBLISHABLE_KEY
    assert provider_for(shop.merchant).checkout_context().publishable_key == "pk_test_shopsown"
    assert platform.test_mode
