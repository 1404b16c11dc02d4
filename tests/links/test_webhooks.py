"""Stripe webhooks against localstripe: signed, stored once, re-fetched, and safe to retry."""

from __future__ import annotations

import time
import uuid
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from links.models import LinkStatus, Payment, PaymentEvent, PaymentStatus, StripeEvent
from links.providers import payment_account_connect
from merchants.models import PaymentAccount
from receipts import tasks as receipt_tasks
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import CARD_3DS, event_body, payment_intent, post_webhook, sign
from vpos.crypto import encrypt

WEBHOOK = reverse("links:stripe_webhook")


@pytest.fixture
def link(shop):
    return PaymentLinkFactory(merchant=shop.merchant, amount=2500)


@pytest.fixture
def webhook(stripe_settings):
    """Post `body` to `url`, signed with the platform's secret unless told otherwise."""
    client = Client()

    def send(
        body: bytes,
        *,
        url: str = WEBHOOK,
        secret: str | None = None,
        signature: str | None = "sign",
    ):
        if signature == "sign":
            signature = sign(body, secret or stripe_settings.STRIPE_WEBHOOK_SECRET)
        return post_webhook(client, url, body, signature)

    return send


@pytest.fixture
def followups():
    with mock.patch.object(receipt_tasks.payment_followups, "delay") as delay:
        yield delay


def assert_untouched(payment: Payment, status: str = PaymentStatus.PENDING) -> None:
    payment.refresh_from_db()
    assert payment.status == status
    assert payment.link.status == LinkStatus.ACTIVE
    assert payment.link.payments_count == 0
    assert not payment.events.filter(kind="succeeded").exists()


def test_succeeded_event_finalizes_the_payment(
    link, paid_intent, webhook, followups, django_capture_on_commit_callbacks
):
    payment, pi = paid_intent(link)

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook(event_body(pi.id, event_id="evt_first"))

    assert response.status_code == 200
    payment.refresh_from_db()
    link.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.succeeded_at is not None
    assert link.status == LinkStatus.PAID
    assert link.payments_count == 1
    assert StripeEvent.objects.get().event_id == "evt_first"
    assert payment.events.get(kind="succeeded").data["source"] == "webhook"
    followups.assert_called_once_with(payment.pk)


def test_event_replayed_five_times_acts_once(
    link, paid_intent, webhook, followups, django_capture_on_commit_callbacks
):
    payment, pi = paid_intent(link)
    body = event_body(pi.id, event_id="evt_replayed")

    with django_capture_on_commit_callbacks(execute=True):
        answers = [webhook(body) for _ in range(5)]

    assert [r.status_code for r in answers] == [200] * 5
    assert [r.json()["status"] for r in answers] == ["ok"] + ["duplicate"] * 4
    link.refresh_from_db()
    assert (link.status, link.payments_count) == (LinkStatus.PAID, 1)
    assert StripeEvent.objects.count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert followups.call_count == 1


def test_different_events_for_the_same_payment_act_once(
    link, paid_intent, webhook, followups, django_capture_on_commit_callbacks
):
    """Stripe may send payment_intent.succeeded and a late payment_intent.processing: no harm."""
    payment, pi = paid_intent(link)

    with django_capture_on_commit_callbacks(execute=True):
        webhook(event_body(pi.id))
        webhook(event_body(pi.id))
        webhook(event_body(pi.id, event_type="payment_intent.processing", status="processing"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert StripeEvent.objects.count() == 3
    assert PaymentEvent.objects.filter(payment=payment, kind="succeeded").count() == 1
    assert followups.call_count == 1


@pytest.mark.parametrize(
    "problem",
    ["wrong secret", "altered body", "missing header", "stale timestamp", "garbage header"],
)
def test_untrusted_deliveries_are_refused_and_write_nothing(
    link, paid_intent, webhook, stripe_settings, problem
):
    payment, pi = paid_intent(link)
    body = event_body(pi.id)
    secret = stripe_settings.STRIPE_WEBHOOK_SECRET

    if problem == "wrong secret":
        response = webhook(body, secret="whsec_somebody_else")
    elif problem == "altered body":
        signature = sign(body, secret)
        response = webhook(body.replace(b'"succeeded"', b'"succeeded" '), signature=signature)
    elif problem == "missing header":
        response = webhook(body, signature=None)
    elif problem == "stale timestamp":  # Stripe's tolerance is 300 s: a replay from 10 min ago
        response = webhook(body, signature=sign(body, secret, timestamp=int(time.time()) - 600))
    else:
        response = webhook(body, signature="t=abc,v1=nothex")

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert_untouched(payment)


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"\xff\xfe not utf-8",
        b"[]",
        b'"event"',
        b'{"object": "event"}',
        b'{"id": 5, "type": "payment_intent.succeeded"}',
        b'{"id": "evt_1", "type": ["payment_intent.succeeded"]}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": 7, "object": "payment_intent"}}}',
        b'{"id": "' + b"x" * 300 + b'", "type": "payment_intent.succeeded"}',
        b"[" * 50000 + b"]" * 50000,  # deeper than the JSON parser's recursion
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", '
        b'"object": "payment_intent", "x": ' + b"[" * 100 + b"]" * 100 + b"}}}",
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_refused_not_a_500(db, webhook, body):
    response = webhook(body)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid signature or payload"}
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_a", "type": "payment_intent.succeeded", "data": "not an object"}',
        b'{"id": "evt_b", "type": "payment_intent.succeeded", "data": {"object": "not an object"}}',
        b'{"id": "evt_c", "type": "payment_intent.succeeded"}',
    ],
)
def test_a_signed_event_without_a_usable_object_is_acknowledged_and_ignored(
    link, paid_intent, webhook, body
):
    payment, _ = paid_intent(link)
    assert webhook(body).status_code == 200
    assert_untouched(payment)


def test_webhook_only_accepts_post(stripe_settings):
    assert Client().get(WEBHOOK).status_code == 405


def test_without_a_configured_secret_every_delivery_is_refused(
    link, paid_intent, webhook, stripe_settings
):
    payment, pi = paid_intent(link)
    body = event_body(pi.id)
    signature = sign(body, "")
    stripe_settings.STRIPE_WEBHOOK_SECRET = ""
    assert webhook(body, signature=signature).status_code == 400
    assert_untouched(payment)


def test_event_for_an_unknown_payment_intent_is_acknowledged_and_changes_nothing(
    link, paid_intent, webhook, stripe_api
):
    payment, _ = paid_intent(link)
    stranger = payment_intent(stripe_api, amount=2500)  # exists at Stripe, not ours

    for object_id in (stranger.id, "pi_does_not_exist"):
        response = webhook(event_body(object_id))
        assert response.status_code == 200

    assert_untouched(payment)
    assert not Payment.objects.filter(provider_id=stranger.id).exists()


def test_claimed_success_is_checked_with_stripe(link, paid_intent, webhook, followups):
    """The payload says succeeded; localstripe says the customer has not finished 3-D Secure."""
    payment, pi = paid_intent(link, card=CARD_3DS, status=PaymentStatus.REQUIRES_ACTION)
    assert pi.status == "requires_action"

    response = webhook(event_body(pi.id, status="succeeded"))

    assert response.status_code == 200
    assert_untouched(payment, PaymentStatus.REQUIRES_ACTION)
    followups.assert_not_called()


def test_other_event_types_are_acknowledged_and_ignored(link, paid_intent, webhook):
    payment, _ = paid_intent(link)
    body = event_body("cus_123", event_type="customer.created").replace(
        b'"payment_intent"', b'"customer"'
    )
    assert webhook(body).status_code == 200
    assert_untouched(payment)


def test_failure_event_records_the_decline(link, stripe_api, webhook):
    from links.payments import checkout_attempt
    from tests.support.stripe import CARD_DECLINED, card_payment_method

    result = checkout_attempt(
        link=link,
        payment_method=card_payment_method(stripe_api, CARD_DECLINED),
        attempt_key="a" * 20,
    )
    assert result.payment.status == PaymentStatus.FAILED  # the browser already heard of it
    Payment.objects.filter(pk=result.payment.pk).update(status=PaymentStatus.PENDING)

    webhook(
        event_body(
            result.payment.provider_id,
            event_type="payment_intent.payment_failed",
            status="requires_payment_method",
        )
    )

    payment = Payment.objects.get(pk=result.payment.pk)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


# --- Temporary failures: Stripe must retry, so nothing may be stored -------------------------


def test_database_error_answers_503_and_stores_nothing_so_the_retry_works(
    link, paid_intent, webhook, followups, django_capture_on_commit_callbacks
):
    payment, pi = paid_intent(link)
    body = event_body(pi.id, event_id="evt_retry_me")

    with mock.patch(
        "links.views.provider_webhooks.payment_apply",
        side_effect=OperationalError("server closed the connection"),
    ):
        response = webhook(body)

    assert response.status_code == 503
    assert not StripeEvent.objects.exists()
    assert_untouched(payment)

    with django_capture_on_commit_callbacks(execute=True):
        retry = webhook(body)  # Stripe's retry, same event id

    assert retry.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert StripeEvent.objects.filter(event_id="evt_retry_me").count() == 1
    assert followups.call_count == 1


def test_stripe_unreachable_while_refetching_answers_503_and_stores_nothing(
    link, paid_intent, webhook, stripe_settings
):
    payment, pi = paid_intent(link)
    stripe_settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    response = webhook(event_body(pi.id))

    assert response.status_code == 503
    assert not StripeEvent.objects.exists()
    assert_untouched(payment)


# --- A shop's own Stripe account ----------------------------------------------------------------

SHOP_SECRET = "whsec_bottega_uno_signing"


@pytest.fixture
def connected(shop, stripe_settings):
    return payment_account_connect(
        merchant=shop.merchant,
        secret_key="sk_test_bottega_uno_0123456789",
        publishable_key="pk_test_bottega_uno",
        webhook_secret=SHOP_SECRET,
        moto_enabled=False,
    )


def shop_webhook(merchant) -> str:
    return reverse("links:stripe_webhook_shop", args=[merchant.public_id])


def test_shop_endpoint_verifies_with_the_shops_secret(shop, connected, link, paid_intent, webhook):
    payment, pi = paid_intent(link)
    body = event_body(pi.id)

    refused = webhook(body, url=shop_webhook(shop.merchant))  # platform secret
    assert refused.status_code == 400
    assert_untouched(payment)

    accepted = webhook(body, url=shop_webhook(shop.merchant), secret=SHOP_SECRET)
    assert accepted.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert StripeEvent.objects.get().merchant == shop.merchant


def test_shop_endpoint_of_an_unknown_shop_or_one_without_account_is_404(
    shop, link, paid_intent, webhook
):
    _, pi = paid_intent(link)
    body = event_body(pi.id)
    assert webhook(body, url=shop_webhook(shop.merchant), secret=SHOP_SECRET).status_code == 404
    assert (
        webhook(body, url=f"/stripe/webhook/{uuid.uuid4()}/", secret=SHOP_SECRET).status_code == 404
    )
    assert webhook(body, url="/stripe/webhook/not-a-uuid/").status_code == 404


def test_a_shop_cannot_settle_another_shops_payment_with_its_own_secret(
    shop, connected, paid_intent, webhook
):
    other_link = PaymentLinkFactory(merchant=shop.outsider.merchant)
    payment, pi = paid_intent(other_link)

    response = webhook(event_body(pi.id), url=shop_webhook(shop.merchant), secret=SHOP_SECRET)

    assert response.status_code == 200
    assert_untouched(payment)


def test_payment_is_settled_with_the_account_that_took_it(shop, link, paid_intent, webhook):
    """A payment made through the platform account stays there when the shop connects its own."""
    payment, pi = paid_intent(link)
    PaymentAccount.objects.create(
        merchant=shop.merchant,
        publishable_key="pk_test_shop",
        secret_key_encrypted=encrypt("sk_test_shop"),
        webhook_secret_encrypted=encrypt(SHOP_SECRET),
    )
    assert webhook(
        event_body(pi.id), url=shop_webhook(shop.merchant), secret=SHOP_SECRET
    ).json() == {"status": "ok"}
    assert_untouched(payment)  # the shop's endpoint does not settle platform payments
    assert webhook(event_body(pi.id, event_id="evt_platform")).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
