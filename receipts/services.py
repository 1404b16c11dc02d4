"""Issuing, rendering and handing out receipts."""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
import zoneinfo
from base64 import b64encode
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from links.models import Payment
from merchants.models import Merchant
from vpos import retention
from vpos.documents import document_name, documents
from vpos.events import Event, record

from .delivery import invoices_export_build
from .models import Invoice, Receipt, ReceiptExport, ReceiptSequence, RefundNote
from .payment_exports import PAYMENTS_EXPORT, payments_export_build

RECEIPTS_EXPORT, INVOICES_EXPORT = (
    "receipts",
    "invoices",
)  # ReceiptExport.kind, with PAYMENTS_EXPORT

# What a shop and its customers download: the proof of a payment, of a refund, an invoice.
Document = Receipt | RefundNote | Invoice

# The customer's link names the receipt and is signed without a time: the same URL in the email
# and on the success page, whenever it is made. It expires DOWNLOAD_MAX_AGE after the receipt was
# issued. Links made before carried their own time (DOWNLOAD_SALT) and keep working until theirs.
LINK_SALT = "vpos.receipt-link"
DOWNLOAD_SALT = "vpos.receipt-download"
DOWNLOAD_MAX_AGE = 60 * 60 * 24 * 180  # a customer's link works for 180 days


def format_number(year: int, sequence: int) -> str:
    """`2026-000042`: the year of issue in the shop's time zone, then the sequence, gapless."""
    return f"{year}-{sequence:06d}"


_NUMBER = re.compile(r"^(?:(RF|FT|NC)-)?(\d{4})-(\d{6,9})$")
# The series of each number prefix: receipts have none, refund notes RF-, invoices FT-, their
# credit notes NC- (receipts.invoicing).
_SERIES = {None: "receipt", "RF": "refund", "FT": "invoice", "NC": "credit"}
_FILE_NAME = re.compile(r"^[A-Z]{2}[A-Z0-9]{1,28}_([0-9A-Z]{5})\.xml$")
FILE_SERIES = "sdi-file"  # an e-invoice file's progressive: one series per shop, every year
FILE_SERIES_YEAR = 0


def parse_number(number: str) -> tuple[str, int, int] | None:
    """`2026-000042` → ("receipt", 2026, 42); `RF-2026-000007` → ("refund", 2026, 7);
    `FT-2026-000003` → ("invoice", 2026, 3); `NC-...` → ("credit", ...); else None. An e-invoice
    file name `IT01234567890_0000A.xml` → ("sdi-file", 0, 10)."""
    file_match = _FILE_NAME.match(number or "")
    if file_match is not None:
        return FILE_SERIES, FILE_SERIES_YEAR, int(file_match.group(1), 36)
    match = _NUMBER.match(number or "")
    if match is None:
        return None
    return _SERIES[match.group(1)], int(match.group(2)), int(match.group(3))


def sequence_move_past(*, merchant: Merchant, number: str) -> bool:
    """After a restore: make sure the series of `number` (a document number or an e-invoice file
    name) never issues it (or anything before it) again. True if the sequence had to move."""
    parsed = parse_number(number)
    if parsed is None:
        return False
    series, year, sequence = parsed
    with transaction.atomic():
        ReceiptSequence.objects.bulk_create(
            [ReceiptSequence(merchant=merchant, year=year, series=series)], ignore_conflicts=True
        )
        return bool(
            ReceiptSequence.objects.filter(
                merchant=merchant, year=year, series=series, last_number__lt=sequence
            ).update(last_number=sequence)
        )


def vat_breakdown(amount: int, rate: int | None) -> tuple[int, int] | None:
    """Split a VAT-inclusive amount into (taxable, vat), rounding the taxable half up."""
    if rate is None:
        return None
    taxable = (amount * 100 * 2 + (100 + rate)) // (2 * (100 + rate))
    return taxable, amount - taxable


def _frozen_logo(merchant: Merchant) -> str:
    """A copy of the shop's logo that the receipt keeps: a new upload deletes the old file."""
    if not merchant.logo:
        return ""
    name = f"receipts/{merchant.logo.name}"  # logo names are unique per upload
    try:
        if not default_storage.exists(name):
            with default_storage.open(merchant.logo.name, "rb") as fh:
                name = default_storage.save(name, ContentFile(fh.read()))
    except OSError:
        return ""
    return name


def payment_snapshot(payment: Payment, issued_at: datetime) -> dict[str, Any]:
    merchant, link = payment.merchant, payment.link
    vat = vat_breakdown(payment.amount, link.vat_rate)
    return {
        "merchant": {
            "name": merchant.name,
            "legal_name": merchant.legal_name,
            "address": merchant.address,
            "postal_code": merchant.postal_code,
            "city": merchant.city,
            "province": merchant.province,
            "country": merchant.country,
            "vat_number": merchant.vat_number,
            "tax_code": merchant.tax_code,
            "pec": merchant.pec,
            "sdi_code": merchant.sdi_code,
            "contact_email": merchant.contact_email,
            "contact_phone": merchant.contact_phone,
            "brand_color": merchant.brand_color,
            "logo": _frozen_logo(merchant),
            "time_zone": merchant.time_zone,
        },
        "customer": {"name": payment.customer_name, "email": payment.customer_email},
        "description": link.description,
        "reference": link.reference,
        "amount": payment.amount,
        "currency": payment.currency,
        "vat_rate": link.vat_rate,
        "vat_exemption": link.vat_exemption,
        "taxable_amount": vat[0] if vat else None,
        "vat_amount": vat[1] if vat else None,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "method": payment.method,  # "card", "sepa_debit"... (PaymentMethodKind values)
        "provider_id": payment.provider_id,
        "link_id": link.pk,
        "payment_id": str(payment.public_id),
        "paid_at": issued_at.isoformat(),
        "moto": payment.is_moto,
    }


def next_number(merchant: Any, year: int, series: str) -> int:
    """The next number of a series, under the sequence row's lock (held until commit)."""
    ReceiptSequence.objects.bulk_create(
        [ReceiptSequence(merchant=merchant, year=year, series=series)], ignore_conflicts=True
    )
    sequence = ReceiptSequence.objects.select_for_update().get(
        merchant=merchant, year=year, series=series
    )
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return sequence.last_number


def receipt_issue(*, payment: Payment, at: datetime) -> Receipt:
    """Number and freeze the receipt of a payment that just succeeded.

    Must run inside the finalizing transaction: the sequence row stays locked until it commits, so
    numbers have no gaps (a rollback releases the number too) and no duplicates.
    """
    existing = Receipt.objects.filter(payment=payment).first()
    if existing is not None:
        return existing
    merchant = payment.merchant
    year = at.astimezone(zoneinfo.ZoneInfo(merchant.time_zone)).year
    snapshot = payment_snapshot(payment, at)  # before the sequence lock: it may copy the logo
    number = next_number(merchant, year, "receipt")
    return Receipt.objects.create(
        merchant=merchant,
        payment=payment,
        year=year,
        sequence=number,
        number=format_number(year, number),
        issued_at=at,
        language=payment.link.language,
        snapshot=snapshot,
        amount=payment.amount,
        currency=payment.currency,
        customer_email=payment.customer_email,
        customer_name=payment.customer_name,
    )


# --- PDF --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def font_config() -> Any:
    """One WeasyPrint font configuration per process: fonts are scanned once, memory stays flat."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _logo_data_uri(name: str) -> str:
    """Logos are inlined, so rendering works the same with local or S3-compatible storage."""
    if not name:
        return ""
    try:
        with default_storage.open(name, "rb") as fh:
            return "data:image/png;base64," + b64encode(fh.read()).decode()
    except OSError:
        return ""


def _document_label(document: Document) -> str:
    if isinstance(document, Invoice):
        return _("Credit note") if document.is_credit_note else _("Invoice")
    return _("Refund note") if isinstance(document, RefundNote) else _("Receipt")


def _document_html(document: Document, template: str) -> str:
    with translation.override(document.language):
        label = _document_label(document)
        return render_to_string(
            template,
            {
                "doc_label": label,
                "receipt": document,
                "note": document,
                "s": document.snapshot,
                "logo": _logo_data_uri(document.snapshot["merchant"].get("logo", "")),
                "issued_local": document.issued_at.astimezone(
                    zoneinfo.ZoneInfo(document.snapshot["merchant"]["time_zone"])
                ),
            },
        )


def receipt_html(receipt: Receipt) -> str:
    return _document_html(receipt, "receipts/receipt_pdf.html")


def render_pdf(html: str) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=html, base_url=None).write_pdf(
        font_config=font_config(), pdf_variant="pdf/a-3b"
    )


def ensure_pdf(model: type[Document], pk: int, template: str, folder: str) -> Any:
    """Render and store a document's PDF unless a stored copy exists. Safe to run again."""
    document = model.objects.select_related("merchant").get(pk=pk)
    if document.pdf and documents.exists(document.pdf.name):
        return document
    data = render_pdf(_document_html(document, template))
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=pk)
        if locked.pdf and documents.exists(locked.pdf.name):
            return locked
        locked.pdf.name = documents.save(document_name(folder, "pdf"), ContentFile(data))
        locked.pdf_sha256 = hashlib.sha256(data).hexdigest()
        fields = ["pdf", "pdf_sha256"]
        if hasattr(locked, "rendered_at"):
            locked.rendered_at = timezone.now()
            fields.append("rendered_at")
        locked.save(update_fields=fields)
    return locked


def receipt_ensure_pdf(*, receipt_id: int) -> Receipt:
    """Render and store the receipt's PDF unless a stored copy exists. Safe to run again."""
    return ensure_pdf(Receipt, receipt_id, "receipts/receipt_pdf.html", "receipts")


# --- Refund notes ------------------------------------------------------------------------------


def refund_note_issue(*, refund: Any, at: datetime) -> RefundNote:
    """Number and freeze the note of a refund that just succeeded (inside its transaction)."""
    existing = RefundNote.objects.filter(refund=refund).first()
    if existing is not None:
        return existing
    payment = refund.payment
    merchant = payment.merchant
    receipt = Receipt.objects.filter(payment=payment).first()
    year = at.astimezone(zoneinfo.ZoneInfo(merchant.time_zone)).year
    snapshot = payment_snapshot(payment, at)
    snapshot.update(
        {
            "refund_amount": refund.amount,
            "refund_reason": refund.reason,
            "refund_id": refund.provider_id or "",
            "refunded_total": payment.refunded_amount,
            "receipt_number": receipt.number if receipt else "",
            "receipt_date": receipt.issued_at.isoformat() if receipt else "",
        }
    )
    number = next_number(merchant, year, "refund")
    return RefundNote.objects.create(
        merchant=merchant,
        refund=refund,
        receipt=receipt,
        year=year,
        sequence=number,
        number="RF-" + format_number(year, number),
        issued_at=at,
        language=payment.link.language,
        snapshot=snapshot,
    )


def refund_note_ensure(*, refund: Any) -> RefundNote:
    note = RefundNote.objects.get(refund=refund)
    return ensure_pdf(RefundNote, note.pk, "receipts/refund_note_pdf.html", "refund-notes")


def document_ensure_pdf(document: Document) -> Document:
    """A receipt's, refund note's or invoice's stored PDF, rendered first if it is missing."""
    if isinstance(document, Invoice):
        return ensure_pdf(Invoice, document.pk, "receipts/invoice_pdf.html", "invoices")
    if isinstance(document, RefundNote):
        return ensure_pdf(RefundNote, document.pk, "receipts/refund_note_pdf.html", "refund-notes")
    return receipt_ensure_pdf(receipt_id=document.pk)


# --- Customer download links --------------------------------------------------------------------


def receipt_download_token(receipt: Receipt) -> str:
    return signing.Signer(salt=LINK_SALT).sign_object(
        {"r": receipt.pk, "n": receipt.number}, compress=True
    )


def refund_note_download_token(note: RefundNote) -> str:
    return signing.Signer(salt=LINK_SALT).sign_object(
        {"f": note.pk, "n": note.number}, compress=True
    )


def receipt_public_url(receipt: Receipt) -> str:
    """The customer's signed, expiring download link (emails, success page)."""
    return settings.SITE_URL + reverse(
        "receipts:public_download", args=[receipt_download_token(receipt)]
    )


def refund_note_public_url(note: RefundNote) -> str:
    """The customer's signed link to a refund note (the refund email)."""
    return settings.SITE_URL + reverse(
        "receipts:public_download", args=[refund_note_download_token(note)]
    )


_TOKEN_KEYS: tuple[tuple[type[Document], str], ...] = ((RefundNote, "f"), (Invoice, "i"))


def document_from_token(token: str) -> Document:
    """The receipt, refund note or invoice courtesy copy a signed token names. Raises signing.SignatureExpired /
    BadSignature. A link works for DOWNLOAD_MAX_AGE after the document was issued."""
    try:
        data = signing.Signer(salt=LINK_SALT).unsign_object(token)
    except signing.BadSignature:
        data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=DOWNLOAD_MAX_AGE)
    model, key = next(
        ((model, key) for model, key in _TOKEN_KEYS if isinstance(data, dict) and key in data),
        (Receipt, "r"),
    )
    try:
        document = model.objects.get(pk=int(data[key]), number=str(data["n"]))
    except (model.DoesNotExist, KeyError, TypeError, ValueError) as error:
        raise signing.BadSignature("unknown document") from error
    if timezone.now() - document.issued_at > timedelta(seconds=DOWNLOAD_MAX_AGE):
        raise signing.SignatureExpired("the link has expired")
    return document


# --- Exports for the accountant ------------------------------------------------------------------


def receipts_in_range(merchant_id: int, date_from: date, date_to: date):
    return Receipt.objects.filter(
        merchant_id=merchant_id, issued_at__date__gte=date_from, issued_at__date__lte=date_to
    ).order_by("year", "sequence")


def export_build(*, export_id: int) -> ReceiptExport:
    """Build the file of an export, updating its progress as it goes."""
    export = ReceiptExport.objects.select_related("merchant").get(pk=export_id)
    if export.status == ReceiptExport.Status.DONE:
        return export
    if export.kind in (INVOICES_EXPORT, PAYMENTS_EXPORT):
        build = invoices_export_build if export.kind == INVOICES_EXPORT else payments_export_build
        build(export)
        export.refresh_from_db()
        return export
    receipts = list(
        receipts_in_range(export.merchant_id, export.date_from, export.date_to).values_list(
            "pk", flat=True
        )
    )
    if not export.begin(len(receipts)):
        export.refresh_from_db()
        return export  # another run finished meanwhile
    # On disk, not in memory: a year of receipts would not fit in a worker's memory budget.
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for done, receipt_id in enumerate(receipts, start=1):
                receipt = receipt_ensure_pdf(receipt_id=receipt_id)
                with documents.open(receipt.pdf.name, "rb") as fh:
                    archive.writestr(receipt.filename, fh.read())
                if done % 10 == 0 or done == len(receipts):
                    export.advance(done)
        export.keep_file(spool, "receipts.zip")
    return export


def exports_purge(*, now: datetime) -> int:
    """ZIP exports older than `RETENTION_EXPORT_DAYS`: copies of receipts a shop has downloaded.
    The file goes; the row stays, shown as expired. The receipts themselves are never purged."""
    cutoff = retention.older_than(settings.RETENTION_EXPORT_DAYS, now=now)
    purged = 0
    for export in ReceiptExport.objects.filter(created_at__lt=cutoff).exclude(file=""):
        documents.delete(export.file.name)
        export.file = ""
        export.status = ReceiptExport.Status.EXPIRED
        export.save(update_fields=["file", "status"])
        purged += 1
    return purged


def export_request(
    *,
    merchant: Merchant,
    requested_by: Any,
    kind: str = RECEIPTS_EXPORT,
    date_from: date | None = None,
    date_to: date | None = None,
    params: dict[str, Any] | None = None,
) -> ReceiptExport:
    """Ask for a ZIP of the receipts (or the invoices' XML files, `kind="invoices"`) of a date
    range, or for a payments CSV (`kind="payments"`, filtered as `params` say); it is built
    after commit, by a task."""
    export = ReceiptExport.objects.create(
        merchant=merchant,
        requested_by=requested_by,
        date_from=date_from,
        date_to=date_to,
        kind=kind,
        params=params or {},
    )
    record(Event.EXPORT_REQUESTED, merchant_id=merchant.pk, obj=export, actor=requested_by)
    return export


def export_retry(*, export: ReceiptExport, requested_by: Any) -> bool:
    """Build a failed export again, from the start; False (and nothing changes) unless it failed."""
    retried = ReceiptExport.objects.filter(pk=export.pk, status=ReceiptExport.Status.FAILED).update(
        status=ReceiptExport.Status.QUEUED, error="", total=0, done=0, finished_at=None
    )
    if retried:
        record(
            Event.EXPORT_REQUESTED, merchant_id=export.merchant_id, obj=export, actor=requested_by
        )
    return bool(retried)
