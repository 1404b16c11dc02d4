"""Content-Security-Policy, framing, rate limits, request ids and what reaches the logs."""

import io
import json
import logging
import re
import time
from pathlib import Path
from unittest import mock

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse

from links.models import PaymentStatus
from links.payments import payment_refresh
from tests.support.clock import TEN_MINUTES, Clock
from tests.support.factories import PaymentLinkFactory
from tests.support.localstripe import stripe_client
from tests.support.stripe import payment_intent
from vpos import ratelimit
from vpos.logging import JsonFormatter, RequestContextFilter
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


# --- Content-Security-Policy and framing ----------------------------------------------------


def test_checkout_page_allows_stripe_js_and_nothing_else_external(client, stripe_settings):
    link = PaymentLinkFactory()
    response = client.get(reverse("links:checkout", args=[link.token]))
    assert response.status_code == 200
    policy = _policy(response)
    localstripe = stripe_settings.STRIPE_API_BASE  # serves Stripe.js and the API in tests
    assert policy["script-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        localstripe,
    ]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com", localstripe]
    assert policy["frame-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert stripe_settings.STRIPE_JS_URL in response.content.decode()


def test_real_stripe_adds_no_other_origin(client, settings):
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    policy = _policy(client.get("/"))
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]


def test_dashboard_has_the_policy_and_cannot_be_framed(owner_client, shop):
    response = owner_client.get(reverse("links:dashboard", args=[shop.merchant.public_id]))
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_email_preview_keeps_its_own_sandbox(owner_client, shop):
    email = OutboxEmail.objects.create(
        kind="test",
        merchant=shop.merchant,
        to_email="c@example.com",
        dedupe_key="security-test-preview",
        subject="Hi",
        body_text="Hi",
        body_html="<p style='color:red'>Hi</p>",
    )
    response = owner_client.get(
        reverse("merchants:email_html", args=[shop.merchant.public_id, email.pk])
    )
    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert response["X-Frame-Options"] == "SAMEORIGIN"


INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


def _page_templates() -> list[Path]:
    """Templates a browser renders as pages; emails and PDFs have their own rules."""
    return sorted(
        path
        for path in (ROOT / "templates").rglob("*.html")
        if "emails" not in path.parts and not path.name.endswith("_pdf.html")
    )


@pytest.mark.parametrize("path", _page_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_or_style(path):
    text = re.sub(r"{% comment %}.*?{% endcomment %}|{#.*?#}", "", path.read_text(), flags=re.S)
    assert not INLINE_SCRIPT.search(text)
    assert not INLINE_HANDLER.search(text)
    assert "javascript:" not in text
    assert "style=" not in text
    assert "<style" not in text


# --- Rate limits ----------------------------------------------------------------------------


def _statuses(send, times: int) -> list[int]:
    return [send().status_code for _ in range(times)]


def test_login_is_rate_limited(client):
    url = reverse("account_login")
    statuses = _statuses(lambda: client.post(url, {"login": "a@example.com", "password": "x"}), 31)
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_signup_is_rate_limited(client):
    url = reverse("account_signup")
    data = {"email": "not-an-email", "password1": "a", "password2": "b"}
    statuses = _statuses(lambda: client.post(url, data), 21)
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429


def test_password_reset_is_rate_limited(client):
    url = reverse("account_reset_password")
    statuses = _statuses(lambda: client.post(url, {"email": "a@example.com"}), 6)
    assert statuses[:5] == [302] * 5
    assert statuses[5] == 429
    page = client.post(url, {"email": "a@example.com"}, HTTP_ACCEPT_LANGUAGE="it")
    assert "Troppe richieste" in page.content.decode()  # allauth's 429 uses our page too


@pytest.fixture
def limiter_clock(monkeypatch) -> Clock:
    """The time the rate limits read, shared counts and this process's alike: 5 s into a window
    (of 1 and of 10 minutes), so that no request of a test falls on a window's edge by chance."""
    clock = Clock(TEN_MINUTES + 5)
    monkeypatch.setattr(ratelimit, "time", clock)
    monkeypatch.setattr(ratelimit.LOCAL_COUNTS, "clock", clock)
    return clock


def test_checkout_page_is_rate_limited_per_ip(client, settings, limiter_cache, limiter_clock):
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout": "3/60"}
    url = reverse("links:checkout", args=[PaymentLinkFactory().token])
    assert _statuses(lambda: client.get(url), 3) == [200] * 3
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "Too many requests" in response.content.decode()
    # Another client is not affected.
    assert client.get(url, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_guessing_tokens_is_stopped_sooner(client, settings, limiter_cache, limiter_clock):
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_unknown": "3/600"}
    real = reverse("links:checkout", args=[PaymentLinkFactory().token])
    guesses = [reverse("links:checkout", args=[f"guess{n:020d}"]) for n in range(4)]
    assert [client.get(url).status_code for url in guesses] == [404, 404, 404, 429]
    blocked = client.get(real, HTTP_ACCEPT_LANGUAGE="en")
    assert blocked.status_code == 429  # the guesser is stopped for every link
    assert blocked["Retry-After"] == "595"  # until the 10-minute window ends
    assert "Please wait 10 minutes and try again." in blocked.text
    assert client.get(real, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_checkout_attempts_are_rate_limited_per_ip(client, settings, limiter_cache, limiter_clock):
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_attempt": "2/600"}
    link = PaymentLinkFactory()
    url = reverse("links:attempt", args=[link.token]) + "?lang=en"
    assert _statuses(lambda: client.post(url, {}), 2) == [400, 400]  # unreadable card data
    response = client.post(url, {})
    assert response.status_code == 429
    assert response["Retry-After"] == "895"  # at 15:00, half of the two and one more make two
    assert response.json() == {
        "status": "error",
        "code": "rate_limited",
        "message": "Too many requests. Please wait 15 minutes and try again.",
    }
    italian = client.post(reverse("links:attempt", args=[link.token]) + "?lang=it", {})
    assert italian.json()["message"] == "Troppe richieste. Attendi 15 minuti e riprova."


def test_unknown_tokens_count_toward_the_guessing_limit_on_every_checkout_endpoint(
    client, settings, limiter_cache, limiter_clock
):
    """The page, SetupIntents, attempts, 3-D Secure completion and the result page share one
    guessing limit: a guesser cannot go round the page's limit through another endpoint."""
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_unknown": "4/600"}
    payment_id = "6f1f4f8e-3c1e-4c55-9a57-1d2b1f1e0b8a"
    guesses = [
        lambda n: client.post(reverse("links:setup", args=[f"guess{n}"])),
        lambda n: client.post(reverse("links:attempt", args=[f"guess{n}"])),
        lambda n: client.post(reverse("links:attempt_complete", args=[f"guess{n}", payment_id])),
        lambda n: client.get(reverse("links:result", args=[f"guess{n}", payment_id])),
    ]
    assert [guess(n).status_code for n, guess in enumerate(guesses)] == [404] * 4
    setup = client.post(reverse("links:setup", args=["guess-more"]) + "?lang=en")
    assert setup.status_code == 429
    assert setup.json()["code"] == "rate_limited"
    real = PaymentLinkFactory()
    assert client.get(reverse("links:checkout", args=[real.token])).status_code == 429
    assert client.post(reverse("links:setup", args=[real.token])).status_code == 429
    assert client.get(reverse("links:checkout", args=["guess-more"])).status_code == 429
    page = reverse("links:checkout", args=[real.token])
    assert client.get(page, REMOTE_ADDR="203.0.113.9").status_code == 200


@pytest.mark.parametrize("token", ["a\x00b", "\u00b9", "x" * 65], ids=["nul", "other-script", "65"])
def test_a_token_that_cannot_be_ours_is_a_404_on_every_public_page(client, token):
    """A NUL byte in the token reached PostgreSQL, which refuses it in a query: a 500 on every
    checkout endpoint but the page, and on the invitation page."""
    client.raise_request_exception = False
    payment_id = "6f1f4f8e-3c1e-4c55-9a57-1d2b1f1e0b8a"
    answers = [
        client.get(reverse("links:checkout", args=[token])),
        client.post(reverse("links:setup", args=[token])),
        client.post(reverse("links:attempt", args=[token])),
        client.post(reverse("links:attempt_complete", args=[token, payment_id])),
        client.get(reverse("links:result", args=[token, payment_id])),
        client.get(reverse("merchants:invitation_accept", args=[token])),
    ]
    assert [answer.status_code for answer in answers] == [404] * 6


def test_setup_intents_of_one_link_are_limited_whoever_asks(
    client, settings, limiter_cache, stripe_settings, limiter_clock
):
    """25 calls on one link made 25 SetupIntents: the link's own limit stops them, for every
    address (card testing comes from many), and says so in the page's language."""
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_link": "3/600"}
    clock = limiter_clock
    link = PaymentLinkFactory()
    setup = reverse("links:setup", args=[link.token]) + "?lang=it"
    answers = [client.post(setup, REMOTE_ADDR=f"203.0.113.{n}") for n in range(3)]
    assert [a.json()["client_secret"][:5] for a in answers] == ["seti_"] * 3

    limited = client.post(setup, REMOTE_ADDR="198.51.100.7")
    assert limited.status_code == 429
    # Over the last 10 minutes, as estimated from two windows: three at 0:05 use the link up until
    # 13:20, when this window's share of the last one (2/3 of 3) and one more make three.
    assert limited["Retry-After"] == "795"
    assert limited.json() == {
        "status": "error",
        "code": "rate_limited",
        "message": "Ci sono stati troppi tentativi di pagamento su questo link. Non è stato "
        "addebitato nulla: attendi qualche minuto e riprova.",
    }
    # Card attempts on the link count against the same limit, and created nothing either.
    attempt = client.post(reverse("links:attempt", args=[link.token]) + "?lang=en", {})
    assert attempt.status_code == 429
    assert attempt.json()["message"].startswith("There have been too many payment attempts")
    stripe_api = stripe_client(settings.STRIPE_API_BASE, settings.STRIPE_SECRET_KEY)
    assert len(stripe_api.v1.setup_intents.list(params={"limit": 100}).data) == 3
    assert not stripe_api.v1.payment_intents.list(params={"limit": 100}).data
    # Another link is not affected.
    other = reverse("links:setup", args=[PaymentLinkFactory().token])
    assert client.post(other).status_code == 200
    clock.now = TEN_MINUTES + 799
    assert client.post(setup, REMOTE_ADDR="198.51.100.8").status_code == 429
    clock.now = TEN_MINUTES + 800  # the refused calls were not counted: waiting is enough
    assert client.post(setup, REMOTE_ADDR="198.51.100.8").status_code == 200


def test_card_attempts_hold_across_the_edge_of_a_window(
    client, settings, limiter_cache, limiter_clock
):
    """Two attempts at 9:55 and two more at 10:05 were let through by fixed windows: four in ten
    seconds under a limit of two per ten minutes. Over the last ten minutes, the second pair
    waits."""
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_attempt": "2/600"}
    clock = limiter_clock
    clock.now = TEN_MINUTES + 595
    url = reverse("links:attempt", args=[PaymentLinkFactory().token])
    assert _statuses(lambda: client.post(url, {}), 2) == [400, 400]  # unreadable card data
    clock.now = TEN_MINUTES + 605
    limited = client.post(url + "?lang=en", {})
    assert limited.status_code == 429
    # Allowed once the last window's share (595/600 now) is down to one attempt: at 15:00.
    assert limited["Retry-After"] == "295"
    assert limited.json()["message"] == "Too many requests. Please wait 5 minutes and try again."
    clock.now = TEN_MINUTES + 899
    assert client.post(url, {}).status_code == 429
    clock.now = TEN_MINUTES + 900
    assert client.post(url, {}).status_code == 400


def test_a_guesser_stays_blocked_across_the_edge_of_a_window(
    client, settings, limiter_cache, limiter_clock
):
    """Three unknown tokens at 9:55 use up the guessing limit: at 10:05, a new fixed window,
    the guesser's card attempts and SetupIntents are still refused, on every link."""
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_unknown": "3/600"}
    clock = limiter_clock
    clock.now = TEN_MINUTES + 595
    guesses = [client.post(reverse("links:setup", args=[f"guess{n}"])) for n in range(3)]
    assert [guess.status_code for guess in guesses] == [404] * 3
    # The guesses' counter outlives its window, 5 s from now: the next one reads it.
    guessed, _limit, _left = ratelimit._window("checkout_unknown", "127.0.0.1", clock.now)
    assert _seconds_kept(guessed) > 600
    clock.now = TEN_MINUTES + 605
    setup = reverse("links:setup", args=[PaymentLinkFactory().token])
    blocked = client.post(setup)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "195"  # the last window's share down to two guesses: 13:20
    assert client.post(reverse("links:attempt", args=["guess-more"])).status_code == 429
    clock.now = TEN_MINUTES + 799
    assert client.post(setup).status_code == 429


def test_a_busy_page_asks_the_shared_count_once_per_sync_interval(
    client, settings, limiter_cache, limiter_clock
):
    """The checkout page does not pay a round trip to Redis on every request: one per client and
    process every RATELIMIT_SYNC_SECONDS, and every request is still counted."""
    settings.RATELIMIT_SYNC_SECONDS = 1
    clock = limiter_clock
    url = reverse("links:checkout", args=[PaymentLinkFactory().token])
    with mock.patch.object(ratelimit, "_add_shared", wraps=ratelimit._add_shared) as round_trips:
        assert _statuses(lambda: client.get(url), 30) == [200] * 30
        assert round_trips.call_count == 1
        clock.now += 1  # the interval has passed: the next request syncs, with the 29 counted
        assert client.get(url).status_code == 200
        assert round_trips.call_count == 2
    key, _limit, _left = ratelimit._window("checkout", "127.0.0.1", clock.now)
    assert caches["default"].get(key) == 31
    assert _seconds_kept(key) > 60  # through the next window, which reads it as the last one


def _seconds_kept(key: str) -> float:
    """How much longer the shared cache keeps the counter `key`, in real seconds."""
    backend = caches["default"]
    full_key = backend.make_key(key)
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(full_key).ttl(full_key)
    return backend._expire_info[full_key] - time.time()


def test_a_guesser_blocked_on_one_node_is_blocked_on_every_node_within_the_interval(
    settings, limiter_cache
):
    """Two processes (two nodes) share the counts: a guesser stopped through one is stopped by
    the other as soon as it syncs, at most RATELIMIT_SYNC_SECONDS later."""
    settings.RATELIMIT_SYNC_SECONDS = 2
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout_unknown": "3/600"}
    clock = Clock(TEN_MINUTES + 5)
    node_a, node_b = ratelimit.LocalCounts(clock), ratelimit.LocalCounts(clock)
    ip = "198.51.100.23"

    def page(node: ratelimit.LocalCounts) -> int | None:
        return node.hit("checkout", ip, unless_over="checkout_unknown")

    assert page(node_a) is None  # browsing both nodes
    assert page(node_b) is None
    for _guess in range(3):  # three unknown tokens through node A: counted at once
        ratelimit.count_use("checkout_unknown", ip, at=clock.now)
        node_a.forget(ip)
    assert page(node_a) == 595  # blocked at once where it guessed, to the window's end
    clock.now += 1.9
    assert page(node_b) is None  # node B has not synced yet: the bounded delay
    clock.now += 0.1
    assert page(node_b) == 593  # synced: blocked on every node
    assert page(ratelimit.LocalCounts(clock)) == 593  # and on a process that just started


def test_counts_of_every_process_add_up_and_stop_the_client(settings, limiter_cache):
    """A client over its limit through several processes is stopped by each once it syncs; what
    each counted meanwhile is added to the shared count, never lost."""
    settings.RATELIMIT_SYNC_SECONDS = 1
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout": "8/60"}
    clock = Clock(TEN_MINUTES + 5)
    node_a, node_b = ratelimit.LocalCounts(clock), ratelimit.LocalCounts(clock)
    ip = "198.51.100.24"
    assert [node_a.hit("checkout", ip) for _ in range(5)] == [None] * 5
    assert [node_b.hit("checkout", ip) for _ in range(3)] == [None] * 3
    clock.now += 1
    assert node_a.hit("checkout", ip) is None  # knows 7 of the 9 made: B's last 2 are B's
    assert node_b.hit("checkout", ip) == 54  # knows all 10: over the limit
    clock.now += 1
    assert node_a.hit("checkout", ip) == 53  # synced: stopped on every node
    key, _limit, _left = ratelimit._window("checkout", ip, clock.now)
    assert caches["default"].get(key) == 11  # every request counted once


def test_rate_limits_can_be_switched_off(client, settings):
    settings.RATELIMIT_ENABLED = False
    settings.RATELIMITS = {**settings.RATELIMITS, "checkout": "1/60"}
    url = reverse("links:checkout", args=[PaymentLinkFactory().token])
    assert _statuses(lambda: client.get(url), 3) == [200] * 3


# --- Request ids and logs -------------------------------------------------------------------


@pytest.fixture
def json_log():
    """Everything logged during the test, as the production handler would write it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_request_id_is_generated(client):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert client.get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


def test_request_id_from_the_proxy_is_kept(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd")
    assert response["X-Request-ID"] == "lb-1234abcd"


def test_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="x\r\ninjected: yes " + "a" * 200)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_log_records_carry_request_and_shop_ids(client, shop, json_log):
    # A shop without its own Stripe account has no webhook: django.request logs the 404.
    url = reverse("links:stripe_webhook_shop", args=[shop.merchant.public_id])
    response = client.post(
        url, b"{}", content_type="application/json", HTTP_X_REQUEST_ID="req-test-0001"
    )
    assert response.status_code == 404
    logged = [entry for entry in json_log() if entry["logger"] == "django.request"]
    assert logged
    assert logged[0]["request_id"] == "req-test-0001"
    assert logged[0]["shop_id"] == str(shop.merchant.public_id)
    assert logged[0]["level"] == "WARNING"


def test_payment_log_lines_hold_ids_not_secrets_or_email_bodies(
    shop, stripe_settings, json_log, django_capture_on_commit_callbacks
):
    from links.models import Payment

    link = PaymentLinkFactory(merchant=shop.merchant, customer_email="buyer@example.com")
    payment = Payment.objects.create(
        merchant=link.merchant,
        link=link,
        attempt_key="log-test-attempt-key-0001",
        amount=link.amount,
        currency=link.currency,
        status=PaymentStatus.PROCESSING,
        customer_email="buyer@example.com",
    )
    api = stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)
    pi = payment_intent(api, amount=link.amount, metadata={"vpos_payment": str(payment.public_id)})
    Payment.objects.filter(pk=payment.pk).update(provider_id=pi.id)
    payment.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        payment_refresh(payment=payment, source="reconciliation")
    logging.getLogger("vpos.test").info("leaked %s", stripe_settings.STRIPE_SECRET_KEY)

    entries = json_log()
    lines = [json.dumps(entry) for entry in entries]
    done = [e for e in entries if e["message"].startswith("payment follow-ups done")]
    assert len(done) == 1
    assert done[0]["payment_id"] == str(payment.public_id)
    assert done[0]["shop_id"] == str(shop.merchant.public_id)
    emails = OutboxEmail.objects.filter(merchant=shop.merchant)
    assert emails.exists()
    for line in lines:
        assert stripe_settings.STRIPE_SECRET_KEY not in line
        assert "sk_test_" not in line
        for email in emails:
            assert email.body_text.strip()[:80] not in line
    assert any("sk_[redacted]" in line for line in lines)


# --- Back-office pages are never kept by a proxy or on the browser's disk ------------------------


@pytest.mark.parametrize(
    "name",
    ["links:dashboard", "links:payments", "links:list", "receipts:list", "merchants:emails"],
)
def test_shop_pages_with_customer_data_are_private_and_not_stored(shop, name):
    client = shop.client_for("staff" if name != "merchants:emails" else "owner")
    url = reverse(name, args=[shop.merchant.public_id])

    for _visit in range(2):  # rendered, then (the lists, the dashboard) from the page cache
        response = client.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
