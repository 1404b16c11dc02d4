"""A shop's site creates a link through the API, the customer pays it in Chromium, comes back.

Everything runs for real on loopback: the API on pytest-django's live server, localstripe, and a
tiny "shop site" on 127.0.0.1 that shows the thank-you page (success_url) and receives the signed
webhook. Celery runs eagerly, so the delivery leaves right after the payment's commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from playwright.sync_api import expect

from integrations import webhooks as outbound
from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from links.models import PaymentLink
from tests.support.api import LINK, QuietHandler, Received, loopback_server, verify
from tests.support.browser import CARD_OK, expect_success_page, fill_card

pytestmark = pytest.mark.browser


@dataclass
class ShopSite:
    """The shop's own web server: a thank-you page for GET, a webhook receiver for POST."""

    base: str = ""
    visits: list[str] = field(default_factory=list)
    hooks: list[Received] = field(default_factory=list)

    @property
    def success_url(self) -> str:
        return f"{self.base}/thanks"

    @property
    def webhook_url(self) -> str:
        return f"{self.base}/hooks/vpos"


@pytest.fixture
def shop_site() -> Iterator[ShopSite]:
    state = ShopSite()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.visits.append(self.path)
            body = b"<!doctype html><title>Shop</title><p>thanks</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.hooks.append(Received(dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with loopback_server(Handler) as base:
        state.base = base
        yield state


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_link_created_by_api_is_paid_in_the_browser_and_the_shop_hears_of_it(
    page, live_server, stripe_settings, shop, shop_site, settings
):
    settings.SITE_URL = live_server.url  # the API's link URL points at this server
    settings.VPOS_API_ALLOW_LOCAL_HTTP_URLS = True  # success_url is http://127.0.0.1
    _, raw_key = api_key_create(
        merchant=shop.merchant, name="Shop site", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    endpoint, secret = outbound.webhook_endpoint_create(
        merchant=shop.merchant, url=shop_site.webhook_url, events=["payment.succeeded"], actor=None
    )

    # The shop's site creates the link through the API.
    created = requests.post(
        live_server.url + "/api/v1/links",
        json={
            **LINK,
            "language": "en",
            "success_url": shop_site.success_url,
            "cancel_url": shop_site.base + "/",
        },
        headers={
            "Authorization": f"Bearer {raw_key}",
            "Idempotency-Key": "order-1001-browser",
            "Accept-Language": "en",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["success_url"] == shop_site.success_url
    assert data["url"].startswith(live_server.url)
    link = PaymentLink.objects.get(pk=data["id"])

    # The customer opens it and pays.
    page.goto(data["url"])
    expect(page.locator("#checkout-amount")).to_have_text("€25.00")
    fill_card(page, CARD_OK)
    page.locator("#pay-button").click()
    expect_success_page(page, "€25.00")
    payment = link.payments.get()
    assert payment.status == "succeeded"

    # "Return to the shop" takes them to success_url, naming the payment.
    back = page.locator("#return-to-shop")
    expect(back).to_have_text("Return to the shop")
    back.click()
    page.wait_for_url(f"{shop_site.success_url}?**")
    assert page.url.startswith(shop_site.success_url + "?")
    assert f"vpos_payment={payment.public_id}" in page.url
    expect(page.locator("body")).to_have_text("thanks")
    assert any(f"vpos_payment={payment.public_id}" in path for path in shop_site.visits)
    assert page.errors == []

    # The shop's webhook receiver got exactly one signed payment.succeeded.
    assert wait_for(lambda: len(shop_site.hooks) >= 1), "no webhook within 10 s"
    time.sleep(0.5)  # a duplicate would show up here
    assert len(shop_site.hooks) == 1
    hook = shop_site.hooks[0]
    assert hook.json["type"] == "payment.succeeded"
    assert verify(secret, hook.headers["Vpos-Signature"], hook.body)
    assert not verify("whsec_wrong", hook.headers["Vpos-Signature"], hook.body)
    assert hook.json["data"]["payment"]["id"] == str(payment.public_id)
    assert hook.json["data"]["payment"]["link"] == link.pk
    assert endpoint.deliveries.filter(status="succeeded").count() == 1
