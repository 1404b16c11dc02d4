"""Races on a held payment, in real threads against the database and localstripe: two people
capturing at once, a capture racing a release. Exactly one decision is carried out; the other
person is told why nothing happened."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from links.authorizations import payment_capture, payment_release
from links.models import LinkStatus, Payment, PaymentLink, PaymentStatus
from links.payments import checkout_attempt
from receipts import tasks as receipt_tasks
from receipts.models import Receipt
from tests.support.concurrency import run_concurrently
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def followups():
    with mock.patch.object(receipt_tasks.payment_followups, "delay") as delay:
        yield delay


@pytest.fixture
def held(shop, stripe_settings, stripe_api) -> Payment:
    link = PaymentLinkFactory(merchant=shop.merchant, amount=5000, authorize_only=True)
    return checkout_attempt(
        link=link,
        payment_method=card_payment_method(stripe_api),
        attempt_key=secrets.token_urlsafe(24),
    ).payment


def in_english(job: Callable[[], Payment]) -> Callable[[], Payment]:
    def run() -> Payment:
        with translation.override("en"):
            return job()

    return run


def fresh(payment: Payment) -> Payment:
    return Payment.objects.select_related("merchant").get(pk=payment.pk)


@pytest.mark.parametrize("round_", range(3))
def test_two_people_capturing_at_once_capture_once(held, shop, stripe_api, round_):
    results = run_concurrently(
        [
            in_english(
                lambda: payment_capture(payment=fresh(held), amount=3000, actor=shop.owner.user)
            ),
            in_english(
                lambda: payment_capture(payment=fresh(held), amount=2000, actor=shop.staff.user)
            ),
        ]
    )

    refused = [r for r in results if isinstance(r, ValidationError)]
    done = [r for r in results if isinstance(r, Payment)]
    assert (len(refused), len(done)) == (1, 1), results
    assert "already been captured" in refused[0].messages[0]
    held.refresh_from_db()
    assert held.status == PaymentStatus.SUCCEEDED
    assert held.amount == done[0].amount
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "succeeded"
    assert Receipt.objects.filter(payment=held).count() == 1
    link = PaymentLink.objects.get(pk=held.link_id)
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)


@pytest.mark.parametrize("round_", range(3))
def test_a_capture_racing_a_release_one_wins(held, shop, stripe_api, round_):
    results = run_concurrently(
        [
            in_english(lambda: payment_capture(payment=fresh(held), actor=shop.staff.user)),
            in_english(lambda: payment_release(payment=fresh(held), actor=shop.owner.user)),
        ]
    )

    refused = [r for r in results if isinstance(r, ValidationError)]
    done = [r for r in results if isinstance(r, Payment)]
    assert (len(refused), len(done)) == (1, 1), results
    held.refresh_from_db()
    at_stripe = stripe_api.v1.payment_intents.retrieve(held.provider_id).status
    if held.status == PaymentStatus.SUCCEEDED:
        assert at_stripe == "succeeded"
        assert "already been captured" in refused[0].messages[0]
        assert Receipt.objects.filter(payment=held).count() == 1
    else:
        assert held.status == PaymentStatus.CANCELED
        assert at_stripe == "canceled"
        assert "already been released" in refused[0].messages[0]
        assert not Receipt.objects.filter(payment=held).exists()
