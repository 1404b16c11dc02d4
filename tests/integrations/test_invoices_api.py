"""Invoices through the API: links carrying the customer's invoice details, the shop's invoices
and credit notes (list, detail, XML, PDF; another shop's 404), and the invoice.issued webhook."""

from __future__ import annotations

import uuid

import pytest

from integrations import webhooks as outbound
from integrations.models import WebhookDelivery, WebhookEndpoint
from links.models import PaymentLink
from merchants.models import FiscalProfile
from receipts.models import Invoice
from tests.receipts.test_invoices import paid, refund
from tests.support.api import LINK
from tests.support.invoices import BUSINESS, PERSON

pytestmark = pytest.mark.django_db

CUSTOMER = {**BUSINESS, "vat_number": "IT01234560017", "sdi_code": "m5uxcr1"}


@pytest.fixture
def profile(tenants) -> FiscalProfile:
    return FiscalProfile.objects.create(merchant=tenants[0].merchant, invoicing="request")


def test_a_link_created_with_invoice_details_returns_and_keeps_them(api, profile):
    response = api.post_json("/api/v1/links", {**LINK, "invoice": CUSTOMER})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["invoice"]["vat_number"] == "01234560017"
    assert body["invoice"]["sdi_code"] == "M5UXCR1"
    assert body["invoice"]["country"] == "IT"
    link = PaymentLink.objects.get(pk=body["id"])
    assert link.invoice_details["company"] == "Rossi Forniture S.r.l."
    assert api.get(f"/api/v1/links/{link.pk}").json()["invoice"] == body["invoice"]


def test_a_link_without_invoice_details_reads_null(api, profile):
    assert api.post_json("/api/v1/links", LINK).json()["invoice"] is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vat_number": "01234560018"}, "vat_number", "check digit"),
        ({"company": "Αθήνα A.E."}, "company", "Latin letters"),
        ({"sdi_code": ""}, "sdi_code", "SDI recipient code or its PEC"),
        ({"kind": "alien"}, "kind", "not a valid choice"),
    ],
)
def test_wrong_invoice_details_are_a_400_and_create_nothing(api, profile, changes, field, message):
    response = api.post_json("/api/v1/links", {**LINK, "invoice": {**CUSTOMER, **changes}})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert message in " ".join(body["errors"]["invoice"][field])
    assert not PaymentLink.objects.exists()


def test_an_idempotent_retry_returns_the_same_link(api, profile):
    first = api.post_json(
        "/api/v1/links", {**LINK, "invoice": CUSTOMER}, **{"Idempotency-Key": "k-1"}
    )
    again = api.post_json(
        "/api/v1/links", {**LINK, "invoice": CUSTOMER}, **{"Idempotency-Key": "k-1"}
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert PaymentLink.objects.count() == 1


@pytest.fixture
def documents(tenants, profile, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        payment = paid(tenants[0].merchant, PERSON)
        refund(payment, 1000)
    return Invoice.objects.order_by("kind")


def test_the_shop_lists_reads_and_downloads_its_invoices(api, documents):
    invoice, note = documents

    listed = api.get("/api/v1/invoices").json()["results"]
    detail = api.get(f"/api/v1/invoices/{invoice.public_id}").json()
    xml = api.get(f"/api/v1/invoices/{invoice.public_id}/xml")
    pdf = api.get(f"/api/v1/invoices/{note.public_id}/pdf")

    assert {item["number"] for item in listed} == {"FT-2026-000001", "NC-2026-000001"}
    assert detail["kind"] == "invoice"
    assert detail["document_type"] == "TD01"
    assert detail["date"] == "2026-12-05"
    assert (detail["amount"], detail["taxable_amount"], detail["vat_amount"]) == (
        12200,
        10000,
        2200,
    )
    assert detail["customer_name"] == "Mario Rossi"
    assert detail["customer_tax_id"] == "RSSMRA85T10A562S"
    assert detail["payment"] == str(invoice.payment.public_id)
    assert detail["original"] is None
    assert xml.status_code == 200
    assert xml["Content-Type"] == "application/xml"
    assert xml.content.decode() == invoice.xml
    assert f'filename="{invoice.file_name}"' in xml["Content-Disposition"]
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    credit = api.get(f"/api/v1/invoices/{note.public_id}").json()
    assert credit["kind"] == "credit_note"
    assert credit["original"] == str(invoice.public_id)
    assert credit["refund"] == str(note.refund.public_id)


def test_filters(api, documents):
    invoice, _note = documents

    def numbers(query: str) -> list[str]:
        response = api.get(f"/api/v1/invoices?{query}")
        assert response.status_code == 200, response.json()
        return [item["number"] for item in response.json()["results"]]

    assert numbers("kind=credit_note") == ["NC-2026-000001"]
    assert numbers("issued_from=2026-12-06") == []
    assert numbers("issued_to=2026-12-05&kind=invoice") == ["FT-2026-000001"]
    assert len(numbers(f"payment={invoice.payment.public_id}")) == 2
    assert numbers(f"payment={uuid.uuid4()}") == []
    assert api.get("/api/v1/invoices?issued_from=5/12/2026").status_code == 400
    assert api.get("/api/v1/invoices?kind=receipt").status_code == 400
    assert api.get("/api/v1/invoices?payment=nope").status_code == 400


def test_another_shop_gets_404(tenants, documents):
    other = tenants[1].client()
    invoice = documents[0]

    assert other.get("/api/v1/invoices").json()["results"] == []
    for suffix in ("", "/xml", "/pdf"):
        response = other.get(f"/api/v1/invoices/{invoice.public_id}{suffix}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert other.get("/api/v1/invoices/not-a-uuid").status_code == 404


def test_invoice_issued_is_sent_to_subscribed_endpoints(tenants, profile, receiver):
    endpoint, _secret = outbound.webhook_endpoint_create(
        merchant=tenants[0].merchant, url=receiver.url, events=["invoice.issued"], actor=None
    )

    payment = paid(tenants[0].merchant, PERSON)
    refund(payment, 1000)

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    assert [d.event_type for d in deliveries] == ["invoice.issued", "invoice.issued"]
    first, second = (d.payload["data"]["invoice"] for d in deliveries)
    assert (first["number"], first["kind"]) == ("FT-2026-000001", "invoice")
    assert (second["number"], second["kind"]) == ("NC-2026-000001", "credit_note")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).events == ["invoice.issued"]


def test_a_shop_that_issues_no_invoices_is_told_so(api, tenants):
    FiscalProfile.objects.create(merchant=tenants[0].merchant, invoicing="off")

    response = api.post_json("/api/v1/links", {**LINK, "invoice": CUSTOMER})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invoicing_off"
    assert "does not issue electronic invoices" in body["errors"]["invoice"][0]
    assert not PaymentLink.objects.exists()
