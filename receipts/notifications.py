"""The emails that carry proof: the customer's confirmation with the link to the receipt, the
shop's notification of a payment, the customer's refund note (a link too: the confirmations never
wait for a PDF) and the invoice's courtesy copy (attached). All go through the outbox, deduplicated,
so every retry of the follow-ups sends each once."""

from __future__ import annotations

from django.db.models import Q

from links.models import Payment, PaymentStatus, Refund
from merchants.models import Membership, Role
from vpos.models import OutboxEmail
from vpos.outbox import EmailAbout, email_key, outbox_enqueue

from .invoicing import invoice_public_url
from .models import Invoice, Receipt, RefundNote
from .services import Document, receipt_public_url, refund_note_public_url


def _pdf_attached(document: Document | None) -> list[dict[str, str]]:
    """The document's stored PDF as an email attachment (none before it is rendered)."""
    if document is None or not document.pdf:
        return []
    return [
        {
            "storage": "documents",
            "path": document.pdf.name,
            "filename": document.filename,
            "mimetype": "application/pdf",
        }
    ]


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
    if receipt is not None:
        context["receipt"] = receipt
        context["receipt_url"] = receipt_public_url(receipt)
    if payment.customer_email:
        sent.append(
            outbox_enqueue(
                kind="payment_confirmation",
                to=payment.customer_email,
                template="payment_confirmation",
                context=context,
                language=link.language,
                merchant=merchant,
                ref=link.email_ref,
                reply_to=merchant.contact_email,
                dedupe_key=email_key(EmailAbout.PAYMENT_CONFIRMATION, payment.pk),
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
                ref=link.email_ref,
                dedupe_key=email_key(EmailAbout.PAYMENT_NOTIFICATION, payment.pk, member.user_id),
            )
        )
    return sent


def refund_send_email(*, refund: Refund, note: RefundNote) -> OutboxEmail | None:
    """Tell the customer about a refund, with the signed link to its note. Deduplicated per
    refund."""
    payment = refund.payment
    if not payment.customer_email:
        return None
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
        ref=payment.link.email_ref,
        reply_to=payment.merchant.contact_email,
        dedupe_key=email_key(EmailAbout.REFUND, refund.pk),
    )


def invoice_send_email(*, invoice: Invoice) -> OutboxEmail | None:
    """Send the customer the courtesy copy of an invoice or a credit note (its PDF attached).
    The electronic invoice itself reaches them through the SDI. Deduplicated per document."""
    if not invoice.customer_email:
        return None
    payment = invoice.payment
    return outbox_enqueue(
        kind="invoice",
        to=invoice.customer_email,
        template="invoice",
        context={
            "invoice": invoice,
            "payment": payment,
            "link": payment.link,
            "invoice_url": invoice_public_url(invoice),
        },
        language=invoice.language,
        merchant=invoice.merchant,
        ref=payment.link.email_ref,
        reply_to=invoice.merchant.contact_email,
        dedupe_key=email_key(EmailAbout.INVOICE, invoice.pk),
        attachments=_pdf_attached(invoice),
    )
