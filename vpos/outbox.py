"""The email outbox: every email is a row first, then a Celery task sends it once.

`outbox_enqueue` renders and stores an email and schedules its sending after the surrounding
transaction commits. `outbox_deliver` is what the task runs: it locks the row, does nothing if the
email is no longer queued, and classifies SMTP failures as transient (retry later) or permanent
(recipient refused: marked failed with the reason, never retried).
"""

from __future__ import annotations

import base64
import logging
import smtplib
import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import storages
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from vpos import delivery, retention
from vpos.celery import TRANSIENT_ERRORS
from vpos.events import Event, record
from vpos.models import OutboxEmail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Seconds to wait before attempt n+1 (n = attempts so far): 30 s, 1 min, 2 min ... about 1 h total.
BACKOFF_BASE = 30


def clean_header(value: str, limit: int = 255) -> str:
    """Collapse whitespace so user-supplied text can never start a new mail header."""
    return " ".join(str(value).split())[:limit]


class EmailAbout(StrEnum):
    """What a deduplicated email is about; with the ids of what it concerns, its dedupe key."""

    INVITATION = "invitation"
    PAYMENT_CONFIRMATION = "payment-confirmation"
    PAYMENT_NOTIFICATION = "payment-notification"
    REFUND = "refund"
    WEBHOOK_DISABLED = "webhook_disabled"
    HOLD_RELEASED = "hold-released"
    HOLD_LAPSING = "hold-lapsing"
    DEBIT_FAILED = "debit-failed"
    INVOICE = "invoice"
    INVOICE_PEC = "invoice-pec"


def email_key(about: EmailAbout, *ids: object) -> str:
    """The dedupe key of the email `about` these ids, e.g. "payment-notification:42:7". A key
    with fewer ids is the prefix of every longer one (all the notifications of payment 42)."""
    return ":".join((about.value, *map(str, ids)))


def outbox_enqueue(
    *,
    kind: str,
    to: str,
    template: str,
    context: dict[str, Any],
    language: str | None = None,
    merchant: models.Model | None = None,  # the shop the email is from (merchants.Merchant)
    ref: str = "",
    reply_to: str = "",
    dedupe_key: str | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> OutboxEmail:
    """Render `emails/<template>_subject.txt`, `_body.txt` and `_body.html` and queue the email.

    With a `dedupe_key`, asking twice for the same email stores and sends it once.
    """
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    context = {"site_url": settings.SITE_URL, "merchant": merchant, **context}
    with translation.override(language):
        subject = render_to_string(f"emails/{template}_subject.txt", context)
        body_text = render_to_string(f"emails/{template}_body.txt", context)
        body_html = render_to_string(f"emails/{template}_body.html", context)
    return outbox_store(
        kind=kind,
        to=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        language=language,
        merchant=merchant,
        ref=ref,
        reply_to=reply_to,
        dedupe_key=dedupe_key,
        attachments=attachments,
    )


def outbox_store(
    *,
    kind: str,
    to: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    language: str = "",
    merchant: models.Model | None = None,  # the shop the email is from (merchants.Merchant)
    ref: str = "",
    reply_to: str = "",
    dedupe_key: str | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> OutboxEmail:
    """Store an already rendered email and send it after commit (once per dedupe key)."""
    email, created = OutboxEmail.objects.get_or_create(
        dedupe_key=dedupe_key or f"{kind}:{uuid.uuid4()}",
        defaults={
            "kind": kind,
            "to_email": clean_header(to, 254),
            "subject": clean_header(subject),
            "body_text": body_text,
            "body_html": body_html,
            "language": language,
            "merchant": merchant,
            "ref": ref,
            "reply_to": clean_header(reply_to, 254),
            "attachments": attachments or [],
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        EMAILS.send_after_commit(email.pk)
    return email


def _build_message(email: OutboxEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_email],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={"X-Vpos-Email": str(email.pk)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    for attachment in email.attachments:
        if "content_b64" in attachment:  # small files carried by the row itself (an XML invoice)
            content = base64.b64decode(attachment["content_b64"])
            message.attach(attachment["filename"], content, attachment["mimetype"])
            continue
        # Receipts and refund notes live in the private documents storage (vpos/documents.py).
        storage = storages[attachment.get("storage", "default")]
        with storage.open(attachment["path"], "rb") as fh:
            message.attach(attachment["filename"], fh.read(), attachment["mimetype"])
    return message


def _is_permanent(error: Exception) -> bool:
    """5xx answers about the recipient or the message are final; the rest may pass later."""
    if isinstance(error, ValueError):
        # Django could not build the message (malformed address or header): retrying won't help.
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPServerDisconnected)
    return False


def outbox_deliver(*, email_id: int) -> delivery.DeliveryResult:
    """Send one queued email at most once. Safe to call twice or concurrently.

    The row is marked SENDING, and that is committed, before the mail server sees the message:
    whatever fails after it (the worker killed, the database unable to record the answer), the
    email is never sent again by a retry or the sweep, and the list shows it as unconfirmed
    rather than queued.
    """
    with transaction.atomic():
        email = delivery.claim(OutboxEmail.objects.all(), email_id)
        if email is None:
            return delivery.LOCKED_OR_MISSING
        if email.status != OutboxEmail.Status.QUEUED:
            return delivery.DeliveryResult(email.status)
        email.attempts += 1
        email.status = OutboxEmail.Status.SENDING
        email.save(update_fields=["attempts", "status"])
    try:
        with get_connection() as connection:
            connection.send_messages([_build_message(email)])
    except (smtplib.SMTPException, OSError, ValueError) as error:
        # Refused before the server accepted it: nothing was delivered, it may be tried again.
        email.last_error = f"{type(error).__name__}: {error}"[:2000]
        if _is_permanent(error) or email.attempts >= MAX_ATTEMPTS:
            email.status = OutboxEmail.Status.FAILED
            email.next_attempt_at = None
            logger.warning("email %s failed permanently: %s", email.pk, email.last_error)
            retry_in = None
        else:
            email.status = OutboxEmail.Status.QUEUED
            retry_in = delivery.backoff(email.attempts, base=BACKOFF_BASE)
            email.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
            logger.info(
                "email %s attempt %s failed, retry in %ss", email.pk, email.attempts, retry_in
            )
        _record(email, ["last_error", "status", "next_attempt_at"])
        return delivery.DeliveryResult(email.status, retry_in)
    email.status = OutboxEmail.Status.SENT
    email.sent_at = timezone.now()
    email.next_attempt_at = None
    email.last_error = ""
    fields = ["last_error", "status", "sent_at", "next_attempt_at"]
    if settings.REDACT_SENT_ACCESS_EMAILS and grants_access(email):
        # Its link or code is the recipient's alone: once sent, nobody reads it here again.
        _blank(email, now=email.sent_at)
        fields += PURGED_FIELDS
    _record(email, fields)
    return delivery.DeliveryResult(email.status)


# Writing the answer down is retried on its own, never the sending: a busy database (SQLite
# under a concurrent writer, a PostgreSQL failover) must not turn one email into two.
RECORD_TRIES = 5


def _record(email: OutboxEmail, fields: list[str]) -> None:
    """Store what the mail server answered for a row in SENDING. If the database stays away,
    the row stays SENDING (shown as unconfirmed, never sent again) and the error is raised."""
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            with transaction.atomic():
                OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING).update(
                    **{name: getattr(email, name) for name in fields}
                )
            return
        except DatabaseError:
            if attempt == RECORD_TRIES:
                logger.exception("email %s: its answer could not be recorded", email.pk)
                raise
            time.sleep(0.1 * 2**attempt)


def _deliver(email_id: int) -> delivery.DeliveryResult:
    """Send one outbox email; transient SMTP errors come back later with backoff."""
    return outbox_deliver(email_id=email_id)


# A database error is retried too: before the row is marked sending nothing went out, and after
# it a retry finds the row sending (or sent) and leaves it alone, so no retry sends twice.
EMAILS = delivery.Channel(
    task_name="vpos.tasks.outbox_send",
    deliver=_deliver,
    pending=lambda: OutboxEmail.objects.filter(status=OutboxEmail.Status.QUEUED),
    max_retries=MAX_ATTEMPTS,
    autoretry_for=TRANSIENT_ERRORS,
)
outbox_send = EMAILS.task


def outbox_requeue_due(*, grace: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue queued emails whose task was lost (broker down at enqueue time, worker killed)."""
    return EMAILS.requeue_due(grace=grace)


# What a person may send again: the backend may have accepted it (only they can find out whether
# the recipient got it), or it failed for good. Never queued or sent ones.
RESENDABLE = (OutboxEmail.Status.SENDING, OutboxEmail.Status.FAILED)


def outbox_resend(*, email: OutboxEmail, actor: AbstractBaseUser) -> bool:
    """Queue an unconfirmed or failed email again, at a person's request; False if it is neither
    (any longer), or its content was removed. An unconfirmed email may then reach the recipient
    twice: the person decides."""
    with transaction.atomic():
        resent = OutboxEmail.objects.filter(
            pk=email.pk, status__in=RESENDABLE, purged_at__isnull=True
        ).update(status=OutboxEmail.Status.QUEUED, attempts=0, next_attempt_at=timezone.now())
        if resent:
            record(
                Event.EMAIL_RESENT,
                merchant_id=email.merchant_id,
                obj=email,
                actor=actor,
                summary=f"{email.to_email}: {email.subject}",
                data={"status": email.status},
            )
            EMAILS.send_after_commit(email.pk)
    return bool(resent)


# --- Retention (vpos/retention.py) -------------------------------------------------------------

# Emails that carry a link or code granting access: a shop's invitations, and every account email
# (password reset, address confirmation, login code), which belongs to no shop.
ACCESS_KINDS = frozenset({"invitation"})
PURGED_FIELDS = ["body_text", "body_html", "attachments", "purged_at"]


def grants_access(email: OutboxEmail) -> bool:
    return email.kind in ACCESS_KINDS or email.merchant_id is None


def _access_emails() -> models.QuerySet[OutboxEmail]:
    return OutboxEmail.objects.filter(
        models.Q(kind__in=ACCESS_KINDS) | models.Q(merchant__isnull=True)
    )


def _blank(email: OutboxEmail, *, now: datetime) -> None:
    email.body_text = ""
    email.body_html = ""
    email.attachments = []
    email.purged_at = now


def _purge(emails: models.QuerySet[OutboxEmail], *, now: datetime) -> int:
    return emails.filter(purged_at__isnull=True).update(
        body_text="", body_html="", attachments=[], purged_at=now
    )


def outbox_access_links_redact(*, now: datetime) -> int:
    """Access emails past `RETENTION_ACCESS_EMAIL_DAYS`, whatever became of them: their links
    have expired; one still queued is given up (failed) rather than sent empty."""
    due = _access_emails().filter(
        created_at__lt=retention.older_than(settings.RETENTION_ACCESS_EMAIL_DAYS, now=now)
    )
    due.filter(status=OutboxEmail.Status.QUEUED).update(
        status=OutboxEmail.Status.FAILED, next_attempt_at=None, last_error="Expired unsent."
    )
    return _purge(due, now=now)


def outbox_bodies_purge(*, now: datetime) -> int:
    """Bodies (and attachment references) of emails sent or failed more than
    `RETENTION_EMAIL_BODY_DAYS` ago. The attached documents themselves are kept."""
    return _purge(
        OutboxEmail.objects.filter(
            created_at__lt=retention.older_than(settings.RETENTION_EMAIL_BODY_DAYS, now=now),
            status__in=[OutboxEmail.Status.SENT, OutboxEmail.Status.FAILED],
        ),
        now=now,
    )
