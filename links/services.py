"""Write paths for links and payments: creation, checkout attempts, and the one finalizer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.caching import shop_changed
from merchants.models import Merchant, User
from vpos.audit import Action, audit
from vpos.inflight import mark_money_in_flight
from vpos.inputs import single_line
from vpos.money import MAXIMUM_AMOUNT, MINIMUM_AMOUNT, format_money

from .lifecycle import InvalidTransition, link_accepts, link_record_payment, link_transition
from .models import (
    EXPIRY_GRACE,
    OPEN_PAYMENT_STATUSES,
    LinkChannel,
    LinkKind,
    LinkStatus,
    Payment,
    PaymentEvent,
    PaymentLink,
    PaymentStatus,
)
from .outbound import webhook_emit
from .provider import ProviderError, ProviderPayment, provider_for_payment

logger = logging.getLogger(__name__)

# Another visitor's unfinished attempt on a single-use link is respected this long.
ATTEMPT_HOLD = timedelta(minutes=15)


# --- Links ------------------------------------------------------------------------------------


def validate_amount(amount: int, currency: str) -> None:
    minimum = MINIMUM_AMOUNT.get(currency, 50)
    if amount < minimum:
        raise ValidationError(
            _("The minimum amount is %(amount)s.") % {"amount": format_money(minimum, currency)},
            code="min_amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise ValidationError(
            _("The maximum amount is %(amount)s.")
            % {"amount": format_money(MAXIMUM_AMOUNT, currency)},
            code="max_amount",
        )


def link_create(
    *,
    merchant: Merchant,
    created_by: User | None,
    amount: int,
    currency: str,
    description: str,
    kind: str = LinkKind.SINGLE,
    reference: str = "",
    customer_name: str = "",
    customer_email: str = "",
    language: str = "",
    expires_at: datetime | None = None,
    max_payments: int | None = None,
    vat_rate: int | None = None,
    vat_exemption: str = "",
    channel: str = LinkChannel.DASHBOARD,
    customer_phone: str = "",
    success_url: str = "",
    cancel_url: str = "",
    metadata: dict[str, str] | None = None,
    api_key: Any = None,
) -> PaymentLink:
    validate_amount(amount, currency)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(_("The expiry must be in the future."), code="expiry_past")
    if kind == LinkKind.SINGLE:
        max_payments = None
    link = PaymentLink(
        merchant=merchant,
        created_by=created_by,
        amount=amount,
        currency=currency,
        description=description.strip(),
        kind=kind,
        # Printed on receipts and in emails as one line each: no line breaks or control codes.
        reference=single_line(reference),
        customer_name=single_line(customer_name),
        customer_email=customer_email.strip(),
        language=language or merchant.default_language,
        expires_at=expires_at,
        max_payments=max_payments,
        vat_rate=vat_rate,
        vat_exemption=vat_exemption.strip() if vat_rate == 0 else "",
        channel=channel,
        customer_phone=customer_phone.strip(),
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=metadata or {},
    )
    # The fields' own rules only. The shop and the creator are the caller's objects, the amount
    # was checked above and the random token's uniqueness is the database's: their checks would
    # cost three queries on every link, the API's busiest call.
    link.full_clean(
        exclude=["merchant", "created_by"], validate_unique=False, validate_constraints=False
    )
    link.save()
    audit(
        merchant=merchant,
        actor=created_by,
        action=Action.LINK_CREATED,
        summary=f"{link.amount_display} — {link.description}",
        obj=link,
        data={"actor": f"API key {api_key.name} ({api_key.prefix}…)"} if api_key else None,
    )
    return link


@transaction.atomic
def link_deactivate(*, link: PaymentLink, actor: User | None = None) -> PaymentLink:
    locked = PaymentLink.objects.select_for_update().get(pk=link.pk)
    try:
        link_transition(locked, LinkStatus.DEACTIVATED)
    except InvalidTransition as error:
        raise ValidationError(
            _("This link is %(status)s and cannot be deactivated.")
            % {"status": locked.get_status_display().lower()}
        ) from error
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    webhook_emit(merchant_id=locked.merchant_id, event_type="link.deactivated", obj=locked)
    audit(
        merchant=locked.merchant,
        actor=actor,
        action=Action.LINK_DEACTIVATED,
        summary=f"{locked.amount_display} — {locked.description}",
        obj=locked,
    )
    return locked


def links_expire_due(*, now: datetime | None = None) -> int:
    """Periodic: mark active links past their expiry as expired.

    A link with a payment started before its expiry waits for the grace period to end.
    """
    now = now or timezone.now()
    due = PaymentLink.objects.filter(status=LinkStatus.ACTIVE, expires_at__lte=now).exclude(
        payments__status__in=OPEN_PAYMENT_STATUSES, expires_at__gt=now - EXPIRY_GRACE
    )
    expired = 0
    for link_id in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            link = PaymentLink.objects.select_for_update().get(pk=link_id)
            if link.status == LinkStatus.ACTIVE and link.is_past_expiry(now):
                link_transition(link, LinkStatus.EXPIRED, at=now)
                link.save(update_fields=["status", "closed_at", "updated_at"])
                webhook_emit(merchant_id=link.merchant_id, event_type="link.expired", obj=link)
                expired += 1
    return expired


# --- Checkout ---------------------------------------------------------------------------------


class CheckoutError(Exception):
    """Something the customer should read: nothing was charged, unless its code is
    `confirm_unknown` (the outcome is being checked; the same attempt key shows it)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class AttemptResult:
    payment: Payment
    client_secret: str = ""

    @property
    def status(self) -> str:
        return self.payment.status


def log_event(payment: Payment, kind: str, message: str = "", **data: Any) -> None:
    PaymentEvent.objects.create(payment=payment, kind=kind, message=message[:500], data=data)


def _closed_error(link: PaymentLink) -> CheckoutError:
    return CheckoutError(
        _("This payment link can no longer be paid."), code=f"link_{link.effective_status}"
    )


def _release_open_attempt(link: PaymentLink, payment: Payment, browser_key: str) -> None:
    """Make room for a new attempt on a locked single-use link, or refuse it.

    An unfinished attempt from another browser is respected for a while; anything else is
    settled with the provider first (it may have succeeded) and cancelled.
    """
    recent = payment.updated_at > timezone.now() - ATTEMPT_HOLD
    if recent and payment.browser_key != browser_key:
        raise CheckoutError(
            _("Someone is paying this link right now. Try again in a few minutes."),
            code="in_progress",
        )
    provider = provider_for_payment(payment)
    if payment.provider_id:
        current = provider.retrieve_payment(payment.provider_id)
        if current.status not in ("succeeded", "canceled", "processing"):
            try:
                current = provider.cancel_payment(payment.provider_id)
            except ProviderError:
                current = provider.retrieve_payment(payment.provider_id)
        payment_apply(payment_id=payment.pk, provider_payment=current, source="new_attempt")
        if current.status == "succeeded":
            raise CheckoutError(_("This link has just been paid."), code="link_paid")
        if current.status == "processing":
            raise CheckoutError(
                _("A payment for this link is being processed. Try again in a few minutes."),
                code="in_progress",
            )
    else:
        Payment.objects.filter(pk=payment.pk, provider_id__isnull=True).update(
            status=PaymentStatus.CANCELED, updated_at=timezone.now()
        )
        shop_changed(payment.merchant_id)


def checkout_attempt(
    *,
    link: PaymentLink,
    payment_method: str,
    attempt_key: str,
    browser_key: str = "",
    customer_email: str = "",
    customer_name: str = "",
    moto: bool = False,
) -> AttemptResult:
    """Charge the link's amount to a card the browser tokenized with Stripe.js.

    Three steps so that no money can move without our record of it: reserve a Payment row
    (committed), create the PaymentIntent unconfirmed and store its id (committed), then confirm.
    """
    # 1. Reserve, under the link's lock.
    with transaction.atomic():
        locked = PaymentLink.objects.select_for_update().select_related("merchant").get(pk=link.pk)
        existing = Payment.objects.filter(link=locked, attempt_key=attempt_key).first()
        if existing is not None:  # double submit: answer with the first attempt
            return _repeated_attempt(existing)
        if not locked.is_payable:
            raise _closed_error(locked)
        if locked.kind == LinkKind.SINGLE:
            for open_payment in locked.payments.filter(status__in=OPEN_PAYMENT_STATUSES):
                _release_open_attempt(locked, open_payment, browser_key)
            locked.refresh_from_db()
            if not locked.is_payable:
                raise _closed_error(locked)
        payment = Payment.objects.create(
            merchant=locked.merchant,
            link=locked,
            attempt_key=attempt_key,
            browser_key=browser_key,
            amount=locked.amount,  # always the link's amount, never the browser's
            currency=locked.currency,
            customer_email=customer_email or locked.customer_email,
            customer_name=single_line(customer_name) or locked.customer_name,
            is_moto=moto,
            via_shop_account=hasattr(locked.merchant, "payment_account"),
        )
        log_event(payment, "created", "Checkout started")

    provider = provider_for_payment(payment)
    # What recover_from_provider needs to rebuild the payment after a database restore.
    metadata = {
        "vpos_payment": str(payment.public_id),
        "vpos_link": str(locked.pk),
        "vpos_shop": str(locked.merchant.public_id),
    }
    # 2. Create the PaymentIntent: moves no money.
    try:
        created = provider.create_payment(
            amount=payment.amount,
            currency=payment.currency,
            payment_method=payment_method,
            metadata=metadata,
            idempotency_key=f"vpos-create-{payment.public_id}",
            moto=moto,
        )
    except ProviderError as error:
        _fail_before_charge(payment, error)
        raise CheckoutError(
            _("The payment service could not be reached. Nothing was charged: please try again.")
            if not error.permanent
            else _("The card could not be used: %(reason)s") % {"reason": error.message},
            code=error.code or "provider_error",
        ) from error
    stored = Payment.objects.filter(
        pk=payment.pk, provider_id__isnull=True, status=PaymentStatus.PENDING
    ).update(provider_id=created.id, updated_at=timezone.now())
    shop_changed(payment.merchant_id)
    if not stored:  # cancelled meanwhile by a newer attempt: never confirm it
        _cancel_quietly(provider, created.id)
        raise CheckoutError(_("This attempt was replaced by a newer one."), code="replaced")

    # 3. Confirm: moves money, or asks for 3-D Secure.
    try:
        confirmed = provider.confirm_payment(
            created.id, idempotency_key=f"vpos-confirm-{payment.public_id}"
        )
    except ProviderError as error:
        log_event(payment, "confirm_error", error.message, code=error.code)
        raise _outcome_unknown() from error
    payment = payment_apply(payment_id=payment.pk, provider_payment=confirmed, source="checkout")
    return AttemptResult(payment, client_secret=confirmed.client_secret)


def _outcome_unknown() -> CheckoutError:
    """The attempt was confirmed (money may have moved) and the provider cannot tell us now:
    reconciliation settles it later; the same attempt key keeps answering with this payment."""
    return CheckoutError(
        _(
            "We could not confirm the payment with the card service. Do not pay again: "
            "we will check its outcome in a few minutes."
        ),
        code="confirm_unknown",
    )


def _repeated_attempt(payment: Payment) -> AttemptResult:
    """The same answer again; a 3-D Secure challenge needs its client secret to be shown again."""
    if payment.status == PaymentStatus.REQUIRES_ACTION and payment.provider_id:
        try:
            current = provider_for_payment(payment).retrieve_payment(payment.provider_id)
        except ProviderError as error:  # the customer may have completed 3-D Secure meanwhile
            raise _outcome_unknown() from error
        return AttemptResult(payment, client_secret=current.client_secret)
    return AttemptResult(payment)


def _fail_before_charge(payment: Payment, error: ProviderError) -> None:
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.FAILED,
        failure_code=error.code[:100],
        failure_message=error.message[:500],
        updated_at=timezone.now(),
    )
    shop_changed(payment.merchant_id)
    log_event(payment, "failed", error.message, code=error.code)


def _cancel_quietly(provider: Any, provider_id: str) -> None:
    try:
        provider.cancel_payment(provider_id)
    except ProviderError:
        logger.warning("could not cancel orphan PaymentIntent %s", provider_id)


# --- Settling: the one place a payment follows the provider's state -----------------------------

_OPEN_STATUS = {
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PROCESSING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PROCESSING,
}
# Provider states in which the customer's money has moved, or is moving.
MONEY_MOVED = frozenset({"succeeded", "processing", "requires_capture"})


def payment_apply(*, payment_id: int, provider_payment: ProviderPayment, source: str) -> Payment:
    """Bring our payment in line with the provider's PaymentIntent. Idempotent.

    Reached from the browser return, the Stripe webhook and reconciliation; whichever comes
    first does the work, the others find nothing to do. Locks the link, then the payment (the
    same order as checkout), so concurrent callers serialize.
    """
    link_id = Payment.objects.filter(pk=payment_id).values_list("link_id", flat=True).get()
    with transaction.atomic():
        link = PaymentLink.objects.select_for_update().get(pk=link_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if provider_payment.id != payment.provider_id:
            raise ValueError("provider payment does not belong to this payment")
        if payment.status == PaymentStatus.SUCCEEDED:
            return payment
        status = provider_payment.status
        if status == "succeeded":
            _payment_succeeded(link, payment, provider_payment, source)
        elif payment.status in OPEN_PAYMENT_STATUSES:
            if status == "requires_payment_method":
                payment.status = PaymentStatus.FAILED
                payment.failure_code = provider_payment.failure_code[:100]
                payment.failure_message = provider_payment.failure_message[:500]
                payment.save(
                    update_fields=["status", "failure_code", "failure_message", "updated_at"]
                )
                log_event(
                    payment,
                    "failed",
                    payment.failure_message,
                    code=payment.failure_code,
                    source=source,
                )
                webhook_emit(
                    merchant_id=payment.merchant_id, event_type="payment.failed", obj=payment
                )
            elif status == "canceled":
                payment.status = PaymentStatus.CANCELED
                payment.save(update_fields=["status", "updated_at"])
                log_event(payment, "canceled", source=source)
            elif status in _OPEN_STATUS and payment.status != _OPEN_STATUS[status]:
                payment.status = _OPEN_STATUS[status]
                payment.save(update_fields=["status", "updated_at"])
                if status == "requires_action":
                    log_event(payment, "authentication_requested", "3-D Secure", source=source)
        return payment


def _payment_succeeded(
    link: PaymentLink, payment: Payment, paid: ProviderPayment, source: str
) -> None:
    """Finalize on locked rows: record the money, advance the link, then the follow-ups."""
    now = timezone.now()
    link_paid = False
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.card_brand = paid.card_brand[:20]
    payment.card_last4 = paid.card_last4[:4]
    payment.failure_code = payment.failure_message = ""
    if paid.amount != payment.amount or paid.currency != payment.currency:
        payment.flag = Payment.Flag.AMOUNT_MISMATCH
    elif link_accepts(link, payment, at=now):
        was_active = link.status == LinkStatus.ACTIVE
        link_record_payment(link, at=now)
        link.save(update_fields=["status", "payments_count", "paid_at", "closed_at", "updated_at"])
        link_paid = was_active and link.status in (LinkStatus.PAID, LinkStatus.COMPLETED)
    else:
        payment.flag = Payment.Flag.LINK_NOT_PAYABLE
    payment.save()
    log_event(
        payment,
        "succeeded",
        f"{payment.amount_display} {payment.card_brand} {payment.card_last4}".strip(),
        source=source,
        flag=payment.flag,
    )
    if payment.flag:
        logger.warning("payment %s succeeded but flagged %s", payment.pk, payment.flag)
    from receipts.services import receipt_issue

    receipt = receipt_issue(payment=payment, at=now)
    if payment.is_moto:
        audit(
            merchant=link.merchant,
            actor=link.created_by,
            action=Action.MOTO_PAYMENT,
            summary=f"{payment.amount_display} — {link.description}",
            obj=payment,
        )
    log_event(payment, "receipt_issued", receipt.number, source=source)
    webhook_emit(merchant_id=payment.merchant_id, event_type="payment.succeeded", obj=payment)
    if link_paid:
        webhook_emit(merchant_id=link.merchant_id, event_type="link.paid", obj=link)
    from .tasks import payment_followups

    # robust: the payment is committed; if the broker is down, the follow-ups sweep enqueues it.
    transaction.on_commit(lambda: payment_followups.delay(payment.pk), robust=True)


def payment_refresh(*, payment: Payment, source: str) -> Payment:
    """Ask the provider for the payment's state and apply it."""
    if not payment.provider_id:
        return payment
    current = provider_for_payment(payment).retrieve_payment(payment.provider_id)
    if current.status in MONEY_MOVED:
        # E.g. 3-D Secure completed in the browser: a database error from here on must not tell
        # the customer that nothing was charged.
        mark_money_in_flight()
    return payment_apply(payment_id=payment.pk, provider_payment=current, source=source)


def payments_reconcile(*, older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Periodic: settle attempts left open (browser closed, webhook lost, provider was down)."""
    now = timezone.now()
    stale = (
        Payment.objects.filter(status__in=OPEN_PAYMENT_STATUSES, updated_at__lt=now - older_than)
        .select_related("merchant")
        .order_by("updated_at")[:limit]
    )
    settled = 0
    for payment in stale:
        if not payment.provider_id:
            # Never reached the provider: nothing can have been charged.
            if payment.updated_at < now - timedelta(minutes=30):
                Payment.objects.filter(pk=payment.pk, provider_id__isnull=True).update(
                    status=PaymentStatus.CANCELED, updated_at=now
                )
                shop_changed(payment.merchant_id)
            continue
        try:
            payment_refresh(payment=payment, source="reconciliation")
            settled += 1
        except ProviderError as error:
            logger.warning("reconciliation of payment %s failed: %s", payment.pk, error)
    return settled
