"""Receipt numbers: YYYY-NNNNNN per shop and year, no gaps, no duplicates, one per payment."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from unittest import mock

import pytest

from links.models import Payment, PaymentStatus
from links.payments import payment_apply
from links.providers import PaymentState, ProviderPayment
from receipts.models import Receipt
from receipts.services import receipt_issue
from tests.support.documents import finalize
from tests.support.factories import MerchantFactory, PaymentLinkFactory


def numbers(merchant) -> list[str]:
    return list(
        Receipt.objects.filter(merchant=merchant)
        .order_by("year", "sequence")
        .values_list("number", flat=True)
    )


def test_number_is_the_year_and_a_six_digit_sequence(link):
    payment = finalize(link, at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))

    assert re.fullmatch(r"\d{4}-\d{6}", payment.receipt.number)
    assert payment.receipt.number == "2026-000001"
    assert str(payment.receipt) == "2026-000001"
    assert payment.receipt.filename == "receipt-2026-000001.pdf"


def test_consecutive_payments_of_a_shop_are_numbered_without_gaps(shop):
    at = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    for _ in range(3):
        finalize(PaymentLinkFactory(merchant=shop.merchant), at=at)

    assert numbers(shop.merchant) == ["2026-000001", "2026-000002", "2026-000003"]


def test_two_shops_number_independently(shop):
    other = MerchantFactory()
    at = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    for merchant in (shop.merchant, other, shop.merchant, other, other):
        finalize(PaymentLinkFactory(merchant=merchant), at=at)

    assert numbers(shop.merchant) == ["2026-000001", "2026-000002"]
    assert numbers(other) == ["2026-000001", "2026-000002", "2026-000003"]


def test_the_year_is_the_shops_local_year_and_a_new_year_starts_at_one(shop):
    assert shop.merchant.time_zone == "Europe/Rome"
    finalize(PaymentLinkFactory(merchant=shop.merchant), at=datetime(2026, 6, 1, 12, tzinfo=UTC))
    # 23:30 in Rome: still 2026 there.
    finalize(
        PaymentLinkFactory(merchant=shop.merchant), at=datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    )
    # 23:30 UTC is 00:30 on 1 January in Rome.
    new_year = finalize(
        PaymentLinkFactory(merchant=shop.merchant), at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    )
    finalize(PaymentLinkFactory(merchant=shop.merchant), at=datetime(2027, 1, 2, 8, tzinfo=UTC))

    assert new_year.receipt.number == "2027-000001"
    assert numbers(shop.merchant) == ["2026-000001", "2026-000002", "2027-000001", "2027-000002"]


def test_a_shop_west_of_greenwich_is_still_in_the_old_year(shop):
    merchant = MerchantFactory(time_zone="America/New_York")

    payment = finalize(
        PaymentLinkFactory(merchant=merchant), at=datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    )

    assert payment.receipt.number == "2026-000001"


def test_a_finalization_that_rolls_back_frees_its_number(shop):
    at = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    first = finalize(PaymentLinkFactory(merchant=shop.merchant), at=at)
    unlucky_link = PaymentLinkFactory(merchant=shop.merchant)

    # The receipt is issued, then the finalization fails before committing.
    with (
        mock.patch("receipts.subscribers.record", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        finalize(unlucky_link, at=at)

    unlucky = Payment.objects.get(link=unlucky_link)
    assert unlucky.status == PaymentStatus.PENDING  # nothing of the finalization was kept
    assert not Receipt.objects.filter(payment=unlucky).exists()
    next_one = finalize(PaymentLinkFactory(merchant=shop.merchant), at=at)
    assert (first.receipt.number, next_one.receipt.number) == ("2026-000001", "2026-000002")

    # When the unlucky payment is settled again, it takes the next number: still no gap.
    settled = payment_apply(
        payment_id=unlucky.pk,
        provider_payment=ProviderPayment(
            id=unlucky.provider_id,
            state=PaymentState.SUCCEEDED,
            amount=unlucky.amount,
            currency="EUR",
        ),
        source="reconciliation",
    )
    assert settled.receipt.number == "2026-000003"
    assert numbers(shop.merchant) == ["2026-000001", "2026-000002", "2026-000003"]


def test_finalizing_the_same_payment_again_issues_no_second_receipt(link):
    payment = finalize(link, at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    paid = ProviderPayment(
        id=payment.provider_id, state=PaymentState.SUCCEEDED, amount=payment.amount, currency="EUR"
    )

    for source in ("webhook", "browser", "reconciliation"):
        again = payment_apply(payment_id=payment.pk, provider_payment=paid, source=source)
        assert again.receipt.number == "2026-000001"
    assert receipt_issue(payment=payment, at=datetime(2026, 5, 5, tzinfo=UTC)) == payment.receipt

    assert numbers(link.merchant) == ["2026-000001"]
    next_payment = finalize(
        PaymentLinkFactory(merchant=link.merchant), at=datetime(2026, 5, 6, tzinfo=UTC)
    )
    assert next_payment.receipt.number == "2026-000002"
