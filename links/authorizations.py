"""Authorize now, capture later: staff capture all or part of a held payment, or release it.

Like refunds, money never moves without our record of it: the decision (capture how much, or
release) is committed under the payment's row lock before Stripe is asked, so two people
deciding at once cannot both act: the first decision wins, the other is told. The decision is
never taken back once Stripe may have been reached; a lost answer is settled by asking Stripe
what the payment is now (the same request, or reconciliation, resumes it with the same
idempotency key). What follows a capture (the link counting the payment, the receipt for the
captured amount, the emails, the webhooks) is `payment_apply`'s, as for any payment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from merchants.models import User
from vpos.money import format_money

from .models import Payment, PaymentStatus
from .notifications import hold_lapsing_emails
from .payments import HOLD_CAPTURE, HOLD_RELEASE, payment_apply
from .providers import PaymentState, ProviderError, provider_for_payment

logger = logging.getLogger(__name__)

# An undecided hold is announced to the shop's owners this long before it lapses, once.
LAPSE_WARNING = timedelta(hours=24)
# A decision whose outcome is not recorded this long after it was made is asked again.
RESUME_AFTER = timedelta(minutes=2)


def _decided_error(payment: Payment) -> ValidationError:
    if payment.hold_decision == HOLD_CAPTURE:
        return ValidationError(
            _("This payment has already been captured, or is being captured, by someone else."),
            code="already_captured",
        )
    return ValidationError(
        _("This authorization has already been released, or is being released, by someone else."),
        code="already_released",
    )


def hold_check(*, payment: Payment, amount: int | None = None) -> None:
    """Raise the ValidationError a person reads when the payment cannot be captured (`amount`
    of it, in minor units) or released now. Asked by the pages, then again under the lock."""
    if payment.hold_decision:
        raise _decided_error(payment)
    if payment.status != PaymentStatus.AUTHORIZED:
        if payment.status == PaymentStatus.EXPIRED:
            raise ValidationError(
                _("This authorization has lapsed: nothing was charged and nothing can be."),
                code="lapsed",
            )
        raise ValidationError(
            _("Only an authorized payment awaiting capture can be captured or released."),
            code="not_authorized",
        )
    if payment.capture_before is not None and timezone.now() >= payment.capture_before:
        raise ValidationError(
            _("This authorization lapsed on %(when)s: nothing can be captured any more.")
            % {"when": formats.date_format(payment.capture_before, "SHORT_DATETIME_FORMAT")},
            code="lapsed",
        )
    held = payment.authorized_amount or payment.amount
    if amount is not None and amount <= 0:
        raise ValidationError(_("Enter an amount greater than zero."), code="zero")
    if amount is not None and amount > held:
        raise ValidationError(
            _("At most %(amount)s can be captured.")
            % {"amount": format_money(held, payment.currency)},
            code="over_authorized",
        )


def payment_for_hold_request(*, payment: Payment, request_key: str) -> Payment | None:
    """The payment as an earlier try of the same request (same key) left it, if any."""
    if not request_key or payment.hold_request_key != request_key:
        return None
    return payment


def _decide(
    payment: Payment, decision: str, amount: int | None, actor: User | None, request_key: str
) -> tuple[Payment, bool]:
    """Commit the decision under the payment's lock; (payment, whether this request made it
    or an earlier try of it did: then Stripe is asked again, with the same idempotency key)."""
    with transaction.atomic():
        # The payment's row only (not its shop's, which select_related would lock too): as for
        # refunds, a lock on the shop here could close a cycle with a payment being finalized.
        locked = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .get(pk=payment.pk)
        )
        if request_key and locked.hold_request_key == request_key:
            return locked, locked.status == PaymentStatus.AUTHORIZED
        hold_check(payment=locked, amount=amount)
        try:
            provider_for_payment(locked)
        except ProviderError as error:
            raise ValidationError(
                _("Stripe refused: %(reason)s") % {"reason": error.message}, code="refused"
            ) from error
        locked.hold_decision = decision
        locked.hold_capture_amount = (
            (amount or locked.authorized_amount or locked.amount)
            if decision == HOLD_CAPTURE
            else None
        )
        locked.hold_request_key = request_key
        locked.hold_decided_by = actor
        locked.save(
            update_fields=[
                "hold_decision",
                "hold_capture_amount",
                "hold_request_key",
                "hold_decided_by",
                "updated_at",
            ]
        )
    return locked, True


def payment_capture(
    *,
    payment: Payment,
    amount: int | None = None,
    actor: User | None = None,
    request_key: str = "",
    source: str = "back_office",
) -> Payment:
    """Capture `amount` (minor units; None: all of it) of an authorized payment; Stripe releases
    the rest. Raises ValidationError, and asks Stripe nothing, when it cannot be captured.
    Returns the payment: succeeded, or still authorized while Stripe's answer is not known."""
    decided, ask = _decide(payment, HOLD_CAPTURE, amount, actor, request_key)
    return _carry_out(decided, source) if ask else decided


def payment_release(
    *,
    payment: Payment,
    actor: User | None = None,
    request_key: str = "",
    source: str = "back_office",
) -> Payment:
    """Release an authorization: nothing is charged, the hold on the card ends."""
    decided, ask = _decide(payment, HOLD_RELEASE, None, actor, request_key)
    return _carry_out(decided, source) if ask else decided


def _carry_out(payment: Payment, source: str) -> Payment:
    """Ask Stripe to do what was decided, and record what it holds afterwards."""
    provider = provider_for_payment(payment)
    try:
        if payment.hold_decision == HOLD_CAPTURE:
            answer = provider.capture_payment(
                payment.provider_id,
                amount=payment.hold_capture_amount,
                idempotency_key=f"vpos-capture-{payment.public_id}",
            )
        else:
            answer = provider.cancel_payment(payment.provider_id)
    except ProviderError as error:
        return _settle(payment, error, source)
    return payment_apply(payment_id=payment.pk, provider_payment=answer, source=source)


def _settle(payment: Payment, error: ProviderError, source: str) -> Payment:
    """Stripe refused, or its answer was lost: the payment as Stripe holds it decides."""
    try:
        current = provider_for_payment(payment).retrieve_payment(payment.provider_id)
    except ProviderError:
        logger.warning("payment %s: Stripe unreachable, %s left pending", payment.pk, source)
        return payment
    if current.state == PaymentState.AUTHORIZED and error.permanent:
        # Refused, and nothing moved: the decision may be made again.
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.AUTHORIZED).update(
            hold_decision="",
            hold_capture_amount=None,
            hold_request_key="",
            hold_decided_by=None,
            updated_at=timezone.now(),
        )
        raise ValidationError(
            _("Stripe refused: %(reason)s") % {"reason": error.message}, code="refused"
        ) from error
    return payment_apply(payment_id=payment.pk, provider_payment=current, source=source)


# --- Periodic ----------------------------------------------------------------------------------


def holds_resume(*, now: datetime | None = None) -> int:
    """Decisions whose outcome was not recorded (Stripe did not answer, a process died): asked
    again with the same idempotency key, or settled from what Stripe holds."""
    now = now or timezone.now()
    stuck = (
        Payment.objects.filter(status=PaymentStatus.AUTHORIZED, updated_at__lt=now - RESUME_AFTER)
        .exclude(hold_decision="")
        .select_related("merchant")[:200]
    )
    done = 0
    for payment in stuck:
        try:
            if _carry_out(payment, "reconciliation").status != PaymentStatus.AUTHORIZED:
                done += 1
        except ValidationError as error:
            logger.warning("payment %s: %s", payment.pk, " ".join(error.messages))
    return done


def holds_lapse(*, now: datetime | None = None) -> int:
    """Authorizations past their deadline become lapsed once Stripe says they were cancelled
    (Stripe cancels them itself; until it has, a capture may still go through)."""
    now = now or timezone.now()
    due = Payment.objects.filter(
        status=PaymentStatus.AUTHORIZED, capture_before__lte=now
    ).select_related("merchant")[:500]
    lapsed = 0
    for payment in due:
        try:
            current = provider_for_payment(payment).retrieve_payment(payment.provider_id)
        except ProviderError as error:
            logger.warning("lapse check of payment %s failed: %s", payment.pk, error)
            continue
        if current.state in (PaymentState.CANCELED, PaymentState.SUCCEEDED):
            payment = payment_apply(payment_id=payment.pk, provider_payment=current, source="lapse")
            lapsed += payment.status == PaymentStatus.EXPIRED
    return lapsed


def holds_warn(*, now: datetime | None = None) -> int:
    """Warn the owners of undecided holds lapsing within LAPSE_WARNING, once per hold: the mark
    and the emails commit together, and a concurrent run finds the hold already marked."""
    now = now or timezone.now()
    candidates = list(
        Payment.objects.filter(
            status=PaymentStatus.AUTHORIZED,
            hold_decision="",
            lapse_warned_at__isnull=True,
            capture_before__gt=now,
            capture_before__lte=now + LAPSE_WARNING,
        ).values_list("pk", flat=True)[:500]
    )
    warned = 0
    for pk in candidates:
        with transaction.atomic():
            if not Payment.objects.filter(pk=pk, lapse_warned_at__isnull=True).update(
                lapse_warned_at=now
            ):
                continue
            payment = Payment.objects.select_related("merchant", "link").get(pk=pk)
            hold_lapsing_emails(payment=payment)
            warned += 1
    return warned
