"""Authorize now, capture later, against a real localstripe: the hold, a capture of all or less
(the receipt and the emails say what was charged), a release, lapsing holds and the owners'
warning, a single-use link that refuses a second card while one is held, and lost answers."""

from __future__ import annotations

import secrets
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from links import authorizations, tasks
from links.authorizations import payment_capture, payment_release
from links.models import LinkKind, LinkStatus, Payment, PaymentEvent, PaymentLink, PaymentStatus
from links.payments import CheckoutError, checkout_attempt
from links.providers import ProviderError, provider_for_payment
from links.providers.stripe import StripeProvider
from links.refunds import refund_create, refund_remainder
from receipts.models import Receipt
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method
from vpos.models import AuditEntry, OutboxEmail

CUSTOMER = "giulia.rossi@example.com"


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant,
        amount=1000,
        description="Camera doppia, 2 notti",
        authorize_only=True,
        language="en",
    )


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def owner_user(shop):
    return shop.owner.user


@pytest.fixture
def authorize(stripe_api, django_capture_on_commit_callbacks):
    """A customer pays the link at the checkout: the card is held, nothing is charged."""

    def pay(target: PaymentLink, email: str = CUSTOMER) -> Payment:
        with django_capture_on_commit_callbacks(execute=True):
            result = checkout_attempt(
                link=target,
                payment_method=card_payment_method(stripe_api),
                attempt_key=secrets.token_urlsafe(24),
                browser_key=secrets.token_hex(16),
                customer_email=email,
            )
        return result.payment

    return pay


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run a service with what follows its commit (receipt PDF, emails)."""

    def run(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


def test_an_authorize_only_payment_is_held_not_charged(link, authorize, stripe_api):
    payment = authorize(link)

    assert payment.status == PaymentStatus.AUTHORIZED
    assert payment.authorized_amount == 1000
    created = stripe_api.v1.payment_intents.retrieve(payment.provider_id)
    assert created.status == "requires_capture"
    assert created.capture_method == "manual"
    # localstripe tells no deadline: cards hold for 7 days.
    assert payment.capture_before is not None
    assert abs(payment.capture_before - (payment.created_at + timedelta(days=7))) < timedelta(
        minutes=1
    )
    link.refresh_from_db()
    assert (link.status, link.payments_count) == (LinkStatus.ACTIVE, 0)
    assert not Receipt.objects.filter(payment=payment).exists()
    assert PaymentEvent.objects.filter(payment=payment, kind="authorized").count() == 1


def test_capturing_less_charges_less_and_says_the_rest_was_released(
    link, authorize, run_commits, owner_user, stripe_api
):
    payment = authorize(link)
    mail.outbox.clear()

    captured = run_commits(payment_capture, payment=payment, amount=600, actor=owner_user)

    assert captured.status == PaymentStatus.SUCCEEDED
    assert (captured.amount, captured.authorized_amount) == (600, 1000)
    assert not captured.flag
    link.refresh_from_db()
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    receipt = Receipt.objects.get(payment=captured)
    assert receipt.amount == 600
    confirmation = next(m for m in mail.outbox if m.to == [CUSTOMER])
    assert "6,00" in confirmation.body or "6.00" in confirmation.body
    assert "the rest was released" in confirmation.body
    # localstripe's record of the released 4,00 € is no refund of ours nor the shop's.
    assert provider_for_payment(captured).list_refunds(captured.provider_id) == []
    assert refund_remainder(captured) == 600
    assert AuditEntry.objects.filter(action="payment.captured", actor=owner_user).count() == 1


def test_capturing_all_by_default(link, authorize, run_commits):
    payment = authorize(link)

    captured = run_commits(payment_capture, payment=payment)

    assert (captured.status, captured.amount) == (PaymentStatus.SUCCEEDED, 1000)
    assert Receipt.objects.get(payment=captured).amount == 1000


def test_a_captured_payment_can_be_refunded_up_to_what_was_captured(
    link, authorize, run_commits, stripe_api
):
    captured = run_commits(payment_capture, payment=authorize(link), amount=700)

    with pytest.raises(ValidationError, match="At most"):
        refund_create(payment=captured, amount=800, reason="Late checkout")
    refund = run_commits(refund_create, payment=captured, amount=700, reason="Room not ready")

    assert refund.status == "succeeded"
    captured.refresh_from_db()
    assert captured.refunded_amount == 700


def test_releasing_charges_nothing_and_the_link_can_be_paid_again(
    link, authorize, run_commits, stripe_api, owner_user
):
    payment = authorize(link)
    mail.outbox.clear()

    released = run_commits(payment_release, payment=payment, actor=owner_user)

    assert released.status == PaymentStatus.CANCELED
    assert stripe_api.v1.payment_intents.retrieve(payment.provider_id).status == "canceled"
    assert not Receipt.objects.filter(payment=payment).exists()
    (email,) = [m for m in mail.outbox if m.to == [CUSTOMER]]
    assert "nothing was charged" in email.body
    assert "10,00" in email.body or "10.00" in email.body
    assert AuditEntry.objects.filter(action="payment.released", actor=owner_user).count() == 1
    link.refresh_from_db()
    assert link.is_payable
    assert authorize(link).status == PaymentStatus.AUTHORIZED


def test_a_single_use_link_holding_an_authorization_refuses_another_card(
    link, authorize, stripe_api
):
    held = authorize(link)

    with pytest.raises(CheckoutError) as refused:
        authorize(link, email="someone.else@example.com")

    assert refused.value.code == "link_authorized"
    assert "already authorized" in refused.value.message
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "requires_capture"
    assert Payment.objects.filter(link=link).count() == 1


def test_a_reusable_link_takes_several_authorizations(shop, stripe_settings, authorize):
    reusable = PaymentLinkFactory(
        merchant=shop.merchant, amount=500, kind=LinkKind.REUSABLE, authorize_only=True
    )

    first, second = authorize(reusable), authorize(reusable)

    assert {first.status, second.status} == {PaymentStatus.AUTHORIZED}


@pytest.mark.parametrize(
    ("amount", "message"),
    [(0, "greater than zero"), (1001, "At most €10.00"), (-5, "greater than zero")],
)
def test_capturing_a_wrong_amount_is_refused_and_nothing_moves(
    link, authorize, stripe_api, amount, message
):
    payment = authorize(link)

    with pytest.raises(ValidationError, match=message):
        payment_capture(payment=payment, amount=amount)

    payment.refresh_from_db()
    assert (payment.status, payment.hold_decision) == (PaymentStatus.AUTHORIZED, "")
    assert stripe_api.v1.payment_intents.retrieve(payment.provider_id).status == "requires_capture"


def test_a_decided_hold_refuses_a_second_decision(link, authorize, run_commits):
    payment = authorize(link)
    run_commits(payment_capture, payment=payment, amount=300)

    with pytest.raises(ValidationError, match="already been captured"):
        payment_release(payment=payment)
    with pytest.raises(ValidationError, match="already been captured"):
        payment_capture(payment=payment)


def test_the_same_request_twice_captures_once(link, authorize, run_commits, stripe_api):
    payment = authorize(link)
    key = "office-" + secrets.token_urlsafe(16)

    first = run_commits(payment_capture, payment=payment, amount=400, request_key=key)
    again = run_commits(payment_capture, payment=payment, amount=900, request_key=key)

    assert (first.amount, again.amount, again.status) == (400, 400, PaymentStatus.SUCCEEDED)
    assert Receipt.objects.filter(payment=payment).count() == 1


def test_a_lost_capture_answer_is_settled_from_stripe(link, authorize, run_commits):
    payment = authorize(link)
    real = StripeProvider.capture_payment

    def answer_lost(self, *args, **kwargs):
        real(self, *args, **kwargs)  # Stripe captured, then the connection dropped
        raise ProviderError("connection reset", permanent=False, code="unreachable")

    with mock.patch.object(StripeProvider, "capture_payment", answer_lost):
        captured = run_commits(payment_capture, payment=payment, amount=250)

    assert (captured.status, captured.amount) == (PaymentStatus.SUCCEEDED, 250)


def test_a_capture_stripe_never_received_is_resumed_by_reconciliation(
    link, authorize, run_commits, stripe_api
):
    payment = authorize(link)

    def unreachable(self, *args, **kwargs):
        raise ProviderError("timeout", permanent=False, code="unreachable")

    with (
        mock.patch.object(StripeProvider, "capture_payment", unreachable),
        mock.patch.object(StripeProvider, "retrieve_payment", unreachable),
    ):
        pending = payment_capture(payment=payment, amount=800)
    assert (pending.status, pending.hold_decision) == (PaymentStatus.AUTHORIZED, "capture")
    # Someone else cannot decide meanwhile: the decision stands.
    with pytest.raises(ValidationError, match="already been captured"):
        payment_release(payment=pending)

    later = timezone.now() + timedelta(minutes=5)
    assert run_commits(authorizations.holds_resume, now=later) == 1

    payment.refresh_from_db()
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 800)
    assert stripe_api.v1.payment_intents.retrieve(payment.provider_id).status == "succeeded"


def test_a_payment_authorized_before_the_link_expired_counts_at_capture(
    link, authorize, run_commits
):
    payment = authorize(link)
    PaymentLink.objects.filter(pk=link.pk).update(
        status=LinkStatus.EXPIRED, expires_at=timezone.now(), closed_at=timezone.now()
    )

    captured = run_commits(payment_capture, payment=payment, amount=1000)

    assert (captured.status, captured.flag) == (PaymentStatus.SUCCEEDED, "")
    link.refresh_from_db()
    # It counts (no "paid after the link closed" flag); the link stays expired.
    assert (link.status, link.payments_count) == (LinkStatus.EXPIRED, 1)
    assert Receipt.objects.get(payment=captured).amount == 1000


def test_owners_are_warned_once_of_a_hold_about_to_lapse(
    link, authorize, run_commits, shop, owner_user
):
    payment = authorize(link)
    mail.outbox.clear()
    soon = payment.capture_before - timedelta(hours=20)

    with mock.patch("links.authorizations.timezone.now", return_value=soon):
        assert run_commits(tasks.holds_watch) == 1
        assert run_commits(tasks.holds_watch) == 0

    (warning,) = [m for m in mail.outbox if m.to == [owner_user.email]]
    assert "scade il" in warning.body  # the shop's language
    assert str(payment.public_id) in warning.body
    assert OutboxEmail.objects.filter(kind="hold_lapsing").count() == 1
    payment.refresh_from_db()
    assert payment.lapse_warned_at == soon


def test_a_hold_past_its_deadline_lapses_only_once_stripe_cancelled_it(
    link, authorize, run_commits, stripe_api
):
    payment = authorize(link)
    after = payment.capture_before + timedelta(hours=1)

    with mock.patch("links.authorizations.timezone.now", return_value=after):
        assert authorizations.holds_lapse() == 0  # Stripe still holds it
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED
    with (
        pytest.raises(ValidationError, match="lapsed on"),
        mock.patch("links.authorizations.timezone.now", return_value=after),
    ):
        payment_capture(payment=payment)

    stripe_api.v1.payment_intents.cancel(payment.provider_id)  # what Stripe does after 7 days
    with (
        mock.patch("links.authorizations.timezone.now", return_value=after),
        mock.patch("links.payments.timezone.now", return_value=after),
    ):
        assert authorizations.holds_lapse() == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert PaymentEvent.objects.filter(payment=payment, kind="lapsed").count() == 1
    link.refresh_from_db()
    assert link.is_payable
