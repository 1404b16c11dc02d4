"""Which payment methods a shop's links offer (owner, payment account page), how a link narrows
them (link form; the API's field: tests/integrations/test_link_payment_methods.py), and the Apple
Pay domain registration."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from links.models import PaymentLink
from merchants.models import Merchant
from tests.support.factories import PaymentLinkFactory
from vpos.audit import Action
from vpos.models import AuditEntry

pytestmark = pytest.mark.django_db


def account_url(shop) -> str:
    return reverse("links:payment_account", args=[shop.merchant.public_id])


def create_url(shop) -> str:
    return reverse("links:create", args=[shop.merchant.public_id])


def link_data(*methods: str) -> dict:
    return {
        "amount": "19,99",
        "currency": "EUR",
        "description": "Cena per due",
        "language": "it",
        "kind": "single",
        "expiry": "none",
        "payment_methods": list(methods),
    }


def methods_of(shop) -> list[str]:
    return Merchant.objects.get(pk=shop.merchant.pk).payment_methods


# --- The shop's methods ------------------------------------------------------------------------


def test_owner_chooses_the_methods_and_it_is_audited(client_as, shop):
    response = client_as("owner").post(
        account_url(shop),
        {"action": "methods", "payment_methods": ["paypal", "card"]},
        follow=True,
    )

    assert "Payment methods saved." in response.text
    assert methods_of(shop) == ["card", "paypal"]  # in the list's order
    entry = AuditEntry.objects.get(merchant=shop.merchant, action=Action.SETTINGS_CHANGED)
    assert "payment_methods" in entry.summary


def test_none_ticked_is_every_method_enabled_in_stripe(client_as, shop):
    shop.merchant.payment_methods = ["card"]
    shop.merchant.save()

    client_as("owner").post(account_url(shop), {"action": "methods"})

    assert methods_of(shop) == []


def test_an_unknown_method_is_refused_and_nothing_changes(client_as, shop):
    response = client_as("owner").post(
        account_url(shop), {"action": "methods", "payment_methods": ["card", "bitcoin"]}
    )

    assert response.status_code == 400
    assert "bitcoin is not one of the available choices" in response.text
    assert methods_of(shop) == []


@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_staff_and_outsiders_cannot_change_the_methods(client_as, shop, actor, status):
    response = client_as(actor).post(
        account_url(shop), {"action": "methods", "payment_methods": ["card"]}
    )

    assert response.status_code == status
    assert methods_of(shop) == []


# --- A link narrows them ---------------------------------------------------------------------


def test_a_link_can_be_card_only(client_as, shop):
    response = client_as("staff").post(create_url(shop), link_data("card"))

    assert response.status_code == 302
    assert PaymentLink.objects.get().payment_methods == ["card"]


def test_a_link_cannot_offer_what_the_shop_does_not(client_as, shop):
    shop.merchant.payment_methods = ["card", "sepa_debit"]
    shop.merchant.save()

    response = client_as("staff").post(create_url(shop), link_data("card", "paypal"))

    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["payment_methods"])
    assert "The shop does not offer PayPal" in errors
    assert "The shop does not offer PayPal" in response.text
    assert not PaymentLink.objects.exists()


def test_duplicating_a_card_only_link_keeps_it_card_only(client_as, shop):
    source = PaymentLinkFactory(merchant=shop.merchant, payment_methods=["card"])

    response = client_as("staff").get(create_url(shop) + f"?from={source.pk}")

    assert response.context["form"]["payment_methods"].value() == ["card"]
    ticked = re.findall(
        r'<input type="checkbox" name="payment_methods" value="(\w+)"[^>]* checked', response.text
    )
    assert ticked == ["card"]


def test_a_link_without_methods_offers_the_shops(client_as, shop):
    client_as("staff").post(create_url(shop), link_data())

    assert PaymentLink.objects.get().payment_methods == []


# --- Apple Pay: the checkout's domain --------------------------------------------------------


def test_owner_registers_the_checkout_domain_with_stripe(client_as, shop, stripe_stub):
    response = client_as("owner").post(
        account_url(shop), {"action": "register_domain", "domain_name": "evil.example"}, follow=True
    )

    assert "testserver is registered with Stripe" in response.text
    (sent,) = stripe_stub.sent("POST", "/v1/payment_method_domains")
    assert sent.params == {"domain_name": "testserver"}  # SITE_URL's, never the browser's
    entry = AuditEntry.objects.get(merchant=shop.merchant, action=Action.SETTINGS_CHANGED)
    assert entry.summary == "testserver"


def test_a_refused_registration_says_so_and_breaks_nothing(client_as, shop, stripe_stub):
    stripe_stub.domain_answer = 404  # what localstripe answers: it has no such API

    response = client_as("owner").post(
        account_url(shop), {"action": "register_domain"}, follow=True
    )

    assert response.status_code == 200
    assert "Stripe did not register testserver" in response.text
    assert not AuditEntry.objects.filter(merchant=shop.merchant).exists()


def test_offline_localstripe_cannot_register_a_domain(client_as, shop, stripe_settings):
    response = client_as("owner").post(
        account_url(shop), {"action": "register_domain"}, follow=True
    )

    assert response.status_code == 200
    assert "offline test mode cannot register domains" in response.text


@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_staff_and_outsiders_cannot_register_domains(client_as, shop, stripe_stub, actor, status):
    response = client_as(actor).post(account_url(shop), {"action": "register_domain"})

    assert response.status_code == status
    assert stripe_stub.requests == []
