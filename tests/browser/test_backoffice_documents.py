"""From a link to each of its payments, and to the refund note's PDF; the development outbox only
for a superuser."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from links.models import Refund
from merchants.models import Role
from receipts.services import refund_note_issue
from tests.support.documents import finalize
from tests.support.factories import (
    MembershipFactory,
    MerchantFactory,
    PaymentLinkFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser


def test_from_a_link_to_its_payment_and_its_refund_note(signed_in_page, live_server, db):
    shop = MerchantFactory(name="Bottega Rossi")
    owner = MembershipFactory(merchant=shop, role=Role.OWNER).user
    link = PaymentLinkFactory(merchant=shop, description="Repair of a leather bag", amount=5000)
    payment = finalize(link, customer_email="anna@example.com")
    refund = Refund.objects.create(
        merchant=shop, payment=payment, amount=1000, currency="EUR", status="succeeded"
    )
    with transaction.atomic():
        note = refund_note_issue(refund=refund, at=timezone.now())
    page = signed_in_page(owner)

    page.goto(live_server.url + reverse("links:detail", args=[shop.public_id, link.pk]))
    page.locator("section[aria-labelledby=payments-title] tbody tr").first.get_by_role(
        "link"
    ).click()
    page.wait_for_url(f"**/payments/{payment.public_id}/")
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Refund note {note.number}").click()

    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


def test_the_development_outbox_is_in_a_superusers_menu_only(
    signed_in_page, live_server, settings, db
):
    settings.DEBUG = True
    shop = MerchantFactory()
    owner = MembershipFactory(merchant=shop, role=Role.OWNER).user
    operator = UserFactory(is_staff=True, is_superuser=True)

    page = signed_in_page(operator)
    page.goto(live_server.url + reverse("merchants:home"))
    page.locator("#vpos-account-menu").click()
    page.get_by_role("link", name="Development outbox").click()
    expect(page).to_have_url(live_server.url + reverse("dev_outbox"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    page = signed_in_page(owner)
    page.goto(live_server.url + reverse("links:dashboard", args=[shop.public_id]))
    page.locator("#vpos-account-menu").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("link", name="Development outbox")).to_have_count(0)
    assert page.goto(live_server.url + reverse("dev_outbox")).status == 404
