"""The owner sends a link by email, the customer pays it, both confirmations reach the email log.

Two browser contexts: the shop's owner (logged in) and the customer (no cookies). Emails are
read where the shop reads them, in its email log; Celery tasks run eagerly in the test settings,
so the outbox sends through the locmem backend as soon as each transaction commits.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from links.models import PaymentLink, PaymentStatus
from merchants.models import Role
from tests.support.browser import fill_card
from tests.support.factories import MembershipFactory, MerchantFactory
from vpos.models import OutboxEmail

pytestmark = pytest.mark.browser

CARD_OK = "4242424242424242"

# A stand-in for the phone's share sheet, which desktop Chromium lacks: it records what it got.
SHARE_SHEET = """
window.shared = [];
navigator.share = (data) => { window.shared.push(data); return Promise.resolve(); };
"""


@pytest.fixture
def bottega(db):
    return MerchantFactory(name="Bottega Rossi", legal_name="Bottega Rossi S.r.l.")


def email_row(page, subject_part: str):
    return page.locator("tbody tr").filter(has_text=subject_part)


def test_owner_sends_a_link_the_customer_pays_and_both_get_their_email(
    new_page, signed_in_page, live_server, stripe_settings, bottega, settings
):
    settings.SITE_URL = live_server.url  # links in emails and QR codes point at this server
    owner = MembershipFactory(merchant=bottega, role=Role.OWNER).user
    office = signed_in_page(owner)
    office.add_init_script(SHARE_SHEET)
    office.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # The owner creates the link from the dashboard...
    office.goto(live_server.url + reverse("links:dashboard", args=[bottega.public_id]))
    office.get_by_role("link", name="New payment link").click()
    office.get_by_label("Amount").fill("25,50")
    office.get_by_label("Description").fill("Repair of a leather bag")
    office.get_by_label("Customer language").select_option("en")
    office.get_by_role("button", name="Create link").click()
    office.wait_for_url("**/links/*/")
    link = PaymentLink.objects.get(description="Repair of a leather bag")
    public_url = office.locator("#public-url").input_value()
    assert public_url == link.public_url

    # ...copies it, shares it (the URL once, as the share sheet's own field)...
    office.get_by_role("button", name="Copy").click()
    assert office.evaluate("navigator.clipboard.readText()") == public_url
    office.get_by_role("button", name="Share…").click()
    assert office.evaluate("window.shared") == [
        {"title": "Bottega Rossi", "text": "Pay €25.50 to Bottega Rossi", "url": public_url}
    ]
    expect(office.get_by_role("img", name="QR code of the payment link")).to_be_visible()

    # ...and sends it by email with a personal message.
    office.get_by_label("Customer email").fill("anna@example.com")
    expect(office.get_by_label("Email language")).to_have_value("en")
    office.get_by_label("Personal message").fill("Your bag is ready: pay when you like.")
    office.get_by_role("button", name="Send", exact=True).click()
    expect(office.locator("#messages")).to_contain_text(
        "The link is on its way to anna@example.com."
    )
    emails = office.locator("section[aria-labelledby=emails-title]")
    expect(emails).to_contain_text("anna@example.com")
    expect(emails.locator(".badge")).to_have_text(["Sent"])
    expect(office.get_by_role("button", name="Send again")).to_be_visible()

    # The customer's email, as the shop's email log shows it.
    office.goto(live_server.url + reverse("merchants:emails", args=[bottega.public_id]))
    request = email_row(office, "Payment request from Bottega Rossi")
    expect(request).to_contain_text("anna@example.com")
    expect(request).to_contain_text("€25.50")
    request.get_by_role("link").click()
    text = office.locator("pre.vpos-email-text")
    expect(text).to_contain_text("Your bag is ready: pay when you like.")
    pay_url = text.locator(f"a[href^='{public_url}?for=']").get_attribute("href")

    # The customer follows it in a browser of their own: the page knows who it was sent to. They
    # empty the optional field and pay; the confirmation still goes to the address.
    customer = new_page()
    customer.goto(pay_url)
    expect(customer.locator("#checkout-amount")).to_have_text("€25.50")
    expect(customer.locator("#checkout-description")).to_have_text("Repair of a leather bag")
    expect(customer.locator("#checkout-email")).to_have_value("anna@example.com")
    customer.locator("#checkout-email").fill("")
    fill_card(customer, CARD_OK)
    customer.locator("#pay-button").click()
    customer.wait_for_url("**/result/**")
    expect(customer.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )
    expect(customer.locator("#result-amount")).to_have_text("€25.50")
    assert customer.errors == []

    # Both confirmations are in the shop's email log, sent.
    office.goto(live_server.url + reverse("merchants:emails", args=[bottega.public_id]))
    confirmation = email_row(office, "Payment confirmed: €25.50 to Bottega Rossi")
    expect(confirmation).to_contain_text("anna@example.com")
    expect(confirmation.locator(".badge")).to_have_text("Sent")
    notification = office.locator("tbody tr").filter(has_text=owner.email)
    # In the shop's language, Italian here; the customer's is English.
    expect(notification).to_contain_text("Pagamento ricevuto: 25,50 € per Repair of a leather bag")
    expect(notification.locator(".badge")).to_have_text("Sent")
    confirmation.get_by_role("link").click()
    expect(office.locator("pre.vpos-email-text")).to_contain_text("4242")
    expect(office.locator("pre.vpos-email-text")).to_contain_text("Bottega Rossi S.r.l.")

    # Exactly these three emails, each once.
    assert sorted(OutboxEmail.objects.values_list("kind", "to_email", "status")) == [
        ("link", "anna@example.com", "sent"),
        ("payment_confirmation", "anna@example.com", "sent"),
        ("payment_notification", owner.email, "sent"),
    ]
    assert link.payments.get().status == PaymentStatus.SUCCEEDED
