"""Emails about links and payments. All go through the outbox; none is sent from a request."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from merchants.models import Membership, Role, User
from receipts.models import Receipt
from receipts.services import receipt_public_url, refund_note_public_url
from vpos.audit import Action, audit
from vpos.models import OutboxEmail
from vpos.outbox import outbox_enqueue

from .models import Payment, PaymentLink, PaymentStatus
from .recipients import recipient_token


def link_ref(link: PaymentLink) -> str:
    return f"link:{link.pk}"


def link_send_email(
    *,
    link: PaymentLink,
    to: str,
    message: str = "",
    language: str = "",
    sent_by: User | None = None,
) -> OutboxEmail:
    """Queue the payment link for a customer. Each call is a new email: resending is allowed.

    Raises ValidationError for a link that can no longer be paid: there is nothing to send.
    """
    if not link.is_payable:
        raise ValidationError(
            _("This link can no longer be paid: there is nothing to send."), code="link_closed"
        )
    language = language or link.language
    merchant = link.merchant
    email = outbox_enqueue(
        kind="link",
        to=to,
        template="link",
        context={
            "link": link,
            "personal_message": message.strip(),
            "pay_url": f"{link.public_url}?for={recipient_token(link, to)}",
        },
        language=language,
        merchant=merchant,
        ref=link_ref(link),
        reply_to=merchant.contact_email,
    )
    audit(
        merchant=merchant,
        actor=sent_by,
        action=Action.LINK_SENT,
        summary=f"{link.amount_display} — {link.description} → {email.to_email}",
        obj=link,
    )
    return email


def payment_send_confirmations(*, payment: Payment) -> list[OutboxEmail]:
    """After a successful payment: the customer's confirmation and the shop's notification.

    Dedupe keys make this safe to run for every webhook, browser return and task retry: each email
    is stored, and so sent, once.
    """
    if payment.status != PaymentStatus.SUCCEEDED:
        return []
    link, merchant = payment.link, payment.merchant
    sent = []
    context = {"payment": payment, "link": link}
    receipt = Receipt.objects.filter(payment=payment).first()
    attachments = []
    if receipt is not None:
        context["receipt"] = receipt
        context["receipt_url"] = receipt_public_url(receipt)
        if receipt.pdf:
            attachments = [
                {
                    "storage": "documents",
                    "path": receipt.pdf.name,
                    "filename": receipt.filename,
                    "mimetype": "application/pdf",
                }
            ]
    if payment.customer_email:
        sent.append(
            outbox_enqueue(
                kind="payment_confirmation",
                to=payment.customer_email,
                template="payment_confirmation",
                context=context,
                language=link.language,
                merchant=merchant,
                ref=link_ref(link),
                reply_to=merchant.contact_email,
                dedupe_key=f"payment-confirmation:{payment.pk}",
                attachments=attachments,
            )
        )
    recipients = (
        Membership.objects.filter(merchant=merchant)
        .filter(Q(role=Role.OWNER) | Q(notify_payments=True))
        .select_related("user")
    )
    for member in recipients:
        sent.append(
            outbox_enqueue(
                kind="payment_notification",
                to=member.user.email,
                template="payment_notification",
                context=context,
                language=merchant.default_language,
                merchant=merchant,
                ref=link_ref(link),
                dedupe_key=f"payment-notification:{payment.pk}:{member.user_id}",
            )
        )
    return sent


def refund_send_email(*, refund: Any, note: Any) -> OutboxEmail | None:
    """Tell the customer about a refund, with the refund note attached. Deduplicated per refund."""
    payment = refund.payment
    if not payment.customer_email:
        return None
    attachments = []
    if note.pdf:
        attachments = [
            {
                "storage": "documents",
                "path": note.pdf.name,
                "filename": note.filename,
                "mimetype": "application/pdf",
            }
        ]
    return outbox_enqueue(
        kind="refund",
        to=payment.customer_email,
        template="refund",
        context={
            "refund": refund,
            "payment": payment,
            "link": payment.link,
            "note": note,
            "note_url": refund_note_public_url(note),
        },
        language=payment.link.language,
        merchant=payment.merchant,
        ref=link_ref(payment.link),
        reply_to=payment.merchant.contact_email,
        dedupe_key=f"refund:{refund.pk}",
        attachments=attachments,
    )
