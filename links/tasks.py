"""Periodic work on links and payments: settle what the provider knows and we do not yet."""

from celery import shared_task

from . import authorizations, payments, refunds, services


@shared_task(acks_late=True)
def payments_reconcile() -> int:
    return payments.payments_reconcile() + authorizations.holds_resume()


@shared_task(acks_late=True)
def holds_watch() -> int:
    """Authorizations: warn owners of holds about to lapse (once each), mark lapsed ones."""
    return authorizations.holds_warn() + authorizations.holds_lapse()


@shared_task(acks_late=True)
def links_expire() -> int:
    return services.links_expire_due()


@shared_task(acks_late=True)
def refunds_reconcile() -> int:
    return refunds.refunds_reconcile()
