"""A customer's request to erase their data (GDPR art. 17): `manage.py erase_customer_data`."""

from __future__ import annotations

import secrets

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations.models import WebhookDelivery, WebhookEndpoint
from links.models import Payment, PaymentLink, Refund
from links.notifications import link_send_email
from merchants.models import FiscalProfile
from receipts.models import Invoice, Receipt
from receipts.services import receipt_ensure_pdf, refund_note_issue
from tests.support.documents import finalize
from tests.support.factories import MerchantFactory, PaymentLinkFactory
from vpos.audit import Action
from vpos.crypto import encrypt
from vpos.documents import documents
from vpos.models import AuditEntry, OutboxEmail

pytestmark = pytest.mark.django_db

CARLA = "Carla.Neri@example.com"
OTHER = "altro@example.com"


@pytest.fixture
def customer(shop):
    """Carla paid two links of the shop, one sent to her by email; another customer paid too."""
    sent_link = PaymentLinkFactory(
        merchant=shop.merchant, customer_email=CARLA, customer_name="Carla Neri"
    )
    link_send_email(link=sent_link, to=CARLA, sent_by=shop.owner.user)
    paid = finalize(sent_link, customer_email=CARLA.lower(), customer_name="Carla Neri")
    receipt = receipt_ensure_pdf(receipt_id=paid.receipt.pk)
    other = finalize(
        PaymentLinkFactory(merchant=shop.merchant), customer_email=OTHER, customer_name="Altro"
    )
    endpoint = WebhookEndpoint.objects.create(
        merchant=shop.merchant,
        url="http://127.0.0.1:9/hook",
        events=["payment.succeeded"],
        secret_encrypted=encrypt("whsec_x"),
    )
    for address in (CARLA, OTHER):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=f"evt_{secrets.token_hex(8)}",
            event_type="payment.succeeded",
            payload={"data": {"customer_email": address}},
            status=WebhookDelivery.Status.SUCCEEDED,
        )
    return {"link": sent_link, "payment": paid, "receipt": receipt, "other": other}


def erase(*args: str) -> None:
    call_command("erase_customer_data", "--email", CARLA, "--reference", "REQ-7", *args)


def test_erasure_empties_what_names_the_customer_and_keeps_the_receipt(shop, customer):
    pdf = documents.open(customer["receipt"].pdf.name).read()

    erase()

    link = PaymentLink.objects.get(pk=customer["link"].pk)
    assert (link.customer_email, link.customer_name) == ("", "")
    payment = Payment.objects.get(pk=customer["payment"].pk)
    assert (payment.customer_email, payment.customer_name) == ("", "")
    sent = OutboxEmail.objects.get(kind="link")
    assert (sent.to_email, sent.body_text, sent.body_html) == ("", "", "")
    assert sent.purged_at is not None
    assert not OutboxEmail.objects.filter(to_email__iexact=CARLA).exists()
    payloads = [d.payload for d in WebhookDelivery.objects.order_by("pk")]
    assert payloads == [{}, {"data": {"customer_email": OTHER}}]
    assert not AuditEntry.objects.filter(summary__icontains=CARLA).exists()
    # The fiscal document stays as issued: the law requires it for 10 years.
    receipt = Receipt.objects.get(pk=customer["receipt"].pk)
    assert receipt.customer_name == "Carla Neri"
    assert documents.open(receipt.pdf.name).read() == pdf
    # Another customer of the same shop is untouched.
    other = Payment.objects.get(pk=customer["other"].pk)
    assert (other.customer_email, other.customer_name) == (OTHER, "Altro")


def test_the_erasure_is_in_the_shops_audit_log_without_the_address(shop, customer, capsys):
    erase()

    entry = AuditEntry.objects.get(action=Action.CUSTOMER_DATA_ERASED)
    assert entry.merchant == shop.merchant
    assert entry.summary == "Customer data erased on request (REQ-7)"
    assert entry.data["reference"] == "REQ-7"
    assert entry.data["payments"] == 1
    assert entry.data["links"] == 1
    assert CARLA.lower() not in str(entry.data).lower()
    out = capsys.readouterr().out
    assert "fiscal documents kept (receipts, refund notes): 1" in out
    assert "Bottega Uno" in out


def test_refund_notes_are_counted_among_the_kept_documents(shop, customer, capsys):
    payment = customer["payment"]
    refund = Refund.objects.create(
        merchant=shop.merchant,
        payment=payment,
        amount=100,
        currency=payment.currency,
        status=Refund.Status.SUCCEEDED,
    )
    refund_note_issue(refund=refund, at=timezone.now())

    erase("--dry-run")

    assert "fiscal documents kept (receipts, refund notes): 2" in capsys.readouterr().out


def test_a_dry_run_counts_and_changes_nothing(shop, customer, capsys):
    erase("--dry-run")

    out = capsys.readouterr().out
    assert "payments would be erased: 1" in out
    assert Payment.objects.get(pk=customer["payment"].pk).customer_email == CARLA.lower()
    assert OutboxEmail.objects.filter(to_email__iexact=CARLA).exists()
    assert not AuditEntry.objects.filter(action=Action.CUSTOMER_DATA_ERASED).exists()


def test_limited_to_one_shop_it_leaves_the_customers_data_in_another(shop, customer):
    elsewhere = MerchantFactory(name="Bottega Tre")
    theirs = finalize(PaymentLinkFactory(merchant=elsewhere), customer_email=CARLA)

    erase("--shop", str(shop.merchant.public_id))

    assert Payment.objects.get(pk=theirs.pk).customer_email == CARLA
    assert Payment.objects.get(pk=customer["payment"].pk).customer_email == ""
    assert not AuditEntry.objects.filter(
        merchant=elsewhere, action=Action.CUSTOMER_DATA_ERASED
    ).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-address", "--reference", "R"], "not an email address"),
        (["--email", CARLA, "--reference", "  "], "--reference must not be empty"),
        (["--email", CARLA, "--reference", "R", "--shop", "nope"], "no shop with id"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message_and_change_nothing(customer, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("erase_customer_data", *args)
    assert Payment.objects.get(pk=customer["payment"].pk).customer_email == CARLA.lower()


def test_erasure_empties_invoice_details_and_keeps_the_invoice(shop):
    FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")
    details = {
        "kind": "private",
        "first_name": "Carla",
        "last_name": "Neri",
        "tax_code": "RSSMRA85T10A562S",
        "address": "Via Po 1",
        "postal_code": "10121",
        "city": "Torino",
        "province": "TO",
        "country": "IT",
    }
    link = PaymentLinkFactory(merchant=shop.merchant, customer_email=CARLA, invoice_details=details)
    paid = finalize(link, customer_email=CARLA, invoice_details=details)
    invoice = Invoice.objects.get(payment=paid)

    erase()

    link.refresh_from_db()
    paid.refresh_from_db()
    assert link.invoice_details == {}
    assert paid.invoice_details == {}
    # The invoice stays as issued: a fiscal document, kept for 10 years.
    invoice.refresh_from_db()
    assert invoice.customer_name == "Carla Neri"
    assert "RSSMRA85T10A562S" in invoice.xml
