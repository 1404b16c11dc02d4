"""Outbound webhooks: signed notifications of payment and link events to the shop's site.

Each event is a WebhookDelivery row per subscribed endpoint, written in the transaction of the
change it reports (`integrations.subscribers`) and sent after commit by `webhook_send`, through
the delivery engine the outbox uses too (`vpos.delivery`). A delivery is retried with
exponential backoff for 24 hours; every attempt is logged. An endpoint that keeps failing for
3 days is disabled and its owners get an email.

Deliveries go only to public addresses (unless VPOS_WEBHOOKS_ALLOW_PRIVATE): the host is resolved
once, checked, and the connection is made to that checked address (no DNS rebinding), and
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from links.models import Payment, PaymentLink, Refund
from merchants.models import Merchant, Role, User
from receipts.models import Invoice
from vpos import delivery as engine
from vpos import retention
from vpos.crypto import encrypt
from vpos.events import Event, record
from vpos.outbox import EmailAbout, email_key, outbox_enqueue

from .api.serializers import (
    InvoiceSerializer,
    LinkSerializer,
    PaymentSerializer,
    RefundSerializer,
)
from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

EVENTS = {
    "payment.succeeded": gettext_lazy("A payment succeeded"),
    "payment.processing": gettext_lazy(
        "A payment is processing: a bank debit was submitted and awaits the bank's answer"
    ),
    "payment.failed": gettext_lazy("A payment failed"),
    "payment.authorized": gettext_lazy("A payment was authorized and awaits capture"),
    "payment.captured": gettext_lazy("An authorized payment was captured (in full or in part)"),
    "payment.canceled": gettext_lazy("An authorized payment was released: nothing was charged"),
    "payment.refunded": gettext_lazy("A payment was refunded (in full or in part)"),
    "link.paid": gettext_lazy("A link was paid (or reached its maximum payments)"),
    "link.expired": gettext_lazy("A link expired"),
    "link.deactivated": gettext_lazy("A link was deactivated"),
    "invoice.issued": gettext_lazy("An electronic invoice or credit note was issued"),
}
RETRY_WINDOW = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
BACKOFF_BASE = 60  # seconds before the 2nd attempt; doubles each time, at most BACKOFF_MAX
BACKOFF_MAX = 3 * 3600
MAX_RESPONSE_BYTES = 4096
SIGNATURE_HEADER = "Vpos-Signature"
MAX_ENDPOINTS = 10


# --- Endpoints --------------------------------------------------------------------------------


class DeliveryRefused(Exception):
    """The URL may not be called: bad scheme, or it resolves to a non-public address."""


def _public_only() -> bool:
    return not settings.VPOS_WEBHOOKS_ALLOW_PRIVATE


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for `url`, or DeliveryRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DeliveryRefused("only http(s) URLs")
    if parts.scheme == "http" and _public_only():
        raise DeliveryRefused("https is required")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as error:
        raise DeliveryRefused(f"cannot resolve {parts.hostname}: {error}") from error
    addresses = [info[4][0] for info in infos]
    if _public_only() and not all(_address_allowed(a) for a in addresses):
        raise DeliveryRefused(f"{parts.hostname} resolves to a private or reserved address")
    return parts.scheme, parts.hostname, port, addresses[0]


def validate_endpoint_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 500:
        raise ValidationError(_("Enter a full https:// URL."), code="url")
    if parts.scheme == "http" and _public_only():
        raise ValidationError(_("Webhook URLs must use https."), code="url")
    if _public_only():
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if (literal is not None and not _address_allowed(str(literal))) or parts.hostname in (
            "localhost",
        ):
            raise ValidationError(
                _("Webhook URLs must point to a public address."), code="private_url"
            )
    return url


def webhook_endpoint_create(
    *, merchant: Merchant, url: str, events: list[str], actor: User | None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; the returned signing secret is shown once, stored encrypted."""
    url = validate_endpoint_url(url)
    chosen = [e for e in EVENTS if e in events]
    if not chosen:
        raise ValidationError(_("Choose at least one event."), code="events")
    if merchant.webhook_endpoints.count() >= MAX_ENDPOINTS:
        raise ValidationError(
            _("A shop can have at most %(n)s webhook endpoints.") % {"n": MAX_ENDPOINTS},
            code="too_many",
        )
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant,
        url=url,
        events=chosen,
        secret_encrypted=encrypt(secret),
        secret_hint=secret[:10],
        created_by=actor,
    )
    record(
        Event.WEBHOOK_ENDPOINT_ADDED,
        merchant_id=merchant.pk,
        obj=endpoint,
        actor=actor,
        summary=f"Webhook endpoint added: {url}",
        data={"events": chosen},
    )
    return endpoint, secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    record(
        Event.WEBHOOK_ENDPOINT_REMOVED,
        merchant_id=endpoint.merchant_id,
        obj=endpoint,
        actor=actor,
        summary=f"Webhook endpoint removed: {endpoint.url}",
    )
    endpoint.delete()


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    record(
        Event.WEBHOOK_ENDPOINT_ENABLED,
        merchant_id=endpoint.merchant_id,
        obj=endpoint,
        actor=actor,
        summary=f"Webhook endpoint enabled: {endpoint.url}",
    )


# --- Events -----------------------------------------------------------------------------------


def _payload_object(obj: Any) -> dict[str, Any]:
    if isinstance(obj, PaymentLink):
        return {"link": LinkSerializer(obj).data}
    if isinstance(obj, Payment):
        return {"payment": PaymentSerializer(obj).data}
    if isinstance(obj, Refund):
        return {
            "refund": RefundSerializer(obj).data,
            "payment": PaymentSerializer(obj.payment).data,
        }
    if isinstance(obj, Invoice):
        return {"invoice": InvoiceSerializer(obj).data}
    raise TypeError(type(obj))


def webhook_emit(*, merchant_id: int, event_type: str, obj: Any) -> list[WebhookDelivery]:
    """Record `event_type` about `obj` for every subscribed endpoint, to send after commit.

    Call inside the transaction that makes the change: no change, no event; no event lost.
    """
    assert event_type in EVENTS, event_type  # noqa: S101 - a programming error, not input
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(merchant_id=merchant_id, is_active=True)
        if event_type in e.events
    ]
    if not endpoints:
        return []
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = {
        "id": event_id,
        "type": event_type,
        "created": int(time.time()),
        "data": json.loads(json.dumps(_payload_object(obj), default=str)),
    }
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=timezone.now(),
            )
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        if delivery.pk is not None:  # bulk_create without returned ids: the sweep sends it
            WEBHOOKS.send_after_commit(delivery.pk)
    return deliveries


class EventExpired(Exception):
    """The event's body was removed after the retention window: it cannot be sent again."""


def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send an event again by hand: a new delivery of the same event (same id and body)."""
    if delivery.payload_purged_at:
        raise EventExpired
    copy = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        next_attempt_at=timezone.now(),
    )
    WEBHOOKS.send_after_commit(copy.pk)
    return copy


# --- Sending ----------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    started = time.monotonic()
    try:
        scheme, host, port, address = resolve_target(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = cls(host, port, address, settings.VPOS_WEBHOOK_TIMEOUT)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            code = response.status
        finally:
            connection.close()
    except DeliveryRefused as error:
        return Answer(None, f"refused: {error}", _ms(started))
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, f"{type(error).__name__}: {error}"[:500], _ms(started))
    return Answer(code, "" if 200 <= code < 300 else f"HTTP {code}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def webhook_deliver(*, delivery_id: int) -> engine.DeliveryResult:
    """Make one attempt. Safe to call twice or concurrently: the row lock sends it once."""
    with transaction.atomic():
        delivery = engine.claim(
            WebhookDelivery.objects.select_related("endpoint", "endpoint__merchant"), delivery_id
        )
        if delivery is None:
            return engine.LOCKED_OR_MISSING
        if delivery.status != WebhookDelivery.Status.PENDING:
            return engine.DeliveryResult(delivery.status)
        endpoint = delivery.endpoint
        now = timezone.now()
        if not endpoint.is_active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "endpoint disabled"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return engine.DeliveryResult(delivery.status)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vpos-webhooks/1",
            "Vpos-Event-Id": delivery.event_id,
            "Vpos-Event-Type": delivery.event_type,
            "Vpos-Delivery-Id": str(delivery.public_id),
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
        }
        answer = _post(endpoint.url, body, headers)
        delivery.attempts += 1
        delivery.last_status_code = answer.status_code
        delivery.last_error = answer.error
        delivery.attempt_log = [
            *delivery.attempt_log,
            {
                "at": now.isoformat(),
                "status_code": answer.status_code,
                "duration_ms": answer.duration_ms,
                "error": answer.error,
            },
        ]
        retry_in = None
        if not answer.error:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            retry_in = engine.backoff(delivery.attempts, base=BACKOFF_BASE, cap=BACKOFF_MAX)
            if now + timedelta(seconds=retry_in) > delivery.created_at + RETRY_WINDOW:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
                retry_in = None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=retry_in)
            _endpoint_failed(endpoint, now)
        delivery.save(
            update_fields=[
                "attempts",
                "last_status_code",
                "last_error",
                "attempt_log",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        logger.info(
            "webhook %s %s attempt %s: %s",
            delivery.pk,
            delivery.event_type,
            delivery.attempts,
            answer.status_code or answer.error,
        )
        return engine.DeliveryResult(delivery.status, retry_in)


def _endpoint_failed(endpoint: WebhookEndpoint, now: Any) -> None:
    """Count the failure; after DISABLE_AFTER of nothing but failures, disable and tell owners."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, is_active=True, failing_since__lte=now - DISABLE_AFTER
    ).update(is_active=False, disabled_at=now, disabled_reason="failing for 3 days")
    if not disabled:
        return
    merchant = endpoint.merchant
    for membership in merchant.memberships.filter(role=Role.OWNER).select_related("user"):
        outbox_enqueue(
            kind="webhook_disabled",
            to=membership.user.email,
            template="webhook_disabled",
            context={"endpoint": endpoint, "shop": merchant},
            language=merchant.default_language,
            merchant=merchant,
            ref=f"webhook_endpoint:{endpoint.pk}",
            dedupe_key=email_key(
                EmailAbout.WEBHOOK_DISABLED, endpoint.pk, f"{now:%Y%m%d%H%M%S}", membership.pk
            ),
        )
    logger.warning("webhook endpoint %s disabled after failing for 3 days", endpoint.pk)


def _deliver(delivery_id: int) -> engine.DeliveryResult:
    """One attempt of an outbound webhook; failures come back with backoff (24 hours)."""
    return webhook_deliver(delivery_id=delivery_id)


WEBHOOKS = engine.Channel(
    task_name="integrations.tasks.webhook_send",
    deliver=_deliver,
    pending=lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING),
    max_retries=40,
)
webhook_send = WEBHOOKS.task


def webhooks_requeue_due(*, grace: timedelta = timedelta(minutes=2)) -> int:
    """Periodic: deliveries whose retry task went missing (broker down, worker killed)."""
    return WEBHOOKS.requeue_due(grace=grace)


def webhook_payloads_purge(*, now: datetime) -> int:
    """Bodies of finished deliveries older than `RETENTION_WEBHOOK_PAYLOAD_DAYS` (they carry
    customers' names and emails); the delivery's record (event, status, answers) stays."""
    cutoff = retention.older_than(settings.RETENTION_WEBHOOK_PAYLOAD_DAYS, now=now)
    return (
        WebhookDelivery.objects.filter(created_at__lt=cutoff, payload_purged_at__isnull=True)
        .exclude(status=WebhookDelivery.Status.PENDING)
        .update(payload={}, payload_purged_at=now)
    )


def customer_data_erase(email: str, merchant_ids: set[int], *, now: datetime) -> int:
    """Empty the bodies of the shops' webhook events that carry a customer's address (an
    erasure on request, links.privacy); the deliveries' records stay."""
    needle = email.lower()
    deliveries = WebhookDelivery.objects.filter(
        endpoint__merchant_id__in=merchant_ids, payload_purged_at__isnull=True
    ).only("pk", "payload")
    hits = [d.pk for d in deliveries.iterator() if needle in json.dumps(d.payload).lower()]
    return WebhookDelivery.objects.filter(pk__in=hits).update(payload={}, payload_purged_at=now)
