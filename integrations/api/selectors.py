"""Read paths of the REST API: a key's shop sees its own links, payments and documents only."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from links.models import Payment, PaymentLink, Refund
from merchants.models import Merchant
from receipts.models import Invoice, RefundNote


def api_links(merchant: Merchant) -> QuerySet[PaymentLink]:
    return PaymentLink.objects.filter(merchant=merchant).select_related("merchant")


def api_payments(merchant: Merchant) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(merchant=merchant)
        .select_related("receipt")
        .prefetch_related(Prefetch("refunds", Refund.objects.select_related("note")))
    )


def payment_refund(payment: Payment, public_id: uuid.UUID | str) -> Refund | None:
    return (
        Refund.objects.select_related("payment")
        .filter(payment=payment, public_id=public_id)
        .first()
    )


def refund_note(payment: Payment, refund_id: uuid.UUID) -> RefundNote | None:
    return RefundNote.objects.filter(refund__payment=payment, refund__public_id=refund_id).first()


def api_invoices(merchant: Merchant) -> QuerySet[Invoice]:
    return Invoice.objects.filter(merchant=merchant).select_related("payment", "refund", "original")
