"""Access matrix: every URL pattern of the project, requested by every kind of actor.

The patterns are walked from `get_resolver()`, so a new URL is covered (or, if it takes an
argument this file does not know, fails `test_every_pattern_is_classified`) without editing
this file. For each pattern two URLs are built: one with shop A's objects, and one with the ids
of the same kinds of objects of shop B under shop A's shop id. Each is requested with GET and
with an empty POST as anonymous, owner of A, staff of A and owner of B (the outsider).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from links.models import LinkChannel, Refund
from merchants.api_keys import api_key_create
from merchants.models import ApiKey, Membership, Merchant, WebhookDelivery, WebhookEndpoint
from receipts.models import Receipt, ReceiptExport, RefundNote
from receipts.services import receipt_download_token, refund_note_issue
from vpos.crypto import encrypt
from vpos.models import OutboxEmail

from .factories import InvitationFactory, PaymentFactory, PaymentLinkFactory
from .receipts.conftest import finalize

# Prefixes not walked, each with its reason:
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
    return Objects(
        merchant, link, payment, receipt, export, invitation, member, email, key, raw,
        endpoint, delivery, refund, note, phone_link, terminal_link, terminal_payment,
    )  # fmt: skip


@pytest.fixture
def world(shop, stripe_settings):
    stripe_settings.STRIPE_PLATFORM_MOTO = True  # opens the virtual terminal's pages
    a = make_objects(shop.merchant, member=shop.staff, inviter=shop.owner)
    b = make_objects(shop.outsider.merchant, member=shop.outsider, inviter=shop.outsider)
    return shop, a, b


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


def _client(shop, actor: str) -> Client:
    client = Client() if actor == "anonymous" else shop.client_for(actor)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _request(client: Client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.post(url)


def _describe(route: Route, actor: str, method: str, url: str, response) -> str:
    where = response.get("Location", "")
    return f"{route.name} [{actor} {method} {url}] -> {response.status_code} {where}".rstrip()


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        resolve_url("account_login")
    )


# --- The walk itself --------------------------------------------------------------------------


def test_every_pattern_is_classified():
    routes = all_routes()
    names = {r.name for r in routes}
    assert len(routes) > 50, [r.name for r in routes]
    for required in ("links:detail", "receipts:pdf", "merchants:webhook_redeliver", "api:links"):
        assert required in names, f"walk missed {required}"
    problems = []
    for route in routes:
        unknown = set(route.kwargs) - OBJECT_KWARGS - {"shop_id", "token"}
        if unknown:
            problems.append(f"{route.name}: unknown URL arguments {sorted(unknown)}")
        if not (route.is_shop or route.is_api or route.name in PUBLIC | OTHER):
            problems.append(f"{route.name} ({route.route}): not classified as shop/public/other")
        if route.is_shop and not route.named:
            problems.append(f"{route.route}: unnamed shop pattern")
    assert not problems, "\n".join(problems)


def _shop_matrix(world, actor: str) -> list[str]:
    """Every shop URL as `actor`: A's objects, then B's object ids under A's shop id."""
    shop, a, b = world
    client = _client(shop, actor)
    failures: list[str] = []
    shop_routes = [r for r in all_routes() if r.is_shop]
    deferred: list[tuple[Route, str]] = []  # POSTs to A's own objects, sent after everything else
    for route in shop_routes:
        own = _url(route, a.merchant.public_id, a)
        foreign = _url(route, a.merchant.public_id, b) if route.has_objects else None
        for method in ("GET", "POST"):
            if method == "POST" and actor in ("owner", "staff"):
                deferred.append((route, own))
            else:
                response = _request(client, method, own)
                failures += _check_own(route, actor, method, own, response)
            if foreign:
                response = _request(client, method, foreign)
                failures += _check_foreign(route, actor, method, foreign, response)
        if actor == "outsider" and route.has_objects:
            # A's object ids under the outsider's own shop: still not A's objects.
            mixed = _url(route, b.merchant.public_id, a)
            for method in ("GET", "POST"):
                response = _request(client, method, mixed)
                failures += _check_foreign(route, actor, method, mixed, response)
    for route, own in deferred:
        response = _request(client, "POST", own)
        failures += _check_own(route, actor, "POST", own, response)
    return failures


def _check_own(route: Route, actor: str, method: str, url: str, response) -> list[str]:
    code = response.status_code
    text = _describe(route, actor, method, url, response)
    if code >= 500:
        return [f"5xx: {text}"]
    if actor == "anonymous":
        # require_POST answers a GET before the login check.
        if not (_is_login_redirect(response) or code == 405):
            return [f"anonymous not sent to login: {text}"]
    elif actor == "outsider":
        if code not in (403, 404, 405):
            return [f"outsider reached shop A: {text}"]
    elif method == "GET" and code == 404:
        # A's own objects must be found, or the 404s for B's ids below would prove nothing.
        return [f"{actor} cannot find shop A's own object: {text}"]
    return []


def _check_foreign(route: Route, actor: str, method: str, url: str, response) -> list[str]:
    code = response.status_code
    text = _describe(route, actor, method, url, response)
    if code >= 500:
        return [f"5xx: {text}"]
    if actor == "anonymous":
        if not (_is_login_redirect(response) or code == 405):
            return [f"anonymous not sent to login: {text}"]
        return []
    # 403: a staff member is refused an owner-only view before any object is looked up.
    allowed = (403, 404, 405) if actor == "staff" else (404, 405)
    if code not in allowed:
        return [f"other shop's object reachable: {text}"]
    return []


@pytest.mark.parametrize("actor", ["anonymous", "owner", "staff", "outsider"])
def test_shop_urls(world, actor):
    failures = _shop_matrix(world, actor)
    assert not failures, "\n".join(failures)


GARBAGE_TOKENS = ["x", "A" * 64, "..%2F..%2Fetc", "0", "ünïcode", "' OR 1=1 --"]


# The checkout caches its page under the token: a token with spaces is not a valid memcached key,
# which is harmless with the Redis/locmem caches vpos uses.
@pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")
@pytest.mark.parametrize("actor", ["anonymous", "owner", "staff", "outsider"])
def test_public_urls_never_fail(world, actor):
    """Public pages: real and garbage tokens/ids, GET and empty POST: never a 5xx."""
    shop, a, b = world
    client = _client(shop, actor)
    failures: list[str] = []
    for route in all_routes():
        if route.name not in PUBLIC | OTHER:
            continue
        urls: list[tuple[str, tuple[str, ...]]] = []
        if "token" in route.kwargs:
            for garbage in GARBAGE_TOKENS:
                urls.append((_url(route, a.merchant.public_id, a, garbage), ("GET", "POST")))
            # The real token: GET only (a POST would accept the invitation or start a charge).
            urls.append((_url(route, a.merchant.public_id, a, _token_for(route, a)), ("GET",)))
        else:
            urls.append((_url(route, a.merchant.public_id, a), ("GET", "POST")))
            if route.kwargs:
                urls.append((_url(route, uuid.uuid4(), b), ("GET", "POST")))
        for url, methods in urls:
            for method in methods:
                response = _request(client, method, url)
                if response.status_code >= 500:
                    failures.append(f"5xx: {_describe(route, actor, method, url, response)}")
                elif (
                    route.name in ("merchants:home", "merchants:onboarding")
                    and actor == "anonymous"
                    and not _is_login_redirect(response)
                ):
                    failures.append(f"anonymous not sent to login: {url} {response.status_code}")
    assert not failures, "\n".join(failures)


# The refund view is non-atomic and DRF's error handler marks the open transaction for rollback:
# inside pytest's per-test transaction that would break the next query, so these use real ones.
@pytest.mark.django_db(transaction=True)
def test_api_without_key(world):
    """Every API URL with no key, a garbage key, a revoked key: 401/403 JSON, never data."""
    _shop, a, _b = world
    revoked, raw_revoked = api_key_create(
        merchant=a.merchant, name="Old", scope=ApiKey.Scope.READ, actor=None
    )
    revoked.revoked_at = revoked.created_at
    revoked.save()
    failures: list[str] = []
    headers = {
        "no key": {},
        "garbage key": {"HTTP_AUTHORIZATION": "Bearer vpos_live_" + "z" * 40},
        "malformed": {"HTTP_AUTHORIZATION": "Bearer"},
        "revoked key": {"HTTP_AUTHORIZATION": f"Bearer {raw_revoked}"},
    }
    public = {"api:schema", "api:docs", "api:redoc"}
    for route in all_routes():
        if not route.is_api:
            continue
        url = _url(route, None, a)
        for label, extra in headers.items():
            client = Client(**extra)
            for method in ("GET", "POST"):
                response = _request(client, method, url)
                code = response.status_code
                text = _describe(route, label, method, url, response)
                if code >= 500:
                    failures.append(f"5xx: {text}")
                elif route.name in public:
                    continue
                elif code not in (401, 403) and not (code == 404 and not route.named):
                    failures.append(f"API answered without a valid key: {text}")
                elif "json" not in response.get("Content-Type", ""):
                    failures.append(f"API error is not JSON: {text}")
    assert not failures, "\n".join(failures)


POST_ONLY_API = {"api:link_deactivate", "api:payment_refund"}


@pytest.mark.django_db(transaction=True)
def test_api_with_key_of_shop_a(world):
    """A's key reads A's objects; B's object ids and garbage ids are 404, never 5xx."""
    _shop, a, b = world
    client = Client(HTTP_AUTHORIZATION=f"Bearer {a.raw_key}")
    failures: list[str] = []
    for route in all_routes():
        if not route.is_api or not route.has_objects:
            continue
        own = _url(route, None, a)
        foreign = _url(route, None, b)
        response = client.get(own)
        if route.name not in POST_ONLY_API and response.status_code != 200:
            failures.append(
                f"own object not readable: {_describe(route, 'key A', 'GET', own, response)}"
            )
        for method in ("GET", "POST"):
            response = _request(client, method, foreign)
            if response.status_code not in (404, 405):
                failures.append(
                    f"other shop's object reachable: {_describe(route, 'key A', method, foreign, response)}"
                )
        for garbage in ("0", "abc", "9" * 30, str(uuid.uuid4()), "-1"):
            kwargs = dict.fromkeys(route.kwargs, garbage)
            url = reverse(route.name, kwargs=kwargs)
            for method in ("GET", "POST"):
                response = _request(client, method, url)
                if response.status_code >= 500 or response.status_code == 200:
                    failures.append(
                        f"garbage id: {_describe(route, 'key A', method, url, response)}"
                    )
    response = client.post("/api/v1/links", data=b"", content_type="application/json")
    if response.status_code != 400:
        failures.append(f"empty POST to api:links -> {response.status_code}")
    assert not failures, "\n".join(failures)
