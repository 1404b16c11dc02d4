"""After a database restore: what the provider knows that the database forgot.

Payments made after the backup are gone from the database while Stripe took the money, and the
receipt numbers issued for them would be issued again. Two halves:

- While running: once a receipt (refund note) is numbered, its number is written into the
  PaymentIntent's (Refund's) metadata (`vpos_receipt`, `vpos_refund_note`; with an e-invoice,
  `vpos_invoice` or `vpos_credit_note` and its file name `vpos_invoice_file`), next to the ids vpos
  puts there at creation (`vpos_payment`, `vpos_link`, `vpos_shop`; `vpos_refund`).
- After a restore, `recover_from_provider(since=...)` lists every PaymentIntent since then on the
  platform account and each shop's own account, moves every shop's receipt, refund-note, invoice,
  credit-note and file sequences past any number the provider remembers, then recreates each missing payment (and
  refund) exactly once through the usual finalizer, so new receipts get new numbers.

Running it again finds nothing to do: payments are matched by their public id and provider id,
refunds by their provider id.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from links.models import LinkStatus, Payment, PaymentLink, PaymentStatus, Refund
from links.payments import payment_apply
from links.providers import (
    PaymentProvider,
    ProviderError,
    ProviderPayment,
    accounts_to_search,
    provider_for_payment,
)
from links.refunds import refund_recover
from merchants.models import Merchant
from vpos.events import Event, record

from .models import Invoice, InvoiceKind
from .services import sequence_move_past

logger = logging.getLogger(__name__)

RECEIPT_KEY = "vpos_receipt"
REFUND_NOTE_KEY = "vpos_refund_note"
# An invoice's (credit note's) number and file name: a number or a file name sent to the SDI must
# never be issued twice, even when the payment itself is recovered without its invoice details.
INVOICE_KEY = "vpos_invoice"
CREDIT_NOTE_KEY = "vpos_credit_note"
INVOICE_FILE_KEY = "vpos_invoice_file"
NUMBER_KEYS = (RECEIPT_KEY, INVOICE_KEY, INVOICE_FILE_KEY)
REFUND_NUMBER_KEYS = (REFUND_NOTE_KEY, CREDIT_NOTE_KEY, INVOICE_FILE_KEY)


# --- while running: tell the provider the numbers ----------------------------------------------


def payment_number_to_provider(*, payment_id: int) -> bool:
    """Write the payment's receipt number into its PaymentIntent's metadata; False if there is
    nothing to write. Raises ProviderError."""
    payment = Payment.objects.select_related("merchant", "receipt").filter(pk=payment_id).first()
    receipt = getattr(payment, "receipt", None) if payment is not None else None
    if receipt is None or not payment.provider_id:
        return False
    numbers = {RECEIPT_KEY: receipt.number}
    invoice = payment.invoices.filter(kind=InvoiceKind.INVOICE).first()
    if invoice is not None:
        numbers.update({INVOICE_KEY: invoice.number, INVOICE_FILE_KEY: invoice.file_name})
    provider_for_payment(payment).annotate_payment(payment.provider_id, numbers)
    return True


def refund_number_to_provider(*, refund_id: int) -> bool:
    """Write the refund note's number into the provider's Refund metadata."""
    refund = Refund.objects.select_related("payment__merchant", "note").filter(pk=refund_id).first()
    note = getattr(refund, "note", None) if refund is not None else None
    if note is None or not refund.provider_id:
        return False
    numbers = {REFUND_NOTE_KEY: note.number}
    credit_note = Invoice.objects.filter(refund=refund).first()
    if credit_note is not None:
        numbers.update(
            {CREDIT_NOTE_KEY: credit_note.number, INVOICE_FILE_KEY: credit_note.file_name}
        )
    provider_for_payment(refund.payment).annotate_refund(refund.provider_id, numbers)
    return True


# --- after a restore ---------------------------------------------------------------------------


@dataclass
class Recovery:
    """What a recovery found and did."""

    counts: Counter = field(default_factory=Counter)
    sequences_moved: list[str] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Found:
    provider: PaymentProvider
    answer: ProviderPayment
    merchant: Merchant | None
    via_shop_account: bool


def _merchant_of(answer: ProviderPayment, owner: Merchant | None) -> Merchant | None:
    """The shop a PaymentIntent belongs to: its account's, or the one its metadata names."""
    if owner is not None:
        return owner
    meta = answer.metadata
    payment = (
        Payment.objects.filter(
            Q(provider_id=answer.id) | Q(public_id=_uuid(meta.get("vpos_payment")))
        )
        .select_related("merchant")
        .first()
    )
    if payment is not None:
        return payment.merchant
    if _uuid(meta.get("vpos_shop")):
        shop = Merchant.objects.filter(public_id=_uuid(meta["vpos_shop"])).first()
        if shop is not None:
            return shop
    link_id = meta.get("vpos_link", "")
    if link_id.isdigit():
        link = PaymentLink.objects.filter(pk=int(link_id)).select_related("merchant").first()
        return link.merchant if link is not None else None
    return None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def recover_from_provider(*, since: datetime) -> Recovery:
    """Bring back every payment and refund the provider holds since `since` (see the module)."""
    report = Recovery()
    accounts = accounts_to_search()
    if not accounts:
        raise ProviderError(
            "no Stripe account is configured (STRIPE_SECRET_KEY, or a shop's own account)",
            permanent=True,
            code="no_account",
        )
    by_id: dict[str, _Found] = {}
    # Shops' own accounts last: offline, localstripe shows every key the same PaymentIntents,
    # and a payment seen on a shop's account was made there.
    for provider, owner in accounts:
        for answer in provider.list_payments(created_since=int(since.timestamp())):
            if not _uuid(answer.metadata.get("vpos_payment")):
                continue  # not made by vpos (another integration on the same account)
            merchant = _merchant_of(answer, owner)
            by_id[answer.id] = _Found(provider, answer, merchant, via_shop_account=bool(owner))
    found = list(by_id.values())
    report.counts["seen"] = len(found)
    # First every number the provider remembers, so nothing recreated below can reuse one.
    refunds_by_payment = {}
    for item in found:
        if item.merchant is None:
            continue
        numbers = [item.answer.metadata.get(key, "") for key in NUMBER_KEYS]
        refunds_by_payment[item.answer.id] = item.provider.list_refunds(item.answer.id)
        numbers += [
            refund.metadata.get(key, "")
            for refund in refunds_by_payment[item.answer.id]
            for key in REFUND_NUMBER_KEYS
        ]
        for number in filter(None, numbers):
            if sequence_move_past(merchant=item.merchant, number=number):
                report.sequences_moved.append(f"{item.merchant.public_id} {number}")
    for item in found:
        if item.merchant is None:
            report.unrecoverable.append(f"{item.answer.id}: its shop is not in the database")
            continue
        payment = _recover_payment(item, report)
        for answer in refunds_by_payment.get(item.answer.id, []):
            if answer.succeeded and refund_recover(payment=payment, answer=answer):
                report.counts["refunds_recreated"] += 1
    logger.info("recovery from the provider: %s", dict(report.counts))
    return report


def _recover_payment(item: _Found, report: Recovery) -> Payment:
    answer = item.answer
    payment = _existing(answer)
    if payment is None:
        payment = _recreate(item)
        if payment is None:  # another run made it meanwhile
            payment = _existing(answer)
        else:
            report.counts["recreated"] += 1
    before = payment.status
    if payment.status != PaymentStatus.SUCCEEDED:
        fresh = item.provider.retrieve_payment(answer.id)  # with the card's details
        payment = payment_apply(payment_id=payment.pk, provider_payment=fresh, source="recovery")
    if payment.status != before:
        report.counts["settled"] += 1
    return payment


def _existing(answer: ProviderPayment) -> Payment | None:
    """Our row of a PaymentIntent: by its id, or by our id in its metadata (a backup taken
    between our row and the PaymentIntent has the row without the PaymentIntent's id)."""
    payment = Payment.objects.filter(provider_id=answer.id).first()
    if payment is not None:
        return payment
    payment = Payment.objects.filter(public_id=_uuid(answer.metadata.get("vpos_payment"))).first()
    if payment is not None and not payment.provider_id:
        Payment.objects.filter(pk=payment.pk, provider_id__isnull=True).update(
            provider_id=answer.id
        )
        payment.refresh_from_db()
    return payment


def _recreate(item: _Found) -> Payment | None:
    """The payment row the restore lost, under its original public id; None if another run
    made it first."""
    answer, merchant = item.answer, item.merchant
    meta = answer.metadata
    link = None
    if meta.get("vpos_link", "").isdigit():
        # Not a link made after the restore that was given the same number again.
        link = PaymentLink.objects.filter(
            pk=int(meta["vpos_link"]),
            merchant=merchant,
            # (the provider's times are whole seconds)
            created_at__lt=datetime.fromtimestamp(answer.created + 1, tz=UTC),
        ).first()
    try:
        with transaction.atomic():
            if link is None:
                with translation.override(merchant.default_language):
                    description = _("Payment recovered after a database restore")
                link = PaymentLink.objects.create(
                    merchant=merchant,
                    amount=answer.amount,
                    currency=answer.currency,
                    description=description,
                    language=merchant.default_language,
                    status=LinkStatus.ACTIVE,
                )
            payment = Payment.objects.create(
                public_id=_uuid(meta["vpos_payment"]),
                merchant=merchant,
                link=link,
                attempt_key=secrets.token_hex(16),
                provider_id=answer.id,
                amount=answer.amount,
                currency=answer.currency,
                via_shop_account=item.via_shop_account,
            )
            record(
                Event.PAYMENT_RECOVERED,
                merchant_id=merchant.pk,
                obj=payment,
                summary="Recovered from the provider after a database restore",
                data={"previous_receipt": meta.get(RECEIPT_KEY, "")},
            )
    except IntegrityError:
        return None
    return payment
