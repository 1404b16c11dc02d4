"""A customer who needs an invoice asks for it on the pay page, is told what is wrong beside the
field, fixes it and pays; the invoice is issued with the payment."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from links.models import Payment
from merchants.models import FiscalProfile
from receipts.models import Invoice
from tests.support.browser import CARD_OK, checkout_url, expect_success_page, fill_card, make_link
from tests.support.factories import MerchantFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(name="Bottega Rossi", legal_name="Bottega Rossi S.r.l.")
    FiscalProfile.objects.create(merchant=merchant, invoicing="request")
    return merchant


def test_customer_asks_for_an_invoice_fixes_the_vat_number_and_pays(
    page, live_server, stripe_settings, shop
):
    link = make_link(shop, vat_rate=22)
    page.goto(checkout_url(live_server, link))
    fields = page.locator("#invoice-fields")
    expect(fields).to_be_hidden()

    page.get_by_label("I need an invoice").check()
    expect(fields).to_be_visible()
    # A business by default: company fields shown, the person's hidden.
    expect(page.get_by_label("First name")).to_be_hidden()
    page.get_by_label("Company name").fill("Rossi Forniture S.r.l.")
    vat = page.get_by_label("Partita IVA")
    vat.fill("01234560018")  # wrong check digit
    page.get_by_label("SDI recipient code").fill("m5uxcr1")
    page.get_by_label("Address", exact=True).fill("Via Verdi 3")
    page.get_by_label("Postal code").fill("10121")
    page.get_by_label("City").fill("Torino")
    page.get_by_label("Province").fill("TO")
    page.locator("#checkout-email").fill("rossi@example.com")
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    # The message sits right under its field, which points at it.
    error = page.locator("#id_invoice-vat_number + #invoice-vat_number-error")
    expect(error).to_contain_text("check digit does not match")
    expect(vat).to_have_attribute("aria-describedby", "invoice-vat_number-error")
    expect(vat).to_have_attribute("aria-invalid", "true")
    expect(vat).to_be_focused()
    expect(page.locator("#checkout-error")).to_contain_text("nothing was charged")
    assert not Payment.objects.exists()

    vat.fill("01234560017")
    page.locator("#pay-button").click()

    expect_success_page(page, "€19.99")
    payment = Payment.objects.get()
    assert payment.invoice_details["vat_number"] == "01234560017"
    assert payment.invoice_details["sdi_code"] == "M5UXCR1"
    invoice = Invoice.objects.get(payment=payment)
    assert invoice.customer_name == "Rossi Forniture S.r.l."
    assert page.errors == []


def test_a_person_sees_their_own_fields(page, live_server, stripe_settings, shop):
    page.goto(checkout_url(live_server, make_link(shop)))

    page.get_by_label("I need an invoice").check()
    page.get_by_label("A person").check()

    expect(page.get_by_label("First name")).to_be_visible()
    expect(page.get_by_label("Surname")).to_be_visible()
    expect(page.get_by_label("Company name")).to_be_hidden()
    expect(page.get_by_label("Partita IVA")).to_be_hidden()
