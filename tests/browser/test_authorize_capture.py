"""Authorize now, capture later, in Chromium: the customer pays an authorize-only link with a
test card and reads that the amount is held; a staff member captures less in the back office;
the receipt is for what was captured."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from links.models import LinkStatus, Payment, PaymentStatus
from merchants.models import Role
from receipts.models import Receipt
from tests.support.browser import CARD_OK, checkout_url, fill_card, make_link
from tests.support.documents import pdf_text
from tests.support.factories import MembershipFactory, MerchantFactory

pytestmark = pytest.mark.browser


def test_customer_authorizes_then_staff_capture_less(
    page, signed_in_page, live_server, stripe_settings, db
):
    shop = MerchantFactory(name="Hotel Lago", legal_name="Hotel Lago S.r.l.")
    staff = MembershipFactory(merchant=shop, role=Role.STAFF).user
    link = make_link(shop, amount=20000, description="Two nights, lake view", authorize_only=True)

    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    page.wait_for_url("**/result/**")
    expect(page.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "authorized"
    )
    expect(page.locator("#result-title")).to_have_text("Payment authorized")
    expect(page.locator("#result-amount")).to_have_text("€200.00")
    expect(page.locator("#result-message")).to_contain_text("nothing has been charged yet")
    assert page.errors == []
    payment = Payment.objects.get(link=link)
    assert payment.status == PaymentStatus.AUTHORIZED

    office = signed_in_page(staff)
    office.goto(
        live_server.url + reverse("links:payment_detail", args=[shop.public_id, payment.public_id])
    )
    expect(office.locator("#hold-title")).to_have_text("Authorized, awaiting capture")
    office.get_by_label("Amount to capture").fill("150,00")
    office.get_by_role("button", name="Capture", exact=True).click()
    expect(office.locator("main")).to_contain_text("Charge €150.00 of the €200.00 authorized")
    office.get_by_role("button", name="Capture now").click()

    office.wait_for_url(f"**/payments/{payment.public_id}/")
    expect(office.locator("body")).to_contain_text("€150.00 captured.")
    expect(office.locator("main")).to_contain_text("captured of €200.00 authorized")
    receipt = Receipt.objects.get(payment=payment)
    href = office.get_by_role("link", name=f"Receipt {receipt.number}").get_attribute("href")
    text = pdf_text(office.context.request.get(live_server.url + href).body())
    assert "150,00" in text or "150.00" in text
    assert "200,00" not in text
    assert "200.00" not in text
    payment.refresh_from_db()
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 15000)
    link.refresh_from_db()
    assert link.status == LinkStatus.PAID
