"""After a payment: the customer's confirmation and the shop's notification, each sent once.

Payments are made against localstripe through the same service the checkout page calls; the
commit hooks run (`django_capture_on_commit_callbacks`), so `payment_followups` and the outbox
task run as they do after a real commit (eagerly, in the test settings).
"""

from __future__ import annotations

import email
import email.header
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone, translation

from links import payments
from links.models import Payment, PaymentLink, PaymentStatus
from links.providers import provider_for
from merchants.models import Role
from receipts import tasks
from tests.support.factories import MembershipFactory, PaymentLinkFactory
from tests.support.stripe import (
    CARD_DECLINED,
    CARD_OK,
    card_payment_method,
    event_body,
    post_webhook,
    sign,
)
from vpos.celery import app as celery_app
from vpos.models import OutboxEmail
from vpos.outbox import BACKOFF_BASE, outbox_deliver, outbox_send

pytestmark = pytest.mark.django_db

CUSTOMER = "anna@example.com"


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    shop.merchant.contact_phone = "+39 02 1234567"
    shop.merchant.save(update_fields=["contact_phone"])
    return PaymentLinkFactory(
        merchant=shop.merchant,
        amount=1999,
        description="Tailored jacket",
        reference="ORD-1042",
        language="en",
    )


@pytest.fixture
def pay(stripe_api, django_capture_on_commit_callbacks) -> Callable[..., Payment]:
    """Pay a link by card as the checkout page does, then let the commit hooks run."""

    def make(link: PaymentLink, *, card: str = CARD_OK, customer_email: str = CUSTOMER) -> Payment:
        with django_capture_on_commit_callbacks(execute=True):
            result = payments.checkout_attempt(
                link=link,
                payment_method=card_payment_method(stripe_api, card),
                attempt_key=secrets.token_urlsafe(24),
                customer_email=customer_email,
            )
        return result.payment

    return make


def emails(kind: str) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=kind).order_by("to_email"))


def delivered_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- What is sent, to whom ---------------------------------------------------------------------


def test_the_customer_gets_one_confirmation_with_the_payment_details(link, pay, shop):
    payment = pay(link)

    assert payment.status == PaymentStatus.SUCCEEDED
    [confirmation] = emails("payment_confirmation")
    assert confirmation.to_email == CUSTOMER
    assert confirmation.status == OutboxEmail.Status.SENT
    assert confirmation.ref == f"link:{link.pk}"
    assert confirmation.reply_to == shop.merchant.contact_email
    assert confirmation.subject == "Payment confirmed: €19.99 to Bottega Uno"
    payment.refresh_from_db()
    with translation.override("en"):
        paid_on = formats.date_format(timezone.localtime(payment.succeeded_at), "DATETIME_FORMAT")
    for body in (confirmation.body_text, confirmation.body_html):
        assert "€19.99" in body
        assert "Bottega Uno S.r.l." in body  # the legal name: who was paid
        assert "Tailored jacket" in body
        assert "ORD-1042" in body
        assert "Visa •••• 4242" in body
        assert payment.provider_id in body
        assert paid_on in body
        assert shop.merchant.contact_email in body
        assert "+39 02 1234567" in body
    [message] = [m for m in mail.outbox if m.to == [CUSTOMER]]
    assert message.subject == confirmation.subject
    assert "Visa •••• 4242" in message.alternatives[0].content


def test_the_confirmation_is_in_the_links_language(shop, stripe_settings, pay):
    link = PaymentLinkFactory(merchant=shop.merchant, amount=1999, language="it")

    pay(link)

    [confirmation] = emails("payment_confirmation")
    assert confirmation.language == "it"
    assert '<html lang="it">' in confirmation.body_html
    assert confirmation.subject == "Pagamento confermato: 19,99 € a Bottega Uno"
    for body in (confirmation.body_text, confirmation.body_html):
        assert "Grazie, il tuo pagamento è andato a buon fine." in body
        assert "19,99\xa0€" in body
        assert "€19.99" not in body


def test_owners_and_opted_in_staff_are_notified_other_staff_are_not(link, pay, shop):
    second_owner = MembershipFactory(merchant=shop.merchant, role=Role.OWNER)
    opted_in = MembershipFactory(merchant=shop.merchant, role=Role.STAFF, notify_payments=True)
    assert shop.staff.notify_payments is False

    pay(link)

    notified = sorted([shop.owner.user.email, second_owner.user.email, opted_in.user.email])
    notifications = emails("payment_notification")
    assert [e.to_email for e in notifications] == notified
    assert delivered_to() == sorted([CUSTOMER, *notified])
    detail_url = "http://testserver" + reverse(
        "links:detail", args=[shop.merchant.public_id, link.pk]
    )
    for notification in notifications:
        assert notification.status == OutboxEmail.Status.SENT
        # In the shop's language (Italian by default), whatever the customer's.
        assert notification.language == shop.merchant.default_language == "it"
        assert notification.subject == "Pagamento ricevuto: 19,99 € per Tailored jacket"
        assert CUSTOMER in notification.body_text
        assert "Visa •••• 4242" in notification.body_text
        assert detail_url in notification.body_text
        assert f'href="{detail_url}"' in notification.body_html


def test_without_a_customer_email_only_the_shop_hears_of_it(link, pay, shop):
    pay(link, customer_email="")

    assert emails("payment_confirmation") == []
    assert delivered_to() == [shop.owner.user.email]


def test_a_declined_card_sends_nothing_then_the_next_card_sends_once(link, pay, shop):
    declined = pay(link, card=CARD_DECLINED)

    assert declined.status == PaymentStatus.FAILED
    assert not OutboxEmail.objects.exists()
    assert mail.outbox == []

    paid = pay(link)

    assert paid.status == PaymentStatus.SUCCEEDED
    assert delivered_to() == sorted([CUSTOMER, shop.owner.user.email])


# --- Once, whatever the number of triggers ------------------------------------------------------


def test_webhooks_browser_returns_and_task_retries_send_nothing_more(
    link, pay, shop, client, stripe_api, stripe_settings, django_capture_on_commit_callbacks
):
    payment = pay(link)
    before = (OutboxEmail.objects.count(), delivered_to())
    assert before == (2, sorted([CUSTOMER, shop.owner.user.email]))

    with django_capture_on_commit_callbacks(execute=True):
        # The task again, as a retry or a redelivery by the broker would run it.
        for _ in range(3):
            tasks.payment_followups.delay(payment.pk)
        tasks.payment_followups(payment.pk)
        # Stripe's webhook, delivered twice under different event ids.
        webhook = reverse("links:stripe_webhook")
        for _ in range(2):
            body = event_body(payment.provider_id)
            response = post_webhook(
                client, webhook, body, sign(body, stripe_settings.STRIPE_WEBHOOK_SECRET)
            )
            assert response.status_code == 200
        # The customer's browser coming back, and reconciliation asking Stripe again.
        assert (
            client.get(reverse("links:result", args=[link.token, payment.public_id])).status_code
            == 200
        )
        payments.payment_refresh(payment=payment, source="browser")
        current = stripe_api.v1.payment_intents.retrieve(payment.provider_id)
        assert current.status == "succeeded"
        payments.payment_apply(
            payment_id=payment.pk,
            provider_payment=provider_for(link.merchant).retrieve_payment(payment.provider_id),
            source="reconciliation",
        )

    assert (OutboxEmail.objects.count(), delivered_to()) == before
    assert all(e.attempts == 1 for e in OutboxEmail.objects.all())


# --- The mail server is down, or refuses -------------------------------------------------------


def test_an_smtp_outage_delays_the_confirmation_and_loses_nothing(
    link, pay, shop, mail_server, client_as, django_capture_on_commit_callbacks, stripe_api
):
    """The outbox task is not run: each attempt is `outbox_deliver`, as the worker runs it."""
    mail_server.data_replies = ["421 4.3.2 Service not available, try later"] * 2
    with django_capture_on_commit_callbacks(execute=False) as payment_hooks:
        result = payments.checkout_attempt(
            link=link,
            payment_method=card_payment_method(stripe_api, CARD_OK),
            attempt_key=secrets.token_urlsafe(24),
            customer_email=CUSTOMER,
        )
    assert result.status == PaymentStatus.SUCCEEDED
    assert not OutboxEmail.objects.exists()  # payment_followups waits for the commit
    with django_capture_on_commit_callbacks(execute=False) as outbox_hooks:
        for hook in payment_hooks:  # the commit: payment_followups runs
            hook()
    # One outbox task per email, after its own commit (other hooks refresh the back-office cache).
    assert len([hook for hook in outbox_hooks if getattr(hook, "task", None) is outbox_send]) == 2
    confirmation = OutboxEmail.objects.get(kind="payment_confirmation")

    first = outbox_deliver(email_id=confirmation.pk)
    second = outbox_deliver(email_id=confirmation.pk)

    assert (first.status, first.retry_in) == ("queued", BACKOFF_BASE)
    assert (second.status, second.retry_in) == ("queued", 2 * BACKOFF_BASE)
    confirmation.refresh_from_db()
    assert confirmation.status == OutboxEmail.Status.QUEUED
    assert confirmation.attempts == 2
    assert "421" in confirmation.last_error
    assert confirmation.next_attempt_at > timezone.now()
    assert mail_server.received == []
    page = client_as("owner").get(reverse("links:detail", args=[shop.merchant.public_id, link.pk]))
    assert ">Queued<" in page.text.split('id="emails-title"', 1)[1]

    third = outbox_deliver(email_id=confirmation.pk)
    assert third.status == "sent"
    for _ in range(2):  # a late retry or a second worker: nothing more leaves
        assert outbox_deliver(email_id=confirmation.pk).status == "sent"

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.attempts, confirmation.last_error) == ("sent", 3, "")
    [received] = mail_server.received
    assert received.rcpt_tos == [CUSTOMER]
    assert subject_of(received.raw) == confirmation.subject


def test_the_outbox_task_retries_through_an_outage_until_accepted(
    link, pay, shop, mail_server, monkeypatch
):
    """The whole chain: commit hooks, then `outbox_send` retrying through Celery's `retry`.

    Eager tasks run a retry at once instead of after its countdown, provided the Retry is not
    propagated to the caller (a worker never propagates it).
    """
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    mail_server.data_replies = ["421 4.3.2 Service not available, try later"] * 2

    pay(link)

    outbox = OutboxEmail.objects.all()
    assert {e.status for e in outbox} == {OutboxEmail.Status.SENT}
    assert sum(e.attempts for e in outbox) == len(outbox) + 2
    assert sorted(r for d in mail_server.received for r in d.rcpt_tos) == sorted(
        [CUSTOMER, shop.owner.user.email]
    )


def test_a_refused_recipient_is_marked_failed_with_the_reason_on_the_link_page(
    link, pay, shop, mail_server, client_as
):
    mail_server.refused[CUSTOMER] = f"550 5.1.1 <{CUSTOMER}>: mailbox unavailable"

    pay(link)

    confirmation = OutboxEmail.objects.get(kind="payment_confirmation")
    assert confirmation.status == OutboxEmail.Status.FAILED
    assert confirmation.attempts == 1
    assert "550" in confirmation.last_error
    assert "mailbox unavailable" in confirmation.last_error
    assert confirmation.next_attempt_at is None
    notification = OutboxEmail.objects.get(kind="payment_notification")
    assert notification.status == OutboxEmail.Status.SENT
    assert [d.rcpt_tos for d in mail_server.received] == [[shop.owner.user.email]]
    # Never retried: a later attempt leaves it failed and sends nothing.
    mail_server.refused.clear()
    assert outbox_deliver(email_id=confirmation.pk).status == "failed"
    assert len(mail_server.received) == 1

    page = client_as("staff").get(reverse("links:detail", args=[shop.merchant.public_id, link.pk]))
    listed = page.text.split('id="emails-title"', 1)[1]
    row = next(r for r in listed.split("<li ") if CUSTOMER in r and "Payment confirmation" in r)
    assert ">Failed<" in row
    assert "mailbox unavailable" in row


# --- Header injection -------------------------------------------------------------------------


def parse(raw: bytes) -> Any:
    return email.message_from_bytes(raw)


def subject_of(raw: bytes) -> str:
    """The Subject as a mail client shows it: encoded words decoded, folding undone."""
    return str(email.header.make_header(email.header.decode_header(parse(raw)["Subject"])))


def header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return head.splitlines()


INJECTION = "\r\nBcc: x@evil.example"


def test_names_and_descriptions_cannot_add_headers_to_the_confirmations(
    shop, stripe_settings, pay, mail_server
):
    link = PaymentLinkFactory(
        merchant=shop.merchant,
        amount=1999,
        language="en",
        description=f"Jacket{INJECTION}",
        customer_name=f"Anna{INJECTION}",
        reference=f"ORD-1{INJECTION}",
    )

    pay(link)

    assert len(mail_server.received) == 2
    for received in mail_server.received:
        assert len(received.rcpt_tos) == 1
        assert "x@evil.example" not in received.rcpt_tos
        message = parse(received.raw)
        assert len(message.get_all("Subject")) == 1
        subject = subject_of(received.raw)
        assert "\n" not in subject
        assert "\r" not in subject
        assert message["Bcc"] is None
        assert not any(line.lower().startswith(b"bcc:") for line in header_lines(received.raw))
    subjects = sorted(subject_of(r.raw) for r in mail_server.received)
    assert subjects == [
        "Pagamento ricevuto: 19,99 € per Jacket Bcc: x@evil.example",  # the shop's language
        "Payment confirmed: €19.99 to Bottega Uno",
    ]
