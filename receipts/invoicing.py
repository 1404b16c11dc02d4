"""Electronic invoices (FatturaPA): numbering, freezing and the files of invoices and credit notes.

An invoice (`TD01`) is issued inside the finalization of a payment that carries the customer's
invoice details; a credit note (`TD04`) inside the refund of an invoiced payment. Like receipts,
their numbers come from a sequence row locked until that transaction commits, so each shop's series
is gapless per year ("FT-2026-000001", "NC-2026-000001"), and a rolled back payment takes its number
back. The XML is made then, from a snapshot, and never changes; the PDF courtesy copy, the customer's
email and the sending to the SDI follow after commit (receipts.tasks.invoice_followups).

Issuing never stands in the way of money: a payment whose invoice cannot be made (the shop's fiscal
data incomplete) still succeeds; the payment's timeline says why and the shop can fix it.
"""

from __future__ import annotations

import hashlib
import logging
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from links.models import Payment, PaymentEvent, Refund
from merchants.fiscal import (
    FLAT_RATE_NATURE,
    FLAT_RATE_REGIME,
    NATURA_REFERENCE,
    invoice_recipient_name,
    latin1_lenient,
    shop_details_missing,
)
from merchants.models import FiscalProfile, Merchant

from . import fatturapa
from .models import Invoice, InvoiceKind
from .services import (
    FILE_SERIES,
    FILE_SERIES_YEAR,
    LINK_SALT,
    document_ensure_pdf,
    next_number,
    payment_snapshot,
    vat_breakdown,
)

logger = logging.getLogger(__name__)

INVOICE_SERIES = "invoice"
CREDIT_SERIES = "credit"
NUMBER_PREFIX = {InvoiceKind.INVOICE: "FT", InvoiceKind.CREDIT_NOTE: "NC"}
# Stamp duty (imposta di bollo) on an invoice without VAT above €77.47: declared, paid virtually.
STAMP_DUTY = 200
STAMP_DUTY_ABOVE = 7747
STAMP_DUTY_NATURES = {"N1", "N2.1", "N2.2", "N3.5", "N3.6", "N4", "N5"}


class CannotInvoice(Exception):
    """The shop's fiscal data cannot make a valid invoice; the message says what is missing."""


def format_number(kind: str, year: int, sequence: int) -> str:
    return f"{NUMBER_PREFIX[InvoiceKind(kind)]}-{year}-{sequence:06d}"


def _phone(value: str) -> str:
    digits = "".join(value.split())
    return digits if 5 <= len(digits) <= 12 and digits.isascii() else ""


def _seller(merchant: Merchant, profile: FiscalProfile) -> dict[str, str]:
    missing = shop_details_missing(merchant)
    if missing:
        raise CannotInvoice(
            _("the shop's settings lack %(missing)s")
            % {"missing": ", ".join(str(item) for item in missing)}
        )
    tax_code = (merchant.tax_code or "").upper()
    return {
        "name": latin1_lenient(merchant.legal_name or merchant.name, 80),
        "vat_country": merchant.country,
        "vat_number": merchant.vat_number,
        "tax_code": tax_code if tax_code.isalnum() and 11 <= len(tax_code) <= 16 else "",
        "regime": profile.regime,
        "address": latin1_lenient(merchant.address, 60),
        "postal_code": merchant.postal_code,
        "city": latin1_lenient(merchant.city, 60),
        "province": (merchant.province or "").upper(),
        "country": merchant.country,
        "email": merchant.contact_email if len(merchant.contact_email) >= 7 else "",
        "phone": _phone(merchant.contact_phone),
    }


def _buyer(details: dict[str, str], email: str) -> dict[str, str]:
    buyer = {key: str(details.get(key) or "") for key in details}
    for key, limit in (("company", 80), ("first_name", 60), ("last_name", 60)):
        buyer[key] = latin1_lenient(buyer.get(key, ""), limit)
    buyer["address"] = latin1_lenient(buyer.get("address", ""), 60)
    buyer["city"] = latin1_lenient(buyer.get("city", ""), 60)
    buyer["country"] = buyer.get("country") or "IT"
    buyer["email"] = email
    return buyer


def _recipient(buyer: dict[str, str]) -> tuple[str, str]:
    """CodiceDestinatario and PECDestinatario: the customer's SDI code, else `0000000` (with
    their PEC if they gave one), `XXXXXXX` for a customer abroad."""
    if buyer["country"] != "IT":
        return fatturapa.FOREIGN_RECIPIENT_CODE, ""
    if buyer.get("sdi_code"):
        return buyer["sdi_code"], ""
    return fatturapa.NO_RECIPIENT_CODE, buyer.get("pec", "")


def _tax(payment: Payment, profile: FiscalProfile) -> tuple[int, str, str]:
    """The rate, the exemption nature and the law it cites, for a payment's link."""
    link = payment.link
    if profile.regime == FLAT_RATE_REGIME:
        nature = FLAT_RATE_NATURE
        return 0, nature, latin1_lenient(link.vat_exemption, 100) or NATURA_REFERENCE[nature]
    rate = link.vat_rate if link.vat_rate is not None else profile.vat_rate
    if rate:
        return rate, "", ""
    nature = profile.vat_nature or FLAT_RATE_NATURE
    return 0, nature, latin1_lenient(link.vat_exemption, 100) or NATURA_REFERENCE.get(nature, "")


def _amounts(gross: int, rate: int, nature: str, reference: str, description: str):
    taxable, vat = vat_breakdown(gross, rate) if rate else (gross, 0)
    line = {
        "description": description,
        "unit_price": taxable,
        "total": taxable,
        "rate": rate,
        "nature": nature,
    }
    summary = {"rate": rate, "nature": nature, "taxable": taxable, "vat": vat}
    if reference:
        summary["reference"] = reference
    return [line], [summary], {"taxable": taxable, "vat": vat, "total": gross}


def _stamp_duty(nature: str, total: int, currency: str) -> int:
    return (
        STAMP_DUTY
        if nature in STAMP_DUTY_NATURES and currency == "EUR" and (total > STAMP_DUTY_ABOVE)
        else 0
    )


def _profile(merchant: Merchant) -> FiscalProfile:
    profile = FiscalProfile.objects.filter(merchant=merchant).first()
    if profile is None:
        raise CannotInvoice(_("the shop has no fiscal profile"))
    return profile


def _local(at: datetime, merchant: Merchant) -> datetime:
    return at.astimezone(zoneinfo.ZoneInfo(merchant.time_zone))


def _issue(
    *,
    kind: str,
    payment: Payment,
    at: datetime,
    gross: int,
    fiscal_extra: dict[str, Any],
    profile: FiscalProfile,
    refund: Refund | None = None,
    original: Invoice | None = None,
) -> Invoice:
    """Number, freeze and write one document (under the series' lock: call it inside the
    finalizing or refunding transaction)."""
    merchant = payment.merchant
    local = _local(at, merchant)
    snapshot = payment_snapshot(payment, at)  # the courtesy copy's header, like a receipt's
    seller = _seller(merchant, profile)
    buyer = _buyer(payment.invoice_details, payment.customer_email)
    code, pec = _recipient(buyer)
    fiscal: dict[str, Any] = {
        "kind": kind,
        "currency": payment.currency,
        "date": local.date().isoformat(),
        "transmitter": {"country": "IT", "code": profile.transmitter_id.upper()},
        "recipient_code": code,
        "recipient_pec": pec,
        "seller": seller,
        "buyer": buyer,
        **fiscal_extra,
    }
    series = INVOICE_SERIES if kind == InvoiceKind.INVOICE else CREDIT_SERIES
    sequence = next_number(merchant, local.year, series)
    fiscal["number"] = format_number(kind, local.year, sequence)
    file_number = next_number(merchant, FILE_SERIES_YEAR, FILE_SERIES)
    fiscal["progressive"] = fatturapa.progressive(file_number)
    xml = fatturapa.build_xml(fiscal)
    snapshot.update({"fiscal": fiscal, "totals": fiscal["totals"]})
    return Invoice.objects.create(
        merchant=merchant,
        kind=kind,
        payment=payment,
        refund=refund,
        original=original,
        year=local.year,
        sequence=sequence,
        number=fiscal["number"],
        issued_at=at,
        issue_date=local.date(),
        language=payment.link.language,
        snapshot=snapshot,
        amount=gross,
        currency=payment.currency,
        customer_name=invoice_recipient_name(buyer)[:200],
        customer_email=payment.customer_email,
        customer_tax_id=buyer.get("vat_number") or buyer.get("tax_code", ""),
        file_name=fatturapa.file_name("IT", fiscal["transmitter"]["code"], file_number),
        xml=xml.decode("utf-8"),
        xml_sha256=hashlib.sha256(xml).hexdigest(),
    )


def _paid_reason(payment: Payment, local: datetime) -> str:
    method = "addebito SEPA" if payment.method == "sepa_debit" else "carta di pagamento"
    return latin1_lenient(
        f"Pagata il {local:%d/%m/%Y} con {method} (rif. {payment.provider_id or ''})", 200
    )


def invoice_issue(*, payment: Payment, at: datetime) -> Invoice | None:
    """The invoice of a payment that just succeeded with invoice details, or None (no details,
    or an invoice exists). Raises CannotInvoice when the shop's data cannot make one."""
    if not payment.invoice_details:
        return None
    existing = Invoice.objects.filter(payment=payment, kind=InvoiceKind.INVOICE).first()
    if existing is not None:
        return existing
    profile = _profile(payment.merchant)
    rate, nature, reference = _tax(payment, profile)
    local = _local(at, payment.merchant)
    description = latin1_lenient(payment.link.description, 1000) or "Pagamento"
    lines, summary, totals = _amounts(payment.amount, rate, nature, reference, description)
    extra = {
        "lines": lines,
        "summary": summary,
        "totals": totals,
        "stamp_duty": _stamp_duty(nature, payment.amount, payment.currency),
        "reasons": [_paid_reason(payment, local)],
        "payment": {
            "code": fatturapa.payment_method_code(payment.method),
            "date": local.date().isoformat(),
            "amount": payment.amount,
            "reference": (payment.provider_id or "")[:60],
        },
    }
    return _issue(
        kind=InvoiceKind.INVOICE,
        payment=payment,
        at=at,
        gross=payment.amount,
        fiscal_extra=extra,
        profile=profile,
    )


def credit_note_issue(*, refund: Refund, at: datetime) -> Invoice | None:
    """The credit note of a refund of an invoiced payment, for the refunded amount, naming the
    invoice it corrects (DatiFattureCollegate). None when the payment has no invoice."""
    existing = Invoice.objects.filter(refund=refund).first()
    if existing is not None:
        return existing
    payment = refund.payment
    original = Invoice.objects.filter(payment=payment, kind=InvoiceKind.INVOICE).first()
    if original is None:
        return None
    first = original.snapshot["fiscal"]["summary"][0]
    rate, nature = first["rate"], first.get("nature", "")
    description = latin1_lenient(
        f"Storno fattura {original.number}: {payment.link.description}", 1000
    )
    lines, summary, totals = _amounts(
        refund.amount, rate, nature, first.get("reference", ""), description
    )
    reasons = [f"Rimborso della fattura n. {original.number} del {original.issue_date:%d/%m/%Y}"]
    if refund.reason:
        reasons.append(latin1_lenient(refund.reason, 200))
    extra = {
        "lines": lines,
        "summary": summary,
        "totals": totals,
        "stamp_duty": _stamp_duty(nature, refund.amount, payment.currency),
        "reasons": [reason for reason in reasons if reason],
        "related": {"number": original.number, "date": original.issue_date.isoformat()},
    }
    return _issue(
        kind=InvoiceKind.CREDIT_NOTE,
        payment=payment,
        at=at,
        gross=refund.amount,
        fiscal_extra=extra,
        profile=_profile(payment.merchant),
        refund=refund,
        original=original,
    )


def issue_safely(payment: Payment, issue: Callable[[], Invoice | None]) -> Invoice | None:
    """Run `issue` in a savepoint: if the shop's data cannot make the invoice, the payment or
    the refund still goes through, its number taken back, and the payment's timeline says why.
    Money recorded comes first: even an unexpected error here is logged, never raised into the
    finalization that records the payment or the refund."""
    try:
        with transaction.atomic():
            return issue()
    except CannotInvoice as error:
        reason = str(error)
        logger.warning("no invoice for payment %s: %s", payment.pk, reason)
    except Exception:  # see the docstring; the traceback goes to the log
        reason = _("an unexpected error, reported to the operator")
        logger.exception("no invoice for payment %s", payment.pk)
    PaymentEvent.objects.create(
        payment=payment,
        kind="invoice_not_issued",
        message=_("No invoice was issued: %(reason)s.") % {"reason": reason},
    )
    return None


# --- The courtesy copy ----------------------------------------------------------------------------


def invoice_ensure_pdf(invoice_id: int) -> Invoice:
    """Render and store the PDF courtesy copy unless a stored copy exists. Safe to run again."""
    return document_ensure_pdf(Invoice.objects.get(pk=invoice_id))


def invoice_download_token(invoice: Invoice) -> str:
    return signing.Signer(salt=LINK_SALT).sign_object(
        {"i": invoice.pk, "n": invoice.number}, compress=True
    )


def invoice_public_url(invoice: Invoice) -> str:
    """The customer's signed link to the courtesy copy (emails, the result page)."""
    return settings.SITE_URL + reverse(
        "receipts:public_download", args=[invoice_download_token(invoice)]
    )
