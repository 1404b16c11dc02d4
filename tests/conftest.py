"""Shared fixtures: a shop with its three actors (owner, staff, a member of another shop)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from merchants.models import Membership, Merchant, Role, User

from .factories import MembershipFactory, MerchantFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


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
    from .factories import UserFactory

    return UserFactory()


@pytest.fixture(autouse=True)
def _empty_cache():
    """allauth keeps its rate-limit counters in the cache: every test starts with none used."""
    from django.core.cache import cache

    cache.clear()


# --- Stripe test mode, offline: one localstripe for the session -------------------------------


@pytest.fixture(scope="session")
def localstripe():
    """Base URL of a localstripe on 127.0.0.1 (free port, memory-only store) for the session."""
    from vpos.localstripe import LocalStripe

    with LocalStripe() as server:
        yield server.base_url


@pytest.fixture
def stripe_settings(localstripe, settings):
    """Point the app at the session's localstripe, emptied first, with test-mode keys."""
    from vpos.localstripe import flush

    flush(localstripe)
    settings.STRIPE_API_BASE = localstripe
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    settings.STRIPE_SECRET_KEY = "sk_test_vpos_platform"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_vpos_platform"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_vpos_platform"
    return settings
