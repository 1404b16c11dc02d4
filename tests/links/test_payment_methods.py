"""Every method the shop's Stripe account enables (real Stripe: the Payment Element).

Real-Stripe mode runs against a stub of Stripe's API (tests/support/stripe_stub.py) that records
what vpos sends: which methods a PaymentIntent may take, where a redirect comes back to, the
mandate a direct debit needs. The browser's part is in tests/browser/test_payment_element.py.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from links import payments
from links.methods import link_payment_methods
from links.models import Payment, PaymentEvent, PaymentLink, PaymentStatus
from links.providers import Mandate, NewPayment, provider_for
from tests.support.concurrency import run_concurrently
from tests.support.factories import MerchantFactory, PaymentLinkFactory

pytestmark = pytest.mark.django_db


class Customer:
    """One browser on the link's page, posting what checkout.js posts."""

    def __init__(self, link: PaymentLink):
        self.link = link
        self.client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
        self.page = self.client.get(reverse("links:checkout", args=[link.token]), {"lang": "en"})

    def pay(self, payment_method: str, method: str = "card") -> Any:
        url = reverse("links:attempt", args=[self.link.token]) + "?lang=en"
        data = {
            "payment_method": payment_method,
            "method": method,
            "attempt_key": secrets.token_hex(16),
        }
        return self.client.post(
            url,
            data,
            HTTP_X_CSRFTOKEN=self.client.cookies["csrftoken"].value,
            HTTP_USER_AGENT="Mozilla/5.0 (test)",
            REMOTE_ADDR="203.0.113.7",
        )


@pytest.fixture
def link(stripe_stub) -> PaymentLink:
    merchant = MerchantFactory(name="Bottega Uno", brand_color="#aa3311")
    return PaymentLinkFactory(merchant=merchant, amount=1999, currency="EUR", language="it")


# --- Which methods --------------------------------------------------------------------------


def test_the_links_methods_are_its_own_else_the_shops_else_every_one(link):
    assert link_payment_methods(link) == []
    link.merchant.payment_methods = ["card", "paypal"]
    assert link_payment_methods(link) == ["card", "paypal"]
    link.payment_methods = ["card"]
    assert link_payment_methods(link) == ["card"]


def test_the_page_offers_the_payment_element_with_the_links_amount_colour_and_language(link):
    page = Customer(link).page.content.decode()

    assert 'data-card-flow="element"' in page
    assert 'data-amount="1999"' in page
    assert 'data-currency="EUR"' in page
    assert 'data-method-types=""' in page  # every method enabled in Stripe
    assert 'data-brand-color="#aa3311"' in page
    assert 'data-lang="en"' in page


def test_without_narrowing_stripe_offers_every_method_it_enables(link, stripe_stub):
    response = Customer(link).pay("pm_card_ok")

    assert response.json()["status"] == "succeeded"
    (create,) = stripe_stub.creates()
    assert create.params["automatic_payment_methods[enabled]"] == "true"
    assert not any(key.startswith("payment_method_types") for key in create.params)
    assert create.params["amount"] == "1999"  # the link's, never the browser's
    assert create.params["currency"] == "eur"


def test_a_narrowed_link_narrows_the_payment_intent_and_the_element(link, stripe_stub):
    link.merchant.payment_methods = ["card", "paypal", "sepa_debit"]
    link.merchant.save()
    link.payment_methods = ["card", "paypal"]
    link.save()
    customer = Customer(link)

    customer.pay("pm_card_ok")

    assert 'data-method-types="card,paypal"' in customer.page.content.decode()
    (create,) = stripe_stub.creates()
    assert create.params["payment_method_types[0]"] == "card"
    assert create.params["payment_method_types[1]"] == "paypal"
    assert "automatic_payment_methods[enabled]" not in create.params


def test_confirmation_names_the_return_address_and_no_mandate_for_a_card(link, stripe_stub):
    Customer(link).pay("pm_card_ok")

    (confirm,) = stripe_stub.confirms()
    payment = Payment.objects.get()
    path = reverse("links:attempt_return", args=[link.token, payment.public_id])
    assert confirm.params["return_url"] == f"http://testserver{path}?lang=en"
    assert not any(key.startswith("mandate_data") for key in confirm.params)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.card_last4 == "4242"


def test_a_direct_debit_is_confirmed_with_the_customers_mandate(link, stripe_stub):
    response = Customer(link).pay("pm_sepa_ok", method="sepa_debit")

    assert response.json()["status"] == "processing"
    (confirm,) = stripe_stub.confirms()
    assert confirm.params["mandate_data[customer_acceptance][type]"] == "online"
    online = "mandate_data[customer_acceptance][online]"
    assert confirm.params[f"{online}[ip_address]"] == "203.0.113.7"
    assert confirm.params[f"{online}[user_agent]"] == "Mozilla/5.0 (test)"
    assert Payment.objects.get().method == "sepa_debit"


def test_a_declined_payment_says_why_and_can_be_tried_again(link, stripe_stub):
    answer = Customer(link).pay("pm_card_declined").json()

    assert answer["status"] == "failed"
    assert "insufficient funds" in answer["message"]
    assert answer["attempt_key"]
    assert Payment.objects.get().status == PaymentStatus.FAILED


def test_a_redirect_method_hands_the_browser_the_next_action(link, stripe_stub):
    answer = Customer(link).pay("pm_paypal_redirect", method="paypal").json()

    assert answer["status"] == "requires_action"
    assert answer["client_secret"].startswith("pi_stub")
    assert Payment.objects.get().method == "paypal"


def test_a_bad_method_name_is_refused_and_nothing_is_created(link, stripe_stub):
    response = Customer(link).pay("pm_card_ok", method="<script>")

    assert response.status_code == 400
    assert stripe_stub.creates() == []
    assert not Payment.objects.exists()


# --- Coming back from the bank -------------------------------------------------------------


def _away(link, stripe_stub) -> Payment:
    """A customer who left for PayPal: the payment waits for them."""
    Customer(link).pay("pm_paypal_redirect", method="paypal")
    return Payment.objects.get()


def _return_url(link, payment, query: str = "") -> str:
    return reverse("links:attempt_return", args=[link.token, payment.public_id]) + query


def test_coming_back_settles_the_payment_and_shows_the_result(link, stripe_stub):
    payment = _away(link, stripe_stub)
    stripe_stub.settle(payment.provider_id, "succeeded")

    response = Client().get(_return_url(link, payment, "?lang=en&redirect_status=succeeded"))

    result = reverse("links:result", args=[link.token, payment.public_id])
    assert response.status_code == 302
    assert response["Location"] == f"{result}?lang=en"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    link.refresh_from_db()
    assert link.status == "paid"


def test_a_forged_query_string_changes_nothing(link, stripe_stub):
    payment = _away(link, stripe_stub)  # Stripe still waits for the customer
    forged = f"?payment_intent={payment.provider_id}&redirect_status=succeeded&status=succeeded"

    response = Client().get(_return_url(link, payment, forged))

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    link.refresh_from_db()
    assert link.status == "active"
    assert stripe_stub.sent("GET", f"/payment_intents/{payment.provider_id}")  # asked Stripe


def test_a_refused_payment_comes_back_as_failed(link, stripe_stub):
    payment = _away(link, stripe_stub)
    stripe_stub.settle(payment.provider_id, "requires_payment_method")

    Client().get(_return_url(link, payment, "?redirect_status=succeeded"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED


def test_unknown_token_and_another_links_payment_are_404(link, stripe_stub):
    payment = _away(link, stripe_stub)
    other = PaymentLinkFactory(merchant=link.merchant)
    client = Client()

    assert client.get(_return_url(other, payment)).status_code == 404
    unknown = reverse("links:attempt_return", args=["no-such-link", payment.public_id])
    assert client.get(unknown).status_code == 404
    garbage = reverse("links:attempt_return", args=["x" * 300, payment.public_id])
    assert client.get(garbage).status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION


@pytest.mark.django_db(transaction=True)
def test_returns_and_webhook_checks_racing_settle_the_payment_once(link, stripe_stub):
    payment = _away(link, stripe_stub)
    stripe_stub.settle(payment.provider_id, "succeeded")

    def come_back() -> int:
        return Client().get(_return_url(link, payment)).status_code

    def check() -> Payment:
        return payments.payment_refresh(
            payment=Payment.objects.get(pk=payment.pk), source="webhook"
        )

    results = run_concurrently([come_back, come_back, come_back, check, check])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[:3] == [302, 302, 302]
    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (link.status, link.payments_count) == ("paid", 1)
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1


def test_the_return_view_only_answers_get(link, stripe_stub):
    payment = _away(link, stripe_stub)

    assert Client().post(_return_url(link, payment)).status_code == 405


# --- The virtual terminal stays card only ---------------------------------------------------


def test_a_moto_payment_is_card_only_whatever_the_shop_offers(shop, stripe_stub):
    shop.merchant.payment_methods = ["paypal", "card"]
    shop.merchant.save()
    link = PaymentLinkFactory(merchant=shop.merchant, amount=2500)

    payments.checkout_attempt(
        link=link, payment_method="pm_card_ok", attempt_key="k" * 32, moto=True
    )

    (create,) = stripe_stub.creates()
    assert create.params["payment_method_types[0]"] == "card"
    assert "payment_method_types[1]" not in create.params
    assert create.params["payment_method_options[card][moto]"] == "true"
    (confirm,) = stripe_stub.confirms()
    assert "return_url" not in confirm.params


# --- Offline (localstripe) -------------------------------------------------------------------


def test_offline_the_payment_intent_keeps_to_what_localstripe_knows(stripe_stub, settings):
    settings.STRIPE_API_IS_LOCALSTRIPE = True  # the stub plays localstripe: it records the same
    provider = provider_for(None)
    new = NewPayment(
        amount=1999,
        currency="EUR",
        payment_method="pm_sepa_ok",
        metadata={},
        idempotency_key="vpos-create-offline",
        method_types=("paypal", "sepa_debit", "card"),
        return_url="http://testserver/pay/x/return/y/",
        mandate=Mandate("sepa_debit", "203.0.113.7", "Mozilla/5.0"),
    )

    created = provider.create_payment(new)
    provider.confirm_payment(
        created.id,
        idempotency_key="vpos-confirm-offline",
        return_url=new.return_url,
        mandate=new.mandate,
    )

    (create,) = stripe_stub.creates()
    types = [v for k, v in sorted(create.params.items()) if k.startswith("payment_method_types")]
    assert types == ["sepa_debit", "card"]
    assert "automatic_payment_methods[enabled]" not in create.params
    (confirm,) = stripe_stub.confirms()
    assert [k for k in confirm.params if not k.startswith("expand")] == []
    assert provider.checkout_context().flow == "setup"
