import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vpos.celery import TRANSIENT_ERRORS
from vpos.logging import log_context

from . import notifications, services
from .models import Payment, PaymentStatus, Refund

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def payment_followups(payment_id: int) -> None:
    """After a payment succeeded: the receipt PDF, then the confirmation emails.

    Each step is idempotent (a stored PDF is kept, emails are deduplicated), so retries are safe.
    """
    from receipts.services import receipt_ensure_pdf

    payment = (
        Payment.objects.select_related("link", "merchant", "receipt").filter(pk=payment_id).first()
    )
    if payment is None:
        return
    with log_context(shop_id=payment.merchant.public_id, payment_id=payment.public_id):
        receipt = getattr(payment, "receipt", None)
        if receipt is not None:
            receipt_ensure_pdf(receipt_id=receipt.pk)
        with transaction.atomic():
            notifications.payment_send_confirmations(payment=payment)
            Payment.objects.filter(pk=payment.pk).update(followups_done_at=timezone.now())
        logger.info("payment follow-ups done: receipt and confirmation emails queued")


@shared_task(acks_late=True)
def payments_followups_sweep() -> int:
    """Periodic: follow-ups whose task was lost (broker down at commit, worker killed)."""
    due = Payment.objects.filter(
        status=PaymentStatus.SUCCEEDED,
        followups_done_at__isnull=True,
        succeeded_at__lt=timezone.now() - timedelta(minutes=2),
        succeeded_at__gt=timezone.now() - timedelta(days=7),
    ).values_list("pk", flat=True)[:200]
    ids = list(due)
    for payment_id in ids:
        payment_followups.delay(payment_id)
    return len(ids)


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return services.payments_reconcile()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS)
def refund_followups(refund_id: int) -> None:
    """After a refund: the refund note (numbered like receipts) and the customer's email."""
    from receipts.services import refund_note_ensure

    from .refunds import refund_notify

    refund = (
        Refund.objects.select_related("payment", "payment__link", "merchant")
        .filter(pk=refund_id)
        .first()
    )
    if refund is None:
        return
    note = refund_note_ensure(refund=refund)
    with transaction.atomic():
        refund_notify(refund=refund, note=note)


@shared_task(acks_late=True)
def refunds_reconcile() -> int:
    from .refunds import refunds_reconcile as reconcile

    return reconcile()


@shared_task(bind=True, acks_late=True, max_retries=40)
def webhook_send(self, delivery_id: int) -> str:
    """One attempt of an outbound webhook; failures come back with backoff (24 hours)."""
    from .outbound import webhook_deliver

    result = webhook_deliver(delivery_id=delivery_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(acks_late=True)
def webhooks_retry_due() -> int:
    from .outbound import webhooks_requeue_due

    return webhooks_requeue_due()
