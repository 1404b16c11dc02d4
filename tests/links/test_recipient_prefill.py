"""A link sent by email knows who it was sent to: the pay page prefills the address (editable),
and the confirmation goes there when the customer leaves the field empty."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from links.notifications import link_send_email
from links.recipients import recipient_from, recipient_token
from links.views.public_checkout import run_attempt
from tests.support.factories import PaymentLinkFactory

pytestmark = pytest.mark.django_db


def emailed_url(link, to: str) -> str:
    email = link_send_email(link=link, to=to)
    return re.search(r"http://testserver(/pay/\S+)", email.body_text).group(1)


def email_field(response) -> str:
    return re.search(r'id="checkout-email" name="email" value="([^"]*)"', response.text).group(1)


def test_each_recipient_sees_their_own_address_never_anothers(client, shop, stripe_settings):
    link = PaymentLinkFactory(merchant=shop.merchant, kind="reusable")
    plain = client.get(reverse("links:checkout", args=[link.token]))  # cached for everyone

    anna = client.get(emailed_url(link, "anna@example.com"))
    bruno = client.get(emailed_url(link, "bruno@example.com"))
    again = client.get(reverse("links:checkout", args=[link.token]))

    assert email_field(plain) == ""
    assert email_field(anna) == "anna@example.com"
    assert email_field(bruno) == "bruno@example.com"
    assert email_field(again) == ""  # the personal pages never went into the shared cache


def test_a_tampered_or_foreign_recipient_is_ignored(client, shop, stripe_settings):
    link = PaymentLinkFactory(merchant=shop.merchant)
    other = PaymentLinkFactory(merchant=shop.merchant)
    url = reverse("links:checkout", args=[link.token])

    tampered = client.get(url + "?for=" + recipient_token(link, "anna@example.com")[:-2] + "xx")
    foreign = client.get(url + "?for=" + recipient_token(other, "anna@example.com"))

    assert tampered.status_code == foreign.status_code == 200
    assert email_field(tampered) == email_field(foreign) == ""
    assert recipient_from("x" * 5000, link) == ""


def test_an_empty_field_sends_the_confirmation_to_the_recipient(rf, shop, monkeypatch):
    link = PaymentLinkFactory(merchant=shop.merchant)
    seen = {}

    def attempt(**kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr("links.payments.checkout_attempt", attempt)
    request = rf.post(
        "/",
        {
            "payment_method": "pm_card_visa",
            "attempt_key": "k" * 24,
            "email": "",
            "recipient": recipient_token(link, "anna@example.com"),
        },
    )
    with pytest.raises(RuntimeError):
        run_attempt(request, link, lambda payment: ("", ""))

    assert seen["customer_email"] == "anna@example.com"
