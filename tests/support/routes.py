"""Every route of the site, classified (public, per shop, API...), with objects to fill its
arguments: what the access matrix walks."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from integrations.api_keys import api_key_create
from integrations.models import ApiKey, WebhookDelivery, WebhookEndpoint
from links.models import LinkChannel, Refund
from merchants.models import FiscalProfile, Membership, Merchant
from receipts.models import Invoice, Receipt, ReceiptExport, RefundNote
from receipts.services import receipt_download_token, refund_note_issue
from tests.support.documents import finalize
from tests.support.factories import InvitationFactory, PaymentFactory, PaymentLinkFactory
from tests.support.invoices import BUSINESS
from vpos.crypto import encrypt
from vpos.models import OutboxEmail

SKIPPED_PREFIXES = {
    "admin/": "Django admin: staff-only, guarded by the admin site itself, not by shop_view",
    "accounts/": "allauth's login/signup/password pages: third-party, covered by test_accounts",
    "media/": "user uploads: served by the web server; the view 404s without DEBUG/SERVE_MEDIA",
    "static/": "static files: served by WhiteNoise / the web server, no Django pattern",
}

# Patterns reachable without a shop membership, by (namespaced) name.
PUBLIC = {
    "healthz",
    "readyz",
    "links:checkout",
    "links:setup",
    "links:attempt",
    "links:attempt_complete",
    "links:attempt_return",
    "links:invoice_check",
    "links:result",
    "links:stripe_webhook",
    "links:stripe_webhook_shop",
    "receipts:public_download",
    "merchants:invitation_accept",
    "api_not_found",  # any other path under /api/: a JSON 404
}
# Pages of a signed-in user that are not under a shop, and DEBUG-only tools.
OTHER = {
    "home",
    "set_language",
    "merchants:home",
    "merchants:onboarding",
    "dev_outbox",
    "dev_outbox_detail",
    "dev_outbox_html",
}
# Views whose POST changes who may do what: requested last, so they do not hide other answers.
LAST = ("merchants:leave", "merchants:member_remove")

OBJECT_KWARGS = {
    "link_id",
    "payment_id",
    "invitation_id",
    "member_id",
    "email_id",
    "key_id",
    "endpoint_id",
    "delivery_id",
    "receipt_id",
    "export_id",
    "note_id",
    "refund_id",
    "invoice_id",
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the route text for an unnamed pattern
    route: str  # the full route text, e.g. "s/<uuid:shop_id>/links/<int:link_id>/"
    kwargs: tuple[str, ...]
    named: bool

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/v1/")

    @property
    def is_shop(self) -> bool:
        return "shop_id" in self.kwargs and self.name not in PUBLIC

    @property
    def has_objects(self) -> bool:
        return bool(OBJECT_KWARGS & set(self.kwargs))


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[Route]:
    routes: list[Route] = []
    for entry in resolver.url_patterns:
        text = str(entry.pattern)
        full = prefix + text
        if any(full.startswith(skipped) for skipped in SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            routes.extend(_walk(entry, full, ns))
        elif isinstance(entry, URLPattern):
            converters = list(getattr(entry.pattern, "converters", {}))
            # Converters of enclosing resolvers too (none today, but keep the walk honest).
            kwargs = tuple(dict.fromkeys([*_prefix_kwargs(prefix), *converters]))
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                name = full
            routes.append(Route(name, full, kwargs, bool(entry.name)))
    return routes


def _prefix_kwargs(prefix: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", prefix)


def all_routes() -> list[Route]:
    routes = _walk(get_resolver())
    # Destructive POSTs last.
    return sorted(routes, key=lambda r: r.name in LAST)


# --- The two shops and one object of each kind ------------------------------------------------


@dataclass
class Objects:
    merchant: Merchant
    link: Any
    payment: Any
    receipt: Receipt
    export: ReceiptExport
    invitation: Any
    member: Membership
    email: OutboxEmail
    key: ApiKey
    raw_key: str
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    refund: Refund
    note: RefundNote
    phone_link: Any
    terminal_link: Any
    terminal_payment: Any
    invoice: Invoice

    def kwargs(self, route_name: str = "") -> dict[str, Any]:
        link, payment = self.link, self.payment
        if route_name == "links:phone_order":
            link = self.phone_link
        elif route_name.startswith("links:terminal_"):
            link, payment = self.terminal_link, self.terminal_payment
        return {
            "link_id": link.pk,
            "payment_id": payment.public_id,
            "invitation_id": self.invitation.pk,
            "member_id": self.member.pk,
            "email_id": self.email.pk,
            "key_id": self.key.pk,
            "endpoint_id": self.endpoint.pk,
            "delivery_id": self.delivery.pk,
            "receipt_id": self.receipt.pk,
            "export_id": self.export.pk,
            "note_id": self.note.pk,
            "refund_id": self.refund.public_id,
            "invoice_id": self.invoice.public_id,
        }


def make_objects(merchant: Merchant, member: Membership, inviter: Membership) -> Objects:
    link = PaymentLinkFactory(merchant=merchant, amount=12200, currency="EUR")
    payment = finalize(link)  # succeeded, with a provider_id; issues the receipt
    receipt = Receipt.objects.get(payment=payment)
    export = ReceiptExport.objects.create(
        merchant=merchant,
        requested_by=inviter.user,
        date_from=date(2026, 1, 1),
        date_to=date(2026, 12, 31),
        status=ReceiptExport.Status.DONE,
    )
    export.file.save(f"export-{export.pk}.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18))
    invitation = InvitationFactory(merchant=merchant, invited_by=inviter.user)
    email = OutboxEmail.objects.create(
        kind="link",
        merchant=merchant,
        to_email="anna@example.com",
        subject="Your payment link",
        body_text="Pay here",
        body_html="<p>Pay here</p>",
        dedupe_key=f"matrix:{uuid.uuid4()}",
    )
    key, raw = api_key_create(
        merchant=merchant, name="Site", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    # Loopback: outbound webhooks refuse it, so a redelivery never leaves the machine.
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant,
        url="http://127.0.0.1:9/hook",
        events=["payment.succeeded"],
        secret_encrypted=encrypt("whsec_matrix"),
        secret_hint="whsec_matr",
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=f"evt_{secrets.token_hex(8)}",
        event_type="payment.succeeded",
        payload={"id": "evt"},
        status=WebhookDelivery.Status.FAILED,
    )
    refund = Refund.objects.create(
        merchant=merchant,
        payment=payment,
        amount=100,
        currency="EUR",
        status=Refund.Status.SUCCEEDED,
        provider_id=f"re_test_{secrets.token_hex(8)}",
    )
    with transaction.atomic():  # numbering locks its sequence row
        note = refund_note_issue(refund=refund, at=timezone.now())
    phone_link = PaymentLinkFactory(merchant=merchant, channel=LinkChannel.PHONE)
    terminal_link = PaymentLinkFactory(merchant=merchant, channel=LinkChannel.TERMINAL)
    terminal_payment = PaymentFactory(link=terminal_link)
    FiscalProfile.objects.get_or_create(merchant=merchant, defaults={"invoicing": "request"})
    invoiced = finalize(PaymentLinkFactory(merchant=merchant), invoice_details=BUSINESS)
    invoice = Invoice.objects.get(payment=invoiced)
    return Objects(
        merchant, link, payment, receipt, export, invitation, member, email, key, raw,
        endpoint, delivery, refund, note, phone_link, terminal_link, terminal_payment, invoice,
    )  # fmt: skip


def _url(route: Route, shop_id: Any, objects: Objects, token: str = "") -> str:
    values = objects.kwargs(route.name)
    kwargs: dict[str, Any] = {}
    for name in route.kwargs:
        if name == "shop_id":
            kwargs[name] = shop_id
        elif name in values:
            value = values[name]
            kwargs[name] = str(value) if route.is_api else value
        elif name == "token":
            kwargs[name] = token
        else:
            raise AssertionError(f"{route.name}: no value for URL argument {name!r}")
    if route.is_api and route.name == "api/v1/^.*$":
        return "/api/v1/no/such/thing"
    if route.is_api and "link_id" in kwargs:
        kwargs["link_id"] = str(objects.link.pk)
    return reverse(route.name, kwargs=kwargs)


def _token_for(route: Route, objects: Objects) -> str:
    if route.name == "merchants:invitation_accept":
        return objects.invitation.token
    if route.name == "receipts:public_download":
        return receipt_download_token(objects.receipt)
    return objects.link.token
