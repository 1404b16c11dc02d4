"""The payment link state machine, defined once.

    active ──► paid         (single-use link, first successful payment)
      │   ──► completed    (reusable link reached its maximum number of payments)
      │   ──► expired      (past expires_at)
      └─► deactivated  (by the shop)

Terminal states never go back to active. Every write of `PaymentLink.status` goes through
`link_transition`, inside a transaction that holds the link's row lock.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import EXPIRY_GRACE, LinkKind, LinkStatus, Payment, PaymentLink
from .page_cache import page_cache_forget

ALLOWED = {
    LinkStatus.ACTIVE: {
        LinkStatus.PAID,
        LinkStatus.COMPLETED,
        LinkStatus.EXPIRED,
        LinkStatus.DEACTIVATED,
    },
}


class InvalidTransition(Exception):
    pass


def link_transition(link: PaymentLink, to: LinkStatus, *, at: datetime | None = None) -> None:
    """Move a locked link to `to`, or raise InvalidTransition. The caller saves."""
    if to not in ALLOWED.get(LinkStatus(link.status), set()):
        raise InvalidTransition(f"{link.status} -> {to}")
    at = at or timezone.now()
    link.status = to
    link.closed_at = at
    token = link.token
    transaction.on_commit(lambda: page_cache_forget(token), robust=True)
    if to in (LinkStatus.PAID, LinkStatus.COMPLETED):
        link.paid_at = at


def link_accepts(link: PaymentLink, payment: Payment, *, at: datetime | None = None) -> bool:
    """May this successful payment count for the link?

    Yes while the link is active and not past its expiry; also within the grace period after
    expiry for a payment started before it. An authorized payment counts when it is captured,
    days later maybe: it does if it was made before the link expired.
    """
    at = at or timezone.now()
    if payment.authorized_amount is not None and link.status in (
        LinkStatus.ACTIVE,
        LinkStatus.EXPIRED,
    ):
        return link.expires_at is None or payment.created_at < link.expires_at
    if link.status != LinkStatus.ACTIVE:
        return False
    if not link.is_past_expiry(at):
        return True
    return payment.created_at < link.expires_at and at < link.expires_at + EXPIRY_GRACE


def link_record_payment(link: PaymentLink, *, at: datetime | None = None) -> None:
    """Count one accepted payment on a locked link and close it when it is used up."""
    at = at or timezone.now()
    link.payments_count += 1
    if link.status != LinkStatus.ACTIVE:
        # An authorization made before the link expired, captured after: it counts, and the
        # link stays expired (terminal states never move).
        link.paid_at = link.paid_at or at
    elif link.kind == LinkKind.SINGLE:
        link_transition(link, LinkStatus.PAID, at=at)
    elif link.max_payments is not None and link.payments_count >= link.max_payments:
        link_transition(link, LinkStatus.COMPLETED, at=at)
    elif link.paid_at is None:
        link.paid_at = at
