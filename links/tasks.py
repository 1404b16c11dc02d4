import logging

from celery import shared_task
from django.db import transaction

from . import notifications, services
from .models import Payment

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def payment_followups(payment_id: int) -> None:
    """After a payment succeeded: confirmation emails (each deduplicated, so retries are safe)."""
    payment = Payment.objects.select_related("link", "merchant").filter(pk=payment_id).first()
    if payment is None:
        return
    with transaction.atomic():
        notifications.payment_send_confirmations(payment=payment)


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return services.payments_reconcile()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()
