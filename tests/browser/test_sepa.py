"""SEPA Direct Debit in Chromium, through localstripe's fake Stripe.js: the customer picks the
bank debit, types the IBAN (which only Stripe.js receives), accepts the mandate and gets the
receipt; with an account the bank refuses, the page says the bank will confirm, and the refusal
that follows reopens the link and emails the customer."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from links.models import Payment, PaymentStatus
from links.payments import payment_refresh
from tests.support.browser import TIMEOUT_MS, checkout_url, make_link
from tests.support.factories import MerchantFactory
from tests.support.stripe import IBAN_OK, IBAN_REFUSED

pytestmark = pytest.mark.browser


def pay_by_debit(page, iban: str) -> None:
    page.get_by_label("SEPA bank debit").check()
    expect(page.locator("#card-fields")).to_be_hidden()
    page.get_by_label("Email").fill("giulia@example.com")
    page.get_by_label("Name", exact=False).first.fill("Giulia Bianchi")
    page.get_by_label("IBAN").fill(iban)
    page.locator("#pay-button").click()
    # The mandate must be accepted first: nothing is asked of Stripe before.
    expect(page.locator("#checkout-error")).to_have_text(
        "To pay by bank debit, accept the mandate."
    )
    expect(page.locator("#sepa-mandate")).to_contain_text("Bottega Sepa S.r.l. and Stripe")
    page.get_by_label("I accept this SEPA Direct Debit mandate").check()
    page.locator("#pay-button").click()


def test_a_customer_pays_by_sepa_debit_to_the_receipt(page, live_server, stripe_settings, db):
    shop = MerchantFactory(name="Bottega Sepa", legal_name="Bottega Sepa S.r.l.")
    link = make_link(shop, amount=15000, description="Retta di dicembre")
    to_vpos: list[str] = []  # every body the browser posts to vpos (not to Stripe)
    page.on(
        "request",
        lambda r: to_vpos.append(r.post_data or "") if r.url.startswith(live_server.url) else None,
    )

    page.goto(checkout_url(live_server, link))
    pay_by_debit(page, IBAN_OK)

    page.wait_for_url("**/result/**", timeout=TIMEOUT_MS)
    expect(page.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )
    expect(page.locator("#result-card")).to_contain_text("SEPA Direct Debit")
    expect(page.locator("#result-card")).to_contain_text("3456")
    expect(page.locator("#receipt")).to_contain_text("Receipt no.")
    assert page.errors == []
    assert [body for body in to_vpos if "method=sepa_debit" in body]
    assert not [body for body in to_vpos if "IT60" in body]
    assert Payment.objects.get(link=link).method == "sepa_debit"


def test_a_refused_debit_is_processing_then_reopens_the_link(
    page, live_server, stripe_settings, db, django_capture_on_commit_callbacks
):
    shop = MerchantFactory(name="Bottega Sepa", legal_name="Bottega Sepa S.r.l.")
    link = make_link(shop, amount=15000, description="Retta di dicembre")

    page.goto(checkout_url(live_server, link))
    pay_by_debit(page, IBAN_REFUSED)

    page.wait_for_url("**/result/**", timeout=TIMEOUT_MS)
    payment = Payment.objects.get(link=link)
    if payment.status == PaymentStatus.PROCESSING:  # localstripe refuses it half a second later
        expect(page.locator("#result-title")).to_have_text("Your bank will confirm the payment")
        page.goto(checkout_url(live_server, link))
        expect(page.locator("h1")).to_have_text("A payment for this link is being confirmed")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(200):  # bounded wait for localstripe's answer
            payment = payment_refresh(payment=payment, source="browser")
            if payment.status != PaymentStatus.PROCESSING:
                break
            page.wait_for_timeout(50)
    assert payment.status == PaymentStatus.FAILED

    page.goto(checkout_url(live_server, link))
    expect(page.locator("#pay-button")).to_be_visible()
    (email,) = [m for m in mail.outbox if m.to == ["giulia@example.com"]]
    assert link.public_url in email.body


def test_choosing_the_debit_makes_name_and_email_required(page, live_server, stripe_settings, db):
    shop = MerchantFactory(name="Bottega Sepa", legal_name="Bottega Sepa S.r.l.")
    page.goto(checkout_url(live_server, make_link(shop, amount=900, description="Quaderno")))
    email = page.locator("#checkout-email")
    expect(page.locator(".vpos-optional").first).to_be_visible()
    assert email.evaluate("input => input.required") is False

    page.get_by_label("SEPA bank debit").check()

    expect(page.locator(".vpos-optional").first).to_be_hidden()
    assert email.evaluate("input => input.required") is True
    page.get_by_label("Card", exact=True).check()
    expect(page.locator("#sepa-fields")).to_be_hidden()
    assert email.evaluate("input => input.required") is False
