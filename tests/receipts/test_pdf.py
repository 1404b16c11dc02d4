"""What the customer reads on the receipt PDF, in Italian and in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from receipts.services import receipt_ensure_pdf
from tests.support.documents import finalize, pdf_text
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import payment_intent

PAID_AT = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)  # 11:00 in Rome

# The amounts as each language writes them (babel: it_IT and en_IE).
AMOUNTS = {
    "it": {"total": "122,00 €", "taxable": "100,00 €", "vat": "22,00 €", "zero": "0,00 €"},
    "en": {"total": "€122.00", "taxable": "€100.00", "vat": "€22.00", "zero": "€0.00"},
}


def receipt_pdf_text(payment) -> str:
    receipt = receipt_ensure_pdf(receipt_id=payment.receipt.pk)
    with receipt.pdf.open("rb") as fh:
        return pdf_text(fh.read())


@pytest.fixture
def merchant(shop):
    merchant = shop.merchant
    merchant.legal_name = "Bottega Uno di Rossi S.r.l."
    merchant.vat_number = "01234560017"
    merchant.tax_code = "RSSMRA80A01F205X"
    merchant.save()
    return merchant


def vat_link(merchant, language: str, *, vat_rate: int, vat_exemption: str = ""):
    return PaymentLinkFactory(
        merchant=merchant,
        amount=12200,
        currency="EUR",
        language=language,
        description="Restauro sedia impagliata",
        reference="ORD-2026-0042",
        vat_rate=vat_rate,
        vat_exemption=vat_exemption,
    )


@pytest.mark.parametrize("language", ["it", "en"])
def test_receipt_shows_number_amount_seller_customer_and_card(merchant, language):
    link = vat_link(merchant, language, vat_rate=22)
    payment = finalize(
        link,
        at=PAID_AT,
        customer_name="Mario Rossi",
        customer_email="mario.rossi@example.com",
        card_brand="mastercard",
        card_last4="4444",
    )

    text = receipt_pdf_text(payment)

    assert payment.receipt.number == "2026-000001"
    assert "2026-000001" in text
    assert f"{AMOUNTS[language]['total']}" in text
    assert "Bottega Uno di Rossi S.r.l." in text
    assert "01234560017" in text
    assert "RSSMRA80A01F205X" in text
    assert "Mario Rossi" in text
    assert "mario.rossi@example.com" in text
    assert "Restauro sedia impagliata" in text
    assert "ORD-2026-0042" in text
    assert "Mastercard •••• 4444" in text
    assert payment.provider_id in text


@pytest.mark.parametrize("language", ["it", "en"])
def test_22_percent_vat_shows_taxable_amount_and_vat(merchant, language):
    payment = finalize(vat_link(merchant, language, vat_rate=22), at=PAID_AT)

    text = receipt_pdf_text(payment)

    assert AMOUNTS[language]["taxable"] in text
    assert re.search(rf"22\s?%\s+{re.escape(AMOUNTS[language]['vat'])}", text), text
    assert text.count(AMOUNTS[language]["total"]) >= 2  # amount paid and the VAT table's total


@pytest.mark.parametrize("language", ["it", "en"])
def test_zero_vat_shows_the_exemption_reason(merchant, language):
    reason = "Operazione esente art. 10 DPR 633/72"
    payment = finalize(vat_link(merchant, language, vat_rate=0, vat_exemption=reason), at=PAID_AT)

    text = receipt_pdf_text(payment)

    assert reason in text
    assert text.count(AMOUNTS[language]["total"]) == 3  # paid, taxable (all of it) and total
    assert re.search(rf"\b0\s?%\s+{re.escape(AMOUNTS[language]['zero'])}", text), text
    assert AMOUNTS[language]["taxable"] not in text


def test_no_vat_rate_shows_no_vat_table(merchant):
    payment = finalize(PaymentLinkFactory(merchant=merchant, amount=12200, language="en"))

    text = receipt_pdf_text(payment)

    assert "€122.00" in text
    assert "€100.00" not in text
    assert "VAT 22%" not in text


def test_italian_receipt_dates_in_italian_in_the_shops_time_zone(merchant):
    payment = finalize(vat_link(merchant, "it", vat_rate=22), at=PAID_AT)

    text = receipt_pdf_text(payment)

    # As Italian writes it, lowercase (Rome is UTC+1 in March).
    assert "domenica 15 marzo 2026, 11:00" in text
    assert "march" not in text.lower()


def test_english_receipt_dates_in_english_in_the_shops_time_zone(merchant):
    payment = finalize(vat_link(merchant, "en", vat_rate=22), at=PAID_AT)

    text = receipt_pdf_text(payment)

    assert "15 March 2026, 11:00" in text  # day first, 24-hour clock


def test_italian_receipt_labels_are_italian(merchant):
    reason = "Operazione esente art. 10 DPR 633/72"
    payment = finalize(vat_link(merchant, "it", vat_rate=0, vat_exemption=reason), at=PAID_AT)

    text = receipt_pdf_text(payment)

    assert "Ricevuta di pagamento" in text
    assert "Importo pagato 122,00 €" in text
    assert "Imponibile 122,00 €" in text
    assert f"Esenzione IVA {reason}" in text
    assert "P.IVA 01234560017" in text
    assert "C.F. RSSMRA80A01F205X" in text
    assert "Payment receipt" not in text


def test_english_receipt_labels_the_legal_details(merchant):
    payment = finalize(vat_link(merchant, "en", vat_rate=22), at=PAID_AT)

    text = receipt_pdf_text(payment)

    assert "Payment receipt" in text
    assert "VAT no. 01234560017" in text
    assert "Tax code RSSMRA80A01F205X" in text


def test_receipt_of_a_real_localstripe_payment(
    merchant, stripe_settings, django_capture_on_commit_callbacks
):
    """The card details come from Stripe's PaymentIntent, as in production."""
    from links.payments import payment_refresh
    from tests.support.localstripe import stripe_client

    api = stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)
    link = vat_link(merchant, "en", vat_rate=22)
    pi = payment_intent(api, amount=12200)
    from tests.support.factories import PaymentFactory

    payment = PaymentFactory(link=link, provider_id=pi.id, customer_email="anna@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_refresh(payment=payment, source="browser")

    payment.receipt.refresh_from_db()
    assert payment.receipt.pdf  # rendered by the follow-up task after commit
    with payment.receipt.pdf.open("rb") as fh:
        text = pdf_text(fh.read())
    assert payment.receipt.number in text
    assert "€122.00" in text
    assert "Visa •••• 4242" in text
    assert "anna@example.com" in text
    assert pi.id in text


@pytest.mark.parametrize("longest", [False, True])
def test_the_shops_details_never_leave_a_fragment_alone_on_a_line(merchant, longest):
    merchant.contact_phone = "+39 02 1234567"
    if longest:  # the longest values the shop form accepts
        fields = {f.name: f.max_length for f in type(merchant)._meta.fields}
        merchant.legal_name = ("Bottega artigiana del restauro " * 10)[: fields["legal_name"]]
        merchant.address = ("Via dei Restauratori Fiorentini 1234 " * 8)[: fields["address"]]
        merchant.city = ("San Giovanni in Persiceto " * 5)[: fields["city"]]
        merchant.province = "BO"
        merchant.contact_email = "amministrazione.restauri@" + "bottega-artigiana" * 8 + ".example"
    merchant.save()
    payment = finalize(vat_link(merchant, "it", vat_rate=22), at=PAID_AT)

    lines = [line.strip() for line in receipt_pdf_text(payment).splitlines()]

    assert "+39 02 1234567" in lines  # the phone number whole, on its own line
    assert not [line for line in lines if line.startswith("·")]
    assert not [line for line in lines if line.startswith("(")]  # "(BO)" stays with the city
