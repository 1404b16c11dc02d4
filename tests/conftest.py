"""Shared fixtures: a shop with its three actors (owner, staff, a member of another shop)."""

from __future__ import annotations

import email
import email.message
import os
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import stripe
from django.core.cache import caches
from django.test import Client
from django.utils.functional import empty

from links.models import Payment, PaymentLink, PaymentStatus
from merchants.models import Membership, Merchant, Role, User
from tests.support.factories import MembershipFactory, MerchantFactory
from tests.support.localstripe import stripe_client
from tests.support.stripe import CARD_OK, payment_intent
from vpos.documents import documents


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Public media and private documents in two folders of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            **settings.STORAGES["documents"],
            "OPTIONS": {
                **settings.STORAGES["documents"]["OPTIONS"],
                "location": str(tmp_path / "documents"),
            },
        },
    }
    documents._wrapped = empty  # re-read STORAGES, as Django does for default_storage
    yield
    documents._wrapped = empty


@dataclass
class Shop:
    merchant: Merchant
    owner: Membership
    staff: Membership
    outsider: Membership  # owner of another shop

    def client_for(self, actor: str) -> Client:
        client = Client()
        client.force_login(getattr(self, actor).user)
        return client


@pytest.fixture
def shop(db) -> Shop:
    merchant = MerchantFactory(name="Bottega Uno")
    other = MerchantFactory(name="Bottega Due")
    return Shop(
        merchant=merchant,
        owner=MembershipFactory(merchant=merchant, role=Role.OWNER),
        staff=MembershipFactory(merchant=merchant, role=Role.STAFF),
        outsider=MembershipFactory(merchant=other, role=Role.OWNER),
    )


@pytest.fixture
def owner_client(shop: Shop) -> Client:
    return shop.client_for("owner")


@pytest.fixture
def staff_client(shop: Shop) -> Client:
    return shop.client_for("staff")


@pytest.fixture
def outsider_client(shop: Shop) -> Client:
    return shop.client_for("outsider")


@pytest.fixture
def user(db) -> User:
    from tests.support.factories import UserFactory

    return UserFactory()


@pytest.fixture(autouse=True)
def _empty_cache():
    """allauth keeps its rate-limit counters in the cache, the checkout its pages and each
    process what it counted of clients (vpos.ratelimit.LOCAL_COUNTS): every test starts with an
    empty cache."""
    from vpos.ratelimit import LOCAL_COUNTS

    caches["default"].clear()
    caches["local"].clear()
    LOCAL_COUNTS.forget()


# --- Stripe test mode, offline: one localstripe for the session -------------------------------


@pytest.fixture(scope="session")
def localstripe():
    """Base URL of a localstripe on 127.0.0.1 (free port, memory-only store) for the session."""
    from tests.support.localstripe import LocalStripe

    with LocalStripe() as server:
        yield server.base_url


@pytest.fixture
def stripe_settings(localstripe, settings):
    """Point the app at the session's localstripe, emptied first, with test-mode keys."""
    from tests.support.localstripe import flush

    flush(localstripe)
    settings.STRIPE_API_BASE = localstripe
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    settings.STRIPE_SECRET_KEY = "sk_test_vpos_platform"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_vpos_platform"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_vpos_platform"
    return settings


@pytest.fixture
def stripe_stub(settings):
    """Real-Stripe mode (the Payment Element) against a stub of Stripe's API that records what
    vpos sends (tests/support/stripe_stub.py)."""
    from tests.support.stripe_stub import stripe_stub_server

    with stripe_stub_server() as stub:
        settings.STRIPE_API_BASE = stub.url
        settings.STRIPE_API_IS_LOCALSTRIPE = False
        settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
        settings.STRIPE_SECRET_KEY = "sk_test_vpos_platform"
        settings.STRIPE_PUBLISHABLE_KEY = "pk_test_vpos_platform"
        settings.STRIPE_WEBHOOK_SECRET = "whsec_vpos_platform"
        yield stub


# --- A real SMTP server on loopback, for any test package -----------------------------------


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.Message:
        return email.message_from_bytes(self.raw)


@dataclass
class MailServerHandler:
    """An aiosmtpd handler that accepts everything unless scripted otherwise.

    `data_replies`: answers to the next DATA commands, one each (e.g. "421 try later").
    `refused`: recipient address -> answer to its RCPT (e.g. "550 5.1.1 no such mailbox").
    """

    data_replies: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    received: list[Delivered] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(
            Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def mail_server(settings) -> Iterator[MailServerHandler]:
    """Point Django's SMTP backend at a fresh aiosmtpd on 127.0.0.1; yield its handler."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = MailServerHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield handler
    controller.stop()


# --- Shared by every package ------------------------------------------------------------------


@pytest.fixture
def client_as(shop) -> Callable[[str], Client]:
    """A client for "owner", "staff", "outsider" or "anonymous" that reads the pages in English."""

    def make(actor: str) -> Client:
        client = Client() if actor == "anonymous" else shop.client_for(actor)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


@pytest.fixture
def stripe_api(stripe_settings) -> stripe.StripeClient:
    """The test's own view of localstripe, as the shop would see it in the Stripe dashboard."""
    return stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)


@pytest.fixture
def paid_intent(stripe_api) -> Callable[..., tuple[Payment, Any]]:
    """A Payment row (status `status`, default pending) whose PaymentIntent really succeeded."""

    def make(
        link: PaymentLink,
        *,
        status: str = PaymentStatus.PENDING,
        card: str = CARD_OK,
        **fields: Any,
    ) -> tuple[Payment, Any]:
        payment = Payment.objects.create(
            merchant=link.merchant,
            link=link,
            attempt_key=secrets.token_urlsafe(24),
            amount=link.amount,
            currency=link.currency,
            status=status,
            via_shop_account=hasattr(link.merchant, "payment_account"),  # as checkout records it
            **fields,
        )
        pi = payment_intent(
            stripe_api,
            amount=link.amount,
            currency=link.currency,
            card=card,
            metadata={"vpos_payment": str(payment.public_id), "vpos_link": str(link.pk)},
        )
        Payment.objects.filter(pk=payment.pk).update(provider_id=pi.id)
        payment.refresh_from_db()
        return payment, pi

    return make


@pytest.fixture(params=["memory", "redis"])
def limiter_cache(request, settings):
    """Rate limits (the checkout's, the API's) counted in memory (tests, the embedded default) and in Redis, as in
    production, where the counting is one pipelined round trip (its own code path)."""
    if request.param == "memory":
        yield request.param
        return
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"needs Redis at {urlsplit(url).netloc}")
    # Keys of this test's own, under REDIS_URL's database: nothing of another suite sharing that
    # Redis is read or flushed, and they are deleted at the end.
    prefix = f"test-limiter-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "vpos.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix},
    }
    yield request.param
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()
