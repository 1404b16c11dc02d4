"""Invoice numbers under concurrent finalizations and refunds: gapless, no duplicates, one invoice
per payment however many times its success is reported. Real threads, each with its own
connection (row locks on PostgreSQL in CI)."""

from __future__ import annotations

import secrets
from unittest import mock

import pytest

from links.models import Payment, Refund
from links.providers import ProviderRefund
from links.refunds import _refund_succeeded
from merchants.models import FiscalProfile
from receipts import tasks as receipt_tasks
from receipts.models import Invoice, InvoiceKind
from tests.receipts.test_concurrency import finalize_job
from tests.support.concurrency import run_concurrently
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from tests.support.invoices import BUSINESS, PERSON

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def followups():
    """The PDFs and emails after commit are not what these tests race."""
    with (
        mock.patch.object(receipt_tasks.payment_followups, "delay"),
        mock.patch.object(receipt_tasks.invoice_followups, "delay"),
        mock.patch.object(receipt_tasks.refund_followups, "delay"),
    ):
        yield


@pytest.fixture
def profile(shop) -> FiscalProfile:
    return FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")


def invoiced_payment(merchant, details=BUSINESS) -> Payment:
    return PaymentFactory(
        link=PaymentLinkFactory(merchant=merchant, amount=2500, vat_rate=22),
        provider_id=f"pi_test_{secrets.token_hex(12)}",
        invoice_details=details,
    )


def test_ten_invoiced_payments_finalized_at_once_are_numbered_1_to_10(shop, profile):
    payments = [invoiced_payment(shop.merchant, (BUSINESS, PERSON)[i % 2]) for i in range(10)]

    results = run_concurrently([finalize_job(payment) for payment in payments])

    assert not [r for r in results if isinstance(r, Exception)], results
    invoices = Invoice.objects.filter(merchant=shop.merchant)
    assert sorted(invoices.values_list("sequence", flat=True)) == list(range(1, 11))
    assert len(set(invoices.values_list("file_name", flat=True))) == 10
    assert invoices.filter(payment__in=payments).count() == 10


def test_one_payment_reported_paid_many_times_at_once_gets_one_invoice(shop, profile):
    payment = invoiced_payment(shop.merchant)
    other = invoiced_payment(shop.merchant)

    results = run_concurrently([finalize_job(payment)] * 5 + [finalize_job(other)] * 3)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Invoice.objects.filter(payment=payment).count() == 1
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2]


def test_refunds_settled_at_once_and_retried_get_gapless_credit_notes(shop, profile):
    payment = invoiced_payment(shop.merchant)
    run_concurrently([finalize_job(payment)])
    refunds = [
        Refund.objects.create(
            merchant=shop.merchant, payment=payment, amount=100 + i, currency="EUR"
        )
        for i in range(6)
    ]

    def settle(refund: Refund):
        answer = ProviderRefund(id=f"re_{refund.pk}", amount=refund.amount, succeeded=True)
        return lambda: _refund_succeeded(refund.pk, answer)

    # Each refund settled twice at the same time (a webhook and the request's own answer).
    results = run_concurrently([settle(refund) for refund in refunds for _ in range(2)])

    assert not [r for r in results if isinstance(r, Exception)], results
    notes = Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE)
    assert sorted(notes.values_list("sequence", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert sorted(notes.values_list("amount", flat=True)) == [100, 101, 102, 103, 104, 105]
    assert len(set(Invoice.objects.values_list("file_name", flat=True))) == 7
