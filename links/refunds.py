"""Refunds: the refundable remainder is ours to enforce (localstripe accepts over-refunds).

Like checkout, three steps so money never moves without a record: reserve a pending Refund under
the payment's row lock (the remainder counts pending refunds too, so two concurrent refunds cannot
together exceed it), ask Stripe with an idempotency key, then record the answer. When Stripe's
answer is lost, the refund is looked up by its metadata before anything is retried.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import User
from vpos.events import Event, record
from vpos.money import format_money

from .models import Payment, PaymentStatus, Refund
from .providers import ProviderError, ProviderRefund, provider_for_payment

logger = logging.getLogger(__name__)


def _pending_sum(payment: Payment) -> int:
    return (
        payment.refunds.filter(status=Refund.Status.PENDING).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def refund_remainder(payment: Payment) -> int:
    """What can still be refunded: pending refunds count, their answer may still be a yes."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    return max(payment.amount - payment.refunded_amount - _pending_sum(payment), 0)


def refund_for_request(*, payment: Payment, request_key: str) -> Refund | None:
    """The refund an earlier try of the same request reserved, if any."""
    if not request_key:
        return None
    return Refund.objects.filter(payment=payment, request_key=request_key).first()


def refund_check(*, payment: Payment, amount: int | None = None) -> None:
    """Raise the ValidationError a person reads when the payment (or `amount` of it, in minor
    units) cannot be refunded. The one rule: the confirmation page asks it, and refund_create
    asks it again under the payment's lock."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise ValidationError(_("Only a successful payment can be refunded."), code="not_succeeded")
    if amount is not None and amount <= 0:
        raise ValidationError(_("Enter an amount greater than zero."), code="zero")
    remainder = refund_remainder(payment)
    if remainder <= 0 or (amount is not None and amount > remainder):
        raise ValidationError(
            _("At most %(amount)s can still be refunded.")
            % {"amount": format_money(remainder, payment.currency)},
            code="over_remainder",
        )


def refund_create(
    *,
    payment: Payment,
    amount: int | None,
    reason: str = "",
    actor: User | None = None,
    source: str = "back_office",
    request_key: str = "",
) -> Refund:
    """Refund `amount` (minor units; None: the whole remainder, read under the lock) of a
    succeeded payment. Raises ValidationError with a message a person can read when the refund is
    not possible; nothing is sent to Stripe then.

    `request_key` names the request (an API Idempotency-Key, a back-office confirmation): a
    request seen before gets the refund it made, as it stands, and nothing is sent to Stripe
    again. Its reservation commits before Stripe is asked, so a retry after any failure (a lost
    answer, a database error while recording it) finds it; reconciliation settles it.
    """
    with transaction.atomic():
        locked = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .get(pk=payment.pk)
        )
        earlier = refund_for_request(payment=locked, request_key=request_key)
        if earlier is not None:
            return earlier
        refund_check(payment=locked, amount=amount)
        if amount is None:
            amount = refund_remainder(locked)
        try:
            # Before reserving: a refund that cannot even be asked for must not stay pending.
            provider = provider_for_payment(locked)
        except ProviderError as error:
            raise ValidationError(
                _("Stripe refused the refund: %(reason)s") % {"reason": error.message},
                code="refused",
            ) from error
        refund = Refund.objects.create(
            merchant=locked.merchant,
            payment=locked,
            amount=amount,
            currency=locked.currency,
            reason=reason.strip()[:500],
            created_by=actor,
            source=source,
            request_key=request_key,
        )
    try:
        answer = provider.refund_payment(
            locked.provider_id,
            amount=amount,
            metadata={"vpos_refund": str(refund.public_id), "vpos_payment": str(locked.public_id)},
            idempotency_key=f"vpos-refund-{refund.public_id}",
        )
    except ProviderError as error:
        if error.permanent:
            Refund.objects.filter(pk=refund.pk).update(
                status=Refund.Status.FAILED, failure_message=error.message[:500]
            )
            record(Event.REFUND_FAILED, merchant_id=refund.merchant_id, obj=refund)
            raise ValidationError(
                _("Stripe refused the refund: %(reason)s") % {"reason": error.message},
                code="refused",
            ) from error
        # The answer was lost: the refund may or may not exist. Settle it by looking it up.
        return refund_settle(refund=refund)
    return _refund_succeeded(refund.pk, answer, actor=actor)


def _refund_succeeded(
    refund_id: int, answer: ProviderRefund, *, actor: User | None = None
) -> Refund:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
        # The payment's row only: a lock on its link or shop would wait for a payment of the same
        # link being finalized while that one waits for the shop (a deadlock).
        payment = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("merchant", "link")
            .get(pk=refund.payment_id)
        )
        refund.status = Refund.Status.SUCCEEDED
        refund.provider_id = answer.id
        refund.succeeded_at = timezone.now()
        refund.failure_message = ""  # a refund given up on may turn out to have happened
        refund.save(update_fields=["status", "provider_id", "succeeded_at", "failure_message"])
        payment.refunded_amount += refund.amount
        payment.save(update_fields=["refunded_amount", "updated_at"])
        refund.payment = payment
        # The refund note, its number and the customer's email derive from this event.
        record(
            Event.PAYMENT_REFUNDED,
            merchant_id=payment.merchant_id,
            obj=refund,
            actor=actor or refund.created_by,
            summary=f"{refund.amount_display} — {payment.link.description}",
            data={
                "refund": str(refund.public_id),
                "payment": str(payment.public_id),
                "reason": refund.reason,
                "source": refund.source,
            },
        )
    return refund


def refund_settle(*, refund: Refund) -> Refund:
    """Find out whether a pending refund happened at Stripe (by its metadata) and record it."""
    payment = refund.payment
    try:
        found = [
            r
            for r in provider_for_payment(payment).list_refunds(payment.provider_id)
            if r.metadata.get("vpos_refund") == str(refund.public_id)
        ]
    except ProviderError:
        logger.warning("refund %s: Stripe unreachable, left pending", refund.pk)
        return refund
    if found:
        return _refund_succeeded(refund.pk, found[0])
    Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
        status=Refund.Status.FAILED,
        failure_message=_("Stripe could not be reached. Nothing was refunded: try again."),
    )
    record(Event.REFUND_FAILED, merchant_id=refund.merchant_id, obj=refund)
    refund.refresh_from_db()
    return refund


def refunds_reconcile(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Periodic: settle refunds whose Stripe answer was lost."""
    stale = Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lt=timezone.now() - older_than
    ).select_related("payment", "payment__merchant")[:200]
    return sum(
        1 for refund in stale if refund_settle(refund=refund).status != Refund.Status.PENDING
    )


def refund_record_external(*, payment: Payment, answer: ProviderRefund) -> Refund | None:
    """A refund Stripe reports (by webhook): recorded once, by its id.

    Made in Stripe's dashboard: a new refund. One of ours (its metadata names it) that we gave
    up on or left pending because Stripe's answer was lost: it did happen, so it succeeded.
    """
    ours = _our_refund(payment, answer)
    if ours is not None:
        return (
            _refund_succeeded(ours.pk, answer) if ours.status != Refund.Status.SUCCEEDED else None
        )
    if answer.metadata.get("vpos_refund"):
        return None  # ours, already recorded (or, after a restore, for recover_from_provider)
    return _record_new(
        payment, answer, reason=_("Refunded in the Stripe dashboard"), source="stripe_dashboard"
    )


def refund_recover(*, payment: Payment, answer: ProviderRefund) -> Refund | None:
    """After a database restore: a succeeded refund Stripe holds and the database lost (or holds
    as pending) is recorded once, under its original id; None if nothing was missing."""
    ours = _our_refund(payment, answer)
    if ours is not None:
        return (
            _refund_succeeded(ours.pk, answer) if ours.status != Refund.Status.SUCCEEDED else None
        )
    public_id = _metadata_uuid(answer)
    if public_id is None:
        return refund_record_external(payment=payment, answer=answer)
    return _record_new(
        payment,
        answer,
        reason=_("Recovered from Stripe after a database restore"),
        source="recovered",
        public_id=public_id,
    )


def _record_new(
    payment: Payment,
    answer: ProviderRefund,
    *,
    reason: str,
    source: str,
    public_id: uuid.UUID | None = None,
) -> Refund | None:
    """A refund Stripe made that we have no row for: created and settled once, by its id."""
    if Refund.objects.filter(provider_id=answer.id).exists():
        return None
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if Refund.objects.filter(provider_id=answer.id).exists():
            return None
        amount = min(answer.amount, locked.amount - locked.refunded_amount)
        if amount <= 0:
            return None
        refund = Refund.objects.create(
            merchant_id=locked.merchant_id,
            payment=locked,
            amount=amount,
            currency=locked.currency,
            reason=reason,
            source=source,
            **({"public_id": public_id} if public_id else {}),
        )
    return _refund_succeeded(refund.pk, answer)


def _metadata_uuid(answer: ProviderRefund) -> uuid.UUID | None:
    try:
        return uuid.UUID(answer.metadata.get("vpos_refund", ""))
    except ValueError:
        return None


def _our_refund(payment: Payment, answer: ProviderRefund) -> Refund | None:
    public_id = _metadata_uuid(answer)
    if public_id is None:
        return None
    return Refund.objects.filter(payment=payment, public_id=public_id).first()
