"""What follows a payment or a refund once it is committed (the PDF, the emails, the number at
the provider), and the accountant's exports. Each task is idempotent: a stored PDF is kept,
emails are deduplicated, so retries are safe."""

import logging
from collections.abc import Callable
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from links.models import Payment, PaymentStatus, Refund
from links.providers import ProviderError
from vpos.celery import TRANSIENT_ERRORS
from vpos.logging import log_context

from . import delivery, invoicing, notifications, recovery, services
from .fatturapa import schema
from .models import Invoice, Receipt, ReceiptExport, RefundNote

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def payment_followups(payment_id: int) -> None:
    """After a payment succeeded: the confirmation emails at once, with the signed link to the
    receipt; its PDF is rendered apart, on the documents queue (`receipt_render`), so a slow or
    failing render never holds up a confirmation. The link renders it on demand if the customer
    opens it first."""
    payment = (
        Payment.objects.select_related("link", "merchant", "receipt").filter(pk=payment_id).first()
    )
    if payment is None:
        return
    with log_context(shop_id=payment.merchant.public_id, payment_id=payment.public_id):
        receipt = getattr(payment, "receipt", None)
        with transaction.atomic():
            notifications.payment_send_confirmations(payment=payment)
            Payment.objects.filter(pk=payment.pk).update(followups_done_at=timezone.now())
        logger.info("payment follow-ups done: confirmation emails queued")
    if receipt is not None:
        receipt_render.delay(receipt.pk)
        if settings.PROVIDER_RECORDS_NUMBERS:
            payment_number_to_provider.delay(payment.pk)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def receipt_render(receipt_id: int) -> None:
    """Render and store a receipt's PDF (documents queue). Safe to run again: a stored copy is
    kept."""
    services.receipt_ensure_pdf(receipt_id=receipt_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def refund_note_render(note_id: int) -> None:
    """Render and store a refund note's PDF (documents queue). Safe to run again."""
    services.document_ensure_pdf(RefundNote.objects.get(pk=note_id))


@shared_task(acks_late=True)
def payments_followups_sweep() -> int:
    """Periodic: follow-ups whose task was lost (broker down at commit, worker killed), and
    receipts and refund notes whose PDF was never rendered."""
    now = timezone.now()
    window = {"__lt": now - timedelta(minutes=2), "__gt": now - timedelta(days=7)}
    due = Payment.objects.filter(
        status=PaymentStatus.SUCCEEDED,
        followups_done_at__isnull=True,
        **{f"succeeded_at{op}": at for op, at in window.items()},
    ).values_list("pk", flat=True)[:200]
    ids = list(due)
    for payment_id in ids:
        payment_followups.delay(payment_id)
    for model, task in ((Receipt, receipt_render), (RefundNote, refund_note_render)):
        unrendered = model.objects.filter(
            pdf="", **{f"issued_at{op}": at for op, at in window.items()}
        ).values_list("pk", flat=True)[:200]
        for document_id in unrendered:
            task.delay(document_id)
    return len(ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def refund_followups(refund_id: int) -> None:
    """After a refund: the customer's email at once, with the signed link to the refund note;
    the note's PDF is rendered apart, on the documents queue."""
    refund = (
        Refund.objects.select_related("payment", "payment__link", "merchant")
        .filter(pk=refund_id)
        .first()
    )
    if refund is None:
        return
    note = RefundNote.objects.get(refund=refund)
    with transaction.atomic():
        notifications.refund_send_email(refund=refund, note=note)
    refund_note_render.delay(note.pk)
    if settings.PROVIDER_RECORDS_NUMBERS:
        refund_number_to_provider.delay(refund.pk)


# After a restore from backup, recover_from_provider reads the numbers back from the provider
# (receipts/recovery.py). A provider that is away is asked again later, for about a day.
@shared_task(bind=True, acks_late=True, max_retries=12, autoretry_for=TRANSIENT_ERRORS)
def payment_number_to_provider(self, payment_id: int) -> None:
    """Write the receipt number into the provider's record of the payment."""
    _tell_provider(self, recovery.payment_number_to_provider, payment_id=payment_id)


@shared_task(bind=True, acks_late=True, max_retries=12, autoretry_for=TRANSIENT_ERRORS)
def refund_number_to_provider(self, refund_id: int) -> None:
    """Write the refund note's number into the provider's record of the refund."""
    _tell_provider(self, recovery.refund_number_to_provider, refund_id=refund_id)


def _tell_provider(task: Task, write: Callable[..., bool], **ids: int) -> None:
    try:
        write(**ids)
    except ProviderError as error:
        if error.permanent:
            logger.warning("the provider refused the document number for %s: %s", ids, error)
            return
        raise task.retry(countdown=min(3 * 3600, 60 * 2**task.request.retries)) from error


@shared_task(bind=True, acks_late=True, max_retries=5)
def receipt_export_build(self, export_id: int) -> None:
    try:
        services.export_build(export_id=export_id)
    except Exception as error:
        ReceiptExport.objects.filter(pk=export_id).update(
            status=ReceiptExport.Status.FAILED, error=str(error)[:500]
        )
        raise


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def invoice_followups(invoice_id: int) -> None:
    """After an invoice or a credit note was issued: check its XML against the official schema
    (a file that breaks it is kept back and shown to the shop), render the courtesy copy, email it
    to the customer. Safe to run again: the PDF is kept, the email deduplicated."""
    invoice = Invoice.objects.select_related("merchant", "payment__link").filter(pk=invoice_id)
    invoice = invoice.first()
    if invoice is None:
        return
    with log_context(shop_id=invoice.merchant.public_id, payment_id=invoice.payment.public_id):
        try:
            schema.validate(invoice.xml)
        except schema.InvalidInvoice as error:
            Invoice.objects.filter(pk=invoice.pk).update(schema_error=str(error))
            logger.error("invoice %s breaks the FatturaPA schema: %s", invoice.number, error)
            return
        invoice = invoicing.invoice_ensure_pdf(invoice.pk)
        with transaction.atomic():
            notifications.invoice_send_email(invoice=invoice)
        delivery.invoice_deliver(invoice_id=invoice.pk)
        logger.info("invoice follow-ups done: courtesy copy emailed, file handed to its sender")


@shared_task(acks_late=True)
def invoices_followups_sweep() -> int:
    """Periodic: invoices whose follow-ups never ran (broker down at commit, worker killed): no
    courtesy copy yet and no schema error, issued more than two minutes ago. Also records the
    PEC emails to the SDI that the outbox has sent."""
    delivery.pec_deliveries_refresh()
    now = timezone.now()
    due = Invoice.objects.filter(
        pdf="",
        schema_error="",
        issued_at__lt=now - timedelta(minutes=2),
        issued_at__gt=now - timedelta(days=7),
    ).values_list("pk", flat=True)[:200]
    ids = list(due)
    for invoice_id in ids:
        invoice_followups.delay(invoice_id)
    return len(ids)
