"""'I need an invoice' on the pay page: offered when the shop issues invoices, checked before the
card is read, refused with a message per field (and nothing charged), carried by the payment; a
link with the customer's details shows them instead of asking."""

from __future__ import annotations

import pytest
from django.urls import reverse

from links.models import Payment
from merchants.fiscal import DETAIL_FIELDS
from merchants.models import FiscalProfile
from receipts.models import Invoice
from tests.links.test_checkout_flow import Visitor
from tests.support.factories import MerchantFactory, PaymentLinkFactory
from tests.support.invoices import BUSINESS as CUSTOMER
from tests.support.invoices import PERSON, posted
from tests.support.stripe import card_payment_method

pytestmark = pytest.mark.django_db

BUSINESS = {"invoice-requested": "on", **posted(CUSTOMER)}


@pytest.fixture
def link(stripe_settings):
    merchant = MerchantFactory(name="Bottega Uno")
    FiscalProfile.objects.create(merchant=merchant, invoicing="request")
    return PaymentLinkFactory(merchant=merchant, amount=12200, vat_rate=22, description="Giacca")


def test_the_pay_page_offers_an_invoice_when_the_shop_issues_them(link):
    page = Visitor(link).open(lang="en").content.decode()

    assert 'id="invoice-requested"' in page
    assert "I need an invoice" in page
    assert 'id="invoice-fields" class="vpos-invoice-fields mt-2" hidden' in page
    assert 'name="invoice-vat_number"' in page


def test_always_asked_opens_the_form(link):
    FiscalProfile.objects.filter(merchant=link.merchant).update(invoicing="business")

    page = Visitor(link).open(lang="en").content.decode()

    assert (
        'id="invoice-requested" name="invoice-requested" aria-controls="invoice-fields" checked'
        in page
    )
    assert 'class="vpos-invoice-fields mt-2" hidden' not in page


def test_no_invoice_form_when_the_shop_issues_none(stripe_settings):
    link = PaymentLinkFactory(merchant=MerchantFactory())

    assert "invoice-requested" not in Visitor(link).open().content.decode()


def test_the_details_are_checked_before_the_card_is_read(link):
    visitor = Visitor(link)
    visitor.open(lang="en")
    check = reverse("links:invoice_check", args=[link.token]) + "?lang=en"

    wrong = visitor.post(check, {**BUSINESS, "invoice-vat_number": "01234560018"})
    right = visitor.post(check, BUSINESS)

    assert wrong.status_code == 400
    body = wrong.json()
    assert body["code"] == "invoice_details"
    assert "nothing was charged" in body["message"]
    assert "check digit does not match" in body["fields"]["vat_number"][0]
    assert right.json() == {"status": "ok"}
    assert not Payment.objects.exists()


def test_the_customer_is_told_in_their_language(link):
    visitor = Visitor(link)
    visitor.open()
    check = reverse("links:invoice_check", args=[link.token]) + "?lang=it"

    body = visitor.post(check, {**BUSINESS, "invoice-company": "Αθήνα S.A."}).json()

    assert "accetta solo caratteri latini" in body["fields"]["company"][0]


def test_wrong_details_on_the_attempt_reserve_and_charge_nothing(link, stripe_api):
    visitor = Visitor(link)
    visitor.open(lang="en")

    response = visitor.attempt(
        card_payment_method(stripe_api), **{**BUSINESS, "invoice-sdi_code": ""}
    )

    assert response.status_code == 400
    assert "SDI recipient code or its PEC" in response.json()["fields"]["sdi_code"][0]
    assert not Payment.objects.exists()


def test_the_customer_who_asked_gets_an_invoice_with_the_payment(link, stripe_api):
    visitor = Visitor(link)
    visitor.open(lang="en")

    response = visitor.attempt(
        card_payment_method(stripe_api), email="rossi@example.com", **BUSINESS
    )

    assert response.json()["status"] == "succeeded"
    result = visitor.client.get(response.json()["redirect"] + "?lang=en")
    assert "courtesy copy is emailed to rossi@example.com" in result.text
    payment = Payment.objects.get()
    assert payment.invoice_details["company"] == "Rossi Forniture S.r.l."
    invoice = Invoice.objects.get(payment=payment)
    assert invoice.number.startswith("FT-")
    assert "<IdCodice>01234560017</IdCodice>" in invoice.xml


def test_invoice_fields_without_the_box_ticked_are_ignored(link, stripe_api):
    visitor = Visitor(link)
    visitor.open(lang="en")
    fields = {name: value for name, value in BUSINESS.items() if name != "invoice-requested"}

    visitor.attempt(card_payment_method(stripe_api), **fields)

    assert Payment.objects.get().invoice_details == {}
    assert not Invoice.objects.exists()


def test_invoice_fields_are_ignored_when_the_shop_turned_invoices_off(link, stripe_api):
    FiscalProfile.objects.filter(merchant=link.merchant).update(invoicing="off")
    visitor = Visitor(link)
    visitor.open(lang="en")

    visitor.attempt(card_payment_method(stripe_api), **BUSINESS)

    assert Payment.objects.get().invoice_details == {}


def test_a_link_with_the_customer_details_shows_them_and_invoices_them(link, stripe_api):
    details = {**dict.fromkeys(DETAIL_FIELDS, ""), **PERSON, "pec": ""}
    link.invoice_details = details
    link.save()
    visitor = Visitor(link)
    page = visitor.open(lang="en").content.decode()

    # What the customer would type is not asked: the link's details are used whatever is posted.
    visitor.attempt(card_payment_method(stripe_api), **BUSINESS)

    assert "Invoice to" in page
    assert "RSSMRA85T10A562S" in page
    assert 'id="invoice-requested"' not in page
    assert Payment.objects.get().invoice_details == details
    assert Invoice.objects.get().customer_name == "Mario Rossi"
