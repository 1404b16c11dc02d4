"""Real-Stripe checkout in Chromium: Stripe's Payment Element, every method the shop enables.

Neither Stripe.js nor Stripe's API can be reached from here, and localstripe has no Payment
Element: the page gets a small fake Stripe.js (served by Playwright for js.stripe.com) that records
what checkout.js asks of it, and vpos talks to a stub of Stripe's API on loopback that records
what vpos sends and answers canned PaymentIntents (tests/support/stripe_stub.py). The payment
method's id (`pm_card_ok`, `pm_card_declined`…) says how the stub confirms it.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from links.models import Payment, PaymentLink, PaymentStatus
from tests.support.browser import checkout_url, make_link
from tests.support.factories import MerchantFactory

pytestmark = pytest.mark.browser

# Stripe.js as checkout.js uses it in the "element" flow; every call lands in window.stripeCalls.
# window.nextPaymentMethod is what createPaymentMethod answers; handleNextAction waits until the
# test calls window.finishNextAction() (3-D Secure done), or for ever (the customer left for
# their bank).
FAKE_STRIPE_JS = """
(function () {
  var calls = (window.stripeCalls = []);
  function record(name, args) {
    calls.push({ name: name, args: JSON.parse(JSON.stringify(args === undefined ? null : args)) });
  }
  window.nextPaymentMethod = { id: "pm_card_ok", type: "card" };
  window.Stripe = function (key, options) {
    record("Stripe", { key: key, options: options });
    return {
      elements: function (options) {
        record("elements", options);
        var elements = {
          create: function (type) {
            record("create", type);
            return {
              mount: function (target) {
                var box = document.createElement("div");
                box.id = "fake-payment-element";
                box.textContent = "Payment Element";
                target.appendChild(box);
                record("mount", target.id);
              },
              on: function () {},
              clear: function () { record("clear"); },
            };
          },
          submit: function () {
            record("submit");
            return Promise.resolve({});
          },
        };
        return elements;
      },
      createPaymentMethod: function (options) {
        record("createPaymentMethod", {
          withElements: !!options.elements,
          params: options.params,
        });
        return Promise.resolve({ paymentMethod: window.nextPaymentMethod });
      },
      handleNextAction: function (options) {
        record("handleNextAction", options);
        document.body.setAttribute("data-next-action", "asked");
        return new Promise(function (resolve) {
          window.finishNextAction = function () { resolve({ paymentIntent: {} }); };
        });
      },
      confirmCardPayment: function () {
        record("confirmCardPayment");
        return Promise.resolve({});
      },
    };
  };
})();
"""


@pytest.fixture
def element_page(page, live_server, stripe_stub, settings):
    """A browser with the fake Stripe.js; vpos in real-Stripe mode against the stub API, its
    return addresses on the live server."""
    settings.SITE_URL = live_server.url
    page.route(
        "https://js.stripe.com/v3/**",
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=FAKE_STRIPE_JS
        ),
    )
    return page


@pytest.fixture
def bottega(db):
    return MerchantFactory(name="Bottega Rossi", brand_color="#0f766e")


def calls(page, name: str) -> list:
    return [c["args"] for c in page.evaluate("window.stripeCalls") if c["name"] == name]


def open_and_pay(page, live_server, link: PaymentLink, method: dict, email: str = "") -> None:
    page.goto(checkout_url(live_server, link))
    expect(page.locator("#fake-payment-element")).to_be_visible()
    page.evaluate(f"window.nextPaymentMethod = {json.dumps(method)}")
    if email:
        page.locator("#checkout-email").fill(email)
    page.locator("#pay-button").click()


def expect_result(page, status: str) -> None:
    page.wait_for_url("**/result/**")
    expect(page.locator("[data-payment-status]")).to_have_attribute("data-payment-status", status)


def test_the_payment_element_gets_the_links_amount_language_and_colour_and_pays(
    element_page, live_server, stripe_stub, bottega
):
    page = element_page
    link = make_link(bottega, language="it", amount=4250)

    open_and_pay(page, live_server, link, {"id": "pm_card_ok", "type": "card"}, "anna@example.com")

    expect_result(page, "succeeded")
    (create,) = stripe_stub.creates()
    assert create.params["amount"] == "4250"
    assert create.params["automatic_payment_methods[enabled]"] == "true"
    (confirm,) = stripe_stub.confirms()
    assert confirm.params["return_url"].startswith(f"{live_server.url}/pay/{link.token}/return/")
    assert Payment.objects.get(link=link).status == PaymentStatus.SUCCEEDED
    assert page.errors == []


def test_what_elements_is_told(element_page, live_server, stripe_stub, bottega):
    page = element_page
    bottega.payment_methods = ["card", "paypal", "sepa_debit"]
    bottega.save()
    link = make_link(bottega, language="it", amount=4250, payment_methods=["card", "paypal"])

    page.goto(checkout_url(live_server, link))
    expect(page.locator("#fake-payment-element")).to_be_visible()

    (stripe,) = calls(page, "Stripe")
    assert stripe == {"key": "pk_test_vpos_platform", "options": {"locale": "it"}}
    (options,) = calls(page, "elements")
    assert options == {
        "mode": "payment",
        "amount": 4250,
        "currency": "eur",
        "paymentMethodCreation": "manual",
        "locale": "it",
        "appearance": {"theme": "stripe", "variables": {"colorPrimary": "#0f766e"}},
        "paymentMethodTypes": ["card", "paypal"],
    }
    assert calls(page, "create") == ["payment"]

    page.locator("#checkout-email").fill("anna@example.com")
    page.locator("#pay-button").click()
    expect_result(page, "succeeded")
    (create,) = stripe_stub.creates()
    assert [create.params["payment_method_types[0]"], create.params["payment_method_types[1]"]] == [
        "card",
        "paypal",
    ]


def test_billing_details_go_to_stripe_and_the_type_to_vpos(
    element_page, live_server, stripe_stub, bottega
):
    page = element_page
    link = make_link(bottega)
    page.goto(checkout_url(live_server, link))
    expect(page.locator("#fake-payment-element")).to_be_visible()
    page.evaluate("window.nextPaymentMethod = {id: 'pm_sepa_ok', type: 'sepa_debit'}")
    page.locator("#checkout-email").fill("anna@example.com")
    page.locator("#checkout-name").fill("Anna Bianchi")
    # Keep the page: catch the calls before the result page replaces it.
    page.evaluate(
        "window.addEventListener('beforeunload', () => "
        "sessionStorage.setItem('calls', JSON.stringify(window.stripeCalls)))"
    )

    page.locator("#pay-button").click()

    expect_result(page, "processing")  # a direct debit takes days
    recorded = json.loads(page.evaluate("sessionStorage.getItem('calls')"))
    names = [c["name"] for c in recorded]
    assert names.index("submit") < names.index("createPaymentMethod")
    (made,) = [c["args"] for c in recorded if c["name"] == "createPaymentMethod"]
    assert made == {
        "withElements": True,
        "params": {"billing_details": {"email": "anna@example.com", "name": "Anna Bianchi"}},
    }
    payment = Payment.objects.get(link=link)
    assert (payment.method, payment.status) == ("sepa_debit", PaymentStatus.PROCESSING)
    (confirm,) = stripe_stub.confirms()
    assert confirm.params["mandate_data[customer_acceptance][type]"] == "online"


def test_a_declined_card_then_another_one(element_page, live_server, stripe_stub, bottega):
    page = element_page
    link = make_link(bottega)

    open_and_pay(page, live_server, link, {"id": "pm_card_declined", "type": "card"})

    expect(page.locator("#checkout-error")).to_contain_text("insufficient funds")
    expect(page.locator("#pay-button")).to_be_enabled()
    assert calls(page, "clear") == [None]
    page.evaluate("window.nextPaymentMethod = {id: 'pm_card_ok', type: 'card'}")
    page.locator("#pay-button").click()
    expect_result(page, "succeeded")
    statuses = sorted(Payment.objects.filter(link=link).values_list("status", flat=True))
    assert statuses == ["failed", "succeeded"]


def test_three_d_secure_through_handle_next_action(element_page, live_server, stripe_stub, bottega):
    page = element_page
    link = make_link(bottega)

    open_and_pay(page, live_server, link, {"id": "pm_card_3ds", "type": "card"})

    expect(page.locator("body[data-next-action]")).to_have_count(1)
    payment = Payment.objects.get(link=link)
    (action,) = calls(page, "handleNextAction")
    assert action == {"clientSecret": f"{payment.provider_id}_secret_stub"}
    assert calls(page, "confirmCardPayment") == []
    stripe_stub.settle(payment.provider_id, "succeeded")  # the bank said yes
    page.evaluate("window.finishNextAction()")
    expect_result(page, "succeeded")


def test_paypal_leaves_for_paypal_and_comes_back_paid(
    element_page, live_server, stripe_stub, bottega
):
    page = element_page
    link = make_link(bottega, language="it")

    open_and_pay(page, live_server, link, {"id": "pm_paypal_redirect", "type": "paypal"})

    expect(page.locator("body[data-next-action]")).to_have_count(1)
    payment = Payment.objects.get(link=link)
    assert (payment.method, payment.status) == ("paypal", PaymentStatus.REQUIRES_ACTION)
    (confirm,) = stripe_stub.confirms()
    back = confirm.params["return_url"]
    # What PayPal does, then Stripe's redirect back, with its own (here: lying) query string.
    stripe_stub.settle(payment.provider_id, "succeeded")
    page.goto(f"{back}&payment_intent={payment.provider_id}&redirect_status=failed")

    expect_result(page, "succeeded")
    assert "lang=it" in page.url
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
