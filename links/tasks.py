import logging

from celery import shared_task

from . import services
from .models import Payment

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def payment_followups(payment_id: int) -> None:
    """After a payment succeeded: receipt, confirmation emails, outbound webhooks."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return
    logger.info("payment %s succeeded: follow-ups", payment_id)


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return services.payments_reconcile()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()
