"""Property-based tests: whatever a customer types as their name and address, whatever the amount
and the tax treatment, an invoice vpos issues validates against the official FatturaPA schema, and
its figures add up. What the schema cannot carry is refused at the form, never sent."""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from merchants.fiscal import InvoiceDetailsForm
from merchants.models import FiscalProfile
from receipts.fatturapa import schema
from receipts.invoicing import credit_note_issue
from receipts.models import Invoice
from tests.support.documents import finalize
from tests.support.factories import PaymentLinkFactory
from tests.support.invoices import BUSINESS

pytestmark = pytest.mark.django_db

PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Names and addresses as people type them: Italian accents, other Latin scripts, typographic
# punctuation, the odd emoji or Greek letter, stray spaces and newlines, XML's special characters.
LETTERS = st.one_of(
    st.characters(codec="latin-1", exclude_categories=("Cc",)),
    st.sampled_from(list("àèéìòùÀÈÉÌÒÙçñäöüßøåæ&<>\"'’“”–—…ĆčŁłŒœŠšŽžőű")),
    st.sampled_from(list("αβΩЖж中文😀\u200b\t\n\x00")),
)
TYPED = st.text(LETTERS, min_size=1, max_size=90)
AMOUNTS = st.integers(min_value=50, max_value=99_999_999)
RATES = st.sampled_from([22, 10, 5, 4, None])


def details_for(company: str, address: str, city: str) -> dict[str, str]:
    return {**BUSINESS, "company": company, "address": address, "city": city}


def money(root: ET.Element, path: str) -> Decimal:
    return Decimal(root.find(path).text)


@given(company=TYPED, address=TYPED, city=TYPED, amount=AMOUNTS, rate=RATES, flat=st.booleans())
@PROPERTIES
def test_every_accepted_customer_gets_a_valid_invoice_whose_figures_add_up(
    shop, company, address, city, amount, rate, flat
):
    FiscalProfile.objects.update_or_create(
        merchant=shop.merchant,
        defaults={"invoicing": "request", "regime": "RF19" if flat else "RF01"},
    )
    form = InvoiceDetailsForm(data=details_for(company, address, city))
    if not form.is_valid():
        # Refused, never sent: only for a reason the customer is told.
        assert set(form.errors) <= {"company", "address", "city"}
        assume(False)
    details = form.details()
    for value in (details["company"], details["address"], details["city"]):
        assert all(ord(char) < 0x100 for char in value)
        assert value == value.strip()
        assert "\n" not in value

    link = PaymentLinkFactory(merchant=shop.merchant, amount=amount, vat_rate=rate)
    payment = finalize(link, invoice_details=details)
    invoice = Invoice.objects.get(payment=payment)

    schema.validate(invoice.xml)
    root = ET.fromstring(invoice.xml.encode())  # noqa: S314 - our own file, just validated
    total = money(root, ".//ImportoTotaleDocumento")
    taxable = money(root, ".//DatiRiepilogo/ImponibileImporto")
    vat = money(root, ".//DatiRiepilogo/Imposta")
    rate_written = money(root, ".//DatiRiepilogo/AliquotaIVA")
    assert total == Decimal(amount) / 100
    assert taxable + vat == total
    # The VAT is the rate applied to the taxable amount, within the cent of rounding.
    assert abs(taxable * rate_written / 100 - vat) <= Decimal("0.01")
    assert money(root, ".//DettaglioLinee/PrezzoTotale") == taxable
    assert root.findall(".//CessionarioCommittente//Denominazione")[0].text == details["company"]


# A refund's reason comes through a form or the API, which refuse NUL characters.
REASONS = TYPED.map(lambda text: text.replace("\x00", ""))


@given(refunded=st.integers(min_value=1, max_value=99_999_999), reason=REASONS)
@PROPERTIES
def test_every_credit_note_validates_and_credits_what_was_refunded(shop, refunded, reason):
    FiscalProfile.objects.get_or_create(merchant=shop.merchant)
    link = PaymentLinkFactory(merchant=shop.merchant, amount=99_999_999, vat_rate=22)
    payment = finalize(link, invoice_details=details_for("Rossi S.r.l.", "Via Po 1", "Torino"))
    refund = payment.refunds.create(
        merchant=payment.merchant,
        amount=refunded,
        currency="EUR",
        reason=reason,
        status="succeeded",
        succeeded_at=payment.succeeded_at,
    )

    note = credit_note_issue(refund=refund, at=payment.succeeded_at)

    schema.validate(note.xml)
    root = ET.fromstring(note.xml.encode())  # noqa: S314 - our own file, just validated
    assert money(root, ".//ImportoTotaleDocumento") == Decimal(refunded) / 100
    assert root.find(".//DatiFattureCollegate/IdDocumento").text == note.original.number
