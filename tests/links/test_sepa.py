"""SEPA Direct Debit, offline, and the asynchronous `processing` state it brings: the link is
reserved while the bank decides, success issues the receipt once, a refusal days later tells the
customer (with the link to pay again) and the shop, and the method shows wherever a card did."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from links.models import LinkKind, LinkStatus, Payment, PaymentEvent, PaymentLink, PaymentStatus
from links.payments import (
    CheckoutError,
    checkout_attempt,
    payment_apply,
    payment_refresh,
    payments_reconcile,
)
from links.providers import PaymentState, ProviderPayment
from links.providers.stripe import StripeProvider
from links.refunds import refund_create
from receipts.models import Receipt
from tests.support.api import ApiClient
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import (
    IBAN_OK,
    IBAN_REFUSED,
    card_payment_method,
    sepa_payment_method,
)
from vpos.models import OutboxEmail


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant, amount=15000, description="Retta di dicembre", language="en"
    )


def attempt(link: PaymentLink, payment_method: str, method: str = "sepa_debit") -> Payment:
    return checkout_attempt(
        link=link,
        payment_method=payment_method,
        attempt_key=secrets.token_urlsafe(24),
        customer_email="giulia@example.com",
        customer_name="Giulia Bianchi",
        method=method,
    ).payment


def answer(payment: Payment, state: PaymentState, **fields) -> ProviderPayment:
    """What Stripe would say of the payment now (the bank's answer arrives days later)."""
    return ProviderPayment(
        id=payment.provider_id,
        state=state,
        amount=payment.amount,
        currency=payment.currency,
        method="sepa_debit",
        card_last4="3001",
        **fields,
    )


def processing(link: PaymentLink, stripe_api) -> Payment:
    """A debit localstripe will refuse: processing at confirmation."""
    payment = attempt(link, sepa_payment_method(stripe_api, IBAN_REFUSED))
    assert payment.status == PaymentStatus.PROCESSING
    return payment


def test_a_debit_from_a_good_account_is_paid_with_its_method_and_last_digits(
    link, stripe_api, django_capture_on_commit_callbacks, client_as
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = attempt(link, sepa_payment_method(stripe_api, IBAN_OK))

    payment.refresh_from_db()
    assert (payment.status, payment.method, payment.card_last4) == (
        PaymentStatus.SUCCEEDED,
        "sepa_debit",
        "3456",
    )
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.snapshot["method"] == "sepa_debit"
    page = client_as("staff").get(
        reverse("links:payment_detail", args=[link.merchant.public_id, payment.public_id])
    )
    assert "SEPA Direct Debit ···· 3456" in page.content.decode()
    (confirmation,) = [m for m in mail.outbox if m.to == ["giulia@example.com"]]
    assert "SEPA Direct Debit •••• 3456" in confirmation.body
    assert "Bank account" in confirmation.body


def test_a_processing_debit_reserves_a_single_use_link_and_says_so(link, stripe_api, client):
    payment = processing(link, stripe_api)

    page = client.get(reverse("links:checkout", args=[link.token]) + "?lang=en")
    assert "A payment for this link is being confirmed" in page.content.decode()
    assert 'id="checkout-form"' not in page.content.decode()
    result = client.get(reverse("links:result", args=[link.token, payment.public_id]) + "?lang=en")
    assert "Your bank will confirm the payment" in result.content.decode()
    assert "We will email giulia@example.com when it is confirmed" in result.content.decode()

    with (
        translation.override("en"),
        pytest.raises(CheckoutError, match="being confirmed by the bank") as refused,
    ):
        attempt(link, card_payment_method(stripe_api), method="card")
    assert refused.value.code == "in_progress"
    assert Payment.objects.filter(link=link).count() == 1


def test_a_debit_refused_later_tells_the_customer_and_the_shop_and_reopens_the_link(
    link, stripe_api, client, django_capture_on_commit_callbacks, shop
):
    payment = processing(link, stripe_api)
    client.get(reverse("links:checkout", args=[link.token]))  # the "being confirmed" page, cached
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        payment_apply(
            payment_id=payment.pk,
            provider_payment=answer(payment, PaymentState.NEEDS_PAYMENT_METHOD),
            source="webhook",
        )
        # The same news again (a retried webhook, reconciliation): nothing more is sent.
        payment_apply(
            payment_id=payment.pk,
            provider_payment=answer(payment, PaymentState.NEEDS_PAYMENT_METHOD),
            source="reconciliation",
        )

    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert link.status == LinkStatus.ACTIVE
    (customer,) = [m for m in mail.outbox if m.to == ["giulia@example.com"]]
    assert "your account was not debited" in customer.body
    assert link.public_url in customer.body
    (shop_email,) = [m for m in mail.outbox if m.to == [shop.owner.user.email]]
    assert str(payment.public_id) in shop_email.body
    assert OutboxEmail.objects.filter(kind="debit_failed").count() == 2
    assert (
        'id="checkout-form"'
        in client.get(reverse("links:checkout", args=[link.token])).content.decode()
    )
    result = client.get(reverse("links:result", args=[link.token, payment.public_id]) + "?lang=en")
    assert "Your account was not debited." in result.content.decode()
    assert "charged to your card" not in result.content.decode()


def test_a_debit_confirmed_later_issues_the_receipt_once(
    link, stripe_api, django_capture_on_commit_callbacks
):
    payment = processing(link, stripe_api)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        for source in ("webhook", "browser", "reconciliation"):
            payment_apply(
                payment_id=payment.pk,
                provider_payment=answer(payment, PaymentState.SUCCEEDED),
                source=source,
            )

    payment.refresh_from_db()
    link.refresh_from_db()
    assert (payment.status, link.status) == (PaymentStatus.SUCCEEDED, LinkStatus.PAID)
    assert Receipt.objects.filter(payment=payment).count() == 1
    assert len([m for m in mail.outbox if m.to == ["giulia@example.com"]]) == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert OutboxEmail.objects.filter(kind="debit_failed").count() == 0


def test_localstripe_refuses_the_debit_after_processing(link, stripe_api):
    """What the tests above feed by hand, localstripe does by itself about half a second later:
    the test waits for that outcome (bounded), whatever the delay."""
    payment = processing(link, stripe_api)

    for _ in range(200):
        payment = payment_refresh(payment=payment, source="browser")
        if payment.status != PaymentStatus.PROCESSING:
            break
        time.sleep(0.05)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"


def test_a_link_narrowed_to_cards_offers_no_debit(link, client, stripe_api):
    page = client.get(reverse("links:checkout", args=[link.token])).content.decode()
    assert 'id="method-sepa"' in page  # every method: card and SEPA offline
    assert 'id="sepa-iban"' in page
    iban_input = page[page.index('id="sepa-iban"') - 200 : page.index('id="sepa-iban"') + 300]
    assert "name=" not in iban_input.split("<input", 1)[1].split(">", 1)[0]  # never posted

    link.payment_methods = ["card"]
    link.save()
    setup = reverse("links:setup", args=[link.token])
    narrowed = client.get(reverse("links:checkout", args=[link.token]) + "?lang=en")
    assert 'id="method-sepa"' not in narrowed.content.decode()
    refused = client.post(setup, {"method": "sepa_debit"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "bad_method"
    with pytest.raises(CheckoutError) as error:
        attempt(link, sepa_payment_method(stripe_api))
    assert error.value.code == "bad_method"
    assert client.post(setup, {"method": "card"}).status_code == 200
    assert client.post(setup, {"method": "paypal"}).status_code == 400


def test_a_debited_payment_is_refunded_like_a_card(
    link, stripe_api, shop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = attempt(link, sepa_payment_method(stripe_api, IBAN_OK))
        refund = refund_create(
            payment=payment, amount=5000, reason="Un giorno di assenza", actor=shop.owner.user
        )
    payment.refresh_from_db()
    assert (refund.status, payment.refunded_amount) == ("succeeded", 5000)
    assert [
        r.amount for r in stripe_api.v1.refunds.list({"payment_intent": payment.provider_id}).data
    ] == [5000]


def test_reconciliation_checks_long_debits_without_starving_the_others(link, shop):
    """Debits still clearing go to the back of the queue once checked."""
    old = timezone.now() - timedelta(hours=1)
    debits = [
        Payment.objects.create(
            merchant=shop.merchant,
            link=PaymentLinkFactory(merchant=shop.merchant, kind=LinkKind.REUSABLE),
            attempt_key=secrets.token_urlsafe(24),
            amount=100,
            currency="EUR",
            status=PaymentStatus.PROCESSING,
            provider_id=f"pi_debit_{n}",
            method="sepa_debit",
        )
        for n in range(3)
    ]
    Payment.objects.filter(pk__in=[d.pk for d in debits]).update(updated_at=old)

    def still_processing(self, payment_id: str) -> ProviderPayment:
        return ProviderPayment(
            id=payment_id,
            state=PaymentState.PROCESSING,
            amount=100,
            currency="EUR",
            method="sepa_debit",
        )

    with mock.patch.object(StripeProvider, "retrieve_payment", still_processing):
        assert payments_reconcile(limit=2) == 2
    checked = Payment.objects.filter(updated_at__gt=old).count()
    assert checked == 2
    with mock.patch.object(StripeProvider, "retrieve_payment", still_processing):
        payments_reconcile(limit=2)
    # The one left out the first time was among the next two checked.
    assert not Payment.objects.filter(updated_at=old).exists()


def test_the_payments_list_and_csv_name_the_method(
    link, stripe_api, client_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        attempt(link, sepa_payment_method(stripe_api, IBAN_OK))
        attempt(
            PaymentLinkFactory(merchant=link.merchant, amount=900, description="Quaderno"),
            card_payment_method(stripe_api),
            method="card",
        )
    client = client_as("staff")
    payments = reverse("links:payments", args=[link.merchant.public_id])
    debits = client.get(payments, {"method": "sepa_debit"}).content.decode()
    assert "Retta di dicembre" in debits
    assert "Quaderno" not in debits
    response = client.get(reverse("links:payments_csv", args=[link.merchant.public_id]))
    csv = b"".join(response.streaming_content).decode()
    rows = [line for line in csv.splitlines() if "Retta" in line or "Quaderno" in line]
    assert any(row.endswith("SEPA Direct Debit") for row in rows if "Retta" in row)
    assert any(row.endswith("Card") for row in rows if "Quaderno" in row)
    assert client.get(payments, {"method": "bitcoin"}).status_code == 400  # said, not a 500


def test_the_api_names_the_method(link, stripe_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        payment = attempt(link, sepa_payment_method(stripe_api, IBAN_OK))
    _, raw = api_key_create(
        merchant=link.merchant, name="Sito", scope=ApiKey.Scope.READ, actor=None
    )
    body = ApiClient(raw).get(f"/api/v1/payments/{payment.public_id}").json()
    assert (body["method"], body["card_last4"], body["status"]) == (
        "sepa_debit",
        "3456",
        "succeeded",
    )


def test_the_dashboard_shows_debits_being_confirmed(link, stripe_api, client_as):
    processing(link, stripe_api)

    page = client_as("owner").get(reverse("links:dashboard", args=[link.merchant.public_id]))

    figure = page.content.decode().split('id="being-confirmed"', 1)[1].split("</div>", 1)[0]
    assert "€150.00" in figure
    assert "1 payment awaits the customer's bank" in figure


def test_a_refused_debit_is_not_called_a_declined_card(link, stripe_api, client):
    payment = processing(link, stripe_api)
    payment_apply(
        payment_id=payment.pk,
        provider_payment=answer(payment, PaymentState.NEEDS_PAYMENT_METHOD, failure_code="x"),
        source="webhook",
    )

    result = client.get(reverse("links:result", args=[link.token, payment.public_id]) + "?lang=en")

    assert "your bank refused the debit" in result.content.decode()
    assert "card was declined" not in result.content.decode()


def test_reconciliation_lets_an_unfinished_3d_secure_attempt_age(link, shop):
    """Only debits go to the back of the queue: an abandoned authentication keeps its age, so
    another customer may pay a single-use link once ATTEMPT_HOLD has passed."""
    old = timezone.now() - timedelta(hours=1)
    payment = Payment.objects.create(
        merchant=shop.merchant,
        link=link,
        attempt_key=secrets.token_urlsafe(24),
        amount=100,
        currency="EUR",
        status=PaymentStatus.REQUIRES_ACTION,
        provider_id="pi_3ds_abandoned",
    )
    Payment.objects.filter(pk=payment.pk).update(updated_at=old)

    def still_waiting(self, payment_id: str) -> ProviderPayment:
        return ProviderPayment(
            id=payment_id, state=PaymentState.NEEDS_ACTION, amount=100, currency="EUR"
        )

    with mock.patch.object(StripeProvider, "retrieve_payment", still_waiting):
        payments_reconcile()
    payment.refresh_from_db()
    assert payment.updated_at == old
