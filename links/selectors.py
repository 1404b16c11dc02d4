"""Read paths for links and payments."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet
from django.utils import timezone

from merchants.models import Merchant
from vpos.models import OutboxEmail
from vpos.money import format_money

from .models import LinkStatus, Payment, PaymentEvent, PaymentLink, Refund


def link_list(*, merchant: Merchant, q: str = "", status: str = "") -> QuerySet[PaymentLink]:
    links = PaymentLink.objects.filter(merchant=merchant)
    now = timezone.now()
    if status == LinkStatus.ACTIVE:
        links = links.filter(status=LinkStatus.ACTIVE).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
    elif status == LinkStatus.EXPIRED:
        links = links.filter(
            Q(status=LinkStatus.EXPIRED) | Q(status=LinkStatus.ACTIVE, expires_at__lte=now)
        )
    elif status:
        links = links.filter(status=status)
    if q:
        links = links.filter(
            Q(description__icontains=q)
            | Q(reference__icontains=q)
            | Q(customer_email__icontains=q)
            | Q(customer_name__icontains=q)
        )
    return links.order_by("-created_at", "-id")


def link_payments(link: PaymentLink) -> QuerySet[Payment]:
    return link.payments.order_by("-created_at", "-id")


def link_for_checkout(token: str) -> PaymentLink | None:
    return (
        PaymentLink.objects.select_related(
            "merchant", "merchant__payment_account", "merchant__fiscal_profile"
        )
        .filter(token=token)
        .first()
    )


def link_emails(link: PaymentLink) -> QuerySet[OutboxEmail]:
    """Every email sent about this link (the link itself, confirmations), newest first."""
    return OutboxEmail.objects.filter(merchant_id=link.merchant_id, ref=link.email_ref).only(
        "id", "kind", "to_email", "status", "last_error", "created_at", "sent_at", "attempts"
    )


def payment_timeline(payment: Payment) -> list[dict]:
    """Everything that happened to a payment, oldest first: its events, emails and refunds."""
    refunds = {str(refund.public_id): refund for refund in payment.refunds.all()}
    items = [
        {
            "at": event.created_at,
            "kind": event.kind,
            "message": _event_message(event, payment, refunds),
            "data": event.data,
        }
        for event in payment.events.all()
    ]
    emails = OutboxEmail.objects.filter(
        Q(dedupe_key=f"payment-confirmation:{payment.pk}")
        | Q(dedupe_key__startswith=f"payment-notification:{payment.pk}:")
        | Q(dedupe_key__in=[f"refund:{pk}" for pk in payment.refunds.values_list("pk", flat=True)])
    ).only("kind", "to_email", "status", "created_at", "sent_at", "last_error")
    for email in emails:
        items.append({"at": email.created_at, "kind": "email", "email": email})
    return sorted(items, key=lambda item: item["at"])


# Card brands as Stripe names them, as people write them.
CARD_BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def card_brand_name(code: str) -> str:
    return CARD_BRANDS.get(code.lower(), code.capitalize())


def _event_message(event: PaymentEvent, payment: Payment, refunds: dict[str, Refund]) -> str:
    """What the timeline says, in the reader's language: amounts are formatted now, not when the
    event was written (its stored message is in the language of whoever caused it)."""
    card = (
        f" · {card_brand_name(payment.card_brand) if payment.card_brand else payment.get_method_display()} ···· {payment.card_last4}"
        if payment.card_last4
        else ""
    )
    held = format_money(payment.authorized_amount or payment.amount, payment.currency)
    if event.kind == "succeeded":
        return format_money(payment.amount, payment.currency) + card
    if event.kind == "authorized":
        return held + card
    if event.kind == "captured":
        return f"{format_money(payment.amount, payment.currency)} / {held}"
    if event.kind == "refunded" and event.data.get("refund") in refunds:
        refund = refunds[event.data["refund"]]
        return format_money(refund.amount, refund.currency)
    return event.message


def receipt_of(payment: Payment) -> Any:
    """The payment's receipt, or None before one is issued (the receipts app attaches it to the
    payment as `payment.receipt`)."""
    try:
        return payment.receipt
    except ObjectDoesNotExist:
        return None
