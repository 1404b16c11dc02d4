"""The public checkout's JSON flow against a real localstripe, through the real Stripe SDK.

The browser's part (Stripe.js turning a card into a PaymentMethod) is done here server side with
`payment_methods.create`; everything after it goes through the views as checkout.js calls them.
"""

from __future__ import annotations

import secrets
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
import stripe
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from links import payments, services
from links.models import LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus
from links.providers import ProviderError
from links.providers.stripe import StripeProvider
from receipts.services import receipt_public_url
from tests.support.factories import MerchantFactory, PaymentFactory, PaymentLinkFactory
from tests.support.faults import checkout_recording, database_gone
from tests.support.stripe import CARD_3DS, CARD_DECLINED, CARD_OK, card_payment_method

pytestmark = pytest.mark.django_db


class Visitor:
    """One customer's browser: its own cookies, CSRF enforced, English pages."""

    def __init__(self, link: PaymentLink):
        self.link = link
        self.client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
        self.attempt_key = ""

    def open(self, **params: str) -> Any:
        response = self.client.get(reverse("links:checkout", args=[self.link.token]), params)
        # Like checkout.js: a fresh random key per page view, made by the browser.
        self.attempt_key = secrets.token_hex(16)
        return response

    def post(self, url: str, data: dict[str, str] | None = None) -> Any:
        token = self.client.cookies["csrftoken"].value
        # As checkout.js: it reads every answer, errors included, as JSON.
        return self.client.post(
            url, data or {}, HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json"
        )

    def attempt(self, payment_method: str, **extra: str) -> Any:
        data = {"payment_method": payment_method, "attempt_key": self.attempt_key, **extra}
        return self.post(reverse("links:attempt", args=[self.link.token]), data)


def payment_intents(api: stripe.StripeClient) -> list[Any]:
    return list(api.v1.payment_intents.list(params={"limit": 100}).data)


def authenticate(base_url: str, client_secret: str, publishable_key: str, *, success: bool) -> None:
    """What the customer does in the bank's 3-D Secure window (a localstripe-only endpoint)."""
    intent_id = client_secret.split("_secret_")[0]
    url = f"{base_url}/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}"
    body = urllib.parse.urlencode({"key": publishable_key, "client_secret": client_secret}).encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - localstripe
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - localstripe
        assert response.status == 200


@pytest.fixture
def link(stripe_settings) -> PaymentLink:
    merchant = MerchantFactory(name="Bottega Uno")
    return PaymentLinkFactory(merchant=merchant, amount=1999, description="Tailored jacket")


@pytest.fixture
def visitor(link) -> Visitor:
    visitor = Visitor(link)
    assert visitor.open().status_code == 200
    return visitor


# --- Viewing ----------------------------------------------------------------------------------


def test_viewing_the_page_creates_no_payment_and_no_payment_intent(link, stripe_api):
    before = len(payment_intents(stripe_api))
    for _ in range(3):
        response = Visitor(link).open(lang="en")
        assert response.status_code == 200
    page = response.content.decode()
    assert "Bottega Uno" in page
    assert "Tailored jacket" in page
    assert "€19.99" in page
    assert 'data-card-flow="setup"' in page
    assert Payment.objects.count() == 0
    assert len(payment_intents(stripe_api)) == before


def test_page_shows_the_amount_in_the_customer_language(link):
    assert "19,99\xa0€" in Visitor(link).open().content.decode()  # the link's language: Italian


def test_unknown_token_is_404(db, stripe_settings):
    client = Client()
    assert client.get(reverse("links:checkout", args=["no-such-link"])).status_code == 404
    assert client.get(reverse("links:checkout", args=["x" * 200])).status_code == 404
    response = client.post(reverse("links:attempt", args=["no-such-link"]), {})
    assert response.status_code == 404


def test_page_query_count_is_bounded_and_independent_of_the_shop_payments(
    link, django_assert_max_num_queries
):
    def queries() -> int:
        cache.clear()  # measure the uncached page: the cached one costs no query at all
        with CaptureQueriesContext(connection) as captured:
            assert Visitor(link).open().status_code == 200
        return len(captured)

    few = queries()
    for _ in range(15):
        PaymentFactory(
            link=PaymentLinkFactory(merchant=link.merchant), status=PaymentStatus.SUCCEEDED
        )
    PaymentFactory.create_batch(5, link=link, status=PaymentStatus.FAILED)
    assert queries() == few
    cache.clear()
    with django_assert_max_num_queries(4):
        Visitor(link).open()
    with django_assert_max_num_queries(0):  # a busy link is served from the cache
        assert Visitor(link).open().status_code == 200


def test_a_status_change_drops_the_cached_page_at_once(
    link, stripe_settings, django_capture_on_commit_callbacks
):
    assert Visitor(link).open().status_code == 200  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        services.link_deactivate(link=link)
    assert Visitor(link).open().status_code == 410


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (LinkStatus.DEACTIVATED, "This payment link is no longer active"),
        (LinkStatus.EXPIRED, "This payment link has expired"),
        (LinkStatus.PAID, "This payment has already been made"),
        (LinkStatus.COMPLETED, "no longer accepting payments"),
    ],
)
def test_closed_links_answer_410_with_an_explanation(link, status, text):
    PaymentLink.objects.filter(pk=link.pk).update(status=status)
    response = Visitor(link).open(lang="en")
    assert response.status_code == 410
    assert text in response.content.decode()
    assert "data-attempt-key" not in response.content.decode()


def test_a_link_past_its_expiry_is_closed_before_the_periodic_task_runs(link):
    PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Visitor(link).open(lang="en")
    assert response.status_code == 410
    assert "This payment link has expired" in response.content.decode()


# --- Paying -----------------------------------------------------------------------------------


def test_card_payment_succeeds(link, visitor, stripe_api):
    response = visitor.attempt(card_payment_method(stripe_api, CARD_OK), email="anna@example.com")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    payment = Payment.objects.get()
    assert body["redirect"] == reverse("links:result", args=[link.token, payment.public_id])
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert payment.customer_email == "anna@example.com"
    link.refresh_from_db()
    assert link.status == LinkStatus.PAID

    page = visitor.client.get(body["redirect"], {"lang": "en"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Payment successful" in text
    assert "4242" in text
    # The success page offers the receipt through its signed download link.
    receipt = payment.receipt
    assert f"Receipt no. {receipt.number}" in text
    assert receipt_public_url(receipt).removeprefix(settings.SITE_URL) in text
    # The link is now closed for everyone, and says when it was paid.
    closed = Visitor(link).open(lang="en")
    assert closed.status_code == 410
    assert "It was paid on" in closed.content.decode()


def test_the_name_typed_at_checkout_is_one_line_on_the_receipt(link, visitor, stripe_api):
    response = visitor.attempt(
        card_payment_method(stripe_api, CARD_OK), name="Anna\r\nRossi\x0b\u2028Srl"
    )

    assert response.json()["status"] == "succeeded"
    payment = Payment.objects.get()
    assert payment.customer_name == "Anna Rossi Srl"
    assert payment.receipt.customer_name == "Anna Rossi Srl"


def test_service_charges_the_link(link, stripe_api):
    result = payments.checkout_attempt(
        link=link,
        payment_method=card_payment_method(stripe_api, CARD_OK),
        attempt_key=secrets.token_urlsafe(24),
    )
    assert result.status == PaymentStatus.SUCCEEDED
    assert stripe_api.v1.payment_intents.retrieve(result.payment.provider_id).amount == 1999


def test_declined_card_then_another_card(link, visitor, stripe_api):
    declined = visitor.attempt(card_payment_method(stripe_api, CARD_DECLINED)).json()
    assert declined["status"] == "failed"
    assert "declined" in declined["message"]
    assert declined["attempt_key"] != visitor.attempt_key
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE

    visitor.attempt_key = declined["attempt_key"]
    paid = visitor.attempt(card_payment_method(stripe_api, CARD_OK)).json()
    assert paid["status"] == "succeeded"
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["failed", "succeeded"]

    failed = Payment.objects.get(status=PaymentStatus.FAILED)
    page = visitor.client.get(
        reverse("links:result", args=[link.token, failed.public_id]), {"lang": "en"}
    )
    assert "The payment did not go through" in page.content.decode()
    assert "The card was declined" in page.content.decode()


@pytest.mark.parametrize("success", [True, False])
def test_3d_secure(link, visitor, stripe_api, stripe_settings, success):
    started = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    assert started["status"] == "requires_action"
    assert started["client_secret"].startswith("pi_")
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.REQUIRES_ACTION

    authenticate(
        stripe_settings.STRIPE_API_BASE,
        started["client_secret"],
        stripe_settings.STRIPE_PUBLISHABLE_KEY,
        success=success,
    )
    finished = visitor.post(started["complete_url"]).json()

    payment.refresh_from_db()
    link.refresh_from_db()
    if success:
        assert finished["status"] == "succeeded"
        assert payment.status == PaymentStatus.SUCCEEDED
        assert link.status == LinkStatus.PAID
    else:
        assert finished["status"] == "failed"
        assert "authentication" in finished["message"]
        assert payment.status == PaymentStatus.FAILED
        assert link.status == LinkStatus.ACTIVE
        # The customer may try again with another card.
        visitor.attempt_key = finished["attempt_key"]
        again = visitor.attempt(card_payment_method(stripe_api, CARD_OK)).json()
        assert again["status"] == "succeeded"


def test_amount_from_the_browser_is_ignored(link, visitor, stripe_api):
    body = visitor.attempt(
        card_payment_method(stripe_api, CARD_OK), amount="1", currency="USD", link_amount="100"
    ).json()
    assert body["status"] == "succeeded"
    payment = Payment.objects.get()
    intent = stripe_api.v1.payment_intents.retrieve(payment.provider_id)
    assert (intent.amount, intent.currency) == (1999, "eur")
    assert (payment.amount, payment.currency) == (1999, "EUR")


def test_double_submit_makes_one_payment(link, visitor, stripe_api):
    first = visitor.attempt(card_payment_method(stripe_api, CARD_OK)).json()
    second = visitor.attempt(card_payment_method(stripe_api, CARD_OK)).json()
    assert first["status"] == second["status"] == "succeeded"
    assert first["payment"] == second["payment"]
    assert Payment.objects.count() == 1
    assert len(payment_intents(stripe_api)) == 1


def test_a_database_error_after_the_charge_never_says_nothing_was_charged(
    link, visitor, stripe_api, monkeypatch
):
    """The card was charged, then recording it failed: the customer is told not to pay again,
    the same attempt sent again charges nothing more, and reconciliation records the payment."""
    database_gone(monkeypatch, payments, "payment_apply", when=checkout_recording)
    method = card_payment_method(stripe_api, CARD_OK)

    first = visitor.attempt(method)

    assert first.status_code == 503
    assert first.json()["code"] == "outcome_pending"
    assert "Do not pay or refund again" in first.json()["message"]
    assert "Nothing was charged" not in first.json()["message"]
    again = visitor.attempt(method)
    assert again.json()["payment"] == str(Payment.objects.get().public_id)
    assert len(payment_intents(stripe_api)) == 1
    payments.payments_reconcile(older_than=timedelta(0))
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(payment_intents(stripe_api)) == 1


def test_a_database_error_after_3d_secure_charged_never_says_nothing_was_charged(
    link, visitor, stripe_api, stripe_settings, monkeypatch
):
    """The customer completed 3-D Secure (the card is charged), then recording it failed: the
    answer says the outcome is being confirmed; asking again shows the payment succeeded."""
    started = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    authenticate(
        stripe_settings.STRIPE_API_BASE,
        started["client_secret"],
        stripe_settings.STRIPE_PUBLISHABLE_KEY,
        success=True,
    )
    database_gone(monkeypatch, payments, "payment_apply")

    first = visitor.post(started["complete_url"])

    assert first.status_code == 503
    assert first.json()["code"] == "outcome_pending"
    assert "Nothing was charged" not in first.json()["message"]
    again = visitor.post(started["complete_url"]).json()
    assert again["status"] == "succeeded"
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert len(payment_intents(stripe_api)) == 1


def test_a_repeated_attempt_the_provider_cannot_check_never_says_nothing_was_charged(
    link, visitor, stripe_api, stripe_settings, monkeypatch
):
    """The customer completed 3-D Secure, the answer got lost and checkout.js sends the same
    attempt again while Stripe cannot be reached: "do not pay again", not "nothing charged"."""
    started = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    authenticate(
        stripe_settings.STRIPE_API_BASE,
        started["client_secret"],
        stripe_settings.STRIPE_PUBLISHABLE_KEY,
        success=True,
    )

    def unreachable(self, payment_id):
        raise ProviderError("connection refused", permanent=False)

    monkeypatch.setattr(StripeProvider, "retrieve_payment", unreachable)

    again = visitor.attempt(card_payment_method(stripe_api, CARD_OK))

    assert again.status_code == 503
    assert again.json()["code"] == "confirm_unknown"
    assert "Do not pay again" in again.json()["message"]
    assert "Nothing was charged" not in again.json()["message"]
    assert Payment.objects.count() == 1
    monkeypatch.undo()
    payments.payments_reconcile(older_than=timedelta(0))
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_double_submit_while_waiting_for_3d_secure_answers_the_same_challenge(
    link, visitor, stripe_api
):
    first = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    second = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    assert second["status"] == "requires_action"
    assert second["client_secret"] == first["client_secret"]
    assert second["complete_url"] == first["complete_url"]
    assert Payment.objects.count() == 1


def test_second_visitor_cannot_pay_a_single_use_link_while_the_first_authenticates(
    link, visitor, stripe_api
):
    assert link.kind == LinkKind.SINGLE
    first = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    assert first["status"] == "requires_action"

    other = Visitor(link)
    other.open()
    response = other.attempt(card_payment_method(stripe_api, CARD_OK))
    assert response.status_code == 409
    assert response.json()["code"] == "in_progress"
    assert response.json()["message"]
    assert Payment.objects.count() == 1
    assert len(payment_intents(stripe_api)) == 1

    # The first visitor giving up on 3-D Secure and trying another card is fine.
    visitor.attempt_key = secrets.token_urlsafe(24)
    retried = visitor.attempt(card_payment_method(stripe_api, CARD_OK)).json()
    assert retried["status"] == "succeeded"
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["canceled", "succeeded"]


def test_paying_a_closed_link_answers_410(link, visitor, stripe_api):
    PaymentLink.objects.filter(pk=link.pk).update(status=LinkStatus.DEACTIVATED)
    response = visitor.attempt(card_payment_method(stripe_api, CARD_OK))
    assert response.status_code == 410
    assert response.json()["status"] == "error"
    assert Payment.objects.count() == 0
    setup = visitor.post(reverse("links:setup", args=[link.token]))
    assert setup.status_code == 410


def test_setup_gives_a_setup_intent_secret(link, visitor):
    response = visitor.post(reverse("links:setup", args=[link.token]))
    assert response.status_code == 200
    assert response.json()["client_secret"].startswith("seti_")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"attempt_key": "k" * 32},
        {"payment_method": "4242424242424242", "attempt_key": "k" * 32},  # a card number, never
        {"payment_method": "pm_ok", "attempt_key": "short"},
        {"payment_method": "pm_ok", "attempt_key": "k" * 32, "email": "not-an-email"},
        {"payment_method": "pm_ok;drop", "attempt_key": "k" * 32},
    ],
)
def test_bad_bodies_answer_400_and_write_nothing(link, visitor, stripe_api, data):
    response = visitor.post(reverse("links:attempt", args=[link.token]), data)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert response.json()["message"]
    assert Payment.objects.count() == 0
    assert payment_intents(stripe_api) == []


def test_unknown_payment_method_is_a_clear_400(link, visitor, stripe_api):
    response = visitor.attempt("pm_doesnotexist")
    assert response.status_code == 400
    assert response.json()["message"]
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


def test_post_without_csrf_token_is_refused(link, visitor, stripe_api):
    response = visitor.client.post(
        reverse("links:attempt", args=[link.token]),
        {"payment_method": card_payment_method(stripe_api), "attempt_key": visitor.attempt_key},
    )
    assert response.status_code == 403
    assert Payment.objects.count() == 0


def test_result_of_another_link_is_404(link, visitor, stripe_api):
    visitor.attempt(card_payment_method(stripe_api, CARD_OK))
    payment = Payment.objects.get()
    other = PaymentLinkFactory(merchant=link.merchant)
    url = reverse("links:result", args=[other.token, payment.public_id])
    assert visitor.client.get(url).status_code == 404


def test_card_service_down_is_a_clear_503_not_a_500(link, visitor, stripe_api, settings):
    first = visitor.attempt(card_payment_method(stripe_api, CARD_3DS)).json()
    assert first["status"] == "requires_action"
    pm = card_payment_method(stripe_api, CARD_OK)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    visitor.attempt_key = secrets.token_urlsafe(24)
    response = visitor.attempt(pm)
    assert response.status_code == 503
    assert response.json()["message"]
    complete = visitor.post(first["complete_url"])
    assert complete.status_code == 503
    setup = visitor.post(reverse("links:setup", args=[link.token]))
    assert setup.status_code == 503
    assert Payment.objects.get().status == PaymentStatus.REQUIRES_ACTION
