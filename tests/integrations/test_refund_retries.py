"""A refund request retried after an error never refunds twice (issue: 8 keys made 9 refunds).

The database fails after Stripe answered (injected where the answer is recorded): the 503 says the
outcome is being confirmed, not that nothing changed; the same request again returns the refund
its first try reserved; reconciliation records each such refund exactly once.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from integrations.api.idempotency import Claim
from links import refunds as refund_services
from links.models import Payment, PaymentStatus, Refund
from links.payments import payment_refresh
from receipts import subscribers as receipt_subscribers
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.factories import PaymentLinkFactory
from tests.support.faults import database_gone

PAYMENTS = "/api/v1/payments"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(tenants, stripe_settings, paid_intent, settings) -> Payment:
    settings.VPOS_API_RATE = "1000/min"
    link = PaymentLinkFactory(merchant=tenants[0].merchant, amount=5000)
    payment, _pi = paid_intent(link)
    return payment_refresh(payment=payment, source="test")


@pytest.fixture
def record_fails(monkeypatch):
    """The next `n` recordings of Stripe's answer fail as if the database went away."""

    def arm(n: int) -> None:
        database_gone(monkeypatch, refund_services, "_refund_succeeded", times=n)

    return arm


def at_stripe(stripe_api, payment: Payment) -> list[tuple[int, str]]:
    listed = stripe_api.v1.refunds.list({"payment_intent": payment.provider_id, "limit": 100}).data
    return [(r.amount, (r.to_dict().get("metadata") or {}).get("vpos_refund", "")) for r in listed]


def refund_call(raw: str, payment: Payment, key: str, amount: int):
    return ApiClient(raw).post_json(
        f"{PAYMENTS}/{payment.public_id}/refunds", {"amount": amount}, **{"Idempotency-Key": key}
    )


def test_an_error_after_stripe_answered_is_confirmed_not_repeated(
    tenants, paid, stripe_api, record_fails
):
    raw = tenants[0].raw
    record_fails(1)

    first = refund_call(raw, paid, "rf-lost", 1200)

    assert first.status_code == 503
    assert first.json()["code"] == "outcome_pending"
    assert "Nothing was charged" not in first.json()["message"]
    assert "Do not pay or refund again" in first.json()["message"]
    assert [amount for amount, _ in at_stripe(stripe_api, paid)] == [1200]

    retry = refund_call(raw, paid, "rf-lost", 1200)
    assert retry.status_code == 200
    refund = Refund.objects.get()
    assert retry.json()["id"] == str(refund.public_id)
    assert retry.json()["status"] == "pending"
    assert len(at_stripe(stripe_api, paid)) == 1

    assert refund_services.refunds_reconcile(older_than=timedelta(0)) == 1
    assert refund_services.refunds_reconcile(older_than=timedelta(0)) == 0
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert paid.refunded_amount == 1200
    assert at_stripe(stripe_api, paid) == [(1200, str(refund.public_id))]

    settled = refund_call(raw, paid, "rf-lost", 1200)
    assert settled.status_code == 200
    assert settled.json()["status"] == "succeeded"
    assert len(at_stripe(stripe_api, paid)) == 1


@pytest.mark.parametrize(
    ("target", "name"),
    [
        (receipt_subscribers, "refund_note_issue"),  # inside the recording, after Stripe answered
        (Claim, "complete"),  # the refund is recorded; binding the key to it fails
    ],
)
def test_any_error_after_stripe_answered_settles_exactly_once(
    tenants, paid, stripe_api, monkeypatch, target, name
):
    raw = tenants[0].raw
    database_gone(monkeypatch, target, name)

    first = refund_call(raw, paid, "rf-late", 900)

    assert first.status_code == 503
    assert first.json()["code"] == "outcome_pending"
    retry = refund_call(raw, paid, "rf-late", 900)
    assert retry.status_code == 200
    refund = Refund.objects.get()
    assert retry.json()["id"] == str(refund.public_id)
    refund_services.refunds_reconcile(older_than=timedelta(0))
    assert refund_services.refunds_reconcile(older_than=timedelta(0)) == 0
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert paid.refunded_amount == 900
    assert at_stripe(stripe_api, paid) == [(900, str(refund.public_id))]
    settled = refund_call(raw, paid, "rf-late", 900)
    assert (settled.status_code, settled.json()["id"]) == (200, str(refund.public_id))
    assert settled.json()["status"] == "succeeded"
    assert len(at_stripe(stripe_api, paid)) == 1


def test_an_error_before_stripe_is_asked_says_nothing_changed(
    tenants, paid, stripe_api, monkeypatch
):
    raw = tenants[0].raw
    database_gone(monkeypatch, refund_services, "refund_check")

    first = refund_call(raw, paid, "rf-early", 700)

    assert first.status_code == 503
    assert first.json()["code"] == "unavailable"
    assert "Nothing was charged or changed" in first.json()["message"]
    assert at_stripe(stripe_api, paid) == []
    assert not Refund.objects.exists()

    retry = refund_call(raw, paid, "rf-early", 700)
    assert retry.status_code == 201
    assert [amount for amount, _ in at_stripe(stripe_api, paid)] == [700]


def test_without_an_amount_a_retry_asks_for_what_its_first_try_reserved(
    tenants, paid, stripe_api, record_fails
):
    raw = tenants[0].raw
    record_fails(1)
    url = f"{PAYMENTS}/{paid.public_id}/refunds"
    first = ApiClient(raw).post_json(url, {}, **{"Idempotency-Key": "rf-rest"})
    assert first.status_code == 503
    # The reserved refund holds the whole remainder: asking "the rest" again must not read 0 and
    # answer 400, nor refund anything more.
    retry = ApiClient(raw).post_json(url, {}, **{"Idempotency-Key": "rf-rest"})
    assert retry.status_code == 200
    assert retry.json()["amount"] == 5000
    assert [amount for amount, _ in at_stripe(stripe_api, paid)] == [5000]


# --- On PostgreSQL: concurrent requests, each retried -----------------------------------------


def _settle_and_compare(stripe_api, payment: Payment) -> list[tuple[int, str]]:
    refund_services.refunds_reconcile(older_than=timedelta(0))
    payment.refresh_from_db()
    ours = Refund.objects.filter(payment=payment, status=Refund.Status.SUCCEEDED)
    provider = at_stripe(stripe_api, payment)
    assert sorted(provider) == sorted((r.amount, str(r.public_id)) for r in ours)
    assert payment.refunded_amount == sum(amount for amount, _ in provider) <= payment.amount
    assert not Refund.objects.filter(status=Refund.Status.PENDING).exists()
    return provider


@pytest.mark.parametrize("failures", [0, 3, 8])
def test_concurrent_refunds_each_retried_refund_once_per_key(
    tenants, paid, stripe_api, record_fails, failures
):
    """Eight keys of 1.00 at once (some answers lost to a database error), then each request
    sent again with its key, twice: Stripe holds one refund per key, vpos shows the same."""
    raw = tenants[0].raw
    keys = [f"rf-{n}" for n in range(8)]
    record_fails(failures)

    first = run_concurrently([lambda k=k: refund_call(raw, paid, k, 100) for k in keys])
    assert all(not isinstance(answer, Exception) for answer in first), first
    assert sorted(a.status_code for a in first) == sorted([503] * failures + [201] * (8 - failures))
    assert all(a.json()["code"] == "outcome_pending" for a in first if a.status_code == 503)

    for _round in range(2):
        again = run_concurrently([lambda k=k: refund_call(raw, paid, k, 100) for k in keys])
        assert [a.status_code for a in again] == [200] * 8

    provider = _settle_and_compare(stripe_api, paid)
    assert len(provider) == 8
    assert sum(amount for amount, _ in provider) == 800
    refunds = {a.json()["id"] for a in again}
    assert refunds == {str(r.public_id) for r in Refund.objects.all()}


def test_concurrent_refunds_over_the_payment_stop_at_its_amount_even_when_retried(
    tenants, paid, stripe_api, record_fails
):
    """Eight keys of 10.00 on a 50.00 payment, two answers lost: five refunds happen, the other
    three are refused; retried, the refused stay refused and nothing more is refunded."""
    raw = tenants[0].raw
    keys = [f"big-{n}" for n in range(8)]
    record_fails(2)

    first = run_concurrently([lambda k=k: refund_call(raw, paid, k, 1000) for k in keys])
    codes = sorted(a.status_code for a in first)
    assert codes == [201] * 3 + [400] * 3 + [503] * 2

    again = run_concurrently([lambda k=k: refund_call(raw, paid, k, 1000) for k in keys])
    took = {k for k, a in zip(keys, first, strict=True) if a.status_code in (201, 503)}
    for key, answer in zip(keys, again, strict=True):
        assert answer.status_code == (200 if key in took else 400), (key, answer.content)

    provider = _settle_and_compare(stripe_api, paid)
    assert sum(amount for amount, _ in provider) == 5000
    assert len(provider) == 5
    assert paid.status == PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("body", [{"amount": 700}, {}])
def test_the_same_request_sent_many_times_at_once_refunds_once(tenants, paid, stripe_api, body):
    """A client retrying while its first try is still running (same key, same body, with an
    amount or "the rest"): every answer is that one refund, Stripe holds one refund."""
    raw = tenants[0].raw
    url = f"{PAYMENTS}/{paid.public_id}/refunds"

    def send():
        return ApiClient(raw).post_json(url, body, **{"Idempotency-Key": "rf-same"})

    answers = run_concurrently([send] * 6)
    answers.append(send())

    assert all(not isinstance(answer, Exception) for answer in answers), answers
    assert {a.status_code for a in answers} <= {200, 201}, [a.content for a in answers]
    assert {a.json()["id"] for a in answers} == {str(Refund.objects.get().public_id)}
    provider = _settle_and_compare(stripe_api, paid)
    assert [amount for amount, _ in provider] == [body.get("amount", 5000)]


def test_a_retry_overtaken_by_its_first_try_answers_with_that_refund(
    tenants, paid, stripe_api, record_fails, monkeypatch
):
    """Asking for "the rest" twice with one key: the retry looks for an earlier refund, finds none,
    and before it goes on, its first try reserves the whole remainder at Stripe (its answer is
    then lost). The retry answers with that refund: not "0.00 can be refunded", not another."""
    raw = tenants[0].raw
    url = f"{PAYMENTS}/{paid.public_id}/refunds"

    def send():
        return ApiClient(raw).post_json(url, {}, **{"Idempotency-Key": "rf-overtaken"})

    retry_thread = threading.current_thread()
    real = refund_services.refund_for_request
    first: list = []

    def overtaken(**kwargs):
        found = real(**kwargs)
        if threading.current_thread() is retry_thread and not first:
            record_fails(1)
            first.extend(run_concurrently([send]))
        return found

    monkeypatch.setattr(refund_services, "refund_for_request", overtaken)

    retry = send()

    assert first[0].status_code == 503
    assert retry.status_code in (200, 201), retry.content
    refund = Refund.objects.get()
    assert (retry.json()["id"], retry.json()["amount"]) == (str(refund.public_id), 5000)
    assert [amount for amount, _ in _settle_and_compare(stripe_api, paid)] == [5000]
