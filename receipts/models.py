"""Proof of payment: numbered receipts with a frozen snapshot and their PDF."""

from __future__ import annotations

import uuid
from typing import IO

from django.core.files import File
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from links.models import Payment
from merchants.models import Merchant
from vpos.documents import document_name, documents_storage
from vpos.money import format_money


def export_upload_to(instance: ReceiptExport, filename: str) -> str:
    """A new random name with the extension of `filename` ("receipts.zip", "payments.csv")."""
    return document_name("exports", filename.rpartition(".")[2])


class ReceiptSequence(models.Model):
    """The last number issued per shop and year; its row lock makes numbering gapless."""

    # No index of its own: the unique constraint starts with the shop (as on the documents below).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    year = models.PositiveSmallIntegerField()
    series = models.CharField(max_length=10, default="receipt")  # "receipt" or "refund"
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "year", "series"], name="receipt_sequence_unique_year_series"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}/{self.year}: {self.last_number}"


class Receipt(models.Model):
    """Issued inside the payment's finalization. What it says never changes afterwards."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="receipts", db_index=False
    )
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="receipt")
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("number"), max_length=20)
    issued_at = models.DateTimeField(_("issued"))
    language = models.CharField(_("language"), max_length=5)
    snapshot = models.JSONField(_("snapshot"))
    amount = models.PositiveBigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    customer_email = models.EmailField(_("customer email"), blank=True)
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    pdf = models.FileField(
        _("PDF"), upload_to="receipts/", storage=documents_storage, blank=True, max_length=255
    )
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    rendered_at = models.DateTimeField(_("rendered"), null=True, blank=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "year", "sequence"], name="receipt_unique_number"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-issued_at"]),
            models.Index(fields=["merchant", "number"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency, self.language)

    @property
    def filename(self) -> str:
        return f"receipt-{self.number}.pdf"


class ReceiptExport(models.Model):
    """A file for the shop or its accountant, built by a Celery task with visible progress: a
    ZIP of receipts or invoices for a period, or a payments CSV too large to download at once."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Building")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="receipt_exports")
    requested_by = models.ForeignKey(
        "merchants.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # What the file holds: "receipts" (a ZIP of their PDFs), "invoices" (a ZIP of FatturaPA XML
    # files and a CSV) or "payments" (the payments list's CSV, filtered as in `params`).
    kind = models.CharField(max_length=10, default="receipts")
    date_from = models.DateField(_("from"), null=True, blank=True)  # the ZIPs' period
    date_to = models.DateField(_("to"), null=True, blank=True)
    # A payments CSV: the list's filters as typed and the language, currency and time zone they
    # were typed in, so the file is the one the instant download would have been.
    params = models.JSONField(_("filters"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total = models.PositiveIntegerField(_("receipts"), default=0)
    done = models.PositiveIntegerField(_("added"), default=0)
    file = models.FileField(
        _("file"), upload_to=export_upload_to, storage=documents_storage, blank=True, max_length=255
    )
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        period = f" {self.date_from}..{self.date_to}" if self.date_from else ""
        return f"{self.merchant_id} {self.kind}{period} {self.status}"

    @property
    def percent(self) -> int:
        return (
            100
            if self.status == self.Status.DONE
            else int(100 * self.done / self.total)
            if self.total
            else 0
        )

    def begin(self, total: int) -> bool:
        """Mark the export running with `total` items to add, unless another run of it (a retried
        or duplicated task) has already finished it. Returns whether this run should go on."""
        return bool(self._unfinished().update(status=self.Status.RUNNING, total=total, done=0))

    def advance(self, done: int) -> None:
        """Progress for the export's page: `done` of its `total` items added."""
        self._unfinished().update(done=done)

    def _unfinished(self) -> models.QuerySet[ReceiptExport]:
        return ReceiptExport.objects.filter(pk=self.pk).exclude(status=self.Status.DONE)

    def keep_file(self, spool: IO[bytes], filename: str, *, done: int | None = None) -> bool:
        """Store the built file and mark the export done, unless another run of the same export
        (a retried or duplicated task) finished first: then its file stays and this one is
        dropped, so an export never leaves two files. `done` also sets the counts. Returns
        whether this run's file was kept."""
        spool.seek(0)
        with transaction.atomic():
            locked = ReceiptExport.objects.select_for_update().get(pk=self.pk)
            kept = locked.status != self.Status.DONE
            if kept:
                locked.file.save(filename, File(spool), save=False)  # named by export_upload_to
                locked.status = self.Status.DONE
                locked.finished_at = timezone.now()
                fields = ["file", "status", "finished_at"]
                if done is not None:
                    locked.done = locked.total = done
                    fields += ["done", "total"]
                locked.save(update_fields=fields)
        self.refresh_from_db()
        return kept


class RefundNote(models.Model):
    """Proof of a refund, numbered like receipts in its own series (`RF-2026-000001`), referring
    to the original receipt."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="refund_notes", db_index=False
    )
    refund = models.OneToOneField("links.Refund", on_delete=models.PROTECT, related_name="note")
    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, related_name="refund_notes", null=True
    )
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("number"), max_length=24)
    issued_at = models.DateTimeField(_("issued"))
    language = models.CharField(_("language"), max_length=5)
    snapshot = models.JSONField(_("snapshot"))
    pdf = models.FileField(
        _("PDF"), upload_to="refund-notes/", storage=documents_storage, blank=True, max_length=255
    )
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("refund note")
        verbose_name_plural = _("refund notes")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "year", "sequence"], name="refund_note_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def filename(self) -> str:
        return f"refund-note-{self.number}.pdf"


class InvoiceKind(models.TextChoices):
    """FatturaPA's TipoDocumento of the documents vpos issues."""

    INVOICE = "TD01", _("Invoice")
    CREDIT_NOTE = "TD04", _("Credit note")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("To be sent")
    EXPORTED = "exported", _("Exported")
    SENT = "sent", _("Sent to the SDI")
    FAILED = "failed", _("Not delivered")


class Invoice(models.Model):
    """An electronic invoice (TD01) of a payment, or a credit note (TD04) of a refund of an
    invoiced payment. Numbered in the shop's own series per year inside the finalizing (or
    refunding) transaction, like receipts; its FatturaPA XML is made then and never changes."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    kind = models.CharField(_("type"), max_length=4, choices=InvoiceKind.choices)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="invoices")
    refund = models.OneToOneField(
        "links.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note",
    )
    original = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("invoice credited"),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("number"), max_length=20)
    issued_at = models.DateTimeField(_("issued"))
    issue_date = models.DateField(_("date"))  # in the shop's time zone: the invoice's Data
    language = models.CharField(_("language"), max_length=5)
    snapshot = models.JSONField(_("snapshot"))
    amount = models.PositiveBigIntegerField(_("total"))
    currency = models.CharField(_("currency"), max_length=3)
    customer_name = models.CharField(_("customer"), max_length=200, blank=True)
    customer_email = models.EmailField(_("customer email"), blank=True)
    customer_tax_id = models.CharField(_("customer's tax ID"), max_length=30, blank=True)
    file_name = models.CharField(_("file name"), max_length=40)
    xml = models.TextField(_("XML"))
    xml_sha256 = models.CharField(_("XML SHA-256"), max_length=64)
    pdf = models.FileField(
        _("PDF"), upload_to="invoices/", storage=documents_storage, blank=True, max_length=255
    )
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    delivery_status = models.CharField(
        _("sending"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    delivery_channel = models.CharField(_("sent by"), max_length=30, blank=True)
    delivered_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivery_error = models.CharField(_("sending error"), max_length=500, blank=True)
    delivery_ref = models.CharField(max_length=100, blank=True, editable=False)
    schema_error = models.CharField(max_length=1000, blank=True, editable=False)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "year", "sequence"], name="invoice_unique_number"
            ),
            models.UniqueConstraint(fields=["merchant", "file_name"], name="invoice_unique_file"),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(kind="TD01"),
                name="invoice_one_per_payment",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-issued_at"]),
            models.Index(fields=["merchant", "delivery_status"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency, self.language)

    @property
    def filename(self) -> str:
        """The courtesy copy's name: `invoice-FT-2026-000001.pdf`, `credit-note-NC-...pdf`."""
        label = "credit-note" if self.is_credit_note else "invoice"
        return f"{label}-{self.number}.pdf"
