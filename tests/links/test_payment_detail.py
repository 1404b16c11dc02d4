"""The payment page in the back office: who may see it and refund from it, and its timeline.

Payments here are made the way a customer makes them, through the checkout service against
localstripe (3-D Secure included), then refunded through the page.
"""

from __future__ import annotations

import html
import re
import secrets
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from links.models import Payment, PaymentLink, PaymentStatus, Refund
from links.payments import checkout_attempt, payment_refresh
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import CARD_3DS, CARD_DECLINED, CARD_OK, card_payment_method, complete_3ds

CUSTOMER = "anna.bianchi@example.com"


def detail_url(payment: Payment, shop_id: Any = None) -> str:
    return reverse(
        "links:payment_detail", args=[shop_id or payment.merchant.public_id, payment.public_id]
    )


def refund_url(payment: Payment, shop_id: Any = None) -> str:
    return reverse(
        "links:payment_refund", args=[shop_id or payment.merchant.public_id, payment.public_id]
    )


REFUND_DATA = {"amount": "5,00", "reason": "Reso", "confirm": "on"}


def timeline(page: str) -> list[str]:
    """The timeline's entries as a reader sees them, oldest first: one text per entry."""
    section = re.search(r'id="timeline-title".*?</ol>', page, re.S)
    assert section is not None
    items = re.findall(r"<li[^>]*>(.*?)</li>", section.group(), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant, amount=2500, description="Cena per due", language="en"
    )


@pytest.fixture
def pay(stripe_api, stripe_settings, django_capture_on_commit_callbacks) -> Callable[..., Payment]:
    """A customer paying `link` with `card` through checkout; 3-D Secure answered as told."""

    def make(link: PaymentLink, card: str = CARD_OK, *, authenticate: bool = True) -> Payment:
        with django_capture_on_commit_callbacks(execute=True):
            result = checkout_attempt(
                link=link,
                payment_method=card_payment_method(stripe_api, card),
                attempt_key=secrets.token_urlsafe(24),
                customer_email=CUSTOMER,
            )
            payment = result.payment
            if payment.status == PaymentStatus.REQUIRES_ACTION:
                intent = SimpleNamespace(id=payment.provider_id, client_secret=result.client_secret)
                complete_3ds(
                    stripe_settings.STRIPE_API_BASE,
                    intent,
                    publishable_key=stripe_settings.STRIPE_PUBLISHABLE_KEY,
                    success=authenticate,
                )
                payment = payment_refresh(payment=payment, source="browser")
        return payment

    return make


@pytest.fixture
def payment(link, pay) -> Payment:
    payment = pay(link)
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


def localstripe_refunds(stripe_api, payment: Payment) -> list[int]:
    listed = stripe_api.v1.refunds.list({"payment_intent": payment.provider_id, "limit": 100})
    return [r.amount for r in listed.data]


# --- Who sees what ---------------------------------------------------------------------------


def test_owner_sees_the_payment_and_the_refund_form(client_as, payment):
    response = client_as("owner").get(detail_url(payment))

    assert response.status_code == 200
    page = response.text
    assert "€25.00" in page
    assert "Cena per due" in page
    assert "Visa ···· 4242" in page
    assert CUSTOMER in page
    assert payment.provider_id in page
    assert f"Receipt {payment.receipt.number}" in page
    assert f'action="{refund_url(payment)}"' in page
    assert "Up to €25.00 can be refunded" in page


def test_staff_see_the_page_but_no_refund_form_and_cannot_refund(client_as, payment, stripe_api):
    staff = client_as("staff")

    page = staff.get(detail_url(payment))
    assert page.status_code == 200
    assert "Cena per due" in page.text
    assert refund_url(payment) not in page.text
    assert "can be refunded" not in page.text

    for data in ({"amount": "5,00", "reason": "Reso"}, REFUND_DATA):
        assert staff.post(refund_url(payment), data).status_code == 403
    assert not Refund.objects.exists()
    assert localstripe_refunds(stripe_api, payment) == []
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


def test_a_member_of_another_shop_gets_404(client_as, payment, stripe_api):
    outsider = client_as("outsider")

    assert outsider.get(detail_url(payment)).status_code == 404
    assert outsider.post(refund_url(payment), REFUND_DATA).status_code == 404
    assert localstripe_refunds(stripe_api, payment) == []


def test_anonymous_visitor_is_sent_to_login(client_as, payment, stripe_api):
    anonymous = client_as("anonymous")

    for response in (
        anonymous.get(detail_url(payment)),
        anonymous.post(refund_url(payment), REFUND_DATA),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    assert localstripe_refunds(stripe_api, payment) == []


def test_another_shops_payment_under_this_shops_url_is_404(shop, client_as, pay, stripe_api):
    theirs = pay(PaymentLinkFactory(merchant=shop.outsider.merchant, amount=4000))
    owner = client_as("owner")
    mine = shop.merchant.public_id

    assert owner.get(detail_url(theirs, shop_id=mine)).status_code == 404
    assert owner.post(refund_url(theirs, shop_id=mine), REFUND_DATA).status_code == 404
    assert localstripe_refunds(stripe_api, theirs) == []
    theirs.refresh_from_db()
    assert theirs.refunded_amount == 0


def test_an_unknown_payment_is_404(shop, client_as):
    unknown = reverse("links:payment_detail", args=[shop.merchant.public_id, uuid.uuid4()])
    assert client_as("owner").get(unknown).status_code == 404


def test_refund_action_answers_only_post(client_as, payment):
    assert client_as("owner").get(refund_url(payment)).status_code == 405


# --- The timeline ----------------------------------------------------------------------------


def test_timeline_of_a_3d_secure_payment_then_a_refund_in_order(
    link, pay, client_as, django_capture_on_commit_callbacks
):
    payment = pay(link, CARD_3DS)
    assert payment.status == PaymentStatus.SUCCEEDED
    owner = client_as("owner")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            refund_url(payment), {"amount": "5,00", "reason": "Vino finito", "confirm": "on"}
        )
    assert response.status_code == 302

    entries = timeline(owner.get(detail_url(payment)).text)

    expected = [
        "Checkout started",
        "3-D Secure requested",
        "Payment succeeded",
        "Receipt issued",
        "Email: Payment confirmation",
        "Email: Payment notification",
        "Refunded",
        "Refund note issued",
        "Email: Refund",
    ]
    assert [next(e for e in expected if entry.startswith(e)) for entry in entries] == expected, (
        entries
    )
    by_label = dict(zip(expected, entries, strict=True))
    assert "3-D Secure" in by_label["3-D Secure requested"]
    # Written by whichever process finalized it, in its language: either way, the amount.
    assert re.search(r"25[.,]00", by_label["Payment succeeded"])
    assert "Visa ···· 3155" in by_label["Payment succeeded"]
    assert payment.receipt.number in by_label["Receipt issued"]
    assert f"{CUSTOMER} · Sent" in by_label["Email: Payment confirmation"]
    assert "Sent" in by_label["Email: Payment notification"]
    assert "€5.00" in by_label["Refunded"]
    # Who did it, in words: the customer's browser finalized the payment, the owner refunded.
    assert "via the customer's browser" in by_label["Payment succeeded"]
    assert "via the back office" in by_label["Refunded"]
    assert "RF-" in by_label["Refund note issued"]
    assert f"{CUSTOMER} · Sent" in by_label["Email: Refund"]


def test_an_italian_reader_reads_the_timeline_in_italian(payment, shop):
    owner = shop.client_for("owner")
    owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"

    entries = timeline(owner.get(detail_url(payment)).text)

    # The label, then the time: nothing stored in the language of whoever started the checkout.
    assert re.fullmatch(r"Pagamento avviato \d\d/\d\d/\d{4} \d\d:\d\d", entries[0]), entries[0]
    assert not any("Checkout" in entry for entry in entries)
    succeeded = next(entry for entry in entries if entry.startswith("Pagamento riuscito"))
    assert "tramite la pagina di pagamento" in succeeded


def test_timeline_of_a_declined_card_shows_the_reason_and_offers_no_refund(link, pay, client_as):
    payment = pay(link, CARD_DECLINED)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message

    page = client_as("owner").get(detail_url(payment)).text
    entries = timeline(page)

    assert entries[0].startswith("Checkout started")
    failed = [entry for entry in entries if entry.startswith("Attempt failed")]
    assert len(failed) == 1
    assert html.unescape(payment.failure_message) in failed[0]
    assert "declined" in failed[0].lower()
    assert not any(entry.startswith("Payment succeeded") for entry in entries)
    assert not any(entry.startswith("Email") for entry in entries)
    assert refund_url(payment) not in page
    assert "Failed" in page


def test_timeline_of_failed_3d_secure(link, pay, client_as):
    payment = pay(link, CARD_3DS, authenticate=False)
    assert payment.status == PaymentStatus.FAILED

    entries = timeline(client_as("owner").get(detail_url(payment)).text)

    labels = [entry.split(" ")[0] for entry in entries]
    assert labels[:2] == ["Checkout", "3-D"]
    assert entries[-1].startswith("Attempt failed")


def test_the_timeline_shows_only_this_payments_history(link, pay, client_as):
    first = pay(link, CARD_DECLINED)
    second = pay(link, CARD_OK)

    entries = timeline(client_as("owner").get(detail_url(first)).text)

    assert not any(entry.startswith(("Payment succeeded", "Receipt issued")) for entry in entries)
    assert second.receipt.number not in " ".join(entries)


def test_page_query_count_does_not_grow_with_refunds(
    payment, client_as, django_capture_on_commit_callbacks
):
    owner = client_as("owner")
    owner.get(detail_url(payment))  # the shop chosen, the session written

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(detail_url(payment)).status_code == 200
        return len(captured)

    before = count()
    for amount in ("1,00", "2,00", "3,00"):
        with django_capture_on_commit_callbacks(execute=True):
            owner.post(refund_url(payment), {"amount": amount, "reason": "Reso", "confirm": "on"})
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 3
    assert count() == before
