"""Receipt numbers under concurrent finalizations: no gaps, no duplicates.

Real threads, each with its own connection: row locks on PostgreSQL (CI), IMMEDIATE transactions
on the embedded SQLite default (a test database file, see vpos/settings/test.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from unittest import mock

import pytest

from links.models import Payment, PaymentStatus
from links.payments import payment_apply
from links.providers import PaymentState, ProviderPayment
from receipts import tasks as receipt_tasks
from receipts.models import Receipt
from tests.support.concurrency import run_concurrently
from tests.support.factories import MerchantFactory, PaymentFactory, PaymentLinkFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def followups():
    """The PDF and emails after commit are not what these tests race."""
    with mock.patch.object(receipt_tasks.payment_followups, "delay") as delay:
        yield delay


def pending_payment(merchant) -> Payment:
    """A checkout on its own link whose PaymentIntent Stripe reports as succeeded."""
    return PaymentFactory(
        link=PaymentLinkFactory(merchant=merchant, amount=2500),
        provider_id=f"pi_test_{secrets.token_hex(12)}",
    )


def finalize_job(payment: Payment) -> Callable[[], Payment]:
    paid = ProviderPayment(
        id=payment.provider_id,
        state=PaymentState.SUCCEEDED,
        amount=payment.amount,
        currency=payment.currency,
        card_brand="visa",
        card_last4="4242",
    )
    return lambda: payment_apply(payment_id=payment.pk, provider_payment=paid, source="webhook")


def sequences(merchant) -> list[int]:
    return sorted(Receipt.objects.filter(merchant=merchant).values_list("sequence", flat=True))


def test_ten_payments_of_one_shop_finalized_at_once_get_numbers_1_to_10(shop):
    payments = [pending_payment(shop.merchant) for _ in range(10)]

    results = run_concurrently([finalize_job(p) for p in payments])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(r.status == PaymentStatus.SUCCEEDED for r in results)
    assert sequences(shop.merchant) == list(range(1, 11))
    numbers = list(Receipt.objects.filter(merchant=shop.merchant).values_list("number", flat=True))
    assert len(set(numbers)) == 10
    assert {n.split("-")[0] for n in numbers} == {str(Receipt.objects.first().year)}
    assert Receipt.objects.filter(payment__in=payments).count() == 10


def test_two_shops_finalizing_at_once_each_number_from_1(shop):
    other = MerchantFactory()
    jobs = []
    for _ in range(6):
        jobs.append(finalize_job(pending_payment(shop.merchant)))
        jobs.append(finalize_job(pending_payment(other)))

    results = run_concurrently(jobs)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sequences(shop.merchant) == [1, 2, 3, 4, 5, 6]
    assert sequences(other) == [1, 2, 3, 4, 5, 6]


def test_the_same_payment_finalized_by_many_at_once_gets_one_receipt(shop):
    payment = pending_payment(shop.merchant)
    other = pending_payment(shop.merchant)

    results = run_concurrently([finalize_job(payment)] * 5 + [finalize_job(other)] * 3)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Receipt.objects.filter(payment=payment).count() == 1
    assert sequences(shop.merchant) == [1, 2]
