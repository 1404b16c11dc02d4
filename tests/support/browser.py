"""Browser tests: a link to pay, its page, the test card, the success page."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from links.models import PaymentLink
from links.services import link_create

CARD_OK = "4242424242424242"


def checkout_url(live_server, link: PaymentLink) -> str:
    return live_server.url + reverse("links:checkout", args=[link.token])


def fill_card(page, number: str) -> None:
    card = page.locator("#card-element")
    card.get_by_placeholder("number", exact=True).fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("20121")


def make_link(shop, *, language: str = "en", **fields) -> PaymentLink:
    values = {"amount": 1999, "currency": "EUR", "description": "Tailored jacket", **fields}
    return link_create(merchant=shop, created_by=None, language=language, **values)


def expect_success_page(page, amount: str, last4: str = "4242") -> None:
    page.wait_for_url("**/result/**")
    expect(page.locator("[data-payment-status]")).to_have_attribute(
        "data-payment-status", "succeeded"
    )
    expect(page.locator("#result-amount")).to_have_text(amount)
    expect(page.locator("#result-card")).to_contain_text(last4)
    expect(page.locator("#receipt")).to_be_visible()


# Long enough for a slow CI machine, short enough that a hang fails the test quickly.
TIMEOUT_MS = 15_000
