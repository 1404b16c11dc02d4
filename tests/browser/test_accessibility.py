"""Accessibility in Chromium: axe-core on the customer's and the shop's pages, and a payment made
with the keyboard alone.

axe-core is vendored in `tests/browser/vendor/` (see its README): no npm on a clean clone. Only
violations of impact "serious" or "critical" fail a test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from links.models import LinkStatus, PaymentLink, PaymentStatus
from merchants.models import FiscalProfile, Role
from receipts.services import receipt_issue
from tests.support.browser import CARD_OK, checkout_url, fill_card, make_link
from tests.support.documents import finalize
from tests.support.factories import MembershipFactory, MerchantFactory, PaymentFactory
from tests.support.invoices import BUSINESS

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}


def axe_problems(page) -> list[str]:
    """Run axe on the whole page (localstripe's card inputs included: axe finds nothing wrong
    with them); one line per serious/critical violation, with its first targets."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{page.url}: {violation['id']} [{violation['impact']}] {violation['help']} -> "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in violations
        if violation["impact"] in FAILING_IMPACTS
    ]


def assert_accessible(pages_problems: list[str]) -> None:
    assert not pages_problems, "axe violations:\n" + "\n".join(pages_problems)


@pytest.fixture
def bottega(db):
    return MerchantFactory(name="Bottega Rossi", brand_color="#0f766e")


@pytest.fixture
def a11y_page(browser):
    """A page in a context that ignores the Content-Security-Policy.

    The pages' Content-Security-Policy (script-src 'self' and Stripe, no 'unsafe-inline') blocks
    the inline <script> that `page.add_script_tag` adds for axe, so these pages are opened with
    Playwright's `bypass_csp=True`; nothing else about them changes.
    """
    from tests.support.browser import TIMEOUT_MS

    contexts = []

    def make(*, locale: str = "en-US"):
        context = browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, bypass_csp=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_customer_pages_have_no_serious_violations(
    a11y_page, live_server, stripe_settings, bottega
):
    problems = []
    page = a11y_page(locale="it-IT")
    # The shop asks every customer for invoice details: the pay page shows the invoice form open.
    FiscalProfile.objects.create(merchant=bottega, invoicing="business")

    # Checkout of a payable link, in Italian and in English.
    for language in ("it", "en"):
        link = make_link(bottega, language=language, reference="ORD-1042")
        page.goto(checkout_url(live_server, link))
        expect(page.locator("#pay-button")).to_be_enabled()
        expect(page.locator("#invoice-fields")).to_be_visible()
        problems += axe_problems(page)

    # The invoice form with its messages under the fields.
    page.locator("#invoice-requested").check()
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()
    expect(page.locator(".vpos-invoice-error").first).to_be_visible()
    problems += axe_problems(page)
    page.locator("#invoice-requested").uncheck()

    # Success: a real payment through localstripe.
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()
    page.wait_for_url("**/result/**")
    expect(page.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )
    problems += axe_problems(page)

    # Failure: a declined attempt's result page.
    link = make_link(bottega)
    failed = PaymentFactory(link=link, status=PaymentStatus.FAILED, failure_code="card_declined")
    page.goto(live_server.url + reverse("links:result", args=[link.token, failed.public_id]))
    expect(page.locator("[data-payment-status]")).to_have_attribute("data-payment-status", "failed")
    problems += axe_problems(page)

    # Closed: paid, and expired.
    paid = make_link(bottega)
    PaymentFactory(link=paid, status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now())
    PaymentLink.objects.filter(pk=paid.pk).update(status=LinkStatus.PAID, paid_at=timezone.now())
    expired = make_link(bottega)
    PaymentLink.objects.filter(pk=expired.pk).update(status=LinkStatus.EXPIRED)
    for link in (paid, expired):
        response = page.goto(checkout_url(live_server, link))
        assert response.status == 410
        problems += axe_problems(page)

    assert_accessible(problems)


def test_shop_pages_have_no_serious_violations(a11y_page, live_server, stripe_settings, bottega):
    owner = MembershipFactory(merchant=bottega, role=Role.OWNER).user
    MembershipFactory(merchant=bottega, role=Role.STAFF)
    link = make_link(bottega, customer_email="anna@example.com", reference="ORD-1042")
    payment = PaymentFactory(
        link=link,
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=timezone.now(),
        customer_email="anna@example.com",
    )
    PaymentLink.objects.filter(pk=link.pk).update(status=LinkStatus.PAID, paid_at=timezone.now())
    with transaction.atomic():  # as in finalization: the numbering lock needs a transaction
        receipt_issue(payment=payment, at=timezone.now())
    make_link(bottega, description="Still open")
    FiscalProfile.objects.create(merchant=bottega, invoicing="request")
    finalize(make_link(bottega, description="Invoiced"), invoice_details=BUSINESS)

    client = Client()
    client.force_login(owner)
    page = a11y_page()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    shop = bottega.public_id
    urls = [
        reverse("links:dashboard", args=[shop]),
        reverse("links:list", args=[shop]),
        reverse("links:create", args=[shop]),
        reverse("links:detail", args=[shop, link.pk]),
        reverse("links:payments", args=[shop]),
        reverse("links:payment_detail", args=[shop, payment.public_id]),
        reverse("receipts:list", args=[shop]),
        reverse("merchants:team", args=[shop]),
        reverse("merchants:settings", args=[shop]),
        reverse("links:payment_account", args=[shop]),
        reverse("merchants:fiscal_profile", args=[shop]),
        reverse("receipts:invoices", args=[shop]),
    ]
    problems = []
    for url in urls:
        response = page.goto(live_server.url + url)
        assert response.status == 200, url
        problems += axe_problems(page)

    # The new-link form again, with its validation errors shown.
    page.goto(live_server.url + reverse("links:create", args=[shop]))
    page.get_by_label("Amount").fill("0")
    page.get_by_label("Description").fill("Repair of a leather bag")
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("#id_amount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    problems += axe_problems(page)

    assert_accessible(problems)


def test_keyboard_only_payment(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    pay = page.locator("#pay-button")
    expect(pay).to_be_enabled()

    # Tab from the top of the page until the card number field has the focus.
    number = page.get_by_placeholder("number", exact=True)
    for _ in range(40):
        page.keyboard.press("Tab")
        if number.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("the card number field cannot be reached with Tab")

    for placeholder, value in [
        ("number", CARD_OK),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "20121"),
    ]:
        field = page.get_by_placeholder(placeholder, exact=True)
        # localstripe moves the focus on by itself once a field is complete; else Tab.
        if not field.evaluate("element => element === document.activeElement"):
            page.keyboard.press("Tab")
        expect(field).to_be_focused()
        page.keyboard.type(value)
        expect(field).to_have_value(value)

    # Focus is visible on the pay button.
    for _ in range(20):
        if pay.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(pay).to_be_focused()
    outline, box_shadow = pay.evaluate(
        "element => { const style = getComputedStyle(element);"
        " return [style.outlineStyle + ' ' + style.outlineWidth, style.boxShadow]; }"
    )
    assert not outline.startswith("none") or box_shadow != "none", (outline, box_shadow)

    page.keyboard.press("Enter")

    page.wait_for_url("**/result/**")
    expect(page.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )
    expect(page.locator("#result-card")).to_contain_text("4242")
