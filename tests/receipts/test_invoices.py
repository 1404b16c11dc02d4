"""Electronic invoices (FatturaPA): issued inside the finalization of a payment that carries the
customer's invoice details, credit notes inside refunds, every file checked against the official
schema vendored in receipts/fatturapa/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from django.urls import reverse

from links.models import PaymentEvent, Refund
from links.providers import ProviderRefund
from links.refunds import _refund_succeeded
from merchants.models import FiscalProfile
from receipts import tasks as receipt_tasks
from receipts.fatturapa import schema
from receipts.models import Invoice, InvoiceKind, Receipt
from receipts.recovery import payment_number_to_provider
from receipts.services import sequence_move_past
from tests.support.documents import finalize, pdf_text, stream_bytes
from tests.support.factories import PaymentLinkFactory
from tests.support.invoices import BUSINESS, PERSON
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


@pytest.fixture
def profile(shop) -> FiscalProfile:
    return FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")


def paid(merchant, details, *, amount=12200, vat_rate=22, **fields):
    link = PaymentLinkFactory(
        merchant=merchant, amount=amount, vat_rate=vat_rate, description="Consulenza"
    )
    return finalize(
        link, at=AT, invoice_details=details, customer_email="cliente@example.com", **fields
    )


def xml_of(invoice: Invoice) -> ET.Element:
    schema.validate(invoice.xml)  # every document vpos makes is a valid FatturaPA file
    return ET.fromstring(invoice.xml.encode())  # noqa: S314 - our own file, just validated


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path)
    return None if found is None else found.text


def test_a_payment_with_invoice_details_gets_a_numbered_valid_invoice(shop, profile):
    payment = paid(shop.merchant, BUSINESS)

    invoice = Invoice.objects.get(payment=payment)
    root = xml_of(invoice)
    assert invoice.kind == InvoiceKind.INVOICE
    assert invoice.number == "FT-2026-000001"
    assert invoice.file_name == "IT12345670017_00001.xml"
    assert invoice.customer_name == "Rossi Forniture S.r.l."
    assert root.get("versione") == "FPR12"
    assert text(root, ".//DatiTrasmissione/CodiceDestinatario") == "M5UXCR1"
    assert text(root, ".//CedentePrestatore//IdFiscaleIVA/IdCodice") == "12345670017"
    assert text(root, ".//CessionarioCommittente//IdFiscaleIVA/IdCodice") == "01234560017"
    assert text(root, ".//CessionarioCommittente//Denominazione") == "Rossi Forniture S.r.l."
    assert text(root, ".//DatiGeneraliDocumento/TipoDocumento") == "TD01"
    assert text(root, ".//DatiGeneraliDocumento/Data") == "2026-12-05"
    assert text(root, ".//DatiGeneraliDocumento/ImportoTotaleDocumento") == "122.00"
    assert text(root, ".//DatiRiepilogo/AliquotaIVA") == "22.00"
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == "100.00"
    assert text(root, ".//DatiRiepilogo/Imposta") == "22.00"
    assert text(root, ".//DettaglioPagamento/ModalitaPagamento") == "MP08"
    assert text(root, ".//DettaglioPagamento/ImportoPagamento") == "122.00"
    assert text(root, ".//DatiPagamento/CondizioniPagamento") == "TP02"
    assert invoice.snapshot["totals"] == {"taxable": 10000, "vat": 2200, "total": 12200}
    # The receipt is issued as before, numbered in its own series.
    assert Receipt.objects.get(payment=payment).number == "2026-000001"


def test_a_payment_without_details_gets_its_receipt_and_no_invoice(shop, profile):
    payment = paid(shop.merchant, {})

    assert Receipt.objects.filter(payment=payment).exists()
    assert not Invoice.objects.exists()


def test_a_private_customer_with_a_pec_address(shop, profile):
    invoice = Invoice.objects.get(payment=paid(shop.merchant, PERSON))

    root = xml_of(invoice)
    assert text(root, ".//DatiTrasmissione/CodiceDestinatario") == "0000000"
    assert text(root, ".//DatiTrasmissione/PECDestinatario") == "mario.rossi@pec.example.it"
    assert text(root, ".//CessionarioCommittente//CodiceFiscale") == "RSSMRA85T10A562S"
    assert text(root, ".//CessionarioCommittente//Nome") == "Mario"
    assert text(root, ".//CessionarioCommittente//Cognome") == "Rossi"
    assert root.find(".//CessionarioCommittente//IdFiscaleIVA") is None
    assert invoice.customer_name == "Mario Rossi"


def test_a_business_abroad_gets_the_foreign_recipient_code(shop, profile):
    details = {
        **BUSINESS,
        "vat_number": "136695976",
        "country": "DE",
        "sdi_code": "",
        "postal_code": "10115",
        "city": "Berlin",
        "province": "",
    }
    root = xml_of(Invoice.objects.get(payment=paid(shop.merchant, details)))

    assert text(root, ".//DatiTrasmissione/CodiceDestinatario") == "XXXXXXX"
    assert text(root, ".//CessionarioCommittente//IdFiscaleIVA/IdPaese") == "DE"
    assert text(root, ".//CessionarioCommittente/Sede/CAP") == "00000"
    assert text(root, ".//CessionarioCommittente/Sede/Nazione") == "DE"


def test_a_sepa_debit_is_paid_with_mp19(shop, profile):
    payment = paid(shop.merchant, BUSINESS, method="sepa_debit")

    root = xml_of(Invoice.objects.get(payment=payment))
    assert text(root, ".//DettaglioPagamento/ModalitaPagamento") == "MP19"


def test_the_flat_rate_scheme_invoices_without_vat_and_declares_the_stamp_duty(shop, profile):
    profile.regime = "RF19"
    profile.save()

    root = xml_of(Invoice.objects.get(payment=paid(shop.merchant, BUSINESS, vat_rate=None)))

    assert text(root, ".//CedentePrestatore//RegimeFiscale") == "RF19"
    assert text(root, ".//DatiRiepilogo/AliquotaIVA") == "0.00"
    assert text(root, ".//DatiRiepilogo/Natura") == "N2.2"
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == "122.00"
    assert text(root, ".//DatiRiepilogo/Imposta") == "0.00"
    assert "190/2014" in text(root, ".//DatiRiepilogo/RiferimentoNormativo")
    assert text(root, ".//DatiBollo/ImportoBollo") == "2.00"


def test_no_stamp_duty_up_to_77_47_euro(shop, profile):
    profile.regime = "RF19"
    profile.save()

    root = xml_of(Invoice.objects.get(payment=paid(shop.merchant, BUSINESS, amount=7747)))

    assert root.find(".//DatiBollo") is None


def test_the_profile_rate_applies_when_the_link_names_none(shop, profile):
    profile.vat_rate = 10
    profile.save()

    root = xml_of(Invoice.objects.get(payment=paid(shop.merchant, BUSINESS, vat_rate=None)))

    assert text(root, ".//DatiRiepilogo/AliquotaIVA") == "10.00"
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == "110.91"
    assert text(root, ".//DatiRiepilogo/Imposta") == "11.09"


def test_a_shop_without_a_valid_partita_iva_still_takes_the_payment(shop, profile):
    shop.merchant.vat_number = "12345678901"  # wrong check digit
    shop.merchant.save()

    payment = paid(shop.merchant, BUSINESS)

    assert payment.status == "succeeded"
    assert Receipt.objects.filter(payment=payment).exists()
    assert not Invoice.objects.exists()
    event = PaymentEvent.objects.get(payment=payment, kind="invoice_not_issued")
    assert "Partita IVA" in event.message
    # The number it would have taken went back: the next invoice is still the first.
    shop.merchant.vat_number = "12345670017"
    shop.merchant.save()
    assert Invoice.objects.get(payment=paid(shop.merchant, BUSINESS)).number == "FT-2026-000001"


def test_numbers_and_file_names_follow_on_and_restart_each_year(shop, profile):
    first = Invoice.objects.get(payment=paid(shop.merchant, BUSINESS))
    second = Invoice.objects.get(payment=paid(shop.merchant, PERSON))
    link = PaymentLinkFactory(merchant=shop.merchant, amount=5000)
    next_year = Invoice.objects.get(
        payment=finalize(link, at=datetime(2027, 1, 2, 9, tzinfo=UTC), invoice_details=BUSINESS)
    )

    assert [first.number, second.number, next_year.number] == [
        "FT-2026-000001",
        "FT-2026-000002",
        "FT-2027-000001",
    ]
    # The file progressive never restarts: a file name is never used twice.
    assert [first.file_name, second.file_name, next_year.file_name] == [
        "IT12345670017_00001.xml",
        "IT12345670017_00002.xml",
        "IT12345670017_00003.xml",
    ]


def test_an_intermediary_transmits_under_its_own_tax_code(shop, profile):
    profile.transmitter_code = "RSSMRA85T10A562S"
    profile.save()

    invoice = Invoice.objects.get(payment=paid(shop.merchant, BUSINESS))

    root = xml_of(invoice)
    assert text(root, ".//IdTrasmittente/IdCodice") == "RSSMRA85T10A562S"
    assert text(root, ".//CedentePrestatore//IdFiscaleIVA/IdCodice") == "12345670017"
    assert invoice.file_name == "ITRSSMRA85T10A562S_00001.xml"


def refund(payment, amount: int, reason: str = "") -> Refund:
    pending = Refund.objects.create(
        merchant=payment.merchant,
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason,
    )
    with mock.patch("django.utils.timezone.now", return_value=AT):
        return _refund_succeeded(
            pending.pk, ProviderRefund(id="re_1", amount=amount, succeeded=True)
        )


def test_a_refund_of_an_invoiced_payment_issues_a_credit_note(shop, profile):
    payment = paid(shop.merchant, BUSINESS)
    invoice = Invoice.objects.get(payment=payment)

    refunded = refund(payment, 6100, reason="Reso parziale")

    note = Invoice.objects.get(refund=refunded)
    root = xml_of(note)
    assert note.kind == InvoiceKind.CREDIT_NOTE
    assert note.number == "NC-2026-000001"
    assert note.original == invoice
    assert note.amount == 6100
    assert text(root, ".//TipoDocumento") == "TD04"
    assert text(root, ".//DatiFattureCollegate/IdDocumento") == "FT-2026-000001"
    assert text(root, ".//DatiFattureCollegate/Data") == "2026-12-05"
    assert text(root, ".//ImportoTotaleDocumento") == "61.00"
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == "50.00"
    assert text(root, ".//DatiRiepilogo/Imposta") == "11.00"
    causes = [cause.text for cause in root.iter("Causale")]
    assert "Reso parziale" in causes
    assert root.find(".//DatiPagamento") is None
    assert note.file_name == "IT12345670017_00002.xml"


def test_a_refund_without_an_invoice_issues_no_credit_note(shop, profile):
    payment = paid(shop.merchant, {})

    refund(payment, 1000)

    assert not Invoice.objects.exists()


def test_follow_ups_email_the_courtesy_copy_once(shop, profile, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        payment = paid(shop.merchant, BUSINESS)
    invoice = Invoice.objects.get(payment=payment)

    receipt_tasks.invoice_followups(invoice.pk)
    receipt_tasks.invoice_followups(invoice.pk)  # a retry sends nothing more

    emails = OutboxEmail.objects.filter(kind="invoice")
    assert emails.count() == 1
    email = emails.get()
    assert email.to_email == "cliente@example.com"
    assert "FT-2026-000001" in email.subject
    assert email.attachments[0]["filename"] == "invoice-FT-2026-000001.pdf"
    invoice.refresh_from_db()
    text_of_pdf = pdf_text(invoice.pdf.open("rb").read())
    assert "Rossi Forniture S.r.l." in text_of_pdf
    assert "Copia di cortesia" in text_of_pdf  # the link is in Italian
    assert "FT-2026-000001" in text_of_pdf


def test_the_customer_downloads_the_courtesy_copy_from_the_emailed_link(
    client, shop, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        invoice = Invoice.objects.get(payment=paid(shop.merchant, PERSON))
    receipt_tasks.invoice_followups(invoice.pk)
    email = OutboxEmail.objects.get(kind="invoice")
    url = re.search(r"https?://\S+", email.body_text).group(0)
    path = urlsplit(url).path

    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "Mario Rossi" in pdf_text(stream_bytes(response))
    assert client.get(path.rstrip("/")[:-3] + "abc/").status_code == 400


def test_a_file_that_breaks_the_schema_is_held_back(shop, profile):
    payment = paid(shop.merchant, BUSINESS)
    invoice = Invoice.objects.get(payment=payment)
    Invoice.objects.filter(pk=invoice.pk).update(
        xml=invoice.xml.replace("<Divisa>EUR</Divisa>", "<Divisa>EURO</Divisa>")
    )

    receipt_tasks.invoice_followups(invoice.pk)

    invoice.refresh_from_db()
    assert "Divisa" in invoice.schema_error
    assert not invoice.pdf
    assert not OutboxEmail.objects.filter(kind="invoice").exists()


def test_after_a_restore_no_invoice_number_or_file_name_is_issued_twice(shop, profile):
    """recover_from_provider moves the series past what the provider remembers (the numbers
    and file names written into Stripe's metadata while running)."""
    for remembered in ("FT-2026-000007", "NC-2026-000002", "IT12345670017_0000A.xml"):
        assert sequence_move_past(merchant=shop.merchant, number=remembered)
    assert not sequence_move_past(merchant=shop.merchant, number="FT-2026-000003")

    payment = paid(shop.merchant, BUSINESS)
    invoice = Invoice.objects.get(payment=payment)
    note = Invoice.objects.get(refund=refund(payment, 1000))

    assert invoice.number == "FT-2026-000008"
    assert invoice.file_name == "IT12345670017_0000B.xml"
    assert note.number == "NC-2026-000003"
    assert note.file_name == "IT12345670017_0000C.xml"


def test_the_provider_is_told_the_invoice_number_and_file(shop, profile):
    payment = paid(shop.merchant, BUSINESS)
    invoice = Invoice.objects.get(payment=payment)

    with mock.patch("receipts.recovery.provider_for_payment") as provider_for:
        assert payment_number_to_provider(payment_id=payment.pk)

    provider_for.return_value.annotate_payment.assert_called_once_with(
        payment.provider_id,
        {
            "vpos_receipt": payment.receipt.number,
            "vpos_invoice": invoice.number,
            "vpos_invoice_file": invoice.file_name,
        },
    )


def test_the_payment_timeline_shows_the_invoice_and_the_credit_note(shop, profile, client_as):
    payment = paid(shop.merchant, BUSINESS)
    refund(payment, 1000)

    page = client_as("staff").get(
        reverse("links:payment_detail", args=[shop.merchant.public_id, payment.public_id]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    kinds = list(payment.events.order_by("pk").values_list("kind", "message"))
    assert ("invoice_issued", "FT-2026-000001") in kinds
    assert ("credit_note_issued", "NC-2026-000001") in kinds
    assert "Invoice issued" in page.text
    assert "Credit note issued" in page.text


def test_the_sweep_runs_follow_ups_whose_task_was_lost(
    shop, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task is never queued
        invoice = Invoice.objects.get(payment=paid(shop.merchant, BUSINESS))
    later = invoice.issued_at + timedelta(minutes=3)

    with (
        mock.patch("django.utils.timezone.now", return_value=later),
        mock.patch.object(receipt_tasks.invoice_followups, "delay") as delay,
    ):
        assert receipt_tasks.invoices_followups_sweep() == 1
    delay.assert_called_once_with(invoice.pk)

    receipt_tasks.invoice_followups(invoice.pk)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert receipt_tasks.invoices_followups_sweep() == 0


def test_an_unexpected_error_while_invoicing_never_stops_the_payment(shop, profile):
    with mock.patch("receipts.fatturapa.build_xml", side_effect=RuntimeError("bug")):
        payment = paid(shop.merchant, BUSINESS)

    assert payment.status == "succeeded"
    assert Receipt.objects.filter(payment=payment).exists()
    assert not Invoice.objects.exists()
    event = PaymentEvent.objects.get(payment=payment, kind="invoice_not_issued")
    assert "unexpected error" in event.message
    # Its numbers went back with the savepoint.
    assert Invoice.objects.get(payment=paid(shop.merchant, BUSINESS)).number == "FT-2026-000001"


def test_a_shop_without_a_fiscal_profile_gets_no_invoice_and_is_told(shop):
    payment = paid(shop.merchant, BUSINESS)

    assert payment.status == "succeeded"
    event = PaymentEvent.objects.get(payment=payment, kind="invoice_not_issued")
    assert event.message
