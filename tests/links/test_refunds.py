"""Refunds against a real localstripe: partial and full, numbered refund notes and the customer's
email, bad input, lost answers from Stripe, refunds made in the Stripe dashboard, and races.

localstripe accepts over-refunds and ignores idempotency keys, so every limit asserted here is
the application's own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import stripe
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from links import refunds as refunds_module
from links import tasks
from links.models import Payment, PaymentEvent, PaymentLink, PaymentStatus, Refund
from links.payments import payment_refresh
from links.providers import ProviderError
from links.providers.stripe import StripeProvider
from links.refunds import refund_create, refunds_reconcile
from receipts import tasks as receipt_tasks
from receipts.models import Receipt, RefundNote
from tests.support.concurrency import run_concurrently
from tests.support.documents import pdf_text, stream_bytes
from tests.support.factories import PaymentLinkFactory
from tests.support.faults import database_gone
from tests.support.stripe import CARD_OK, charge_event, payment_intent, post_webhook, sign
from vpos.audit import Action
from vpos.models import AuditEntry, OutboxEmail
from vpos.money import format_money

WEBHOOK = reverse("links:stripe_webhook")
CUSTOMER = "anna.bianchi@example.com"


# --- Helpers ---------------------------------------------------------------------------------


def detail_url(payment: Payment) -> str:
    return reverse("links:payment_detail", args=[payment.merchant.public_id, payment.public_id])


def refund_url(payment: Payment) -> str:
    return reverse("links:payment_refund", args=[payment.merchant.public_id, payment.public_id])


def stripe_refunds(api: stripe.StripeClient, payment: Payment) -> list[tuple[int, str]]:
    """What the shop sees in the Stripe dashboard: (amount, our refund id or "") per refund."""
    listed = api.v1.refunds.list({"payment_intent": payment.provider_id, "limit": 100}).data
    return [(r.amount, (r.to_dict().get("metadata") or {}).get("vpos_refund", "")) for r in listed]


def badge(text: str) -> str:
    return f'<span class="badge text-bg-info">{text}</span>'


def hidden_inputs(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`, as the browser would post them back."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form is not None, f"no form posting to {action}"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group()))


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant, amount=2000, description="Giacca su misura", language="it"
    )


@pytest.fixture
def paid(link, paid_intent, django_capture_on_commit_callbacks) -> Callable[..., Payment]:
    """A payment whose PaymentIntent really succeeded in localstripe, finalized the way the
    customer's browser return finalizes it (receipt, confirmation emails)."""

    def make(target: PaymentLink | None = None, **fields: Any) -> Payment:
        fields.setdefault("customer_email", CUSTOMER)
        payment, _pi = paid_intent(target or link, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            payment = payment_refresh(payment=payment, source="browser")
        assert payment.status == PaymentStatus.SUCCEEDED
        return payment

    return make


@pytest.fixture
def owner(client_as) -> Client:
    return client_as("owner")


@pytest.fixture
def refund(owner, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """The owner's POST to the refund action; follow-ups (note PDF, email) run after commit."""

    def post(
        payment: Payment,
        amount: str,
        *,
        reason: str = "Taglia sbagliata",
        confirm=True,
        request_key: str = "",
    ):
        data = {"amount": amount, "reason": reason}
        if confirm:
            data["confirm"] = "on"
        if request_key:
            data["request_key"] = request_key
        with django_capture_on_commit_callbacks(execute=True):
            return owner.post(refund_url(payment), data)

    return post


@pytest.fixture
def webhook(stripe_settings) -> Callable[[bytes], Any]:
    client = Client()
    return lambda body: post_webhook(
        client, WEBHOOK, body, sign(body, stripe_settings.STRIPE_WEBHOOK_SECRET)
    )


# --- Partial, then the rest ------------------------------------------------------------------


def test_partial_refund_then_the_rest(link, paid, refund, owner, stripe_api):
    payment = paid()
    receipt = payment.receipt

    response = refund(payment, "8,00", reason="Taglia sbagliata")

    assert response.status_code == 302
    assert response.url == detail_url(payment)
    page = owner.get(response.url).text
    assert "€8.00 refunded." in page
    assert badge("Partially refunded") in page
    assert "Up to €12.00 can be refunded" in page
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.refund_state) == (800, "partially_refunded")
    first = Refund.objects.get(payment=payment)
    assert (first.status, first.amount, first.reason) == ("succeeded", 800, "Taglia sbagliata")
    assert stripe_refunds(stripe_api, payment) == [(800, str(first.public_id))]

    response = refund(payment, "12", reason="Reso completo")

    assert response.status_code == 302
    page = owner.get(response.url).text
    assert "€12.00 refunded." in page
    assert badge("Refunded") in page
    assert badge("Partially refunded") not in page
    assert refund_url(payment) not in page  # nothing left to refund: no form
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.refund_state) == (2000, "refunded")
    second = Refund.objects.exclude(pk=first.pk).get(payment=payment)
    # (Two refunds made within the same second come back from localstripe in either order.)
    assert sorted(stripe_refunds(stripe_api, payment)) == [
        (800, str(first.public_id)),
        (1200, str(second.public_id)),
    ]
    # The Stripe ids we recorded are the refunds localstripe holds.
    listed = stripe_api.v1.refunds.list({"payment_intent": payment.provider_id}).data
    assert {r.id for r in listed} == {first.provider_id, second.provider_id}

    # Two refund notes, numbered in their own series and pointing at the original receipt.
    year = receipt.year
    notes = list(RefundNote.objects.filter(merchant=link.merchant).order_by("sequence"))
    assert [n.number for n in notes] == [f"RF-{year}-000001", f"RF-{year}-000002"]
    assert [n.refund_id for n in notes] == [first.pk, second.pk]
    assert {n.receipt_id for n in notes} == {receipt.pk}
    assert f"RF-{year}-000001" in page
    assert f"RF-{year}-000002" in page

    # Receipts keep their own numbering: the next payment is receipt no. 2.
    other = paid(PaymentLinkFactory(merchant=link.merchant, amount=1500))
    assert other.receipt.number == f"{year}-000002"
    assert Receipt.objects.filter(merchant=link.merchant).count() == 2


def test_refund_note_pdf_names_the_receipt_and_the_amount(link, paid, refund):
    payment = paid()

    refund(payment, "8,00")

    note = RefundNote.objects.get(refund__payment=payment)
    assert note.pdf, "the follow-up task stores the note's PDF"
    with note.pdf.open("rb") as fh:
        text = pdf_text(fh.read())
    # Italian, the link's language.
    assert note.number in text
    assert payment.receipt.number in text
    assert format_money(800, "EUR", "it").replace("\xa0", " ") in text  # 8,00 €
    assert "Taglia sbagliata" in text
    assert "Giacca su misura" in text


def test_the_customer_gets_one_refund_email_with_the_link_to_the_note(
    link, paid, refund, client_as, django_capture_on_commit_callbacks
):
    payment = paid()
    mail.outbox.clear()

    refund(payment, "8,00")

    note = RefundNote.objects.get(refund__payment=payment)
    assert note.pdf  # rendered apart, on the documents queue
    email = OutboxEmail.objects.get(kind="refund")
    assert email.to_email == CUSTOMER
    assert email.status == OutboxEmail.Status.SENT
    assert email.attachments == []  # a link: the email never waits for the PDF
    assert note.number in email.body_text
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [CUSTOMER]
    [url] = re.findall(r"http://testserver(/r/[^\s\"<]+/)", sent.body)
    response = client_as("anonymous").get(url)
    assert response.status_code == 200
    assert note.number in pdf_text(stream_bytes(response))

    # The follow-up task running again (a retry, a redelivered message) sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        receipt_tasks.refund_followups.delay(note.refund_id)
        receipt_tasks.refund_followups(note.refund_id)
    assert OutboxEmail.objects.filter(kind="refund").count() == 1
    assert len(mail.outbox) == 1
    assert RefundNote.objects.count() == 1


def test_refund_is_written_to_the_audit_log(shop, paid, refund):
    payment = paid()

    refund(payment, "8,00", reason="Taglia sbagliata")

    entry = AuditEntry.objects.get(action=Action.REFUND_CREATED)
    assert entry.merchant == shop.merchant
    assert entry.actor == shop.owner.user
    assert "€8.00" in entry.summary
    assert "Giacca su misura" in entry.summary
    assert entry.data["reason"] == "Taglia sbagliata"


def test_two_steps_the_first_post_only_asks_for_confirmation(paid, refund, owner, stripe_api):
    payment = paid()

    response = refund(payment, "8,00", reason="Taglia sbagliata", confirm=False)

    assert response.status_code == 200
    page = response.text
    assert "Confirm refund" in page
    assert "Refund €8.00 of €20.00 to the card ending in 4242?" in page
    assert "Taglia sbagliata" in page
    assert not Refund.objects.exists()
    assert stripe_refunds(stripe_api, payment) == []
    payment.refresh_from_db()
    assert payment.refunded_amount == 0

    # The confirmation page posts back what was typed, with confirm=on.
    posted = hidden_inputs(page, refund_url(payment))
    posted.pop("csrfmiddlewaretoken", None)
    request_key = posted.pop("request_key")
    assert len(request_key) >= 16
    assert posted == {"amount": "8,00", "reason": "Taglia sbagliata", "confirm": "on"}
    response = refund(payment, posted["amount"], reason=posted["reason"], request_key=request_key)

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_amount == 800
    assert stripe_refunds(stripe_api, payment) == [(800, str(Refund.objects.get().public_id))]


def test_a_double_submitted_confirmation_refunds_once(paid, refund, owner, stripe_api):
    payment = paid()

    assert refund(payment, "15,00").status_code == 302
    again = refund(payment, "15,00")

    assert again.status_code == 400
    assert "At most €5.00 can still be refunded." in again.text
    payment.refresh_from_db()
    assert payment.refunded_amount == 1500
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [1500]


def test_the_same_confirmation_sent_twice_refunds_once_and_shows_its_outcome(
    paid, refund, owner, stripe_api
):
    """A reload or a retry of the confirmation page's POST, even where the remainder would allow
    a second refund of the same amount: one refund, and the second answer tells its outcome."""
    payment = paid()
    shown = refund(payment, "5,00", confirm=False)
    request_key = hidden_inputs(shown.text, refund_url(payment))["request_key"]

    first = refund(payment, "5,00", request_key=request_key)
    again = refund(payment, "5,00", request_key=request_key)

    assert first.status_code == again.status_code == 302
    followed = owner.get(again["Location"])
    assert "€5.00 refunded." in followed.text
    payment.refresh_from_db()
    assert payment.refunded_amount == 500
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [500]
    # A new confirmation page is a new request: it may refund again.
    other = hidden_inputs(refund(payment, "5,00", confirm=False).text, refund_url(payment))
    assert other["request_key"] != request_key
    assert refund(payment, "5,00", request_key=other["request_key"]).status_code == 302
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [500, 500]


def test_a_database_error_after_stripe_refunded_is_confirmed_not_repeated(
    paid, refund, owner, stripe_api, monkeypatch
):
    """Stripe refunded, then recording it failed: the page does not say nothing changed, the
    confirmation sent again shows that refund, reconciliation records it once."""
    payment = paid()
    request_key = hidden_inputs(refund(payment, "5,00", confirm=False).text, refund_url(payment))[
        "request_key"
    ]
    database_gone(monkeypatch, refunds_module, "_refund_succeeded")

    first = refund(payment, "5,00", request_key=request_key)

    assert first.status_code == 503
    assert "Do not pay or refund again" in first.text
    assert "Nothing was charged" not in first.text
    again = refund(payment, "5,00", request_key=request_key)
    assert again.status_code == 302
    assert "the refund is pending" in owner.get(again["Location"]).text
    assert refunds_reconcile(older_than=timedelta(0)) == 1
    assert refund(payment, "5,00", request_key=request_key).status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_amount == 500
    ours = Refund.objects.get()
    assert ours.status == Refund.Status.SUCCEEDED
    assert stripe_refunds(stripe_api, payment) == [(500, str(ours.public_id))]


# --- Bad input: a clear message, nothing refunded ---------------------------------------------


def assert_nothing_refunded(payment: Payment, api: stripe.StripeClient) -> None:
    assert not Refund.objects.filter(status=Refund.Status.SUCCEEDED).exists()
    assert not Refund.objects.filter(status=Refund.Status.PENDING).exists()
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    if payment.provider_id:
        assert stripe_refunds(api, payment) == []


@pytest.mark.parametrize("confirm", [False, True], ids=["first step", "confirmed"])
@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("20,01", "Reso", "At most €20.00 can still be refunded."),
        ("100", "Reso", "At most €20.00 can still be refunded."),
        ("0", "Reso", "Enter an amount greater than zero."),
        ("0,00", "Reso", "Enter an amount greater than zero."),
        ("-5", "Reso", "Enter an amount such as 19,99."),
        ("-0,01", "Reso", "Enter an amount such as 19,99."),
        ("venti euro", "Reso", "Enter an amount such as 19,99."),
        ("", "Reso", "This field is required."),
        ("1e3", "Reso", "Enter an amount such as 19,99."),
        ("8,00", "", "This field is required."),
        ("8,00", "   ", "This field is required."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    paid, refund, stripe_api, amount, reason, message, confirm
):
    payment = paid()

    response = refund(payment, amount, reason=reason, confirm=confirm)

    assert response.status_code == 400
    assert message in response.text
    assert "Confirm refund" not in response.text
    assert_nothing_refunded(payment, stripe_api)


@pytest.mark.parametrize("confirm", [False, True], ids=["first step", "confirmed"])
def test_more_than_what_is_left_after_a_partial_refund(paid, refund, stripe_api, confirm):
    payment = paid()
    refund(payment, "8,00")

    response = refund(payment, "12,01", confirm=confirm)

    assert response.status_code == 400
    assert "At most €12.00 can still be refunded." in response.text
    payment.refresh_from_db()
    assert payment.refunded_amount == 800
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [800]


@pytest.mark.parametrize("confirm", [False, True], ids=["first step", "confirmed"])
@pytest.mark.parametrize("status", [PaymentStatus.FAILED, PaymentStatus.PENDING])
def test_a_payment_that_did_not_succeed_cannot_be_refunded(
    link, paid_intent, refund, owner, stripe_api, status, confirm
):
    payment, _pi = paid_intent(link, status=status)  # our record says it did not succeed

    page = owner.get(detail_url(payment)).text
    assert refund_url(payment) not in page

    response = refund(payment, "8,00", confirm=confirm)

    assert response.status_code == 400
    assert "Only a successful payment can be refunded." in response.text
    assert_nothing_refunded(payment, stripe_api)


def test_a_payment_of_another_shop_cannot_be_refunded(shop, paid, refund, owner, stripe_api):
    other = paid(PaymentLinkFactory(merchant=shop.outsider.merchant, amount=2000))

    # Its own URL (another shop's id) and this shop's URL with its payment id: both unknown here.
    mine = reverse("links:payment_refund", args=[shop.merchant.public_id, other.public_id])
    for url in (refund_url(other), mine):
        response = owner.post(url, {"amount": "8,00", "reason": "Reso", "confirm": "on"})
        assert response.status_code == 404
    assert_nothing_refunded(other, stripe_api)


def test_a_disconnected_shop_account_gives_a_clear_message_and_leaves_nothing_pending(
    paid, refund, stripe_api
):
    payment = paid()
    Payment.objects.filter(pk=payment.pk).update(via_shop_account=True)  # taken by the shop's own

    response = refund(payment, "8,00")

    assert response.status_code == 400
    assert "Stripe refused the refund" in response.text
    assert "no longer connected" in response.text
    assert not Refund.objects.exists()
    assert stripe_refunds(stripe_api, payment) == []


# --- Stripe's answer lost ----------------------------------------------------------------------

REAL_REFUND = StripeProvider.refund_payment


def refund_then_lose_the_answer(self, *args: Any, **kwargs: Any):
    REAL_REFUND(self, *args, **kwargs)
    raise ProviderError("Read timed out.", permanent=False, code="unreachable")


def lose_the_request(self, *args: Any, **kwargs: Any):
    raise ProviderError("Connection reset by peer.", permanent=False, code="unreachable")


def stripe_unreachable(self, *args: Any, **kwargs: Any):
    raise ProviderError("Connection refused.", permanent=False, code="unreachable")


def test_a_refund_whose_answer_was_lost_is_found_by_its_metadata(paid, refund, owner, stripe_api):
    payment = paid()

    with mock.patch.object(StripeProvider, "refund_payment", refund_then_lose_the_answer):
        response = refund(payment, "8,00")

    assert response.status_code == 302
    assert "€8.00 refunded." in owner.get(response.url).text
    recorded = Refund.objects.get()
    assert recorded.status == Refund.Status.SUCCEEDED
    assert stripe_refunds(stripe_api, payment) == [(800, str(recorded.public_id))]
    assert recorded.provider_id == stripe_api.v1.refunds.list().data[0].id
    payment.refresh_from_db()
    assert payment.refunded_amount == 800
    assert PaymentEvent.objects.filter(payment=payment, kind="refunded").count() == 1
    assert RefundNote.objects.count() == 1
    # Settling again later finds nothing more to do.
    Refund.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert refunds_reconcile() == 0
    payment.refresh_from_db()
    assert payment.refunded_amount == 800


def test_a_refund_request_that_never_arrived_is_marked_failed(paid, refund, owner, stripe_api):
    payment = paid()

    with mock.patch.object(StripeProvider, "refund_payment", lose_the_request):
        response = refund(payment, "8,00")

    assert response.status_code == 302
    page = owner.get(response.url).text
    assert "Stripe could not be reached. Nothing was refunded: try again." in page
    failed = Refund.objects.get()
    assert failed.status == Refund.Status.FAILED
    assert failed.failure_message
    assert stripe_refunds(stripe_api, payment) == []
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert "Up to €20.00 can be refunded" in page  # a failed refund holds nothing back
    assert not RefundNote.objects.exists()

    # Trying again works.
    assert refund(payment, "8,00").status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_amount == 800


@pytest.mark.parametrize("happened", [True, False], ids=["refunded", "never arrived"])
def test_with_stripe_unreachable_the_refund_stays_pending_until_reconciled(
    paid, refund, owner, stripe_api, happened
):
    payment = paid()
    first_call = refund_then_lose_the_answer if happened else lose_the_request

    with (
        mock.patch.object(StripeProvider, "refund_payment", first_call),
        mock.patch.object(StripeProvider, "list_refunds", stripe_unreachable),
    ):
        response = refund(payment, "8,00")

    page = owner.get(response.url).text
    assert "Stripe did not answer yet: the refund is pending and will be checked again." in page
    pending = Refund.objects.get()
    assert pending.status == Refund.Status.PENDING
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    # The pending amount is held back: it may have left already.
    assert "Up to €12.00 can be refunded" in page
    assert "At most €12.00" in refund(payment, "20,00").text

    # Reconciliation leaves a recent refund alone, then settles it once Stripe answers.
    assert refunds_reconcile() == 0
    Refund.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    with mock.patch.object(StripeProvider, "list_refunds", stripe_unreachable):
        assert refunds_reconcile() == 0
    assert Refund.objects.get().status == Refund.Status.PENDING
    assert tasks.refunds_reconcile() == 1
    assert refunds_reconcile() == 0

    settled = Refund.objects.get()
    payment.refresh_from_db()
    if happened:
        assert settled.status == Refund.Status.SUCCEEDED
        assert payment.refunded_amount == 800
        assert stripe_refunds(stripe_api, payment) == [(800, str(settled.public_id))]
        assert RefundNote.objects.filter(refund=settled).exists()
    else:
        assert settled.status == Refund.Status.FAILED
        assert payment.refunded_amount == 0
        assert stripe_refunds(stripe_api, payment) == []
        assert "Up to €20.00 can be refunded" in owner.get(detail_url(payment)).text


def test_stripe_refusing_the_refund_is_shown_and_nothing_is_pending(paid, refund, stripe_api):
    payment = paid()

    def refused(self, *args: Any, **kwargs: Any):
        raise ProviderError("Charge ch_1 has already been refunded.", permanent=True)

    with mock.patch.object(StripeProvider, "refund_payment", refused):
        response = refund(payment, "8,00")

    assert response.status_code == 400
    assert "Stripe refused the refund: Charge ch_1 has already been refunded." in response.text
    assert Refund.objects.get().status == Refund.Status.FAILED
    assert_nothing_refunded(payment, stripe_api)


# --- Refunds made in the Stripe dashboard (reported by webhook) ------------------------------


def charge_id_of(api: stripe.StripeClient, payment: Payment) -> str:
    charge = api.v1.payment_intents.retrieve(payment.provider_id).latest_charge
    return charge if isinstance(charge, str) else charge.id


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_once(
    shop, paid, webhook, owner, stripe_api, django_capture_on_commit_callbacks
):
    payment = paid()
    mail.outbox.clear()
    made = stripe_api.v1.refunds.create({"payment_intent": payment.provider_id, "amount": 500})
    body = charge_event(charge_id_of(stripe_api, payment), payment.provider_id)

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook(body)

    assert response.status_code == 200
    recorded = Refund.objects.get()
    assert (recorded.status, recorded.amount, recorded.source) == (
        Refund.Status.SUCCEEDED,
        500,
        "stripe_dashboard",
    )
    assert recorded.provider_id == made.id
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.refund_state) == (500, "partially_refunded")

    # The same event again, and another event about the same refund, add nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook(body).json() == {"status": "duplicate"}
        again = charge_event(
            charge_id_of(stripe_api, payment),
            payment.provider_id,
            event_type="charge.refund.updated",
        )
        assert webhook(again).status_code == 200
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == 500
    assert RefundNote.objects.count() == 1
    assert OutboxEmail.objects.filter(kind="refund").count() == 1
    assert len(mail.outbox) == 1
    entry = AuditEntry.objects.get(action=Action.REFUND_CREATED)
    assert entry.data["source"] == "stripe_dashboard"
    assert entry.actor is None

    page = owner.get(detail_url(payment)).text
    assert badge("Partially refunded") in page
    assert "Up to €15.00 can be refunded" in page
    assert recorded.reason in page


def test_a_refund_made_here_is_not_recorded_again_by_the_webhook(paid, refund, webhook, stripe_api):
    payment = paid()
    refund(payment, "8,00")

    response = webhook(charge_event(charge_id_of(stripe_api, payment), payment.provider_id))

    assert response.status_code == 200
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == 800


def test_a_refund_given_up_on_that_did_happen_is_corrected_by_the_webhook(
    paid, refund, webhook, stripe_api
):
    """Stripe's answer lost and its list not showing the refund yet: we mark it failed. When
    Stripe's charge event arrives, it says the refund happened after all."""
    payment = paid()
    with (
        mock.patch.object(StripeProvider, "refund_payment", refund_then_lose_the_answer),
        mock.patch.object(StripeProvider, "list_refunds", return_value=[]),
    ):
        refund(payment, "8,00")
    assert Refund.objects.get().status == Refund.Status.FAILED

    response = webhook(charge_event(charge_id_of(stripe_api, payment), payment.provider_id))

    assert response.status_code == 200
    corrected = Refund.objects.get()
    assert corrected.status == Refund.Status.SUCCEEDED
    assert corrected.failure_message == ""
    payment.refresh_from_db()
    assert payment.refunded_amount == 800
    assert stripe_refunds(stripe_api, payment) == [(800, str(corrected.public_id))]


# --- Races (PostgreSQL) ------------------------------------------------------------------------


@pytest.fixture
def committed_payment(shop, stripe_settings, stripe_api) -> Callable[[int], Payment]:
    """A finalized payment in a test whose transactions really commit (follow-ups not run)."""

    def make(amount: int) -> Payment:
        link = PaymentLinkFactory(merchant=shop.merchant, amount=amount)
        payment = Payment.objects.create(
            merchant=link.merchant,
            link=link,
            attempt_key=secrets.token_urlsafe(24),
            amount=amount,
            currency="EUR",
            customer_email=CUSTOMER,
        )
        pi = payment_intent(stripe_api, amount=amount, card=CARD_OK)
        Payment.objects.filter(pk=payment.pk).update(provider_id=pi.id)
        payment.refresh_from_db()
        with mock.patch.object(receipt_tasks.payment_followups, "delay"):
            payment = payment_refresh(payment=payment, source="browser")
        assert payment.status == PaymentStatus.SUCCEEDED
        return payment

    return make


def refund_job(payment: Payment, amount: int, actor) -> Callable[[], Refund]:
    def job() -> Refund:
        with translation.override("en"):  # a new thread speaks the default language, Italian
            return refund_create(
                payment=Payment.objects.get(pk=payment.pk),
                amount=amount,
                reason="Reso",
                actor=actor,
            )

    return job


@pytest.mark.parametrize("round_", range(3))
@pytest.mark.django_db(transaction=True)
def test_two_refunds_of_60_percent_at_once_one_is_refused(
    shop, committed_payment, stripe_api, round_
):
    payment = committed_payment(10000)
    actor = shop.owner.user

    with mock.patch.object(receipt_tasks.refund_followups, "delay") as followups:
        results = run_concurrently([refund_job(payment, 6000, actor) for _ in range(2)])

    refused = [r for r in results if isinstance(r, ValidationError)]
    done = [r for r in results if isinstance(r, Refund)]
    assert len(done) == 1, results
    assert len(refused) == 1, results
    assert done[0].status == Refund.Status.SUCCEEDED
    assert refused[0].messages == ["At most €40.00 can still be refunded."]
    payment.refresh_from_db()
    assert payment.refunded_amount == 6000 <= payment.amount
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [6000]
    assert Refund.objects.filter(payment=payment).count() == 1
    assert followups.call_count == 1


@pytest.mark.django_db(transaction=True)
def test_five_refunds_of_30_percent_at_once_at_most_three_pass(shop, committed_payment, stripe_api):
    payment = committed_payment(10000)
    actor = shop.owner.user

    with mock.patch.object(receipt_tasks.refund_followups, "delay") as followups:
        results = run_concurrently([refund_job(payment, 3000, actor) for _ in range(5)])

    refused = [r for r in results if isinstance(r, ValidationError)]
    done = [r for r in results if isinstance(r, Refund)]
    assert len(done) + len(refused) == 5, results
    assert len(done) == 3
    assert all(r.status == Refund.Status.SUCCEEDED for r in done)
    assert {r.messages[0] for r in refused} == {"At most €10.00 can still be refunded."}
    payment.refresh_from_db()
    assert payment.refunded_amount == 9000 <= payment.amount
    assert sorted(amount for amount, _ in stripe_refunds(stripe_api, payment)) == [3000] * 3
    assert followups.call_count == 3
    numbers = sorted(RefundNote.objects.filter(refund__payment=payment).values_list("sequence"))
    assert numbers == [(1,), (2,), (3,)]  # gapless, no duplicates


@pytest.mark.django_db(transaction=True)
def test_two_owners_confirming_at_once_through_the_page(shop, committed_payment, stripe_api):
    payment = committed_payment(10000)
    url = refund_url(payment)

    def owner_confirms() -> Callable[[], Any]:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(shop.owner.user)
        return lambda: client.post(url, {"amount": "60,00", "reason": "Reso", "confirm": "on"})

    jobs = [owner_confirms(), owner_confirms()]
    with mock.patch.object(receipt_tasks.refund_followups, "delay"):
        responses = run_concurrently(jobs)

    assert sorted(r.status_code for r in responses) == [302, 400], responses
    refused = next(r for r in responses if r.status_code == 400)
    assert "At most €40.00 can still be refunded." in refused.text
    payment.refresh_from_db()
    assert payment.refunded_amount == 6000
    assert [amount for amount, _ in stripe_refunds(stripe_api, payment)] == [6000]
