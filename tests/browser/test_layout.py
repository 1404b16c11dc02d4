"""Every back-office page fits the window, from a phone to a laptop, in Italian and English, and
the account menu (with "Log out") can always be reached."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from links.models import Payment, PaymentLink
from tests.support.routes import _url, all_routes, make_objects

pytestmark = pytest.mark.browser

WIDTHS = (390, 1024, 1280)
LOG_OUT = {"en": "Log out", "it": "Esci"}


@pytest.fixture
def back_office(shop, stripe_settings) -> tuple[Client, list[str]]:
    """The owner's session and every back-office page an owner can open (HTML, 200, with the
    navigation: not the email preview framed in a page, nor the printable QR card)."""
    stripe_settings.STRIPE_PLATFORM_MOTO = True
    objects = make_objects(shop.merchant, member=shop.staff, inviter=shop.owner)
    # Long values, as customers and shops type them: they must wrap, never widen the page.
    Payment.objects.filter(pk=objects.payment.pk).update(
        customer_email="francesca.maria.bianchi-longobardi@studio-legale-associato.example"
    )
    PaymentLink.objects.filter(pk=objects.link.pk).update(
        description="Restauro conservativo di una poltrona in noce del Settecento " * 3
    )
    client = shop.client_for("owner")
    pages = []
    for route in all_routes():
        if not route.is_shop:
            continue
        url = _url(route, shop.merchant.public_id, objects)
        response = client.get(url)
        html = not response.streaming and response["Content-Type"].startswith("text/html")
        if response.status_code == 200 and html and b'id="vpos-navbar-content"' in response.content:
            pages.append(url)
    assert len(pages) > 25, pages
    return client, pages


def open_account_menu(page) -> None:
    """What a person does: open the collapsed navigation if it is collapsed, then the menu."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
        expect(page.locator("#vpos-navbar-content")).to_have_class(re.compile(r"\bshow\b"))
    page.locator("#vpos-account-menu").click()


def test_every_back_office_page_fits_and_reaches_the_account_menu(
    signed_in_page, live_server, shop, back_office
):
    _client, pages = back_office
    problems = []
    for language, locale in (("it", "it-IT"), ("en", "en-GB")):
        page = signed_in_page(shop.owner.user, locale=locale)
        page.emulate_media(reduced_motion="reduce")  # Bootstrap then opens menus at once
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            for url in pages:
                page.goto(live_server.url + url, wait_until="domcontentloaded")
                where = f"{language} {width}px {url}"
                wide = page.evaluate("() => document.documentElement.scrollWidth")
                if wide > width:
                    problems.append(f"{where}: the page is {wide}px wide")
                    continue
                open_account_menu(page)
                log_out = page.get_by_role("button", name=LOG_OUT[language], exact=True)
                expect(log_out).to_be_visible()
                box = log_out.bounding_box()
                if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
                    problems.append(f"{where}: 'Log out' is outside the window ({box})")
        assert not page.errors, page.errors
    assert not problems, "\n".join(problems)
