import logging

from celery import shared_task
from django.db import transaction

from . import notifications, services
from .models import Payment

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
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
    receipt = getattr(payment, "receipt", None)
    if receipt is not None:
        receipt_ensure_pdf(receipt_id=receipt.pk)
    with transaction.atomic():
        notifications.payment_send_confirmations(payment=payment)


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return services.payments_reconcile()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()
