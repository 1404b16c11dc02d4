"""The API's authorize-only links, and capture and cancel of their payments (idempotent),
against localstripe; the outbound webhooks they emit."""

from __future__ import annotations

import secrets

import pytest

from integrations import webhooks as outbound
from integrations.models import WebhookDelivery
from links.models import Payment, PaymentLink, PaymentStatus
from links.payments import checkout_attempt
from tests.support.api import ApiClient
from tests.support.stripe import card_payment_method

LINKS = "/api/v1/links"
PAYMENTS = "/api/v1/payments"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(api, stripe_settings, stripe_api) -> Payment:
    """An authorize-only link made through the API, paid at the checkout: held on the card."""
    created = api.post_json(
        LINKS,
        {"amount": 9000, "currency": "EUR", "description": "Suite", "authorize_only": True},
    )
    assert created.status_code == 201, created.content
    assert created.json()["authorize_only"] is True
    link = PaymentLink.objects.get(pk=created.json()["id"])
    return checkout_attempt(
        link=link,
        payment_method=card_payment_method(stripe_api),
        attempt_key=secrets.token_urlsafe(24),
    ).payment


def test_the_payment_shows_the_hold(api, held):
    detail = api.get(f"{PAYMENTS}/{held.public_id}").json()

    assert detail["status"] == "authorized"
    assert detail["authorized_amount"] == 9000
    assert detail["capture_before"]
    assert api.get(PAYMENTS, {"status": "authorized"}).json()["results"][0]["id"] == str(
        held.public_id
    )


def test_capture_less_is_idempotent(api, held, stripe_api):
    url = f"{PAYMENTS}/{held.public_id}/capture"

    first = api.post_json(url, {"amount": 7000}, **{"Idempotency-Key": "cap-1"})
    again = api.post_json(url, {"amount": 7000}, **{"Idempotency-Key": "cap-1"})
    other_body = api.post_json(url, {"amount": 100}, **{"Idempotency-Key": "cap-1"})
    new_key = api.post_json(url, {"amount": 100}, **{"Idempotency-Key": "cap-2"})

    assert first.status_code == 200, first.content
    assert (first.json()["status"], first.json()["amount"]) == ("succeeded", 7000)
    assert first.json()["authorized_amount"] == 9000
    assert first.json()["receipt_number"]
    assert again.status_code == 200
    assert again.json() == first.json() | {"receipt_number": again.json()["receipt_number"]}
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_conflict"
    assert new_key.status_code == 409
    assert new_key.json()["code"] == "already_captured"
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "succeeded"


def test_capture_all_by_default(api, held):
    response = api.post_json(f"{PAYMENTS}/{held.public_id}/capture", {})

    assert response.status_code == 200
    assert response.json()["amount"] == 9000


def test_cancel_releases_and_a_retry_gets_the_same_answer(api, held, stripe_api):
    url = f"{PAYMENTS}/{held.public_id}/cancel"

    first = api.post_json(url, None, **{"Idempotency-Key": "rel-1"})
    again = api.post_json(url, None, **{"Idempotency-Key": "rel-1"})

    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "canceled"
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "canceled"
    late = api.post_json(f"{PAYMENTS}/{held.public_id}/capture", {})
    assert late.status_code == 409
    assert late.json()["code"] == "already_released"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": 9001}, "over_authorized"),
        ({"amount": 0}, "invalid_request"),
        ({"amount": "12,00"}, "invalid_request"),
        ("{not json", "invalid_json"),
    ],
)
def test_bad_capture_requests_are_400_and_change_nothing(api, held, stripe_api, body, code):
    response = api.post_json(f"{PAYMENTS}/{held.public_id}/capture", body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    held.refresh_from_db()
    assert held.status == PaymentStatus.AUTHORIZED
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "requires_capture"


def test_a_payment_not_held_is_a_409(api, held, tenants):
    api.post_json(f"{PAYMENTS}/{held.public_id}/capture", {})

    response = api.post_json(f"{PAYMENTS}/{held.public_id}/cancel", None)

    assert response.status_code == 409
    assert response.json()["code"] == "already_captured"


def test_other_shops_and_read_only_keys_cannot_capture(held, tenants, make_key):
    for tenant in tenants[1:]:
        for action in ("capture", "cancel"):
            response = tenant.client().post_json(f"{PAYMENTS}/{held.public_id}/{action}", {})
            assert response.status_code == 404
    _key, raw = make_key(tenants[0].merchant, scope="read")
    read_only = ApiClient(raw).post_json(f"{PAYMENTS}/{held.public_id}/capture", {})
    assert read_only.status_code == 403
    held.refresh_from_db()
    assert held.status == PaymentStatus.AUTHORIZED


def test_webhooks_for_the_hold_and_its_capture(tenants, api, stripe_settings, stripe_api, receiver):
    outbound.webhook_endpoint_create(
        merchant=tenants[0].merchant,
        url=receiver.url,
        events=["payment.authorized", "payment.captured", "payment.canceled"],
        actor=None,
    )
    link = PaymentLink.objects.get(
        pk=api.post_json(
            LINKS,
            {"amount": 3000, "currency": "EUR", "description": "Bici", "authorize_only": True},
        ).json()["id"]
    )
    payment = checkout_attempt(
        link=link, payment_method=card_payment_method(stripe_api), attempt_key="a" * 24
    ).payment
    api.post_json(f"{PAYMENTS}/{payment.public_id}/capture", {"amount": 1000})

    kinds = list(WebhookDelivery.objects.order_by("pk").values_list("event_type", flat=True))
    assert kinds == ["payment.authorized", "payment.captured"]
    captured = WebhookDelivery.objects.get(event_type="payment.captured").payload
    assert captured["data"]["payment"]["amount"] == 1000
    assert captured["data"]["payment"]["authorized_amount"] == 3000


def test_a_release_is_sent_as_payment_canceled(api, held, tenants, receiver):
    outbound.webhook_endpoint_create(
        merchant=tenants[0].merchant, url=receiver.url, events=["payment.canceled"], actor=None
    )

    api.post_json(f"{PAYMENTS}/{held.public_id}/cancel", None)

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "payment.canceled"
    assert delivery.payload["data"]["payment"]["status"] == "canceled"
