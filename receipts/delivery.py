"""Getting invoice files to the Sistema di Interscambio (SDI), and the accountant's ZIP.

vpos is not an accredited channel to the SDI, so sending goes through a sender the shop chooses
(FiscalProfile.delivery), each recording the document's delivery state:

- `export` (the default) sends nothing: the owner downloads a ZIP of a period's XML files with a
  CSV summary (`invoices_export_build`, a background task with progress) for the accountant or
  intermediary, and the documents in it are marked exported.
- `pec` emails each XML file to the SDI's PEC address through the outbox; the document is marked
  sent once the mail server took it (`pec_deliveries_refresh`, run by the periodic sweep). The SDI
  reads mail from PEC mailboxes only: the deployment's EMAIL_URL must be the shop's PEC provider.

Adding an intermediary's API: a class with a `name` and `send(invoice)` that posts `invoice.xml`
(named `invoice.file_name`) to the intermediary and returns its reference, raising DeliveryError
for a refusal (the document is marked failed with that message) and letting a transient error
propagate (the Celery task retries); register it in SENDERS and add the choice to
merchants.models.InvoiceDelivery. The intermediary's notifications from the SDI (delivered,
rejected) then map onto `Invoice.delivery_status` in a view of its own.
"""

from __future__ import annotations

import base64
import csv
import io
import tempfile
import zipfile
from typing import Protocol

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from merchants.models import FiscalProfile, InvoiceDelivery
from vpos.events import Event, record
from vpos.models import OutboxEmail
from vpos.money import to_decimal
from vpos.outbox import EmailAbout, email_key, outbox_enqueue
from vpos.spreadsheet import spreadsheet_text

from .models import DeliveryStatus, Invoice, ReceiptExport


class DeliveryError(Exception):
    """The channel refused the file for good; the message says why."""


class InvoiceSender(Protocol):
    name: str

    def send(self, invoice: Invoice) -> str:
        """Hand the file over; return the channel's reference (may be empty)."""


class ExportSender:
    """Nothing is sent now: the file goes to the accountant in the next ZIP export."""

    name = InvoiceDelivery.EXPORT.value

    def send(self, invoice: Invoice) -> str:
        return ""


class PecSender:
    """The XML file, attached to an email to the SDI's PEC address, through the outbox."""

    name = InvoiceDelivery.PEC.value

    def send(self, invoice: Invoice) -> str:
        profile = FiscalProfile.objects.get(merchant_id=invoice.merchant_id)
        email = outbox_enqueue(
            kind="invoice_pec",
            to=profile.sdi_pec,
            template="invoice_pec",
            context={"invoice": invoice},
            language="it",
            merchant=invoice.merchant,
            ref=invoice.payment.link.email_ref,
            dedupe_key=email_key(EmailAbout.INVOICE_PEC, invoice.pk),
            attachments=[
                {
                    "content_b64": base64.b64encode(invoice.xml.encode("utf-8")).decode(),
                    "filename": invoice.file_name,
                    "mimetype": "application/xml",
                }
            ],
        )
        return f"outbox:{email.pk}"


SENDERS: dict[str, type[InvoiceSender]] = {
    ExportSender.name: ExportSender,
    PecSender.name: PecSender,
}


def invoice_deliver(*, invoice_id: int) -> Invoice:
    """Hand one document to the shop's sender. Safe to run again: a document already handed
    over (sent, exported, or waiting for its PEC email) is left alone."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update()
            .select_related("merchant", "payment__link")
            .get(pk=invoice_id)
        )
        if invoice.delivery_status != DeliveryStatus.PENDING or invoice.delivery_ref:
            return invoice
        profile = FiscalProfile.objects.filter(merchant_id=invoice.merchant_id).first()
        channel = profile.delivery if profile is not None else InvoiceDelivery.EXPORT
        sender = SENDERS.get(channel, ExportSender)()
        try:
            reference = sender.send(invoice)
        except DeliveryError as error:
            invoice.delivery_status = DeliveryStatus.FAILED
            invoice.delivery_error = str(error)[:500]
            reference = ""
        invoice.delivery_channel = sender.name
        invoice.delivery_ref = reference
        invoice.save(
            update_fields=["delivery_status", "delivery_error", "delivery_channel", "delivery_ref"]
        )
    return invoice


def _mark(invoice: Invoice, status: str, error: str = "") -> None:
    invoice.delivery_status = status
    invoice.delivery_error = error[:500]
    if status in (DeliveryStatus.SENT, DeliveryStatus.EXPORTED):
        invoice.delivered_at = timezone.now()
    invoice.save(
        update_fields=["delivery_status", "delivery_error", "delivered_at", "delivery_channel"]
    )
    record(
        Event.INVOICE_DELIVERED,
        merchant_id=invoice.merchant_id,
        obj=invoice,
        summary=f"{invoice.number}: {invoice.get_delivery_status_display()}",
        data={"status": status, "channel": invoice.delivery_channel},
    )


def pec_deliveries_refresh() -> int:
    """The PEC emails the outbox has sent (or given up on): their documents become sent (or
    failed). Run by the periodic sweep; returns how many changed."""
    changed = 0
    waiting = Invoice.objects.filter(
        delivery_channel=InvoiceDelivery.PEC, delivery_status=DeliveryStatus.PENDING
    ).exclude(delivery_ref="")
    for invoice in waiting[:500]:
        email = OutboxEmail.objects.filter(pk=invoice.delivery_ref.removeprefix("outbox:")).first()
        if email is None or email.status not in (
            OutboxEmail.Status.SENT,
            OutboxEmail.Status.FAILED,
        ):
            continue
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
            if locked.delivery_status != DeliveryStatus.PENDING:
                continue
            if email.status == OutboxEmail.Status.SENT:
                _mark(locked, DeliveryStatus.SENT)
            else:
                _mark(locked, DeliveryStatus.FAILED, email.last_error or _("The PEC email failed."))
            changed += 1
    return changed


# --- The accountant's ZIP ------------------------------------------------------------------------


def invoices_in_range(merchant_id: int, date_from, date_to):
    return Invoice.objects.filter(
        merchant_id=merchant_id, issue_date__gte=date_from, issue_date__lte=date_to
    ).order_by("issue_date", "kind", "sequence")


def _csv_summary(invoices: list[Invoice]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Number"),
            _("Type"),
            _("Date"),
            _("Customer"),
            _("Customer's tax ID"),
            _("Taxable amount"),
            _("VAT"),
            _("Total"),
            _("Currency"),
            _("Invoice credited"),
            _("Sending"),
            _("File"),
        ]
    )
    for invoice in invoices:
        totals = invoice.snapshot.get("totals", {})
        writer.writerow(
            [
                invoice.number,
                invoice.kind,
                invoice.issue_date.isoformat(),
                spreadsheet_text(invoice.customer_name),
                spreadsheet_text(invoice.customer_tax_id),
                str(to_decimal(totals.get("taxable", 0), invoice.currency)),
                str(to_decimal(totals.get("vat", 0), invoice.currency)),
                str(to_decimal(invoice.amount, invoice.currency)),
                invoice.currency,
                invoice.original.number if invoice.original_id else "",
                _state_after_export(invoice),
                invoice.file_name,
            ]
        )
    return out.getvalue()


def _state_after_export(invoice: Invoice) -> str:
    """The sending state the summary shows: a file waiting for an export is exported by it."""
    if invoice.delivery_status == DeliveryStatus.PENDING and invoice.delivery_channel in (
        "",
        InvoiceDelivery.EXPORT,
    ):
        return str(DeliveryStatus.EXPORTED.label)
    return invoice.get_delivery_status_display()


def invoices_export_build(export: ReceiptExport) -> None:
    """Fill an invoices export: every XML file of the period under its own name, and
    `riepilogo.csv`; then the documents waiting for an export are marked exported."""
    ids = list(
        invoices_in_range(export.merchant_id, export.date_from, export.date_to).values_list(
            "pk", flat=True
        )
    )
    if not export.begin(len(ids)):
        return  # another run finished meanwhile
    done: list[Invoice] = []
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                batch = Invoice.objects.select_related("original").in_bulk(chunk)
                for pk in chunk:
                    archive.writestr(batch[pk].file_name, batch[pk].xml)
                    done.append(batch[pk])
                export.advance(len(done))
            language = export.merchant.default_language
            with translation.override(language):
                archive.writestr("riepilogo.csv", _csv_summary(done))
        if not export.keep_file(spool, "invoices.zip"):
            return  # another run finished first and marked the files exported
    waiting = Invoice.objects.filter(
        Q(delivery_channel=InvoiceDelivery.EXPORT) | Q(delivery_channel=""),
        pk__in=ids,
        delivery_status=DeliveryStatus.PENDING,
    )
    for invoice in waiting:
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
            if locked.delivery_status == DeliveryStatus.PENDING:
                locked.delivery_channel = InvoiceDelivery.EXPORT
                _mark(locked, DeliveryStatus.EXPORTED)
