"""The link form of a shop that issues invoices: the customer's invoice details on the link, and
amounts typed without VAT when the shop works that way."""

from __future__ import annotations

import pytest
from django.urls import reverse

from links.models import PaymentLink
from merchants.models import FiscalProfile
from tests.support.invoices import BUSINESS, posted

pytestmark = pytest.mark.django_db

LINK = {
    "amount": "100,00",
    "currency": "EUR",
    "description": "Consulenza",
    "language": "it",
    "kind": "single",
    "expiry": "7d",
    "vat_rate": "22",
}
CUSTOMER = {"invoice_customer": "on", **posted(BUSINESS)}


def url(shop) -> str:
    return reverse("links:create", args=[shop.merchant.public_id])


@pytest.fixture
def profile(shop) -> FiscalProfile:
    return FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_a_link_carries_the_customer_invoice_details(client_as, shop, profile, actor):
    client = client_as(actor)
    assert "Invoice the customer" in client.get(url(shop)).text

    response = client.post(url(shop), {**LINK, **CUSTOMER})

    assert response.status_code == 302
    link = PaymentLink.objects.get()
    assert link.invoice_details["company"] == "Rossi Forniture S.r.l."
    detail = client.get(response["Location"])
    assert "Rossi Forniture S.r.l." in detail.text
    assert "IT01234560017" in detail.text


def test_wrong_invoice_details_create_nothing_and_say_why(client_as, shop, profile):
    response = client_as("owner").post(
        url(shop), {**LINK, **CUSTOMER, "invoice-vat_number": "01234560018"}
    )

    assert response.status_code == 400
    assert response.text.count("Check the customer&#x27;s invoice details below") == 1
    assert "check digit does not match" in response.text
    assert not PaymentLink.objects.exists()


def test_details_typed_but_not_ticked_are_not_kept(client_as, shop, profile):
    fields = {name: value for name, value in CUSTOMER.items() if name != "invoice_customer"}

    client_as("owner").post(url(shop), {**LINK, **fields, "invoice-vat_number": "bad"})

    assert PaymentLink.objects.get().invoice_details == {}


def test_no_invoice_section_when_the_shop_issues_no_invoices(client_as, shop):
    client = client_as("owner")

    assert "Invoice the customer" not in client.get(url(shop)).text
    client.post(url(shop), {**LINK, **CUSTOMER})
    assert PaymentLink.objects.get().invoice_details == {}


@pytest.mark.parametrize(
    ("rate", "typed", "charged"),
    [("22", "100,00", 12200), ("10", "19,99", 2199), ("", "10,00", 1220), ("0", "50,00", 5000)],
)
def test_amounts_typed_without_vat_are_charged_with_it(
    client_as, shop, profile, rate, typed, charged
):
    profile.prices_include_vat = False
    profile.save()
    client = client_as("owner")
    assert "Amount (VAT excluded)" in client.get(url(shop)).text

    data = {**LINK, "amount": typed, "vat_rate": rate, "vat_exemption": "Esente art. 10"}
    response = client.post(url(shop), data)

    assert response.status_code == 302
    assert PaymentLink.objects.get().amount == charged


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_a_phone_order_carries_the_customer_invoice_details(client_as, shop, profile, actor):
    client = client_as(actor)
    url = reverse("links:phone_order_new", args=[shop.merchant.public_id])
    assert "Invoice the customer" in client.get(url).text

    response = client.post(
        url, {"amount": "122,00", "description": "Ordine telefonico", **CUSTOMER}
    )

    assert response.status_code == 302
    link = PaymentLink.objects.get()
    assert link.channel == "phone"
    assert link.invoice_details["vat_number"] == "01234560017"


def test_a_phone_order_with_wrong_invoice_details_is_not_created(client_as, shop, profile):
    url = reverse("links:phone_order_new", args=[shop.merchant.public_id])

    response = client_as("owner").post(
        url, {"amount": "122,00", "description": "Ordine", **CUSTOMER, "invoice-city": ""}
    )

    assert response.status_code == 400
    assert "Check the customer&#x27;s invoice details below" in response.text
    assert not PaymentLink.objects.exists()
