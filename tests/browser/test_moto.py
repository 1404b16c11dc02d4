"""Phone orders in Chromium: a clerk waits on the phone order screen while the customer pays in a
browser of their own, and a clerk keys in a customer's card on the virtual terminal (MOTO).

The clerk logs in through the real login form; the customer has no cookies. Screenshots of the
phone order screen and the terminal go to the test's tmp_path (see `--basetemp`).
"""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect

from links.models import LinkChannel, Payment, PaymentLink, PaymentStatus
from merchants.models import Role
from receipts.models import Receipt
from tests.support.browser import fill_card
from tests.support.factories import PASSWORD, MembershipFactory, MerchantFactory

pytestmark = pytest.mark.browser

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
PAYMENT_PAGE = re.compile(r"/payments/[0-9a-f-]{36}/(\?.*)?$")


@pytest.fixture
def bottega(db):
    return MerchantFactory(name="Bottega Rossi", legal_name="Bottega Rossi S.r.l.")


@pytest.fixture
def clerk(bottega):
    """A member of staff: staff take phone orders too."""
    return MembershipFactory(merchant=bottega, role=Role.STAFF).user


def script_errors(page) -> list:
    """Uncaught errors in the page, less Bootstrap's where localstripe's Stripe.js is loaded: that
    script declares a global `class Element` that hides the DOM's `Element`, which Bootstrap's
    selector engine calls (offline test mode only: real Stripe.js declares no such global)."""
    return [error for error in page.errors if "bootstrap.bundle" not in (error.stack or "")]


def log_in(page, live_server, user, next_path: str) -> None:
    page.goto(f"{live_server.url}{reverse('account_login')}?next={next_path}")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}{next_path}")


def test_the_clerk_sees_the_phone_order_paid_without_reloading(
    new_page, live_server, stripe_settings, settings, bottega, clerk, tmp_path
):
    settings.SITE_URL = live_server.url  # the QR code and the URL point at this server
    office = new_page()
    log_in(office, live_server, clerk, reverse("links:dashboard", args=[bottega.public_id]))

    office.get_by_role("button", name="Phone orders").click()
    office.get_by_role("link", name="Phone order link").click()
    office.get_by_label("Amount").fill("25,50")
    office.get_by_label("Description").fill("Repair of a leather bag")
    office.get_by_label("Customer mobile").fill("+39 333 123 4567")
    office.get_by_role("button", name="Create link").click()

    office.wait_for_url("**/phone/*/")
    link = PaymentLink.objects.get()
    assert link.channel == LinkChannel.PHONE
    status = office.locator("#phone-status")
    expect(status).to_have_text("Waiting for the customer to pay…")
    expect(office.get_by_role("heading", level=1)).to_have_text("Phone order: €25.50")
    public_url = office.locator("#public-url").input_value()
    assert public_url == link.public_url
    # The customer's phone camera reads the link from the screen.
    qr = office.get_by_role("img", name="QR code of the payment link")
    expect(qr).to_be_visible()
    scanned = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
    assert [code.text for code in scanned] == [public_url]
    expect(office.get_by_role("link", name="WhatsApp")).to_have_attribute(
        "href", re.compile(r"^https://wa\.me/393331234567\?text=")
    )
    expect(office.get_by_role("link", name="SMS")).to_have_attribute(
        "href", re.compile(r"^sms:\+393331234567\?")
    )
    office.screenshot(path=tmp_path / "phone_order.png", full_page=True)
    office.evaluate("window.sameScreen = true")  # gone if the page reloads

    # The customer pays on their own phone.
    customer = new_page(locale="it-IT", viewport={"width": 390, "height": 844})
    customer.goto(public_url)
    expect(customer.locator("#checkout-description")).to_have_text("Repair of a leather bag")
    fill_card(customer, CARD_OK)
    customer.locator("#pay-button").click()
    customer.wait_for_url("**/result/**")
    expect(customer.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )

    # The clerk's screen turns to paid by itself.
    expect(status).to_have_text("Paid. You can tell the customer and hang up.", timeout=10_000)
    expect(status).to_have_class(re.compile(r"\balert-success\b"))
    expect(status).not_to_have_class(re.compile(r"\balert-info\b"))
    assert office.evaluate("window.sameScreen") is True
    office.screenshot(path=tmp_path / "phone_order_paid.png", full_page=True)
    assert office.errors == []
    assert customer.errors == []


def open_terminal(new_page, live_server, clerk, bottega, *, email: str = ""):
    office = new_page()
    log_in(office, live_server, clerk, reverse("links:terminal_new", args=[bottega.public_id]))
    expect(office.get_by_role("heading", level=1)).to_have_text("Virtual terminal")
    office.get_by_label("Amount").fill("25,50")
    office.get_by_label("Description").fill("Repair of a leather bag")
    office.get_by_label("Customer email").fill(email)
    office.get_by_role("button", name="Continue to card entry").click()
    office.wait_for_url("**/terminal/*/")
    expect(office.get_by_role("heading", level=1)).to_have_text("Virtual terminal: €25.50")
    expect(office.locator("#pay-button")).to_be_enabled()
    return office


def test_a_terminal_payment_ends_on_the_payment_page(
    new_page, live_server, stripe_settings, settings, bottega, clerk, tmp_path
):
    settings.STRIPE_PLATFORM_MOTO = True
    office = open_terminal(new_page, live_server, clerk, bottega, email="anna@example.com")
    expect(office.locator("#checkout-email")).to_have_value("anna@example.com")
    expect(office.locator("#pay-button")).to_contain_text("€25.50")

    fill_card(office, CARD_OK)
    office.screenshot(path=tmp_path / "terminal.png", full_page=True)
    office.locator("#pay-button").click()

    office.wait_for_url(PAYMENT_PAGE)
    payment = Payment.objects.get()
    assert payment.is_moto
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.customer_email == "anna@example.com"
    assert office.url.startswith(
        live_server.url
        + reverse("links:payment_detail", args=[bottega.public_id, payment.public_id])
    )
    expect(office.locator("h1 .badge")).to_have_text("Succeeded")
    details = office.locator("section[aria-labelledby=details-title]")
    expect(details).to_contain_text("4242")
    expect(details).to_contain_text("Phone or mail order")
    receipt = Receipt.objects.get(payment=payment)
    receipt_link = office.get_by_role("link", name=f"Receipt {receipt.number}")
    expect(receipt_link).to_be_visible()
    pdf = office.request.get(live_server.url + receipt_link.get_attribute("href"))
    assert pdf.ok
    assert pdf.body().startswith(b"%PDF-")
    office.screenshot(path=tmp_path / "terminal_paid.png", full_page=True)
    assert script_errors(office) == []


def test_a_declined_card_on_the_terminal_can_be_tried_again(
    new_page, live_server, stripe_settings, settings, bottega, clerk
):
    settings.STRIPE_PLATFORM_MOTO = True
    office = open_terminal(new_page, live_server, clerk, bottega)

    fill_card(office, CARD_DECLINED)
    office.locator("#pay-button").click()

    error = office.locator("#checkout-error")
    expect(error).to_have_text(
        "Payment not completed: The card was declined. Try again or use another card."
    )
    expect(office.locator("#pay-button")).to_be_enabled()
    expect(office.get_by_placeholder("number", exact=True)).to_have_value("")
    assert "/terminal/" in office.url
    assert list(Payment.objects.values_list("status", flat=True)) == [PaymentStatus.FAILED]
    assert not Receipt.objects.exists()

    # The customer reads out another card.
    fill_card(office, CARD_OK)
    office.locator("#pay-button").click()
    office.wait_for_url(PAYMENT_PAGE)
    expect(office.locator("h1 .badge")).to_have_text("Succeeded")
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    assert script_errors(office) == []
