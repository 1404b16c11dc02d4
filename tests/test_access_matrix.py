"""Access matrix: every URL pattern of the project, requested by every kind of actor.

The patterns are walked from `get_resolver()`, so a new URL is covered (or, if it takes an
argument this file does not know, fails `test_every_pattern_is_classified`) without editing
this file. For each pattern two URLs are built: one with shop A's objects, and one with the ids
of the same kinds of objects of shop B under shop A's shop id. Each is requested with GET and
with an empty POST as anonymous, owner of A, staff of A and owner of B (the outsider).
"""

from __future__ import annotations

import uuid

import pytest
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from tests.support.routes import (
    OBJECT_KWARGS,
    OTHER,
    PUBLIC,
    Route,
    _token_for,
    _url,
    all_routes,
    make_objects,
)


@pytest.fixture
def world(shop, stripe_settings):
    stripe_settings.STRIPE_PLATFORM_MOTO = True  # opens the virtual terminal's pages
    a = make_objects(shop.merchant, member=shop.staff, inviter=shop.owner)
    b = make_objects(shop.outsider.merchant, member=shop.outsider, inviter=shop.outsider)
    return shop, a, b


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
    for required in ("links:detail", "receipts:pdf", "integrations:webhook_redeliver", "api:links"):
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


POST_ONLY_API = {
    "api:link_deactivate",
    "api:payment_refund",
    "api:payment_capture",
    "api:payment_cancel",
}


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
