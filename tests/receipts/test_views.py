"""The shop's receipt pages: who may open them, filters, CSV, and ZIP exports for the accountant."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse

from receipts import services
from receipts.models import Receipt, ReceiptExport
from receipts.services import export_build
from tests.support.documents import finalize, pdf_text, stream_bytes
from tests.support.factories import PaymentLinkFactory
from vpos.documents import documents


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def issue(merchant, day: date, **payment_fields: Any) -> Receipt:
    link = PaymentLinkFactory(merchant=merchant, amount=12200, language="en")
    return finalize(link, at=noon(day), **payment_fields).receipt


# --- Who may open what --------------------------------------------------------------------------


@dataclass
class Targets:
    receipt: Receipt
    export: ReceiptExport
    other_receipt: Receipt
    other_export: ReceiptExport


def done_export(merchant, receipt: Receipt) -> ReceiptExport:
    day = receipt.issued_at.date()
    export = ReceiptExport.objects.create(merchant=merchant, date_from=day, date_to=day)
    return export_build(export_id=export.pk)


@pytest.fixture
def targets(shop) -> Targets:
    other = shop.outsider.merchant
    receipt = issue(shop.merchant, date(2026, 2, 10))
    other_receipt = issue(other, date(2026, 2, 10))
    return Targets(
        receipt=receipt,
        export=done_export(shop.merchant, receipt),
        other_receipt=other_receipt,
        other_export=done_export(other, other_receipt),
    )


# URL name -> (HTTP method, the object its URL names, the answer for a member of the shop)
PAGES: dict[str, tuple[str, str | None, int]] = {
    "receipts:list": ("get", None, 200),
    "receipts:pdf": ("get", "receipt", 200),
    "receipts:csv": ("get", None, 200),
    "receipts:export_create": ("post", None, 302),
    "receipts:export_detail": ("get", "export", 200),
    "receipts:export_download": ("get", "export", 200),
}
EXPORT_FORM = {"date_from": "2026-02-01", "date_to": "2026-02-28"}


def url_for(name: str, shop_id: Any, target: Any | None) -> str:
    return reverse(name, args=[shop_id] + ([target.pk] if target is not None else []))


def request(client, name: str, url: str):
    method = PAGES[name][0]
    return client.post(url, EXPORT_FORM) if method == "post" else client.get(url)


@pytest.mark.parametrize("actor", ["owner", "staff"])
@pytest.mark.parametrize("name", list(PAGES))
def test_members_of_the_shop_can_use_every_receipt_page(shop, targets, client_as, actor, name):
    _method, target, expected = PAGES[name]
    url = url_for(name, shop.merchant.public_id, getattr(targets, target) if target else None)

    response = request(client_as(actor), name, url)

    assert response.status_code == expected
    if name == "receipts:export_create":
        assert response.url.startswith(f"/s/{shop.merchant.public_id}/receipts/exports/")


@pytest.mark.parametrize("name", list(PAGES))
def test_a_member_of_another_shop_gets_404(shop, targets, client_as, name):
    _method, target, _ok = PAGES[name]
    url = url_for(name, shop.merchant.public_id, getattr(targets, target) if target else None)
    exports_before = ReceiptExport.objects.count()

    response = request(client_as("outsider"), name, url)

    assert response.status_code == 404
    assert ReceiptExport.objects.count() == exports_before


@pytest.mark.parametrize("name", list(PAGES))
def test_anonymous_visitors_are_sent_to_log_in(shop, targets, client_as, name):
    _method, target, _ok = PAGES[name]
    url = url_for(name, shop.merchant.public_id, getattr(targets, target) if target else None)

    response = request(client_as("anonymous"), name, url)

    assert response.status_code == 302
    assert response.url.startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("actor", ["owner", "staff"])
@pytest.mark.parametrize("name", [n for n, (_m, target, _s) in PAGES.items() if target])
def test_another_shops_receipt_or_export_through_our_shop_is_404(
    shop, targets, client_as, actor, name
):
    target = PAGES[name][1]
    url = url_for(name, shop.merchant.public_id, getattr(targets, f"other_{target}"))

    response = client_as(actor).get(url)

    assert response.status_code == 404


# --- The list: filters and search ---------------------------------------------------------------


@pytest.fixture
def four_receipts(shop) -> list[Receipt]:
    return [
        issue(shop.merchant, date(2026, 1, 10), customer_name="Anna Bianchi"),
        issue(shop.merchant, date(2026, 2, 5), customer_email="mario.rossi@example.com"),
        issue(shop.merchant, date(2026, 2, 20), customer_name="Giulia Verdi"),
        issue(shop.merchant, date(2026, 3, 1), customer_name="Luca Rossi"),
    ]


def listed(response) -> list[str]:
    return [r.number for r in response.context["page_obj"].object_list]


def test_list_shows_the_shops_receipts_newest_first(shop, four_receipts, client_as):
    issue(shop.outsider.merchant, date(2026, 2, 7))

    response = client_as("staff").get(reverse("receipts:list", args=[shop.merchant.public_id]))

    assert response.status_code == 200
    assert listed(response) == ["2026-000004", "2026-000003", "2026-000002", "2026-000001"]
    content = response.content.decode()
    assert "€122.00" in content
    assert "Anna Bianchi" in content
    assert reverse("receipts:pdf", args=[shop.merchant.public_id, four_receipts[0].pk]) in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date_from": "2026-02-01", "date_to": "2026-02-28"}, ["2026-000003", "2026-000002"]),
        ({"date_from": "2026-02-20"}, ["2026-000004", "2026-000003"]),
        ({"date_to": "2026-02-05"}, ["2026-000002", "2026-000001"]),
        ({"q": "2026-000003"}, ["2026-000003"]),
        ({"q": "rossi"}, ["2026-000004", "2026-000002"]),  # a name and an email
        ({"q": "Bianchi", "date_from": "2026-02-01"}, []),
    ],
)
def test_list_filters_by_date_and_searches_number_and_customer(
    shop, four_receipts, client_as, query, expected
):
    response = client_as("owner").get(
        reverse("receipts:list", args=[shop.merchant.public_id]), query
    )

    assert response.status_code == 200
    assert listed(response) == expected
    if not expected:
        assert "No receipts match these filters." in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2026-13-45"}, "Enter a valid date."),
        ({"date_to": "yesterday"}, "Enter a valid date."),
        (
            {"date_from": "2026-03-01", "date_to": "2026-02-01"},
            "The start date is after the end date.",
        ),
    ],
)
@pytest.mark.parametrize("name", ["receipts:list", "receipts:csv"])
def test_bad_dates_get_a_clear_message_not_an_error(
    shop, four_receipts, client_as, query, message, name
):
    response = client_as("owner").get(reverse(name, args=[shop.merchant.public_id]), query)

    assert response.status_code == 400
    assert message in response.content.decode()


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_streams_only_the_filtered_receipts(shop, four_receipts, client_as):
    response = client_as("owner").get(
        reverse("receipts:csv", args=[shop.merchant.public_id]),
        {"date_from": "2026-02-01", "date_to": "2026-02-28"},
    )

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(stream_bytes(response).decode())))
    assert rows[0][:3] == ["Number", "Issued", "Amount"]
    assert [(row[0], row[2], row[3]) for row in rows[1:]] == [
        ("2026-000003", "122.00", "EUR"),
        ("2026-000002", "122.00", "EUR"),
    ]
    assert rows[1][4] == "Giulia Verdi"
    assert rows[2][5] == "mario.rossi@example.com"


def test_csv_searches_like_the_list(shop, four_receipts, client_as):
    response = client_as("staff").get(
        reverse("receipts:csv", args=[shop.merchant.public_id]), {"q": "rossi"}
    )

    rows = list(csv.reader(io.StringIO(stream_bytes(response).decode())))
    assert [row[0] for row in rows[1:]] == ["2026-000004", "2026-000002"]


def test_receipt_csv_cells_never_become_spreadsheet_formulas(shop, client_as):
    """A customer typed the name; the accountant opens the file: it must stay text."""
    issue(shop.merchant, date(2026, 2, 5), customer_name='=HYPERLINK("http://x")')

    response = client_as("owner").get(reverse("receipts:csv", args=[shop.merchant.public_id]))

    rows = list(csv.reader(io.StringIO(stream_bytes(response).decode())))
    assert rows[1][4] == '\'=HYPERLINK("http://x")'


# --- ZIP exports ---------------------------------------------------------------------------------


def export_url(shop, name: str, export: ReceiptExport | None = None) -> str:
    return url_for(name, shop.merchant.public_id, export)


def test_zip_export_has_exactly_the_pdfs_of_the_range(
    shop, four_receipts, client_as, django_capture_on_commit_callbacks
):
    issue(shop.outsider.merchant, date(2026, 2, 10))  # another shop's, in the same range
    client = client_as("owner")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            export_url(shop, "receipts:export_create"),
            {"date_from": "2026-02-01", "date_to": "2026-02-28"},
        )
    export = ReceiptExport.objects.get(merchant=shop.merchant)
    assert response.status_code == 302
    assert response.url == export_url(shop, "receipts:export_detail", export)

    page = client.get(response.url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "2 receipts are ready." in content
    assert 'aria-valuenow="100"' in content
    download = export_url(shop, "receipts:export_download", export)
    assert download in content

    zipped = client.get(download)
    assert zipped.status_code == 200
    assert zipped["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(stream_bytes(zipped)))
    assert sorted(archive.namelist()) == ["receipt-2026-000002.pdf", "receipt-2026-000003.pdf"]
    for number in ("2026-000002", "2026-000003"):
        assert number in pdf_text(archive.read(f"receipt-{number}.pdf"))


def test_of_two_runs_of_one_export_at_once_the_first_to_finish_keeps_its_zip(
    shop, four_receipts, monkeypatch
):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, date_from=date(2026, 2, 1), date_to=date(2026, 2, 28)
    )
    ensure_pdf = services.receipt_ensure_pdf
    overtaken: list[int] = []

    def overtaking(*, receipt_id: int) -> Receipt:
        if not overtaken:  # a duplicated task starts and finishes while this one writes
            overtaken.append(receipt_id)
            export_build(export_id=export.pk)
        return ensure_pdf(receipt_id=receipt_id)

    monkeypatch.setattr(services, "receipt_ensure_pdf", overtaking)

    built = export_build(export_id=export.pk)

    assert overtaken
    assert (built.status, built.total, built.done) == (ReceiptExport.Status.DONE, 2, 2)
    assert documents.listdir("exports")[1] == [built.file.name.removeprefix("exports/")]
    with documents.open(built.file.name, "rb") as fh, zipfile.ZipFile(fh) as archive:
        assert sorted(archive.namelist()) == [
            "receipt-2026-000002.pdf",
            "receipt-2026-000003.pdf",
        ]


def test_export_page_shows_progress_while_building(shop, four_receipts, client_as):
    client = client_as("staff")

    # Without the commit the task has not run: the export is queued.
    response = client.post(
        export_url(shop, "receipts:export_create"),
        {"date_from": "2026-01-01", "date_to": "2026-03-31"},
    )
    queued = client.get(response.url).content.decode()
    assert "Queued: the export starts in a moment." in queued
    assert 'http-equiv="refresh"' in queued
    assert "Download ZIP" not in queued

    export = ReceiptExport.objects.get(merchant=shop.merchant)
    ReceiptExport.objects.filter(pk=export.pk).update(
        status=ReceiptExport.Status.RUNNING, total=4, done=1
    )
    running = client.get(response.url).content.decode()
    assert "Building: 1 of 4 receipts." in running
    assert 'aria-valuenow="25"' in running

    # Not ready, so nothing to download yet.
    assert client.get(export_url(shop, "receipts:export_download", export)).status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        # 401 days, both ends included
        (
            {"date_from": "2025-01-01", "date_to": "2026-02-05"},
            "Export at most 400 days at a time.",
        ),
        (
            {"date_from": "2026-03-01", "date_to": "2026-02-01"},
            "The start date is after the end date.",
        ),
        ({"date_from": "2026-02-30", "date_to": "2026-03-01"}, "Enter a valid date."),
        ({"date_from": "", "date_to": "2026-03-01"}, "This field is required."),
    ],
)
def test_an_export_over_400_days_or_reversed_is_refused(shop, client_as, form, message):
    response = client_as("owner").post(export_url(shop, "receipts:export_create"), form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReceiptExport.objects.exists()


def test_an_export_of_exactly_400_days_is_accepted(shop, client_as):
    response = client_as("owner").post(
        export_url(shop, "receipts:export_create"),
        {"date_from": "2025-01-01", "date_to": "2026-02-04"},  # 400 days, both ends included
    )

    assert response.status_code == 302
    assert ReceiptExport.objects.filter(merchant=shop.merchant).count() == 1
