"""Periodic work on links and payments: settle what the provider knows and we do not yet."""

from celery import shared_task

from . import payments, refunds, services


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return payments.payments_reconcile()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()


@shared_task(acks_late=True)
def refunds_reconcile() -> int:
    return refunds.refunds_reconcile()
