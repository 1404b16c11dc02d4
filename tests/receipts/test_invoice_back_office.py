"""The shop's invoices: the list, the XML and PDF of each (owner and staff; another shop's 404),
the accountant's ZIP (owners), and getting the files to the SDI (export or PEC)."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from django.core import mail
from django.urls import reverse

from merchants.models import FiscalProfile
from receipts import delivery
from receipts import tasks as receipt_tasks
from receipts.models import DeliveryStatus, Invoice, ReceiptExport
from receipts.services import export_build
from tests.receipts.test_invoices import AT, paid, refund
from tests.support.invoices import BUSINESS, PERSON
from vpos.documents import documents
from vpos.models import OutboxEmail
from vpos.outbox import outbox_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile(shop) -> FiscalProfile:
    return FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")


@pytest.fixture
def invoiced(shop, profile, django_capture_on_commit_callbacks):
    """Two invoiced payments, one of them partly refunded: two invoices and a credit note."""
    with django_capture_on_commit_callbacks(execute=False):
        first = paid(shop.merchant, BUSINESS)
        paid(shop.merchant, PERSON)
        refund(first, 1000)
    return Invoice.objects.order_by("kind", "sequence")


def list_url(shop) -> str:
    return reverse("receipts:invoices", args=[shop.merchant.public_id])


def doc_url(shop, invoice, what) -> str:
    return reverse(f"receipts:invoice_{what}", args=[shop.merchant.public_id, invoice.public_id])


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_and_staff_see_the_invoices_and_download_them(client_as, shop, invoiced, actor):
    client = client_as(actor)
    invoice = invoiced[0]

    page = client.get(list_url(shop))
    xml = client.get(doc_url(shop, invoice, "xml"))
    pdf = client.get(doc_url(shop, invoice, "pdf"))

    assert page.status_code == 200
    for number in ("FT-2026-000001", "FT-2026-000002", "NC-2026-000001"):
        assert number in page.text
    assert "Rossi Forniture S.r.l." in page.text
    assert xml.status_code == 200
    assert xml["Content-Type"] == "application/xml"
    assert f'filename="{invoice.file_name}"' in xml["Content-Disposition"]
    assert xml.content.decode() == invoice.xml
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"


def test_another_shop_gets_404_for_everything(client_as, shop, invoiced):
    client = client_as("outsider")
    invoice = invoiced[0]

    assert client.get(list_url(shop)).status_code == 404
    assert client.get(doc_url(shop, invoice, "xml")).status_code == 404
    assert client.get(doc_url(shop, invoice, "pdf")).status_code == 404
    # Through the outsider's own shop: the invoice is not theirs.
    own = shop.outsider.merchant.public_id
    assert (
        client.get(reverse("receipts:invoice_xml", args=[own, invoice.public_id])).status_code
        == 404
    )


def test_filters_narrow_the_list(client_as, shop, invoiced):
    client = client_as("staff")

    credit = client.get(list_url(shop), {"kind": "TD04"})
    person = client.get(list_url(shop), {"q": "RSSMRA85T10A562S"})
    none = client.get(list_url(shop), {"date_from": "01/01/2027"})
    wrong = client.get(list_url(shop), {"date_from": "31/12/2026", "date_to": "01/12/2026"})

    assert "NC-2026-000001" in credit.text
    assert "FT-2026-000001" not in credit.text
    assert "FT-2026-000002" in person.text
    assert "FT-2026-000001" not in person.text
    assert "No invoices match these filters" in none.text
    assert wrong.status_code == 400
    assert "The start date is after the end date" in wrong.text


def test_the_list_reads_a_bounded_number_of_queries(
    client_as, shop, invoiced, django_assert_max_num_queries
):
    client = client_as("staff")
    client.get(list_url(shop))
    with django_assert_max_num_queries(12):
        assert client.get(list_url(shop)).status_code == 200


def test_an_empty_list_says_how_invoices_come(client_as, shop):
    page = client_as("owner").get(list_url(shop))

    assert "No invoices yet" in page.text
    assert "Set up electronic invoicing" in page.text
    # The filters and the export form both have dates: each field has an id of its own.
    ids = re.findall(r'id="([^"]+)"', page.text)
    assert len(ids) == len(set(ids))
    assert 'for="export_date_from"' in page.text


def test_an_unknown_invoice_is_404(client_as, shop):
    url = reverse(
        "receipts:invoice_xml",
        args=[shop.merchant.public_id, "00000000-0000-0000-0000-000000000000"],
    )
    assert client_as("owner").get(url).status_code == 404


def export(client, shop) -> ReceiptExport:
    url = reverse("receipts:invoice_export_create", args=[shop.merchant.public_id])
    return client.post(url, {"date_from": "01/12/2026", "date_to": "31/12/2026"})


def test_the_owner_exports_the_xml_files_with_a_summary_and_they_are_marked_exported(
    client_as, shop, invoiced, django_capture_on_commit_callbacks
):
    client = client_as("owner")

    with django_capture_on_commit_callbacks(execute=True):
        response = export(client, shop)

    job = ReceiptExport.objects.get(kind="invoices")
    assert response.status_code == 302
    assert job.status == ReceiptExport.Status.DONE
    assert (job.total, job.percent) == (3, 100)
    detail = client.get(response["Location"])
    assert "3 invoices and credit notes are ready" in detail.text
    download = client.get(
        reverse("receipts:export_download", args=[shop.merchant.public_id, job.pk])
    )
    assert download["Content-Disposition"].startswith('attachment; filename="invoices-20261201')
    with documents.open(job.file.name, "rb") as fh, zipfile.ZipFile(fh) as archive:
        names = sorted(archive.namelist())
        summary = archive.read("riepilogo.csv").decode()
        first = archive.read(invoiced[0].file_name).decode()
    assert names == sorted([*(i.file_name for i in invoiced), "riepilogo.csv"])
    assert first == invoiced[0].xml
    rows = list(csv.reader(io.StringIO(summary)))
    assert len(rows) == 4
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number["FT-2026-000001"][5:9] == ["100.00", "22.00", "122.00", "EUR"]
    assert by_number["NC-2026-000001"][9] == "FT-2026-000001"
    assert {row[10] for row in rows[1:]} == {"Esportata"}  # in the shop's language
    statuses = set(Invoice.objects.values_list("delivery_status", flat=True))
    assert statuses == {DeliveryStatus.EXPORTED}


def test_of_two_runs_of_one_export_at_once_the_first_to_finish_keeps_its_zip(
    shop, invoiced, monkeypatch
):
    job = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="invoices", date_from=AT.date(), date_to=AT.date()
    )
    summary = delivery._csv_summary
    overtaken: list[int] = []

    def summary_then_overtaken(invoices):
        if not overtaken:  # a duplicated task starts and finishes while this one writes
            overtaken.append(job.pk)
            export_build(export_id=job.pk)
        return summary(invoices)

    monkeypatch.setattr(delivery, "_csv_summary", summary_then_overtaken)

    export_build(export_id=job.pk)

    job.refresh_from_db()
    assert overtaken
    assert (job.status, job.total, job.done) == (ReceiptExport.Status.DONE, 3, 3)
    assert documents.listdir("exports")[1] == [job.file.name.removeprefix("exports/")]
    statuses = set(Invoice.objects.values_list("delivery_status", flat=True))
    assert statuses == {DeliveryStatus.EXPORTED}


@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_only_owners_export_invoices(client_as, shop, invoiced, actor, status):
    assert export(client_as(actor), shop).status_code == status
    assert not ReceiptExport.objects.exists()


def test_a_wrong_period_is_explained(client_as, shop, invoiced):
    url = reverse("receipts:invoice_export_create", args=[shop.merchant.public_id])

    response = client_as("owner").post(url, {"date_from": "31/12/2026", "date_to": "1/1/2025"})

    assert response.status_code == 400
    assert "The start date is after the end date" in response.text
    assert not ReceiptExport.objects.exists()


def test_by_pec_each_file_is_emailed_once_to_the_sdi_and_marked_sent(shop, profile, invoiced):
    profile.delivery = "pec"
    profile.save()
    invoice = invoiced[0]

    delivery.invoice_deliver(invoice_id=invoice.pk)
    delivery.invoice_deliver(invoice_id=invoice.pk)  # a retry queues nothing more

    email = OutboxEmail.objects.get(kind="invoice_pec")
    assert email.to_email == "sdi01@pec.fatturapa.it"
    invoice.refresh_from_db()
    assert invoice.delivery_status == DeliveryStatus.PENDING
    assert invoice.delivery_channel == "pec"

    outbox_send(email.pk)
    assert delivery.pec_deliveries_refresh() == 1

    invoice.refresh_from_db()
    assert invoice.delivery_status == DeliveryStatus.SENT
    assert invoice.delivered_at is not None
    sent = mail.outbox[-1]
    assert sent.to == ["sdi01@pec.fatturapa.it"]
    assert sent.attachments[0][0] == invoice.file_name
    assert sent.attachments[0][1].decode() == invoice.xml
    assert sent.attachments[0][2] == "application/xml"


def test_a_pec_email_given_up_on_marks_the_file_not_delivered(shop, profile, invoiced):
    profile.delivery = "pec"
    profile.save()
    invoice = delivery.invoice_deliver(invoice_id=invoiced[0].pk)
    OutboxEmail.objects.filter(kind="invoice_pec").update(
        status=OutboxEmail.Status.FAILED, last_error="550 mailbox unavailable"
    )

    delivery.pec_deliveries_refresh()

    invoice.refresh_from_db()
    assert invoice.delivery_status == DeliveryStatus.FAILED
    assert invoice.delivery_error == "550 mailbox unavailable"


def test_a_refusing_sender_marks_the_file_failed(shop, profile, invoiced, monkeypatch):
    class Refusing:
        name = "intermediary"

        def send(self, invoice):
            raise delivery.DeliveryError("Codice destinatario non valido")

    monkeypatch.setitem(delivery.SENDERS, "export", Refusing)

    invoice = delivery.invoice_deliver(invoice_id=invoiced[0].pk)

    assert invoice.delivery_status == DeliveryStatus.FAILED
    assert invoice.delivery_error == "Codice destinatario non valido"
    assert invoice.delivery_channel == "intermediary"


def test_the_follow_ups_hand_the_file_to_the_sender(shop, profile, invoiced):
    profile.delivery = "pec"
    profile.save()

    receipt_tasks.invoice_followups(invoiced[0].pk)

    assert OutboxEmail.objects.filter(kind="invoice_pec").count() == 1
    assert OutboxEmail.objects.filter(kind="invoice").count() == 1


def test_the_payment_page_links_its_invoice_and_credit_note(client_as, shop, invoiced):
    invoice = invoiced[0]
    page = client_as("staff").get(
        reverse("links:payment_detail", args=[shop.merchant.public_id, invoice.payment.public_id])
    )

    assert doc_url(shop, invoice, "pdf") in page.text
    assert doc_url(shop, invoice, "xml") in page.text
    assert "Credit note NC-2026-000001" in page.text
