"""Outbound webhooks to a real HTTP server on 127.0.0.1: signatures, retries, SSRF, end to end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from integrations import webhooks as outbound
from integrations.models import WebhookDelivery, WebhookEndpoint
from links.models import LinkStatus
from links.payments import checkout_attempt
from links.services import link_deactivate, links_expire_due
from tests.support.api import LINK, Receiver, verify
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method
from vpos.models import OutboxEmail


@pytest.fixture
def endpoint(tenants, receiver) -> tuple[WebhookEndpoint, str]:
    return outbound.webhook_endpoint_create(
        merchant=tenants[0].merchant, url=receiver.url, events=list(outbound.EVENTS), actor=None
    )


@pytest.fixture
def fast_timeout(settings):
    settings.VPOS_WEBHOOK_TIMEOUT = 0.5


def deliver_pending() -> list[str]:
    ids = WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True)
    return [outbound.webhook_deliver(delivery_id=pk).status for pk in ids]


def test_failing_then_timing_out_then_ok_gives_one_signed_delivery(
    tenants, endpoint, receiver: Receiver, fast_timeout, django_capture_on_commit_callbacks
):
    endpoint, secret = endpoint
    receiver.script = ["500", "timeout"]
    link = PaymentLinkFactory(merchant=tenants[0].merchant)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        link_deactivate(link=link)
    assert len(callbacks) >= 1  # the delivery is sent after commit
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.status) == ("link.deactivated", "pending")

    first = outbound.webhook_deliver(delivery_id=delivery.pk)
    assert (first.status, first.retry_in) == ("pending", 60)
    second = outbound.webhook_deliver(delivery_id=delivery.pk)
    assert (second.status, second.retry_in) == ("pending", 120)
    third = outbound.webhook_deliver(delivery_id=delivery.pk)
    assert third.status == "succeeded"
    assert outbound.webhook_deliver(delivery_id=delivery.pk).status == "succeeded"  # no resend

    assert receiver.seen == 3
    assert len(receiver.accepted) == 1
    got = receiver.accepted[0]
    assert verify(secret, got.headers["Vpos-Signature"], got.body)
    assert not verify("whsec_wrong", got.headers["Vpos-Signature"], got.body)
    assert got.json["type"] == "link.deactivated"
    assert got.json["data"]["link"]["id"] == link.pk
    assert got.headers["Vpos-Event-Id"] == got.json["id"]

    delivery.refresh_from_db()
    log = delivery.attempt_log
    assert [a["status_code"] for a in log] == [500, None, 200]
    assert "timeout" in log[1]["error"].lower()
    assert all(a["duration_ms"] >= 0 for a in log)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_redirects_are_not_followed(tenants, endpoint, receiver):
    receiver.script = ["redirect"]
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    assert deliver_pending() == ["pending"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 302
    assert receiver.seen == 1


def test_ssrf_private_addresses_are_refused_when_not_allowed(tenants, endpoint, receiver, settings):
    settings.VPOS_WEBHOOKS_ALLOW_PRIVATE = False
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    assert deliver_pending() == ["pending"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error.startswith("refused")
    assert receiver.seen == 0
    for url in (
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://localhost/hook",
    ):
        with pytest.raises(outbound.ValidationError):
            outbound.validate_endpoint_url(url)
    for address in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fc00::1"):
        assert not outbound._address_allowed(address)
    assert outbound._address_allowed("93.184.216.34")


def test_an_endpoint_failing_for_three_days_is_disabled_and_owners_told(
    tenants, endpoint, receiver
):
    endpoint, _secret = endpoint
    receiver.script = ["500"] * 3
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    deliver_pending()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    assert endpoint.is_active
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    deliver_pending()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    emails = OutboxEmail.objects.filter(kind="webhook_disabled")
    assert list(emails.values_list("to_email", flat=True)) == [
        tenants[0].merchant.memberships.get(role="owner").user.email
    ]
    # a disabled endpoint gets no new events
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    assert WebhookDelivery.objects.count() == 1


def test_deliveries_give_up_after_24_hours(tenants, endpoint, receiver):
    receiver.script = ["500"]
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=24))
    assert deliver_pending() == ["failed"]


def test_only_subscribed_events_and_own_shop(tenants, receiver):
    outbound.webhook_endpoint_create(
        merchant=tenants[0].merchant, url=receiver.url, events=["link.expired"], actor=None
    )
    outbound.webhook_endpoint_create(
        merchant=tenants[1].merchant, url=receiver.url, events=["link.expired"], actor=None
    )
    link_deactivate(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    assert not WebhookDelivery.objects.exists()
    expiring = PaymentLinkFactory(
        merchant=tenants[0].merchant, expires_at=timezone.now() + timedelta(seconds=1)
    )
    assert links_expire_due(now=timezone.now() + timedelta(minutes=1)) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint.merchant == tenants[0].merchant
    assert delivery.payload["data"]["link"]["id"] == expiring.pk


def test_secret_is_stored_encrypted(endpoint):
    endpoint, secret = endpoint
    assert secret.startswith("whsec_")
    stored = WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get()
    assert secret not in json.dumps(stored, default=str)
    assert endpoint.secret == secret


# --- Owner pages ------------------------------------------------------------------------------


def test_owner_registers_an_endpoint_sees_deliveries_and_redelivers(
    shop, client_as, receiver, django_capture_on_commit_callbacks
):
    owner = client_as("owner")
    page = reverse("integrations:webhooks", args=[shop.merchant.public_id])
    response = owner.post(page, {"url": receiver.url, "events": ["link.deactivated"]})
    assert response.status_code == 200, response.content
    secret = response.context["new_secret"]
    assert secret.startswith("whsec_")
    assert secret not in owner.get(page).content.decode()
    endpoint = WebhookEndpoint.objects.get(merchant=shop.merchant)
    link_deactivate(link=PaymentLinkFactory(merchant=shop.merchant))
    deliver_pending()
    detail = reverse("integrations:webhook_detail", args=[shop.merchant.public_id, endpoint.pk])
    html = owner.get(detail).content.decode()
    assert "link.deactivated" in html
    assert "HTTP 200" in html
    delivery = WebhookDelivery.objects.get()
    redeliver = reverse(
        "integrations:webhook_redeliver", args=[shop.merchant.public_id, delivery.pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post(redeliver).status_code == 302
    assert len(receiver.accepted) == 2
    assert receiver.accepted[0].json["id"] == receiver.accepted[1].json["id"]  # same event


@pytest.mark.parametrize(("actor", "expected"), [("staff", 403), ("outsider", 404)])
def test_staff_and_outsiders_cannot_see_webhooks(shop, client_as, receiver, actor, expected):
    endpoint, _secret = outbound.webhook_endpoint_create(
        merchant=shop.merchant, url=receiver.url, events=["link.paid"], actor=None
    )
    client = client_as(actor)
    sid = shop.merchant.public_id
    assert client.get(reverse("integrations:webhooks", args=[sid])).status_code == expected
    detail = reverse("integrations:webhook_detail", args=[sid, endpoint.pk])
    assert client.get(detail).status_code == expected
    assert client.post(detail, {"action": "delete"}).status_code == expected
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_owner_cannot_redeliver_another_shops_delivery(shop, client_as, receiver):
    outbound.webhook_endpoint_create(
        merchant=shop.outsider.merchant, url=receiver.url, events=["link.deactivated"], actor=None
    )
    link_deactivate(link=PaymentLinkFactory(merchant=shop.outsider.merchant))
    delivery = WebhookDelivery.objects.get()
    url = reverse("integrations:webhook_redeliver", args=[shop.merchant.public_id, delivery.pk])
    assert client_as("owner").post(url).status_code == 404


# --- End to end -------------------------------------------------------------------------------


def test_link_created_by_api_paid_at_checkout_notifies_the_shop(
    tenants, api, endpoint, receiver, stripe_settings, stripe_api, settings
):
    endpoint, secret = endpoint
    created = api.post_json("/api/v1/links", LINK, **{"Idempotency-Key": "order-1001"})
    assert created.status_code == 201
    link_id = created.json()["id"]
    from links.models import PaymentLink

    link = PaymentLink.objects.get(pk=link_id)
    # the customer's page offers the way back to the shop
    page = api.get(reverse("links:checkout", args=[link.token]))
    assert LINK["cancel_url"] in page.content.decode()

    result = checkout_attempt(
        link=link, payment_method=card_payment_method(stripe_api), attempt_key="e2e-" + "x" * 20
    )
    assert result.payment.status == "succeeded"
    assert sorted(deliver_pending()) == ["succeeded", "succeeded"]

    events = {got.json["type"]: got for got in receiver.accepted}
    assert set(events) == {"payment.succeeded", "link.paid"}
    paid = events["payment.succeeded"]
    assert verify(secret, paid.headers["Vpos-Signature"], paid.body)
    assert paid.json["data"]["payment"]["id"] == str(result.payment.public_id)
    assert paid.json["data"]["payment"]["link"] == link_id
    assert events["link.paid"].json["data"]["link"]["status"] == LinkStatus.PAID

    # and the result page sends the customer back to success_url
    result_page = api.get(reverse("links:result", args=[link.token, result.payment.public_id]))
    html = result_page.content.decode()
    assert f"{LINK['success_url']}?vpos_payment={result.payment.public_id}" in html
    assert 'http-equiv="refresh"' in html
    assert mail.outbox is not None


def test_refund_and_failed_payment_events(
    tenants, api, endpoint, receiver, stripe_settings, stripe_api
):
    from tests.support.stripe import CARD_DECLINED

    link = PaymentLinkFactory(merchant=tenants[0].merchant, amount=3000)
    failed = checkout_attempt(
        link=link,
        payment_method=card_payment_method(stripe_api, CARD_DECLINED),
        attempt_key="fail-" + "x" * 20,
    )
    assert failed.payment.status == "failed"
    paid = checkout_attempt(
        link=link, payment_method=card_payment_method(stripe_api), attempt_key="ok-" + "x" * 20
    )
    from links.refunds import refund_create

    refund_create(payment=paid.payment, amount=1000)
    deliver_pending()
    types = sorted(got.json["type"] for got in receiver.accepted)
    assert types == ["link.paid", "payment.failed", "payment.refunded", "payment.succeeded"]
    refunded = next(g for g in receiver.accepted if g.json["type"] == "payment.refunded").json
    assert refunded["data"]["refund"]["amount"] == 1000
    assert refunded["data"]["payment"]["refunded_amount"] == 1000
