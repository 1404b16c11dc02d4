"""A customer pays a link in Chromium: localstripe's Stripe.js, our checkout.js, the real views.

localstripe's Stripe.js renders the card element as plain inputs (placeholders `number`,
`exp_month`, `exp_year`, `cvc`, `postal_code`) and its 3-D Secure "pop-up" as a box in the page
with "Complete authentication" / "Fail authentication" buttons. With its SetupIntent flow a 3-D
Secure test card asks twice: once when the card is saved, once for the payment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from links import payments, services
from links.models import LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus
from merchants.models import Role
from tests.support.browser import CARD_OK, checkout_url, expect_success_page, fill_card, make_link
from tests.support.factories import MembershipFactory, MerchantFactory, PaymentFactory
from tests.support.faults import checkout_recording, database_gone
from tests.support.localstripe import stripe_client

pytestmark = pytest.mark.browser

CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002760003184"


@pytest.fixture
def bottega(db):
    return MerchantFactory(
        name="Bottega Rossi",
        legal_name="Bottega Rossi S.r.l.",
        brand_color="#0f766e",
        pec="bottegarossi@pec.example.it",
    )


def statuses(link: PaymentLink) -> list[str]:
    return sorted(Payment.objects.filter(link=link).values_list("status", flat=True))


def test_customer_pays_a_link(page, live_server, stripe_settings, bottega):
    link = make_link(bottega, language="it", description="Giacca su misura", reference="ORD-1042")

    page.goto(checkout_url(live_server, link))

    expect(page.locator(".vpos-shop-name")).to_have_text("Bottega Rossi")
    expect(page.locator("#checkout-amount")).to_have_text("19,99 €")
    expect(page.locator("#checkout-description")).to_have_text("Giacca su misura")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.locator("footer")).to_contain_text("Bottega Rossi S.r.l.")
    expect(page.locator("footer")).to_contain_text("12345670017")
    expect(page.locator("footer")).to_contain_text("bottegarossi@pec.example.it")
    # The shop's colour reaches the pay button.
    pay = page.locator("#pay-button")
    expect(pay).to_have_css("background-color", "rgb(15, 118, 110)")
    expect(pay).to_contain_text("19,99 €")
    expect(pay).to_be_enabled()

    fill_card(page, CARD_OK)
    pay.click()

    expect_success_page(page, "19,99 €")
    expect(page.locator("main")).to_contain_text("ORD-1042")
    assert statuses(link) == ["succeeded"]
    link.refresh_from_db()
    assert link.status == LinkStatus.PAID
    assert page.errors == []


def test_declined_card_then_another_card(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    expect(page.locator("#checkout-amount")).to_have_text("€19.99")

    fill_card(page, CARD_DECLINED)
    page.locator("#pay-button").click()

    error = page.get_by_role("alert").filter(has_text="declined")
    expect(error).to_contain_text("The card was declined")
    expect(error).to_contain_text("Try again or use another card")
    expect(page.locator("#pay-button")).to_be_enabled()
    # The card inputs are cleared for the next card.
    expect(page.get_by_placeholder("number", exact=True)).to_have_value("")
    assert statuses(link) == ["failed"]

    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    expect_success_page(page, "€19.99")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment successful")
    assert statuses(link) == ["failed", "succeeded"]


def test_3d_secure_completed(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_3DS)
    page.locator("#pay-button").click()

    # Saving the card (localstripe's SetupIntent) asks first...
    page.get_by_role("button", name="Complete authentication").click()
    # ...then the bank asks about the payment itself.
    expect(page.locator("#checkout-progress")).to_contain_text("Your bank asks you to confirm")
    expect(page.locator("#pay-button")).to_be_disabled()
    assert statuses(link) == ["requires_action"]
    page.get_by_role("button", name="Complete authentication").click()

    expect_success_page(page, "€19.99", last4="3184")
    assert statuses(link) == ["succeeded"]


def test_3d_secure_failed_then_retry(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_3DS)
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#checkout-error")).to_contain_text("3-D Secure authentication failed")
    expect(page.locator("#pay-button")).to_be_enabled()
    assert statuses(link) == ["failed"]

    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()
    expect_success_page(page, "€19.99")
    assert statuses(link) == ["failed", "succeeded"]


def test_paying_again_after_an_unrecorded_charge_charges_once(
    page, live_server, stripe_settings, bottega, monkeypatch
):
    """The card is charged, then recording it fails (database gone): the customer is told not to
    pay again; a second click anyway, on a reusable link, shows that payment, never a second."""
    link = make_link(bottega, kind=LinkKind.REUSABLE)
    database_gone(monkeypatch, payments, "payment_apply", when=checkout_recording)
    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    expect(page.locator("#checkout-error")).to_contain_text("Do not pay or refund again")
    expect(page.locator("#pay-button")).to_be_enabled()
    page.locator("#pay-button").click()

    expect_success_page(page, "€19.99")
    assert statuses(link) == ["succeeded"]
    api = stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)
    charged = api.v1.payment_intents.list({"limit": 100}).data
    assert [intent.status for intent in charged] == ["succeeded"]


def test_second_click_while_paying_does_nothing(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_3DS)
    pay = page.locator("#pay-button")
    pay.click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(pay).to_be_disabled()
    pay.dispatch_event("click")  # even a forced click on the disabled button
    page.locator("#checkout-form").dispatch_event("submit")  # or Enter in a field
    page.get_by_role("button", name="Complete authentication").click()
    expect_success_page(page, "€19.99", last4="3184")
    assert statuses(link) == ["succeeded"]


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (LinkStatus.EXPIRED, "This payment link has expired"),
        (LinkStatus.DEACTIVATED, "This payment link is no longer active"),
    ],
)
def test_closed_link(page, live_server, stripe_settings, bottega, status, heading):
    link = make_link(bottega, expires_at=timezone.now() + timedelta(hours=1))
    PaymentLink.objects.filter(pk=link.pk).update(status=status)

    response = page.goto(checkout_url(live_server, link))

    assert response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("main")).to_contain_text("ask the shop for a new link")
    expect(page.locator("main")).to_contain_text("Nothing has been charged")
    expect(page.locator("#pay-button")).to_have_count(0)


def test_link_past_its_expiry(page, live_server, stripe_settings, bottega):
    link = make_link(bottega, expires_at=timezone.now() + timedelta(hours=1))
    PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=5))

    response = page.goto(checkout_url(live_server, link))

    assert response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This payment link has expired")


def test_paid_link_says_when(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    paid_at = datetime(2026, 3, 14, 15, 30, tzinfo=ZoneInfo("Europe/Rome"))
    PaymentFactory(link=link, status=PaymentStatus.SUCCEEDED, succeeded_at=paid_at)
    PaymentLink.objects.filter(pk=link.pk).update(status=LinkStatus.PAID, paid_at=paid_at)

    response = page.goto(checkout_url(live_server, link))

    assert response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This payment has already been made")
    # Day first and a 24-hour clock, as the English of people in Europe writes it.
    expect(page.locator("#closed-paid-at")).to_contain_text("14 March 2026, 15:30")


def test_language_switch(page, live_server, stripe_settings, bottega):
    link = make_link(bottega, language="it")
    page.goto(checkout_url(live_server, link))
    expect(page.locator("#checkout-amount")).to_have_text("19,99 €")

    page.get_by_role("link", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#checkout-amount")).to_have_text("€19.99")
    expect(page.get_by_role("link", name="English")).to_have_attribute("aria-current", "true")


def test_owner_creates_a_link_and_the_customer_pays_it(
    new_page, live_server, stripe_settings, bottega
):
    owner = MembershipFactory(merchant=bottega, role=Role.OWNER).user
    client = Client()
    client.force_login(owner)
    office = new_page()
    office.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    office.goto(live_server.url + reverse("links:create", args=[bottega.public_id]))
    office.get_by_label("Amount").fill("25,50")
    office.get_by_label("Description").fill("Repair of a leather bag")
    office.get_by_label("Customer email").fill("anna@example.com")
    office.get_by_role("button", name="Create link").click()
    office.wait_for_url("**/links/*/")
    public_url = office.locator("#public-url").input_value()
    link = PaymentLink.objects.get(description="Repair of a leather bag")
    assert public_url.endswith(reverse("links:checkout", args=[link.token]))

    customer = new_page()
    customer.goto(checkout_url(live_server, link))
    expect(customer.locator("#checkout-description")).to_have_text("Repair of a leather bag")
    expect(customer.locator("#checkout-email")).to_have_value("anna@example.com")
    fill_card(customer, CARD_OK)
    customer.locator("#pay-button").click()
    customer.wait_for_url("**/result/**")
    expect(customer.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )

    office.reload()
    expect(office.locator("h1 .badge")).to_have_text("Paid")
    expect(office.locator("main")).to_contain_text("4242")
    assert Payment.objects.get(link=link).customer_email == "anna@example.com"


def test_link_closed_while_the_page_was_open(page, live_server, stripe_settings, bottega):
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    services.link_deactivate(link=link)

    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This payment link is no longer active"
    )
    assert statuses(link) == []


# What real Stripe's Stripe.js offers (createPaymentMethod) and localstripe's lacks: a stand-in
# wrapped around localstripe's Stripe object, answering with a PaymentMethod made server side.
# The page is switched to the "direct" flow once parsed, before checkout.js runs.
AS_WITH_REAL_STRIPE = """
(() => {
  let factory;
  Object.defineProperty(window, "Stripe", {
    configurable: true,
    set(value) { factory = value; },
    get() {
      return factory && function (key) {
        const stripe = factory(key);
        stripe.createPaymentMethod = async (data) => {
          window.recordCreatePaymentMethod(
            {type: data.type, card: Boolean(data.card), billing: data.billing_details});
          return {paymentMethod: {id: "%s"}};
        };
        return stripe;
      };
    },
  });
  document.addEventListener("readystatechange", () => {
    const form = document.getElementById("checkout-form");
    if (document.readyState === "interactive" && form) form.dataset.cardFlow = "direct";
  });
})();
"""


def test_direct_card_flow_of_real_stripe(page, live_server, stripe_settings, bottega):
    """The adapter's other branch: stripe.createPaymentMethod, no SetupIntent."""
    api = stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)
    card = {"number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    payment_method = api.v1.payment_methods.create(params={"type": "card", "card": card}).id
    link = make_link(bottega, customer_email="anna@example.com")
    page.add_init_script(AS_WITH_REAL_STRIPE % payment_method)
    calls = []
    page.expose_function("recordCreatePaymentMethod", lambda call: calls.append(call))
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(checkout_url(live_server, link))
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()

    expect_success_page(page, "€19.99")
    assert calls == [{"type": "card", "card": True, "billing": {"email": "anna@example.com"}}]
    assert not [url for url in requested if "/setup/" in url]
    payment = Payment.objects.get(link=link)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.customer_email == "anna@example.com"


# Records how the page creates its Stripe object: Stripe.js (here localstripe's) assigns the global.
STRIPE_SPY = """
Object.defineProperty(window, "Stripe", {
  configurable: true,
  set(real) {
    this._realStripe = real;
  },
  get() {
    const real = this._realStripe;
    return real && function (key, options) {
      window.stripeOptions = options;
      return real(key, options);
    };
  },
});
"""


@pytest.mark.parametrize("language", ["it", "en"])
def test_stripe_speaks_the_pages_language(page, live_server, stripe_settings, bottega, language):
    page.add_init_script(STRIPE_SPY)
    link = make_link(bottega, language=language)

    page.goto(checkout_url(live_server, link))
    expect(page.locator("#pay-button")).to_be_enabled()

    assert page.evaluate("window.stripeOptions") == {"locale": language}
