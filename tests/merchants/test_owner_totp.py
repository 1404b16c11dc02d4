"""Owners set up two-factor authentication before reaching their shop (OWNERS_REQUIRE_TOTP, on in
production): they can change payout keys, refund and create API keys. Staff may opt in."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _required(settings):
    settings.OWNERS_REQUIRE_TOTP = True


def shop_url(shop, name: str = "links:dashboard") -> str:
    return reverse(name, args=[shop.merchant.public_id])


@pytest.mark.parametrize("name", ["links:dashboard", "links:payments", "merchants:settings"])
def test_an_owner_without_totp_is_sent_to_set_it_up_first(shop, owner_client, name):
    response = owner_client.get(shop_url(shop, name))

    assert response.status_code == 302
    assert response.url == shop_url(shop, "merchants:totp_required")
    page = owner_client.get(response.url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Protect your shop with two-factor authentication" in page.text
    assert "refund payments and create API keys" in page.text
    assert reverse("mfa_activate_totp") in page.text


def test_the_explanation_is_in_italian_too(shop, owner_client):
    page = owner_client.get(shop_url(shop, "merchants:totp_required"), HTTP_ACCEPT_LANGUAGE="it")

    assert "autenticazione a due fattori" in page.text


def test_an_owner_with_totp_reaches_the_shop(shop, owner_client):
    TOTP.activate(shop.owner.user, generate_totp_secret())

    assert owner_client.get(shop_url(shop)).status_code == 200
    again = owner_client.get(shop_url(shop, "merchants:totp_required"))
    assert again.status_code == 302
    assert again.url == shop_url(shop)


def test_staff_are_not_required_to(shop, staff_client):
    assert staff_client.get(shop_url(shop)).status_code == 200
    page = staff_client.get(shop_url(shop, "merchants:totp_required"))
    assert page.status_code == 302
    assert page.url == shop_url(shop)


def test_another_shops_member_gets_404(shop, outsider_client):
    assert outsider_client.get(shop_url(shop, "merchants:totp_required")).status_code == 404
    assert outsider_client.get(shop_url(shop)).status_code == 404


def test_off_unless_configured(shop, owner_client, settings):
    settings.OWNERS_REQUIRE_TOTP = False

    assert owner_client.get(shop_url(shop)).status_code == 200
