"""Erasing a customer's personal data on request (GDPR art. 17), keeping the fiscal documents.

Receipts, refund notes, invoices and credit notes are documents the shop must keep for `FISCAL_RETENTION_YEARS` (the
name and email they carry included): they are counted, never changed. Everything else that names
the customer by their email address is emptied: links, payments (with the invoice details they
carried), the emails sent to them (bodies
and recipient), webhook event bodies that carry the address, and the address in audit summaries.
Each shop concerned gets an audit entry saying so, with the operator's reference and the counts,
never the address.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from merchants.models import Merchant
from vpos.events import Event, record
from vpos.models import AuditEntry, OutboxEmail

from .models import Payment, PaymentLink, Refund

ERASED = "[erased]"


@dataclass
class Erasure:
    """What an erasure changed (or, dry, would change), overall and per shop."""

    counts: Counter = field(default_factory=Counter)
    merchants: list[Merchant] = field(default_factory=list)
    fiscal_documents_kept: int = 0


def customer_data_erase(
    *, email: str, reference: str, merchant: Merchant | None = None, dry_run: bool = False
) -> Erasure:
    """Erase what names the customer `email` (in one shop, or all); `dry_run` changes nothing."""
    email = email.strip()
    now = timezone.now()
    result = Erasure()
    with transaction.atomic():
        links = PaymentLink.objects.filter(customer_email__iexact=email)
        payments = Payment.objects.filter(customer_email__iexact=email)
        emails = OutboxEmail.objects.filter(to_email__iexact=email)
        if merchant is not None:
            links = links.filter(merchant=merchant)
            payments = payments.filter(merchant=merchant)
            emails = emails.filter(merchant=merchant)
        merchant_ids = (
            set(links.values_list("merchant_id", flat=True))
            | set(payments.values_list("merchant_id", flat=True))
            | set(emails.exclude(merchant=None).values_list("merchant_id", flat=True))
        )
        result.fiscal_documents_kept = (
            payments.filter(receipt__isnull=False).count()
            + Refund.objects.filter(payment__in=payments, note__isnull=False).count()
            + payments.aggregate(invoices=Count("invoices"))["invoices"]
        )
        result.counts["links"] = links.update(
            customer_email="", customer_name="", customer_phone="", invoice_details={}
        )
        result.counts["payments"] = payments.update(
            customer_email="", customer_name="", invoice_details={}
        )
        result.counts["emails"] = emails.update(
            to_email="", body_text="", body_html="", attachments=[], purged_at=now
        )
        # What other apps hold (webhook event bodies): settings.CUSTOMER_DATA_ERASERS.
        for name, path in settings.CUSTOMER_DATA_ERASERS.items():
            result.counts[name] = import_string(path)(email, merchant_ids, now=now)
        result.counts["audit_summaries"] = _erase_in_audit(email, merchant_ids)
        result.merchants = list(Merchant.objects.filter(pk__in=merchant_ids).order_by("pk"))
        for shop in result.merchants:
            record(
                Event.CUSTOMER_DATA_ERASED,
                merchant_id=shop.pk,
                actor=None,
                summary=f"Customer data erased on request ({reference})",
                data={
                    "actor": "operator (erase_customer_data)",
                    "reference": reference,
                    "fiscal_retention_years": settings.FISCAL_RETENTION_YEARS,
                    **result.counts,
                },
            )
        if dry_run:
            transaction.set_rollback(True)
    return result


def _erase_in_audit(email: str, merchant_ids: set[int]) -> int:
    entries = AuditEntry.objects.filter(
        Q(merchant_id__in=merchant_ids) & Q(summary__icontains=email)
    )
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    changed = 0
    for entry in entries.only("pk", "summary").iterator():
        AuditEntry.objects.filter(pk=entry.pk).update(summary=pattern.sub(ERASED, entry.summary))
        changed += 1
    return changed
