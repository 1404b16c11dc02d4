"""The link state machine, and what a successful payment does to a link in each state.

`payment_apply` is handed the provider's answer (a ProviderPayment) directly here, to set up each
state precisely; the same path with answers really fetched from localstripe is exercised in
test_webhooks.py, test_reconcile.py and test_concurrency.py.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone, translation

from links import tasks
from links.lifecycle import InvalidTransition, link_transition
from links.models import (
    EXPIRY_GRACE,
    LinkKind,
    LinkStatus,
    Payment,
    PaymentEvent,
    PaymentLink,
    PaymentStatus,
)
from links.payments import payment_apply
from links.providers import PaymentState, ProviderPayment
from links.services import links_expire_due
from receipts import tasks as receipt_tasks
from tests.support.factories import PaymentFactory, PaymentLinkFactory

TERMINAL = [LinkStatus.PAID, LinkStatus.COMPLETED, LinkStatus.EXPIRED, LinkStatus.DEACTIVATED]


def succeed(payment: Payment, *, amount: int | None = None, currency: str | None = None) -> Payment:
    """Apply what the provider answers for a PaymentIntent that succeeded."""
    answer = ProviderPayment(
        id=payment.provider_id,
        state=PaymentState.SUCCEEDED,
        amount=payment.amount if amount is None else amount,
        currency=currency or payment.currency,
        card_brand="visa",
        card_last4="4242",
    )
    return payment_apply(payment_id=payment.pk, provider_payment=answer, source="test")


def started(link: PaymentLink, *, minutes_ago: float = 0, **fields) -> Payment:
    """A payment attempt on `link` whose PaymentIntent was created `minutes_ago`."""
    payment = PaymentFactory(link=link, provider_id=f"pi_test_{secrets.token_hex(8)}", **fields)
    if minutes_ago:
        Payment.objects.filter(pk=payment.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        payment.refresh_from_db()
    return payment


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- Transitions ------------------------------------------------------------------------------


@pytest.mark.parametrize("to", TERMINAL)
def test_an_active_link_may_close_in_every_way(db, to):
    link = PaymentLinkFactory()
    link_transition(link, to)
    assert link.status == to
    assert link.closed_at is not None
    assert (link.paid_at is not None) == (to in (LinkStatus.PAID, LinkStatus.COMPLETED))


@pytest.mark.parametrize("to", [*TERMINAL, LinkStatus.ACTIVE])
@pytest.mark.parametrize("start", TERMINAL)
def test_a_closed_link_never_moves_again(db, start, to):
    link = PaymentLinkFactory(status=start)
    with pytest.raises(InvalidTransition):
        link_transition(link, to)
    assert link.status == start


def test_an_active_link_cannot_become_active_again(db):
    with pytest.raises(InvalidTransition):
        link_transition(PaymentLinkFactory(), LinkStatus.ACTIVE)


# --- Successful payments ----------------------------------------------------------------------


def test_single_use_link_is_paid_by_its_first_successful_payment(
    db, django_capture_on_commit_callbacks
):
    link = PaymentLinkFactory()
    payment = started(link)

    with (
        mock.patch.object(receipt_tasks.payment_followups, "delay") as followups,
        django_capture_on_commit_callbacks(execute=True),
    ):
        payment = succeed(payment)

    link = reload(link)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.flag == ""
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert payment.succeeded_at is not None
    assert link.status == LinkStatus.PAID
    assert link.payments_count == 1
    assert link.paid_at is not None
    assert list(payment.events.values_list("kind", flat=True)) == ["succeeded", "receipt_issued"]
    followups.assert_called_once_with(payment.pk)


def test_reusable_link_with_two_payments_completes_after_the_second(db):
    link = PaymentLinkFactory(kind=LinkKind.REUSABLE, max_payments=2)

    succeed(started(link))
    assert (reload(link).status, link.payments_count) == (LinkStatus.ACTIVE, 1)
    assert link.paid_at is not None  # shown as "last paid" while still open

    succeed(started(link))
    assert (reload(link).status, link.payments_count) == (LinkStatus.COMPLETED, 2)

    third = succeed(started(link))
    assert third.flag == Payment.Flag.LINK_NOT_PAYABLE
    assert third.status == PaymentStatus.SUCCEEDED  # recorded: money is never dropped
    assert (reload(link).status, link.payments_count) == (LinkStatus.COMPLETED, 2)


def test_reusable_link_without_a_limit_stays_open(db):
    link = PaymentLinkFactory(kind=LinkKind.REUSABLE, max_payments=None)
    for _ in range(3):
        succeed(started(link))
    assert (reload(link).status, link.payments_count) == (LinkStatus.ACTIVE, 3)


def test_payment_started_before_expiry_and_finished_within_grace_counts(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - timedelta(minutes=10))
    payment = started(link, minutes_ago=15)  # PaymentIntent created 5 minutes before expiry

    payment = succeed(payment)

    assert payment.flag == ""
    assert reload(link).status == LinkStatus.PAID


def test_payment_finished_after_the_grace_period_is_recorded_but_flagged(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - EXPIRY_GRACE - timedelta(minutes=1))
    payment = started(link, minutes_ago=EXPIRY_GRACE.total_seconds() / 60 + 5)

    payment = succeed(payment)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.flag == Payment.Flag.LINK_NOT_PAYABLE
    assert reload(link).status == LinkStatus.ACTIVE  # not advanced; the expiry task closes it
    assert link.payments_count == 0
    with translation.override("en"):  # whatever language an earlier test left active
        assert payment.get_flag_display() == "Paid after the link closed: refund it"


def test_payment_started_after_expiry_is_flagged_even_within_grace(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - timedelta(minutes=10))
    payment = started(link, minutes_ago=5)

    assert succeed(payment).flag == Payment.Flag.LINK_NOT_PAYABLE
    assert reload(link).payments_count == 0


def test_second_success_on_a_paid_single_use_link_is_recorded_and_flagged(db):
    link = PaymentLinkFactory()
    first, second = started(link), started(link)

    succeed(first)
    second = succeed(second)

    assert second.status == PaymentStatus.SUCCEEDED
    assert second.flag == Payment.Flag.LINK_NOT_PAYABLE
    assert reload(link).payments_count == 1
    assert link.status == LinkStatus.PAID
    assert PaymentEvent.objects.filter(
        payment=second, kind="succeeded", data__flag="link_not_payable"
    ).exists()


@pytest.mark.parametrize("status", [LinkStatus.DEACTIVATED, LinkStatus.EXPIRED])
def test_success_on_a_closed_link_is_recorded_and_flagged(db, status):
    link = PaymentLinkFactory(status=status)
    payment = succeed(started(link))
    assert payment.flag == Payment.Flag.LINK_NOT_PAYABLE
    assert reload(link).status == status


def test_amount_differing_from_the_link_is_flagged_and_does_not_pay_the_link(db):
    link = PaymentLinkFactory(amount=1999)
    payment = succeed(started(link), amount=199)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.flag == Payment.Flag.AMOUNT_MISMATCH
    assert reload(link).status == LinkStatus.ACTIVE


def test_applying_the_same_success_twice_changes_nothing_the_second_time(
    db, django_capture_on_commit_callbacks
):
    link = PaymentLinkFactory(kind=LinkKind.REUSABLE)
    payment = started(link)
    with (
        mock.patch.object(receipt_tasks.payment_followups, "delay") as followups,
        django_capture_on_commit_callbacks(execute=True),
    ):
        succeed(payment)
        succeed(payment)
    assert reload(link).payments_count == 1
    assert payment.events.filter(kind="succeeded").count() == 1
    assert followups.call_count == 1


def test_a_late_success_after_a_recorded_failure_still_counts(db):
    """Money that moved is never dropped: Stripe is the truth, even against our 'failed'."""
    link = PaymentLinkFactory()
    payment = started(link, status=PaymentStatus.FAILED)
    assert succeed(payment).status == PaymentStatus.SUCCEEDED
    assert reload(link).status == LinkStatus.PAID


@pytest.mark.parametrize(
    ("provider_status", "expected"),
    [
        (PaymentState.NEEDS_ACTION, PaymentStatus.REQUIRES_ACTION),
        (PaymentState.PROCESSING, PaymentStatus.PROCESSING),
        (PaymentState.NEEDS_PAYMENT_METHOD, PaymentStatus.FAILED),
        (PaymentState.CANCELED, PaymentStatus.CANCELED),
    ],
)
def test_other_provider_states_move_an_open_payment_but_never_the_link(
    db, provider_status, expected
):
    link = PaymentLinkFactory()
    payment = started(link)
    answer = ProviderPayment(
        id=payment.provider_id,
        state=provider_status,
        amount=payment.amount,
        currency=payment.currency,
        failure_code="card_declined"
        if provider_status == PaymentState.NEEDS_PAYMENT_METHOD
        else "",
        failure_message="Your card was declined."
        if provider_status == PaymentState.NEEDS_PAYMENT_METHOD
        else "",
    )

    payment = payment_apply(payment_id=payment.pk, provider_payment=answer, source="test")

    assert payment.status == expected
    assert reload(link).status == LinkStatus.ACTIVE
    if expected == PaymentStatus.FAILED:
        assert payment.failure_message == "Your card was declined."


def test_a_succeeded_payment_never_goes_back(db):
    link = PaymentLinkFactory()
    payment = succeed(started(link))
    answer = ProviderPayment(
        id=payment.provider_id, state=PaymentState.CANCELED, amount=payment.amount, currency="EUR"
    )
    assert (
        payment_apply(payment_id=payment.pk, provider_payment=answer, source="test").status
        == PaymentStatus.SUCCEEDED
    )


def test_a_provider_answer_for_another_payment_is_refused(db):
    payment = started(PaymentLinkFactory())
    answer = ProviderPayment(
        id="pi_someone_else", state=PaymentState.SUCCEEDED, amount=payment.amount, currency="EUR"
    )
    with pytest.raises(ValueError, match="does not belong"):
        payment_apply(payment_id=payment.pk, provider_payment=answer, source="test")
    assert reload(payment).status == PaymentStatus.PENDING


# --- The expiry task --------------------------------------------------------------------------


def test_links_expire_due_expires_only_active_links_past_their_expiry(db):
    past = timezone.now() - timedelta(minutes=1)
    due = PaymentLinkFactory(expires_at=past)
    future = PaymentLinkFactory(expires_at=timezone.now() + timedelta(hours=1))
    forever = PaymentLinkFactory(expires_at=None)
    paid = PaymentLinkFactory(expires_at=past, status=LinkStatus.PAID)

    assert links_expire_due() == 1

    assert reload(due).status == LinkStatus.EXPIRED
    assert due.closed_at is not None
    assert reload(future).status == LinkStatus.ACTIVE
    assert reload(forever).status == LinkStatus.ACTIVE
    assert reload(paid).status == LinkStatus.PAID
    assert links_expire_due() == 0  # idempotent


def test_links_expire_due_waits_for_a_payment_started_before_expiry(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - timedelta(minutes=5))
    started(link, minutes_ago=10, status=PaymentStatus.REQUIRES_ACTION)

    assert links_expire_due() == 0
    assert reload(link).status == LinkStatus.ACTIVE

    # Once the grace period is over, the link expires even if the attempt never finished.
    assert links_expire_due(now=timezone.now() + EXPIRY_GRACE) == 1
    assert reload(link).status == LinkStatus.EXPIRED


def test_links_expire_due_does_not_wait_for_finished_attempts(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - timedelta(minutes=5))
    started(link, minutes_ago=10, status=PaymentStatus.FAILED)
    assert links_expire_due() == 1
    assert reload(link).status == LinkStatus.EXPIRED


def test_the_periodic_task_runs_the_expiry(db):
    link = PaymentLinkFactory(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.links_expire.delay().get() == 1
    assert reload(link).status == LinkStatus.EXPIRED
