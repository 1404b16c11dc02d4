"""Concurrency: exactly one successful payment per single-use link, whatever the race.

Real threads, each with its own connection, and real localstripe; row locks on PostgreSQL (CI),
IMMEDIATE transactions on the embedded SQLite default, where the same races must neither pay
twice nor fail with "database is locked".
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from links.models import LinkStatus, Payment, PaymentEvent, PaymentLink, PaymentStatus, StripeEvent
from links.payments import (
    CheckoutError,
    checkout_attempt,
    payment_apply,
    payment_refresh,
    payments_reconcile,
)
from links.providers import PaymentState, ProviderPayment, provider_for
from links.providers.stripe import StripeProvider
from merchants.models import Merchant
from receipts import tasks as receipt_tasks
from receipts.models import Receipt
from tests.support.concurrency import run_concurrently
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method, event_body, post_webhook, sign
from vpos.models import OutboxEmail

pytestmark = [
    pytest.mark.django_db(transaction=True),
]

WEBHOOK = reverse("links:stripe_webhook")


@pytest.fixture
def followups():
    with mock.patch.object(receipt_tasks.payment_followups, "delay") as delay:
        yield delay


@pytest.fixture
def link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.merchant, amount=4200)


def age(payment: Payment) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(minutes=5))


def webhook_job(pi_id: str, secret: str, *, event_id: str | None = None) -> Callable[[], int]:
    body = event_body(pi_id, event_id=event_id)

    def job() -> int:
        return post_webhook(Client(), WEBHOOK, body, sign(body, secret)).status_code

    return job


def test_browser_webhook_and_reconciliation_racing_finalize_once(
    link, paid_intent, stripe_settings, followups
):
    payment, pi = paid_intent(link)
    age(payment)  # old enough for reconciliation to pick it up
    secret = stripe_settings.STRIPE_WEBHOOK_SECRET

    def browser() -> Payment:
        return payment_refresh(payment=Payment.objects.get(pk=payment.pk), source="browser")

    def apply_directly() -> Payment:
        current = provider_for(link.merchant).retrieve_payment(pi.id)
        return payment_apply(payment_id=payment.pk, provider_payment=current, source="checkout")

    # Two browser returns, two distinct webhook events, two reconciliation runs, two direct calls.
    jobs = {
        "browser 1": browser,
        "browser 2": browser,
        "webhook 1": webhook_job(pi.id, secret),
        "webhook 2": webhook_job(pi.id, secret),
        "reconcile 1": payments_reconcile,
        "reconcile 2": payments_reconcile,
        "apply 1": apply_directly,
        "apply 2": apply_directly,
    }
    results = dict(zip(jobs, run_concurrently(list(jobs.values())), strict=True))

    assert not [name for name, r in results.items() if isinstance(r, Exception)], results
    assert (results["webhook 1"], results["webhook 2"]) == (200, 200)
    assert StripeEvent.objects.count() == 2
    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.flag == ""
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert followups.call_count == 1


def test_two_successful_payments_racing_on_a_single_use_link(link, paid_intent, followups):
    """Both charges are recorded; exactly one pays the link, the other is flagged for refund."""
    first, _ = paid_intent(link)
    second, _ = paid_intent(link)

    def finalize(payment: Payment) -> Callable[[], Payment]:
        return lambda: payment_refresh(payment=Payment.objects.get(pk=payment.pk), source="webhook")

    results = run_concurrently([finalize(first), finalize(second)] * 3)

    assert not [r for r in results if isinstance(r, Exception)]
    link.refresh_from_db()
    payments = list(Payment.objects.filter(link=link))
    assert {p.status for p in payments} == {PaymentStatus.SUCCEEDED}
    assert sorted(p.flag for p in payments) == ["", Payment.Flag.LINK_NOT_PAYABLE]
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert PaymentEvent.objects.filter(payment__link=link, kind="succeeded").count() == 2
    assert followups.call_count == 2  # the shop hears of both: one to refund


def test_a_webhook_replayed_five_times_at_once_acts_once(
    link, paid_intent, stripe_settings, followups
):
    payment, pi = paid_intent(link)
    job = webhook_job(pi.id, stripe_settings.STRIPE_WEBHOOK_SECRET, event_id="evt_storm")

    results = run_concurrently([job] * 5)

    assert results == [200] * 5
    assert StripeEvent.objects.filter(event_id="evt_storm").count() == 1
    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert followups.call_count == 1


@pytest.mark.parametrize("round_", range(3))
def test_two_customers_paying_a_single_use_link_at_once_are_charged_once(
    link, stripe_api, followups, round_
):
    cards = [card_payment_method(stripe_api) for _ in range(2)]

    def customer(index: int) -> Callable[[], Any]:
        return lambda: checkout_attempt(
            link=PaymentLink.objects.get(pk=link.pk),
            payment_method=cards[index],
            attempt_key=secrets.token_urlsafe(24),
            browser_key=secrets.token_hex(16),
            customer_email=f"customer{index}@example.com",
        )

    results = run_concurrently([customer(0), customer(1)])

    refused = [r for r in results if isinstance(r, CheckoutError)]
    paid = [r for r in results if not isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert refused[0].code in ("in_progress", "link_paid")
    assert len(paid) == 1
    assert paid[0].payment.status == PaymentStatus.SUCCEEDED
    charged = [
        pi
        for pi in stripe_api.v1.payment_intents.list({"limit": 100}).data
        if pi.status == "succeeded"
    ]
    assert len(charged) == 1
    assert charged[0].amount == link.amount
    link.refresh_from_db()
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert Payment.objects.filter(link=link, status=PaymentStatus.SUCCEEDED).count() == 1


@pytest.mark.parametrize(
    ("bank_says", "status"),
    [
        (PaymentState.SUCCEEDED, PaymentStatus.SUCCEEDED),
        (PaymentState.NEEDS_PAYMENT_METHOD, PaymentStatus.FAILED),
    ],
)
def test_a_debits_outcome_racing_browser_webhook_and_reconciliation_lands_once(
    link, stripe_settings, bank_says, status
):
    """A SEPA debit processing for days: the bank's answer reaches vpos through the customer's
    browser, Stripe's webhook and reconciliation at once. One outcome, one receipt or one pair of
    refusal emails, whichever way it went."""
    payment = Payment.objects.create(
        merchant=link.merchant,
        link=link,
        attempt_key=secrets.token_urlsafe(24),
        amount=link.amount,
        currency=link.currency,
        status=PaymentStatus.PROCESSING,
        provider_id="pi_debit_race",
        method="sepa_debit",
        customer_email="giulia@example.com",
    )
    age(payment)

    def bank(self, payment_id: str) -> ProviderPayment:
        return ProviderPayment(
            id=payment_id,
            state=bank_says,
            amount=link.amount,
            currency=link.currency,
            method="sepa_debit",
            card_last4="3456",
            failure_code="" if bank_says == PaymentState.SUCCEEDED else "insufficient_funds",
        )

    def browser() -> Payment:
        return payment_refresh(payment=Payment.objects.get(pk=payment.pk), source="browser")

    secret = stripe_settings.STRIPE_WEBHOOK_SECRET
    jobs = [
        browser,
        browser,
        webhook_job("pi_debit_race", secret),
        webhook_job("pi_debit_race", secret),
        payments_reconcile,
        payments_reconcile,
    ]
    with mock.patch.object(StripeProvider, "retrieve_payment", bank):
        results = run_concurrently(jobs)

    assert not [r for r in results if isinstance(r, Exception)], results
    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == status
    outcome = "succeeded" if status == PaymentStatus.SUCCEEDED else "failed"
    assert PaymentEvent.objects.filter(payment=payment, kind=outcome).count() == 1
    if status == PaymentStatus.SUCCEEDED:
        assert Receipt.objects.filter(payment=payment).count() == 1
        assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    else:
        assert OutboxEmail.objects.filter(kind="debit_failed").count() == 2  # customer, owner
        assert (link.status, link.payments_count) == (LinkStatus.ACTIVE, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_a_payment_goes_through_while_the_shops_details_are_being_saved(
    link, stripe_api, followups
):
    """The reservation locks the link's row only: a transaction updating the shop's row (the
    owner saving the shop's details) neither blocks a customer's payment nor can deadlock with
    it."""
    held, release = threading.Event(), threading.Event()
    waited_out: list[bool] = []

    def owner_saving() -> None:
        try:
            with transaction.atomic():
                # What an UPDATE of the shop's row takes (FOR NO KEY UPDATE).
                Merchant.objects.select_for_update(no_key=True).get(pk=link.merchant_id)
                held.set()
                waited_out.append(not release.wait(timeout=30))
        finally:
            connection.close()

    owner = threading.Thread(target=owner_saving)
    owner.start()
    assert held.wait(timeout=10)
    try:
        result = checkout_attempt(
            link=PaymentLink.objects.get(pk=link.pk),
            payment_method=card_payment_method(stripe_api),
            attempt_key=secrets.token_urlsafe(24),
            customer_email="customer@example.com",
        )
    finally:
        release.set()
        owner.join(timeout=60)

    assert waited_out == [False], "the payment waited for the shop's row lock"
    assert result.payment.status == PaymentStatus.SUCCEEDED
