"""Reconciliation: attempts left open (browser closed, webhook lost) are settled with Stripe."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from links import tasks
from links.models import LinkStatus, Payment, PaymentStatus
from links.payments import payments_reconcile
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from tests.support.stripe import CARD_3DS, CARD_DECLINED, complete_3ds


@pytest.fixture
def link(shop):
    return PaymentLinkFactory(merchant=shop.merchant, amount=3000)


def age(payment: Payment, minutes: float) -> None:
    """Pretend nothing happened to `payment` for `minutes`."""
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


@pytest.mark.parametrize(
    "left_as", [PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING]
)
def test_an_open_payment_that_succeeded_at_stripe_is_settled(link, paid_intent, left_as):
    payment, _ = paid_intent(link, status=left_as)
    age(payment, 3)

    assert payments_reconcile() == 1

    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.events.get(kind="succeeded").data["source"] == "reconciliation"
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert payments_reconcile() == 0  # nothing open any more


def test_3ds_completed_but_browser_closed_is_settled(link, paid_intent, stripe_settings):
    payment, pi = paid_intent(link, card=CARD_3DS, status=PaymentStatus.REQUIRES_ACTION)
    complete_3ds(
        stripe_settings.STRIPE_API_BASE, pi, publishable_key=stripe_settings.STRIPE_PUBLISHABLE_KEY
    )
    age(payment, 5)

    payments_reconcile()

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    link.refresh_from_db()
    assert link.status == LinkStatus.PAID


def test_3ds_failed_is_settled_as_failed_and_the_link_stays_payable(
    link, paid_intent, stripe_settings
):
    payment, pi = paid_intent(link, card=CARD_3DS, status=PaymentStatus.REQUIRES_ACTION)
    complete_3ds(
        stripe_settings.STRIPE_API_BASE,
        pi,
        publishable_key=stripe_settings.STRIPE_PUBLISHABLE_KEY,
        success=False,
    )
    age(payment, 5)

    payments_reconcile()

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE
    assert link.is_payable


def test_a_declined_payment_is_settled_as_failed(link, stripe_api, paid_intent):
    from tests.support.stripe import card_payment_method

    payment, _ = paid_intent(link)
    pi = stripe_api.v1.payment_intents.create(
        params={
            "amount": link.amount,
            "currency": "eur",
            "payment_method": card_payment_method(stripe_api, CARD_DECLINED),
            "payment_method_types": ["card"],
        }
    )
    with pytest.raises(stripe.CardError, match="declined"):
        stripe_api.v1.payment_intents.confirm(pi.id, {})
    Payment.objects.filter(pk=payment.pk).update(provider_id=pi.id)
    age(payment, 3)

    payments_reconcile()

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"


def test_recent_attempts_are_left_to_the_customer(link, paid_intent):
    payment, _ = paid_intent(link)
    age(payment, 1)  # the customer may still be on the page

    assert payments_reconcile() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_an_attempt_that_never_reached_stripe_is_canceled_after_30_minutes(link, stripe_settings):
    stale = PaymentFactory(link=link)
    young = PaymentFactory(link=link)
    age(stale, 31)
    age(young, 10)

    payments_reconcile()

    stale.refresh_from_db()
    young.refresh_from_db()
    assert stale.status == PaymentStatus.CANCELED
    assert young.status == PaymentStatus.PENDING
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


def test_stripe_unreachable_leaves_the_payment_open_without_raising(
    link, paid_intent, stripe_settings, localstripe
):
    payment, _ = paid_intent(link)
    age(payment, 3)
    stripe_settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    assert payments_reconcile() == 0

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.is_open

    # Stripe is back: the next run settles it.
    stripe_settings.STRIPE_API_BASE = localstripe
    age(payment, 3)
    assert payments_reconcile() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_finished_payments_are_not_touched(link, paid_intent):
    payment, _ = paid_intent(link, status=PaymentStatus.CANCELED)
    age(payment, 60)
    assert payments_reconcile() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED


def test_the_periodic_task_runs_reconciliation(link, paid_intent):
    payment, _ = paid_intent(link)
    age(payment, 3)

    assert tasks.payments_reconcile.delay().get() == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
