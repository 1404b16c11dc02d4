"""Write paths for payments: checkout attempts, and the one place a payment follows the provider.

Three steps so that no money can move without our record of it: reserve a Payment row
(committed), create the provider's payment unconfirmed and store its id (committed), then
confirm. `payment_apply` settles a payment from the provider's answer, whoever brings it (the
browser, the provider's webhook, reconciliation); the first does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.fiscal import invoice_details
from merchants.models import InvoiceOffer
from merchants.selectors import invoice_offer
from vpos.events import Event, record
from vpos.inflight import mark_money_in_flight
from vpos.inputs import single_line
from vpos.money import format_money

from .lifecycle import link_accepts, link_record_payment
from .methods import link_payment_methods, offers
from .models import (
    OPEN_PAYMENT_STATUSES,
    LinkKind,
    LinkStatus,
    Payment,
    PaymentLink,
    PaymentStatus,
)
from .page_cache import page_cache_forget
from .providers import (
    Mandate,
    NewPayment,
    PaymentProvider,
    PaymentState,
    ProviderError,
    ProviderPayment,
    provider_for_payment,
    uses_shop_account,
)

logger = logging.getLogger(__name__)

# Another visitor's unfinished attempt on a single-use link is respected this long.
ATTEMPT_HOLD = timedelta(minutes=15)


class Refusal(IntEnum):
    """Why an attempt was refused, as the HTTP status that says it."""

    CARD = 400  # the provider refused the card or the request: another card may work
    BUSY = 409  # another attempt is under way, or replaced this one
    LINK_CLOSED = 410  # the link can no longer be paid
    UNAVAILABLE = 503  # the provider could not be reached, or its answer is not known yet


class CheckoutError(Exception):
    """Something the customer should read: nothing was charged, unless its code is
    `confirm_unknown` (the outcome is being checked; the same attempt key shows it).
    `code` is the machine-readable reason checkout.js receives."""

    def __init__(self, message: str, *, code: str, refusal: Refusal):
        super().__init__(message)
        self.message = message
        self.code = code
        self.refusal = refusal


@dataclass(frozen=True)
class AttemptResult:
    payment: Payment
    client_secret: str = ""

    @property
    def status(self) -> str:
        return self.payment.status


def _closed_error(link: PaymentLink) -> CheckoutError:
    return CheckoutError(
        _("This payment link can no longer be paid."),
        code=f"link_{link.effective_status}",
        refusal=Refusal.LINK_CLOSED,
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
            refusal=Refusal.BUSY,
        )
    provider = provider_for_payment(payment)
    if payment.provider_id:
        current = provider.retrieve_payment(payment.provider_id)
        if current.state not in SETTLED_OR_MOVING:
            try:
                current = provider.cancel_payment(payment.provider_id)
            except ProviderError:
                current = provider.retrieve_payment(payment.provider_id)
        payment_apply(payment_id=payment.pk, provider_payment=current, source="new_attempt")
        if current.state == PaymentState.AUTHORIZED:
            raise _held_error()
        if current.state == PaymentState.SUCCEEDED:
            raise CheckoutError(
                _("This link has just been paid."), code="link_paid", refusal=Refusal.LINK_CLOSED
            )
        if current.state == PaymentState.PROCESSING:
            raise CheckoutError(
                _(
                    "A payment for this link is being confirmed by the bank. If it does not go "
                    "through, the link can be paid again."
                ),
                code="in_progress",
                refusal=Refusal.BUSY,
            )
    else:
        _abandon(payment)


def _held_error() -> CheckoutError:
    """A single-use link whose payment is authorized: the shop captures or releases it; a second
    card is never charged meanwhile, and the authorized one is never cancelled to make room."""
    return CheckoutError(
        _(
            "A payment for this link is already authorized and awaits the shop's confirmation. "
            "Nothing more can be paid on it."
        ),
        code="link_authorized",
        refusal=Refusal.LINK_CLOSED,
    )


def _abandon(payment: Payment) -> None:
    """An attempt that never reached the provider: nothing can have been charged."""
    if Payment.objects.filter(pk=payment.pk, provider_id__isnull=True).update(
        status=PaymentStatus.CANCELED, updated_at=timezone.now()
    ):
        record(Event.PAYMENT_ABANDONED, merchant_id=payment.merchant_id, obj=payment)


def attempt_invoice_details(
    link: PaymentLink, *, requested: bool, typed: Mapping[str, Any]
) -> dict[str, str]:
    """Who a payment of `link` is invoiced to: the customer the shop put on the link; else, when
    the customer asked for an invoice and the shop offers them, the details they typed (a
    ValidationError with a message per field when wrong); else nobody (an empty dict)."""
    if link.invoice_details:
        return link.invoice_details
    if not requested or invoice_offer(link.merchant) == InvoiceOffer.OFF:
        return {}
    return invoice_details(typed)


def checkout_attempt(
    *,
    link: PaymentLink,
    payment_method: str,
    attempt_key: str,
    browser_key: str = "",
    customer_email: str = "",
    customer_name: str = "",
    moto: bool = False,
    method: str = "card",
    return_url: Callable[[Payment], str] | None = None,
    customer_ip: str = "",
    user_agent: str = "",
    invoice_details: dict | None = None,
) -> AttemptResult:
    """Charge the link's amount to a payment method the browser made with Stripe.js (`method`:
    its type). A mail or telephone order (`moto`) takes cards only; otherwise the link's methods.

    Three steps so that no money can move without our record of it: reserve a Payment row
    (committed), create the PaymentIntent unconfirmed and store its id (committed), then confirm.
    `return_url` names where a redirect-based method brings the customer back to; `customer_ip`
    and `user_agent` are the customer's mandate acceptance, for the methods that need one;
    `invoice_details` who the payment's invoice is made out to (merchants.fiscal), if anyone.
    """
    # 1. Reserve, under the link's lock.
    with transaction.atomic():
        locked = (
            PaymentLink.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .get(pk=link.pk)
        )
        existing = Payment.objects.filter(link=locked, attempt_key=attempt_key).first()
        if existing is not None:  # double submit: answer with the first attempt
            return _repeated_attempt(existing)
        if not locked.is_payable:
            raise _closed_error(locked)
        # A card is what any page takes when the methods it was narrowed to cannot be shown
        # (offline test mode has no PayPal...); Stripe itself refuses a method not offered.
        if not moto and method != "card" and not offers(locked, method):
            raise CheckoutError(
                _("This payment method is not offered on this link."),
                code="bad_method",
                refusal=Refusal.CARD,
            )
        if locked.kind == LinkKind.SINGLE:
            if locked.payments.filter(status=PaymentStatus.AUTHORIZED).exists():
                raise _held_error()
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
            method="card" if moto else method,
            via_shop_account=uses_shop_account(locked.merchant),
            invoice_details=locked.invoice_details or invoice_details or {},
        )
        record(Event.PAYMENT_STARTED, merchant_id=locked.merchant_id, obj=payment)

    provider = provider_for_payment(payment)
    # What recover_from_provider needs to rebuild the payment after a database restore.
    metadata = {
        "vpos_payment": str(payment.public_id),
        "vpos_link": str(locked.pk),
        "vpos_shop": str(locked.merchant.public_id),
    }
    new = NewPayment(
        amount=payment.amount,
        currency=payment.currency,
        payment_method=payment_method,
        metadata=metadata,
        idempotency_key=f"vpos-create-{payment.public_id}",
        moto=moto,
        method_types=("card",) if moto else tuple(link_payment_methods(locked)),
        return_url=return_url(payment) if return_url is not None and not moto else "",
        mandate=None if moto else Mandate(payment.method, customer_ip, user_agent),
        capture_manual=locked.authorize_only,
    )
    # 2. Create the PaymentIntent: moves no money.
    try:
        created = provider.create_payment(new)
    except ProviderError as error:
        _fail_before_charge(payment, error)
        raise CheckoutError(
            _("The payment service could not be reached. Nothing was charged: please try again.")
            if not error.permanent
            else _("The card could not be used: %(reason)s") % {"reason": error.message},
            code=error.code or "provider_error",
            refusal=Refusal.CARD if error.permanent else Refusal.UNAVAILABLE,
        ) from error
    stored = Payment.objects.filter(
        pk=payment.pk, provider_id__isnull=True, status=PaymentStatus.PENDING
    ).update(provider_id=created.id, updated_at=timezone.now())
    if not stored:  # cancelled meanwhile by a newer attempt: never confirm it
        _cancel_quietly(provider, created.id)
        raise CheckoutError(
            _("This attempt was replaced by a newer one."), code="replaced", refusal=Refusal.BUSY
        )
    record(Event.PAYMENT_SUBMITTED, merchant_id=locked.merchant_id, obj=payment)

    # 3. Confirm: moves money, or asks for 3-D Secure.
    try:
        confirmed = provider.confirm_payment(
            created.id,
            idempotency_key=f"vpos-confirm-{payment.public_id}",
            return_url=new.return_url,
            mandate=new.mandate,
        )
    except ProviderError as error:
        record(
            Event.PAYMENT_OUTCOME_UNKNOWN,
            merchant_id=locked.merchant_id,
            obj=payment,
            summary=error.message,
            data={"code": error.code},
        )
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
        refusal=Refusal.UNAVAILABLE,
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
    record(
        Event.PAYMENT_REFUSED_BEFORE_CHARGE,
        merchant_id=payment.merchant_id,
        obj=payment,
        summary=error.message,
        data={"code": error.code},
    )


def _cancel_quietly(provider: PaymentProvider, provider_id: str) -> None:
    try:
        provider.cancel_payment(provider_id)
    except ProviderError:
        logger.warning("could not cancel orphan PaymentIntent %s", provider_id)


# --- Settling: the one place a payment follows the provider's state -----------------------------

# Attempts the provider has settled, or on which money is moving: never cancelled by a new one.
SETTLED_OR_MOVING = frozenset(
    {
        PaymentState.SUCCEEDED,
        PaymentState.CANCELED,
        PaymentState.PROCESSING,
        PaymentState.AUTHORIZED,
    }
)
# Where an open payment stands while the provider has not settled it.
_OPEN_STATUS = {
    PaymentState.NEEDS_ACTION: PaymentStatus.REQUIRES_ACTION,
    PaymentState.PROCESSING: PaymentStatus.PROCESSING,
    PaymentState.NEEDS_CONFIRMATION: PaymentStatus.PENDING,
}
# What the shop decided about an authorization (Payment.hold_decision; links.authorizations).
HOLD_RELEASE = "release"
HOLD_CAPTURE = "capture"


def payment_apply(*, payment_id: int, provider_payment: ProviderPayment, source: str) -> Payment:
    """Bring our payment in line with the provider's. Idempotent.

    Reached from the browser return, the provider's webhook and reconciliation; whichever comes
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
        state = provider_payment.state
        if state == PaymentState.SUCCEEDED:
            _payment_succeeded(link, payment, provider_payment, source)
        elif payment.status in OPEN_PAYMENT_STATUSES:
            _payment_moved(link, payment, provider_payment, source)
        elif payment.status == PaymentStatus.AUTHORIZED and state == PaymentState.CANCELED:
            _hold_ended(link, payment, source)
        return payment


def _forget_page(link: PaymentLink) -> None:
    """The link's public page says whether a payment is held on it: drop the cached one."""
    token = link.token
    transaction.on_commit(lambda: page_cache_forget(token), robust=True)


def _payment_authorized(link: PaymentLink, payment: Payment, current: ProviderPayment) -> None:
    """Held on the card (authorize-only link): it counts for the link when it is captured."""
    payment.status = PaymentStatus.AUTHORIZED
    payment.authorized_amount = current.amount
    payment.capture_before = (
        datetime.fromtimestamp(current.capture_before, tz=UTC) if current.capture_before else None
    )
    payment.card_brand = current.card_brand[:20]
    payment.card_last4 = current.card_last4[:4]
    payment.save()
    _forget_page(link)
    record(
        Event.PAYMENT_AUTHORIZED,
        merchant_id=payment.merchant_id,
        obj=payment,
        summary=f"{format_money(current.amount, payment.currency)} — {link.description}",
    )


def _hold_ended(link: PaymentLink, payment: Payment, source: str) -> None:
    """An authorization cancelled at the provider: released (nothing was charged), or lapsed."""
    released = payment.hold_decision == HOLD_RELEASE
    lapsed = (
        not released
        and payment.capture_before is not None
        and timezone.now() >= payment.capture_before
    )
    payment.status = PaymentStatus.EXPIRED if lapsed else PaymentStatus.CANCELED
    payment.save(update_fields=["status", "updated_at"])
    _forget_page(link)
    record(
        Event.PAYMENT_AUTHORIZATION_LAPSED if lapsed else Event.PAYMENT_CANCELED,
        merchant_id=payment.merchant_id,
        obj=payment,
        actor=payment.hold_decided_by if released else None,
        summary=f"{format_money(payment.authorized_amount or payment.amount, payment.currency)}"
        f" — {link.description}",
        data={"source": source},
    )


def _payment_moved(
    link: PaymentLink, payment: Payment, current: ProviderPayment, source: str
) -> None:
    """An open payment the provider refused, cancelled or moved along (on locked rows)."""
    state = current.state
    if current.method:
        payment.method = current.method[:30]
    if state == PaymentState.NEEDS_PAYMENT_METHOD:
        # A debit refused after days of processing: the customer and the shop are told, and a
        # single-use link shows its pay page again.
        after_processing = payment.status == PaymentStatus.PROCESSING
        payment.status = PaymentStatus.FAILED
        payment.failure_code = current.failure_code[:100]
        payment.failure_message = current.failure_message[:500]
        payment.save(
            update_fields=["status", "method", "failure_code", "failure_message", "updated_at"]
        )
        if after_processing:
            _forget_page(link)
        record(
            Event.PAYMENT_FAILED,
            merchant_id=payment.merchant_id,
            obj=payment,
            summary=payment.failure_message,
            data={
                "code": payment.failure_code,
                "source": source,
                "after_processing": after_processing,
            },
        )
    elif state == PaymentState.AUTHORIZED:
        _payment_authorized(link, payment, current)
    elif state == PaymentState.CANCELED:
        payment.status = PaymentStatus.CANCELED
        payment.save(update_fields=["status", "updated_at"])
        record(
            Event.PAYMENT_ATTEMPT_CANCELED,
            merchant_id=payment.merchant_id,
            obj=payment,
            data={"source": source},
        )
    elif state in _OPEN_STATUS and payment.status != _OPEN_STATUS[state]:
        payment.status = _OPEN_STATUS[state]
        if state == PaymentState.PROCESSING:  # a debit in flight: the link's page says so
            payment.card_last4 = current.card_last4[:4]
            _forget_page(link)
        payment.save(update_fields=["status", "method", "card_last4", "updated_at"])
        if state == PaymentState.NEEDS_ACTION:
            record(
                Event.PAYMENT_AUTHENTICATION_REQUESTED,
                merchant_id=payment.merchant_id,
                obj=payment,
                summary="3-D Secure",
                data={"source": source},
            )
        elif state == PaymentState.PROCESSING:
            record(
                Event.PAYMENT_PROCESSING,
                merchant_id=payment.merchant_id,
                obj=payment,
                data={"source": source, "method": payment.method},
            )


def _payment_succeeded(
    link: PaymentLink, payment: Payment, paid: ProviderPayment, source: str
) -> None:
    """Finalize on locked rows: record the money and advance the link. What follows (the
    receipt, its number, the emails, the webhooks) derives from the events recorded here."""
    now = timezone.now()
    was = link.status
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.card_brand = paid.card_brand[:20]
    payment.card_last4 = paid.card_last4[:4]
    if paid.method:
        payment.method = paid.method[:30]
    payment.failure_code = payment.failure_message = ""
    captured = paid.amount_captured
    if captured is not None and payment.authorized_amount is None:  # captured in Stripe
        payment.authorized_amount = payment.amount
    held = payment.authorized_amount
    if paid.amount != (held or payment.amount) or paid.currency != payment.currency:
        payment.flag = Payment.Flag.AMOUNT_MISMATCH
    elif link_accepts(link, payment, at=now):
        link_record_payment(link, at=now)
        link.save(update_fields=["status", "payments_count", "paid_at", "closed_at", "updated_at"])
    else:
        payment.flag = Payment.Flag.LINK_NOT_PAYABLE
    if held is not None:  # what was captured is what was paid: receipts, refunds and sums
        payment.amount = captured if captured is not None else held
    payment.save()
    if payment.flag:
        logger.warning("payment %s succeeded but flagged %s", payment.pk, payment.flag)
    record(
        Event.PAYMENT_SUCCEEDED,
        merchant_id=payment.merchant_id,
        obj=payment,
        # A payment taken by phone is someone's action: the audit log names who took it.
        actor=link.created_by if payment.is_moto else None,
        summary=f"{payment.amount_display} — {link.description}",
        data={"source": source, "flag": payment.flag, "moto": payment.is_moto},
    )
    if held is not None:
        record(
            Event.PAYMENT_CAPTURED,
            merchant_id=payment.merchant_id,
            obj=payment,
            actor=payment.hold_decided_by,
            summary=f"{payment.amount_display} / {format_money(held, payment.currency)}"
            f" — {link.description}",
            data={"source": source, "authorized_amount": held, "captured_amount": payment.amount},
        )
    if was != link.status and link.status in (LinkStatus.PAID, LinkStatus.COMPLETED):
        record(Event.LINK_PAID, merchant_id=link.merchant_id, obj=link)


def payment_refresh(*, payment: Payment, source: str) -> Payment:
    """Ask the provider for the payment's state and apply it."""
    if not payment.provider_id:
        return payment
    current = provider_for_payment(payment).retrieve_payment(payment.provider_id)
    if current.state.money_moved:
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
                _abandon(payment)
            continue
        try:
            payment_refresh(payment=payment, source="reconciliation")
            settled += 1
        except ProviderError as error:
            logger.warning("reconciliation of payment %s failed: %s", payment.pk, error)
        # Checked now: a debit still clearing (it can take days) goes to the back of the queue,
        # so a few hundred of them never keep the others from being looked at.
        # Only debits: an unfinished 3-D Secure attempt must age, or it would keep a single-use
        # link "being paid right now" for every other customer (ATTEMPT_HOLD).
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PROCESSING).update(
            updated_at=now
        )
    return settled
