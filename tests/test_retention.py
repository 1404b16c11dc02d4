"""Data retention: what the daily purge removes, what it keeps (fiscal documents never go), and
what the shop sees afterwards. Every purge is given its `now`: no test depends on the clock."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse

from integrations import webhooks as outbound
from integrations.api.idempotency import idempotency_purge
from integrations.api_keys import api_key_create
from integrations.models import ApiIdempotencyKey, ApiKey, WebhookDelivery, WebhookEndpoint
from receipts.models import Receipt, ReceiptExport
from receipts.services import export_build, exports_purge, receipt_ensure_pdf
from tests.support.documents import finalize
from tests.support.factories import PaymentLinkFactory
from vpos.crypto import encrypt
from vpos.documents import documents
from vpos.models import OutboxEmail
from vpos.outbox import outbox_access_links_redact, outbox_bodies_purge, outbox_resend, outbox_store
from vpos.retention import retention_run, sessions_clear

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)


def aged(obj, days: float, field: str = "created_at"):
    """Pretend `obj` was created `days` before NOW (auto_now_add fields cannot be set on create)."""
    type(obj).objects.filter(pk=obj.pk).update(**{field: NOW - timedelta(days=days)})
    obj.refresh_from_db()
    return obj


def email(shop, *, kind="payment_confirmation", status=OutboxEmail.Status.SENT, days=0.0, **kw):
    stored = outbox_store(
        kind=kind,
        to="cliente@example.com",
        subject="La tua ricevuta",
        body_text="Grazie, Carla Neri.",
        body_html="<p>Grazie, Carla Neri.</p>",
        merchant=kw.pop("merchant", shop.merchant),
        attachments=kw.pop("attachments", None),
    )
    OutboxEmail.objects.filter(pk=stored.pk).update(status=status)
    return aged(stored, days)


# --- email bodies ------------------------------------------------------------------------------


def test_sent_email_bodies_go_after_the_retention_period_and_the_record_stays(shop, settings):
    settings.RETENTION_EMAIL_BODY_DAYS = 90
    old = email(shop, days=91)
    failed = email(shop, status=OutboxEmail.Status.FAILED, days=200)
    recent = email(shop, days=89)
    unsent = email(shop, status=OutboxEmail.Status.QUEUED, days=200)

    assert outbox_bodies_purge(now=NOW) == 2

    for purged in (old, failed):
        purged.refresh_from_db()
        assert (purged.body_text, purged.body_html, purged.purged_at) == ("", "", NOW)
        assert (purged.to_email, purged.subject) == ("cliente@example.com", "La tua ricevuta")
    for kept in (recent, unsent):
        kept.refresh_from_db()
        assert kept.body_text == "Grazie, Carla Neri."
        assert kept.purged_at is None


def test_purging_an_email_keeps_the_receipt_it_carried(shop, settings):
    link = PaymentLinkFactory(merchant=shop.merchant)
    receipt = receipt_ensure_pdf(
        receipt_id=finalize(link, customer_email="cliente@example.com").receipt.pk
    )
    pdf_name = receipt.pdf.name
    attached = email(
        shop,
        days=400,
        attachments=[{"path": pdf_name, "filename": "r.pdf", "mimetype": "application/pdf"}],
    )

    outbox_bodies_purge(now=NOW)

    attached.refresh_from_db()
    assert attached.attachments == []
    assert documents.exists(pdf_name)
    assert Receipt.objects.get(pk=receipt.pk).pdf.name == pdf_name


def test_access_emails_past_their_validity_lose_their_body_and_an_unsent_one_is_given_up(
    shop, settings
):
    settings.RETENTION_ACCESS_EMAIL_DAYS = 7
    stuck = email(shop, kind="invitation", status=OutboxEmail.Status.QUEUED, days=8)
    reset = email(shop, kind="password_reset_key", merchant=None, status="failed", days=8)
    fresh = email(shop, kind="invitation", status=OutboxEmail.Status.QUEUED, days=6)
    receipt_mail = email(shop, status=OutboxEmail.Status.SENT, days=8)

    assert outbox_access_links_redact(now=NOW) == 2

    stuck.refresh_from_db()
    assert stuck.status == OutboxEmail.Status.FAILED
    assert stuck.body_text == ""
    reset.refresh_from_db()
    assert reset.body_text == ""
    assert reset.purged_at == NOW
    fresh.refresh_from_db()
    assert fresh.status == OutboxEmail.Status.QUEUED
    assert fresh.body_text
    receipt_mail.refresh_from_db()
    assert receipt_mail.body_text  # a receipt email keeps its body for RETENTION_EMAIL_BODY_DAYS


def test_an_email_whose_content_was_removed_cannot_be_sent_again_and_says_why(shop, settings):
    failed = email(shop, status=OutboxEmail.Status.FAILED, days=100)
    outbox_bodies_purge(now=NOW)
    failed.refresh_from_db()
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    detail = reverse("merchants:email_detail", args=[shop.merchant.public_id, failed.pk])

    page = client.get(detail)
    answer = client.post(
        reverse("merchants:email_resend", args=[shop.merchant.public_id, failed.pk]), follow=True
    )

    assert "The content of this email was removed" in page.content.decode()
    assert "Send again" not in page.content.decode()
    assert outbox_resend(email=failed, actor=shop.owner.user) is False
    assert "cannot be sent again" in answer.content.decode()
    failed.refresh_from_db()
    assert failed.status == OutboxEmail.Status.FAILED


# --- webhook events, idempotency keys, sessions ------------------------------------------------


def delivery(shop, *, status, days) -> WebhookDelivery:
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        merchant=shop.merchant,
        url="http://127.0.0.1:9/hook",
        defaults={"events": ["payment.succeeded"], "secret_encrypted": encrypt("whsec_x")},
    )
    made = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=f"evt_{secrets.token_hex(8)}",
        event_type="payment.succeeded",
        payload={"data": {"customer_email": "cliente@example.com"}},
        status=status,
    )
    return aged(made, days)


def test_finished_webhook_events_lose_their_body_and_can_no_longer_be_redelivered(shop, settings):
    settings.RETENTION_WEBHOOK_PAYLOAD_DAYS = 30
    delivered = delivery(shop, status=WebhookDelivery.Status.SUCCEEDED, days=31)
    pending = delivery(shop, status=WebhookDelivery.Status.PENDING, days=31)
    recent = delivery(shop, status=WebhookDelivery.Status.FAILED, days=29)

    assert outbound.webhook_payloads_purge(now=NOW) == 1

    delivered.refresh_from_db()
    assert delivered.payload == {}
    assert delivered.payload_purged_at == NOW
    assert delivered.event_type == "payment.succeeded"
    assert pending.__class__.objects.get(pk=pending.pk).payload  # still to be sent
    assert WebhookDelivery.objects.get(pk=recent.pk).payload
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    before = WebhookDelivery.objects.count()
    answer = client.post(
        reverse("integrations:webhook_redeliver", args=[shop.merchant.public_id, delivered.pk]),
        follow=True,
    )
    assert "cannot be sent again" in answer.content.decode()
    assert WebhookDelivery.objects.count() == before


def test_idempotency_keys_are_forgotten_after_their_window_only(shop, settings):
    settings.RETENTION_IDEMPOTENCY_DAYS = 30
    key, _raw = api_key_create(
        merchant=shop.merchant, name="Site", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    old, recent = (
        ApiIdempotencyKey.objects.create(api_key=key, key=name, operation="link.create")
        for name in ("old", "recent")
    )
    aged(old, 31)
    aged(recent, 29)

    assert idempotency_purge(now=NOW) == 1
    assert list(ApiIdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]


def test_expired_sessions_are_cleared_and_live_ones_kept(shop):
    store = import_module(django_settings.SESSION_ENGINE).SessionStore
    model = store.get_model_class()
    for name, expiry in (("gone", NOW - timedelta(seconds=1)), ("live", NOW + timedelta(days=1))):
        model.objects.create(session_key=name * 8, session_data="e30=", expire_date=expiry)

    assert sessions_clear(now=NOW) == 1
    assert list(model.objects.values_list("session_key", flat=True)) == ["live" * 8]


# --- exports and fiscal documents -------------------------------------------------------------


def test_old_exports_are_deleted_and_shown_as_expired_while_their_receipts_stay(shop, settings):
    settings.RETENTION_EXPORT_DAYS = 30
    link = PaymentLinkFactory(merchant=shop.merchant)
    receipt = finalize(link, at=NOW - timedelta(days=40)).receipt
    day = receipt.issued_at.date()
    export = export_build(
        export_id=ReceiptExport.objects.create(
            merchant=shop.merchant, date_from=day, date_to=day
        ).pk
    )
    zip_name = export.file.name
    aged(export, 31)

    assert exports_purge(now=NOW) == 1

    export.refresh_from_db()
    assert export.status == ReceiptExport.Status.EXPIRED
    assert not export.file
    assert not documents.exists(zip_name)
    assert documents.exists(receipt.pdf.name)
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    args = [shop.merchant.public_id, export.pk]
    assert (
        "was deleted after 30 days"
        in client.get(reverse("receipts:export_detail", args=args)).content.decode()
    )
    assert client.get(reverse("receipts:export_download", args=args)).status_code == 404


def test_the_daily_purge_never_touches_receipts_or_refund_notes_however_old(shop, settings):
    link = PaymentLinkFactory(merchant=shop.merchant)
    receipt = finalize(
        link, customer_email="cliente@example.com", at=NOW - timedelta(days=30 * 365)
    ).receipt
    receipt = receipt_ensure_pdf(receipt_id=receipt.pk)
    pdf = documents.open(receipt.pdf.name).read()

    done = retention_run(now=NOW + timedelta(days=365 * 20))

    assert set(done) == {path.rsplit(".", 1)[-1] for path in settings.RETENTION_PURGES}
    kept = Receipt.objects.get(pk=receipt.pk)
    assert (kept.customer_email, kept.number) == ("cliente@example.com", receipt.number)
    assert documents.open(kept.pdf.name).read() == pdf


def test_the_purge_runs_daily_and_from_the_command_line(shop, capsys):
    schedule = django_settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert schedule["task"] == "vpos.tasks.retention_purge"
    # Every day at 03:30, read from the crontab itself (not from the clock).
    assert (schedule["schedule"].hour, schedule["schedule"].minute) == ({3}, {30})
    assert len(schedule["schedule"].day_of_week) == 7
    email(shop, days=10_000)

    call_command("purge_expired_data")

    out = capsys.readouterr().out
    assert "outbox_bodies_purge: 1" in out
    assert OutboxEmail.objects.get().body_text == ""
