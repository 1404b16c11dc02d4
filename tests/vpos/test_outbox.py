"""The email outbox: stored first, sent once after commit, retried on transient SMTP errors."""

from contextlib import suppress
from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from merchants.models import Role
from tests.support.factories import InvitationFactory, MembershipFactory
from vpos.audit import Action
from vpos.models import AuditEntry, OutboxEmail
from vpos.outbox import (
    BACKOFF_BASE,
    outbox_deliver,
    outbox_enqueue,
    outbox_requeue_due,
    outbox_send,
    outbox_store,
)

pytestmark = pytest.mark.django_db


def store(**overrides) -> OutboxEmail:
    values = {
        "kind": "test",
        "to": "cliente@example.com",
        "subject": "Il tuo link di pagamento",
        "body_text": "Paga qui.",
    }
    return outbox_store(**(values | overrides))


def enqueue_invitation(dedupe_key: str | None = None) -> OutboxEmail:
    owner = MembershipFactory(role=Role.OWNER)
    invitation = InvitationFactory(merchant=owner.merchant, email="invitato@example.com")
    return outbox_enqueue(
        kind="invitation",
        to=invitation.email,
        template="invitation",
        context={"invitation": invitation, "inviter": owner.user},
        merchant=owner.merchant,
        dedupe_key=dedupe_key,
    )


# --- (a) after commit, exactly once ----------------------------------------------------------


def test_enqueued_email_is_sent_only_after_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            email = enqueue_invitation()
        assert mail.outbox == []

    assert len([hook for hook in callbacks if getattr(hook, "task", None) is outbox_send]) == 1
    rendered_html = email.body_html
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    assert email.sent_at is not None
    assert email.attempts == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["invitato@example.com"]
    assert sent.subject == email.subject
    assert sent.alternatives[0].content == rendered_html
    # An invitation carries its accept link: once sent, the stored copy no longer does.
    assert (email.body_text, email.body_html, email.purged_at) == ("", "", email.sent_at)


def test_an_email_from_a_rolled_back_transaction_is_never_sent(
    django_capture_on_commit_callbacks,
):
    def queue_then_fail():
        with transaction.atomic():
            enqueue_invitation()
            raise RuntimeError("the view failed after queueing")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        queue_then_fail()

    assert not OutboxEmail.objects.exists()
    assert mail.outbox == []


def test_same_dedupe_key_twice_stores_and_sends_one_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = store(dedupe_key="receipt:42")
        second = store(dedupe_key="receipt:42", subject="A second rendering")

    assert first.pk == second.pk
    assert OutboxEmail.objects.count() == 1
    assert [message.subject for message in mail.outbox] == ["Il tuo link di pagamento"]


# --- (b) delivering twice --------------------------------------------------------------------


def test_delivering_the_same_email_twice_sends_it_once():
    email = store()

    first = outbox_deliver(email_id=email.pk)
    second = outbox_deliver(email_id=email.pk)

    assert (first.status, second.status) == ("sent", "sent")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1


def test_delivering_a_missing_email_does_nothing():
    assert outbox_deliver(email_id=987654).status == "locked-or-missing"
    assert mail.outbox == []


# --- (c) transient SMTP errors: retried later ------------------------------------------------


def test_transient_smtp_errors_leave_the_email_queued_until_a_later_attempt_succeeds(
    mail_server,
):
    mail_server.data_replies = ["421 4.3.2 Service busy, try later"] * 2
    email = store()

    first = outbox_deliver(email_id=email.pk)
    email.refresh_from_db()
    assert first.status == "queued"
    assert first.retry_in == BACKOFF_BASE
    assert email.status == OutboxEmail.Status.QUEUED
    assert email.attempts == 1
    assert "421" in email.last_error
    assert email.next_attempt_at > timezone.now()

    second = outbox_deliver(email_id=email.pk)
    email.refresh_from_db()
    assert (second.status, second.retry_in) == ("queued", 2 * BACKOFF_BASE)
    assert email.attempts == 2
    assert mail_server.received == []

    third = outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert third.status == "sent"
    assert email.status == OutboxEmail.Status.SENT
    assert email.attempts == 3
    assert email.last_error == ""
    assert len(mail_server.received) == 1
    assert mail_server.received[0].rcpt_tos == ["cliente@example.com"]
    assert mail_server.received[0].message["Subject"] == "Il tuo link di pagamento"
    assert outbox_deliver(email_id=email.pk).status == "sent"
    assert len(mail_server.received) == 1


def test_an_unreachable_server_is_a_transient_error(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard: nothing listens there
    settings.EMAIL_TIMEOUT = 2
    email = store()

    result = outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert result.status == "queued"
    assert email.status == OutboxEmail.Status.QUEUED
    assert email.last_error.startswith("ConnectionRefusedError")


# --- (d) permanent refusal: failed, never retried --------------------------------------------


def test_a_refused_recipient_fails_the_email_with_the_reason(mail_server):
    mail_server.refused["cliente@example.com"] = (
        "550 5.1.1 <cliente@example.com>: mailbox unavailable"
    )
    email = store()

    result = outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert (result.status, result.retry_in) == ("failed", None)
    assert email.status == OutboxEmail.Status.FAILED
    assert "550" in email.last_error
    assert "mailbox unavailable" in email.last_error
    assert email.next_attempt_at is None

    mail_server.refused.clear()
    again = outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert again.status == "failed"
    assert email.attempts == 1
    assert mail_server.received == []


# --- (e) no header injection -----------------------------------------------------------------


def test_newlines_in_subject_and_recipient_name_cannot_add_headers(mail_server):
    email = store(
        to='"Cliente\nDemo" <cliente@example.com>',
        subject="Ciao\r\nBcc: intruso@example.com",
        reply_to="negozio@example.com\nX-Injected: yes",
    )

    outbox_deliver(email_id=email.pk)

    [received] = mail_server.received
    assert received.rcpt_tos == ["cliente@example.com"]
    message = received.message
    assert message.get_all("Subject") == ["Ciao Bcc: intruso@example.com"]
    assert message.get_all("To") == ['"Cliente Demo" <cliente@example.com>']
    assert message.get_all("Reply-To") == ["negozio@example.com X-Injected: yes"]
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert not any(line.startswith(b"Bcc:") for line in received.raw.splitlines())


def test_an_address_smuggling_a_second_recipient_fails_instead_of_sending(mail_server):
    email = store(to="mario@example.com\nBcc: intruso@example.com")

    result = outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert result.status == "failed"
    assert email.status == OutboxEmail.Status.FAILED
    assert "Invalid address" in email.last_error
    assert mail_server.received == []


# --- (f) the sweep ---------------------------------------------------------------------------


def test_requeue_picks_only_queued_emails_whose_attempt_is_overdue(
    django_capture_on_commit_callbacks,
):
    now = timezone.now()
    overdue = store(to="overdue@example.com")
    due_soon = store(to="just-retried@example.com")
    later = store(to="later@example.com")
    sent = store(to="sent@example.com")
    failed = store(to="failed@example.com")
    OutboxEmail.objects.filter(pk=overdue.pk).update(next_attempt_at=now - timedelta(hours=1))
    OutboxEmail.objects.filter(pk=due_soon.pk).update(next_attempt_at=now - timedelta(minutes=1))
    OutboxEmail.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=10))
    OutboxEmail.objects.filter(pk__in=[sent.pk, failed.pk]).update(
        next_attempt_at=now - timedelta(hours=1)
    )
    OutboxEmail.objects.filter(pk=sent.pk).update(status=OutboxEmail.Status.SENT)
    OutboxEmail.objects.filter(pk=failed.pk).update(status=OutboxEmail.Status.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        count = outbox_requeue_due()

    assert count == 1
    assert [message.to for message in mail.outbox] == [["overdue@example.com"]]
    assert OutboxEmail.objects.get(pk=overdue.pk).status == OutboxEmail.Status.SENT
    assert OutboxEmail.objects.get(pk=due_soon.pk).status == OutboxEmail.Status.QUEUED


# --- (c) a delivery the database could not record is never sent again ------------------------


class FailOutboxWrites:
    """After the mail server accepted the message, the next `n` writes to the outbox table fail
    as if the database were locked (SQLite under a concurrent writer) or gone."""

    def __init__(self, n: int) -> None:
        self.left = n

    def __call__(self, execute, sql, params, many, context):
        if self.left and mail.outbox and sql.startswith("UPDATE") and "vpos_outboxemail" in sql:
            self.left -= 1
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)


def queued(**values) -> OutboxEmail:
    """A stored email whose task has not run yet."""
    return OutboxEmail.objects.create(
        kind="test",
        to_email="cliente@example.com",
        subject="La tua conferma",
        body_text="Pagato.",
        dedupe_key="test:unrecorded",
        next_attempt_at=timezone.now(),
        **values,
    )


def deliver_with_failing_writes(email: OutboxEmail, failures: int) -> None:
    assert mail.outbox == []
    # The task fails; what matters is what its retry and the sweep do next.
    with connection.execute_wrapper(FailOutboxWrites(failures)), suppress(OperationalError):
        outbox_deliver(email_id=email.pk)


@pytest.mark.django_db(transaction=True)
def test_a_sent_email_whose_answer_was_not_recorded_at_first_is_not_sent_again():
    email = queued()

    deliver_with_failing_writes(email, failures=1)
    # The task retried, the sweep ran long after: nothing goes out a second time.
    outbox_deliver(email_id=email.pk)
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(1))
    outbox_requeue_due(grace=timedelta(0))
    outbox_deliver(email_id=email.pk)

    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    assert email.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_an_email_the_database_never_confirmed_shows_as_unconfirmed_and_is_not_resent(
    shop, owner_client
):
    email = queued(merchant=shop.merchant)

    deliver_with_failing_writes(email, failures=100)
    outbox_deliver(email_id=email.pk)
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(1))
    assert outbox_requeue_due(grace=timedelta(0)) == 0

    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENDING
    page = owner_client.get(f"/s/{shop.merchant.public_id}/emails/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Sending, unconfirmed" in page.text
    assert "Queued" not in page.text


def test_the_owner_may_send_an_unconfirmed_email_again_once(
    shop, owner_client, django_capture_on_commit_callbacks
):
    email = queued(merchant=shop.merchant, status=OutboxEmail.Status.SENDING, attempts=1)
    detail = reverse("merchants:email_detail", args=[shop.merchant.public_id, email.pk])
    resend = reverse("merchants:email_resend", args=[shop.merchant.public_id, email.pk])

    page = owner_client.get(detail, HTTP_ACCEPT_LANGUAGE="en")
    assert "the recipient may have received it" in page.text
    assert f'action="{resend}"' in page.text
    with django_capture_on_commit_callbacks(execute=True):
        answer = owner_client.post(resend, HTTP_ACCEPT_LANGUAGE="en")
        double_click = owner_client.post(resend, HTTP_ACCEPT_LANGUAGE="en", follow=True)

    assert answer.status_code == 302
    assert [message.to for message in mail.outbox] == [["cliente@example.com"]]
    assert "it was not sent again" in double_click.text
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboxEmail.Status.SENT, 1)
    entry = AuditEntry.objects.get(merchant=shop.merchant, action=Action.EMAIL_RESENT)
    assert entry.actor == shop.owner.user


def test_a_sent_email_cannot_be_sent_again_by_hand(shop, owner_client):
    email = queued(merchant=shop.merchant, status=OutboxEmail.Status.SENT)
    detail = reverse("merchants:email_detail", args=[shop.merchant.public_id, email.pk])
    resend = reverse("merchants:email_resend", args=[shop.merchant.public_id, email.pk])

    assert resend not in owner_client.get(detail).text
    owner_client.post(resend)

    assert mail.outbox == []
    assert OutboxEmail.objects.get(pk=email.pk).status == OutboxEmail.Status.SENT
    assert not AuditEntry.objects.filter(action=Action.EMAIL_RESENT).exists()
