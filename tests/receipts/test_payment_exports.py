"""Payments CSVs too large to download at once: a background export with progress, a download
when ready, a retry when it failed; the file is the instant download's, byte for byte."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.http import QueryDict
from django.urls import reverse

from links.models import PaymentStatus
from receipts import payment_exports
from receipts.models import ReceiptExport
from receipts.services import export_build, exports_purge
from receipts.tasks import receipt_export_build
from tests.support.documents import stream_bytes
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from vpos.documents import documents

ROME = ZoneInfo("Europe/Rome")
FILTERS = {"status": "succeeded", "date_from": "2026-03-01", "sort": "amount"}


@pytest.fixture
def payments(shop) -> list:
    """Five payments of the shop over March (one failed), and one of another shop."""
    link = PaymentLinkFactory(
        merchant=shop.merchant, description='=cmd|"/c calc"', reference="ORD-1", amount=4550
    )
    made = []
    for day, amount, status in [
        (2, 4550, PaymentStatus.SUCCEEDED),
        (3, 1999, PaymentStatus.SUCCEEDED),
        (4, 12000, PaymentStatus.FAILED),
        (5, 750, PaymentStatus.SUCCEEDED),
        (6, 30000, PaymentStatus.SUCCEEDED),
    ]:
        payment = PaymentFactory(
            link=link, amount=amount, status=status, customer_email=f"c{day}@example.com"
        )
        type(payment).objects.filter(pk=payment.pk).update(
            created_at=datetime(2026, 3, day, 23, 30, tzinfo=ROME)
        )
        made.append(payment)
    PaymentFactory(link=PaymentLinkFactory(merchant=shop.outsider.merchant))
    return made


def exports_url(shop, query: str = "") -> str:
    url = reverse("receipts:payment_exports", args=[shop.merchant.public_id])
    return f"{url}?{query}" if query else url


def export_url(shop, name: str, export: ReceiptExport) -> str:
    return reverse(name, args=[shop.merchant.public_id, export.pk])


def query(**fields: str) -> str:
    data = QueryDict(mutable=True)
    data.update(fields)
    return data.urlencode()


def instant_csv(client, shop, filters: dict[str, str]) -> bytes:
    response = client.get(reverse("links:payments_csv", args=[shop.merchant.public_id]), filters)
    assert response.status_code == 200
    return stream_bytes(response)


def request_export(client, shop, filters: dict[str, str], capture, *, run: bool = True):
    with capture(execute=run):
        response = client.post(exports_url(shop, query(**filters)))
    return response


@pytest.fixture
def small_threshold(settings):
    settings.EXPORT_INSTANT_MAX_ROWS = 2


# --- The file --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "it"])
@pytest.mark.parametrize(
    "filters",
    [{}, FILTERS, {**FILTERS, "format": "it"}, {"q": "example.com", "format": "it"}],
    ids=["everything", "filtered", "italian-spreadsheet", "search"],
)
def test_the_exported_file_is_the_instant_csv_byte_for_byte(
    shop, payments, settings, django_capture_on_commit_callbacks, language, filters
):
    client = shop.client_for("staff")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    instant = instant_csv(client, shop, filters)
    settings.EXPORT_INSTANT_MAX_ROWS = 2

    response = request_export(client, shop, filters, django_capture_on_commit_callbacks)

    export = ReceiptExport.objects.get(merchant=shop.merchant)
    assert response.status_code == 302
    assert response.url == export_url(shop, "receipts:export_detail", export)
    assert export.kind == "payments"
    assert export.status == ReceiptExport.Status.DONE
    assert export.file.name.startswith("exports/")
    assert export.file.name.endswith(".csv")
    download = client.get(export_url(shop, "receipts:export_download", export))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    italian = filters.get("format") == "it"
    name = "payments-it.csv" if italian else "payments.csv"
    assert download["Content-Disposition"] == f'attachment; filename="{name}"'
    assert stream_bytes(download) == instant
    assert len(instant.splitlines()) > 3  # the header and more than the threshold


def test_a_small_export_downloads_at_once_from_the_list_button(
    shop, payments, client_as, django_capture_on_commit_callbacks
):
    client = client_as("owner")
    instant = instant_csv(client, shop, FILTERS)

    response = request_export(client, shop, FILTERS, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="payments.csv"'
    assert stream_bytes(response) == instant
    assert not ReceiptExport.objects.exists()


def test_the_list_buttons_post_to_the_export(shop, payments, client_as):
    page = client_as("staff").get(
        reverse("links:payments", args=[shop.merchant.public_id]), {"status": "succeeded"}
    )

    content = page.content.decode()
    assert f'<form method="post" action="{exports_url(shop)}?status=succeeded"' in content
    assert f'action="{exports_url(shop)}?status=succeeded&amp;format=it"' in content


def test_the_csv_address_sends_a_large_export_to_the_exports_page(
    shop, payments, client_as, small_threshold
):
    url = reverse("links:payments_csv", args=[shop.merchant.public_id])

    response = client_as("owner").get(url, {"status": "succeeded", "format": "it"})

    assert response.status_code == 302
    assert response.url == exports_url(shop, "status=succeeded&format=it")
    page = client_as("owner").get(response.url).content.decode()
    assert "Export the filtered payments" in page
    assert f'action="{exports_url(shop)}?status=succeeded&amp;format=it"' in page
    assert not ReceiptExport.objects.exists()


# --- Progress, failure, retry ----------------------------------------------------------------


def test_the_export_page_shows_progress_until_the_file_is_ready(
    shop, payments, client_as, small_threshold, django_capture_on_commit_callbacks
):
    client = client_as("staff")
    response = request_export(client, shop, {}, django_capture_on_commit_callbacks, run=False)
    export = ReceiptExport.objects.get(merchant=shop.merchant)

    queued = client.get(response.url).content.decode()
    assert "Queued: the export starts in a moment." in queued
    assert 'http-equiv="refresh"' in queued
    assert "Download CSV" not in queued
    assert client.get(export_url(shop, "receipts:export_download", export)).status_code == 404

    ReceiptExport.objects.filter(pk=export.pk).update(
        status=ReceiptExport.Status.RUNNING, total=5, done=2
    )
    running = client.get(response.url).content.decode()
    assert "Building: 2 of 5 payments." in running
    assert 'aria-valuenow="40"' in running

    export_build(export_id=export.pk)
    ready = client.get(response.url).content.decode()
    assert "5 payments are ready." in ready
    assert 'http-equiv="refresh"' not in ready
    assert export_url(shop, "receipts:export_download", export) in ready


def test_progress_moves_as_the_rows_are_written(shop, payments, monkeypatch):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop)
    )
    seen: list[tuple[str, int, int]] = []

    def watched(*args, **kwargs):
        for block in blocks(*args, **kwargs):
            yield block
            row = ReceiptExport.objects.get(pk=export.pk)
            seen.append((row.status, row.done, row.total))

    blocks = payment_exports.csv_blocks
    monkeypatch.setattr("links.payment_csv.CSV_CHUNK", 2)
    monkeypatch.setattr(payment_exports, "csv_blocks", watched)

    export_build(export_id=export.pk)

    assert seen == [("running", 0, 5), ("running", 2, 5), ("running", 4, 5), ("running", 5, 5)]
    export.refresh_from_db()
    assert (export.status, export.done, export.total, export.percent) == ("done", 5, 5, 100)


def params_for(shop, **query: str) -> dict:
    return {
        "query": query,
        "language": "en",
        "currency": shop.merchant.default_currency,
        "time_zone": shop.merchant.time_zone,
    }


def tasks(callbacks) -> list:
    """The tasks the commit hooks start (the others keep the back-office cache fresh)."""
    return [callback.task for callback in callbacks if hasattr(callback, "task")]


def failed_export(shop) -> ReceiptExport:
    return ReceiptExport.objects.create(
        merchant=shop.merchant,
        kind="payments",
        params=params_for(shop),
        status=ReceiptExport.Status.FAILED,
        total=5,
        done=2,
        error="The database went away.",
    )


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_a_failed_export_says_so_and_can_be_tried_again(
    shop, payments, client_as, actor, django_capture_on_commit_callbacks
):
    export = failed_export(shop)
    client = client_as(actor)

    page = client.get(export_url(shop, "receipts:export_detail", export)).content.decode()
    assert "The export failed: The database went away." in page
    retry = export_url(shop, "receipts:export_retry", export)
    assert f'action="{retry}"' in page

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(retry)

    assert response.status_code == 302
    assert response.url == export_url(shop, "receipts:export_detail", export)
    assert tasks(callbacks) == [receipt_export_build]
    export.refresh_from_db()
    assert (export.status, export.done, export.total, export.error) == ("done", 5, 5, "")


def test_only_a_failed_export_is_tried_again(
    shop, payments, client_as, django_capture_on_commit_callbacks
):
    export = export_build(
        export_id=ReceiptExport.objects.create(
            merchant=shop.merchant, kind="payments", params=params_for(shop)
        ).pk
    )
    name = export.file.name

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_as("owner").post(export_url(shop, "receipts:export_retry", export))

    assert response.status_code == 302
    assert tasks(callbacks) == []
    export.refresh_from_db()
    assert (export.status, export.file.name) == ("done", name)


def test_filters_that_no_longer_read_fail_the_export_with_a_message(shop, payments):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop, status="lost")
    )

    with pytest.raises(payment_exports.ExportError):
        receipt_export_build.apply(args=[export.pk], throw=True)

    export.refresh_from_db()
    assert export.status == ReceiptExport.Status.FAILED
    assert export.error == "These filters are not valid any more: export again."
    assert not export.file


# --- The worker ------------------------------------------------------------------------------


def stored_exports() -> list[str]:
    return documents.listdir("exports")[1] if documents.exists("exports") else []


def test_running_the_task_twice_keeps_one_file(shop, payments):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop)
    )

    receipt_export_build.apply(args=[export.pk], throw=True)
    export.refresh_from_db()
    first = (export.file.name, export.finished_at)
    receipt_export_build.apply(args=[export.pk], throw=True)

    export.refresh_from_db()
    assert (export.file.name, export.finished_at) == first
    assert len(stored_exports()) == 1
    assert ReceiptExport.objects.count() == 1


def test_of_two_runs_at_once_the_first_to_finish_keeps_its_file(shop, payments, monkeypatch):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop)
    )
    blocks = payment_exports.csv_blocks
    started: list[int] = []

    def overtaken(*args, **kwargs):
        for block in blocks(*args, **kwargs):
            yield block
            if not started:  # a duplicate task starts and finishes while this one writes
                started.append(export.pk)
                export_build(export_id=export.pk)

    monkeypatch.setattr(payment_exports, "csv_blocks", overtaken)

    export_build(export_id=export.pk)

    export.refresh_from_db()
    assert export.status == ReceiptExport.Status.DONE
    assert stored_exports() == [export.file.name.removeprefix("exports/")]
    assert (export.done, export.total) == (5, 5)


def test_old_payments_exports_follow_the_exports_retention(shop, payments, client_as):
    export = export_build(
        export_id=ReceiptExport.objects.create(
            merchant=shop.merchant, kind="payments", params=params_for(shop)
        ).pk
    )
    ReceiptExport.objects.filter(pk=export.pk).update(
        created_at=export.created_at - timedelta(days=settings.RETENTION_EXPORT_DAYS + 1)
    )

    assert exports_purge(now=export.created_at) == 1

    assert stored_exports() == []
    page = client_as("owner").get(export_url(shop, "receipts:export_detail", export))
    assert "The payments are kept: export them again if you need the file." in page.content.decode()
    download = client_as("owner").get(export_url(shop, "receipts:export_download", export))
    assert download.status_code == 404


# --- Who may do what -------------------------------------------------------------------------


@pytest.fixture
def done_exports(shop, payments) -> tuple[ReceiptExport, ReceiptExport]:
    """A ready payments export of the shop and one of another shop."""
    ours = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop)
    )
    theirs = ReceiptExport.objects.create(
        merchant=shop.outsider.merchant, kind="payments", params=params_for(shop)
    )
    return export_build(export_id=ours.pk), export_build(export_id=theirs.pk)


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_members_of_the_shop_export_and_download(
    shop, done_exports, client_as, actor, small_threshold, django_capture_on_commit_callbacks
):
    ours, _theirs = done_exports
    client = client_as(actor)

    listing = client.get(exports_url(shop))
    assert listing.status_code == 200
    assert export_url(shop, "receipts:export_detail", ours) in listing.content.decode()
    assert client.get(export_url(shop, "receipts:export_detail", ours)).status_code == 200
    assert client.get(export_url(shop, "receipts:export_download", ours)).status_code == 200
    created = request_export(client, shop, {}, django_capture_on_commit_callbacks)
    assert created.status_code == 302
    assert ReceiptExport.objects.filter(merchant=shop.merchant).count() == 2


def test_a_member_of_another_shop_gets_404_and_exports_nothing(
    shop, done_exports, client_as, small_threshold
):
    ours, _theirs = done_exports
    failed = failed_export(shop)
    client = client_as("outsider")

    assert client.get(exports_url(shop)).status_code == 404
    assert client.post(exports_url(shop)).status_code == 404
    for name in ("receipts:export_detail", "receipts:export_download"):
        assert client.get(export_url(shop, name, ours)).status_code == 404
    assert client.post(export_url(shop, "receipts:export_retry", failed)).status_code == 404
    assert ReceiptExport.objects.filter(merchant=shop.merchant).count() == 2
    failed.refresh_from_db()
    assert failed.status == ReceiptExport.Status.FAILED


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_another_shops_export_through_our_shop_is_404(shop, done_exports, client_as, actor):
    _ours, theirs = done_exports
    client = client_as(actor)

    for name in ("receipts:export_detail", "receipts:export_download"):
        assert client.get(export_url(shop, name, theirs)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(shop, done_exports, client_as):
    ours, _theirs = done_exports
    client = client_as("anonymous")
    login = reverse(settings.LOGIN_URL)

    for response in (
        client.get(exports_url(shop)),
        client.post(exports_url(shop)),
        client.get(export_url(shop, "receipts:export_download", ours)),
        client.post(export_url(shop, "receipts:export_retry", ours)),
    ):
        assert response.status_code == 302
        assert response.url.startswith(login)


def test_staff_cannot_retry_an_invoices_export(shop, client_as):
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="invoices", status=ReceiptExport.Status.FAILED
    )

    response = client_as("staff").post(export_url(shop, "receipts:export_retry", export))

    assert response.status_code == 403
    export.refresh_from_db()
    assert export.status == ReceiptExport.Status.FAILED


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "2026-02-30"}, "From: Enter a valid date."),
        ({"amount_min": "dieci"}, "Minimum amount: Enter an amount such as 19,99."),
        ({"status": "lost"}, "Status: Select a valid choice."),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "The end date is before"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_mistyped_filters_are_refused_and_export_nothing(
    shop, payments, client_as, small_threshold, filters, message, method
):
    client = client_as("owner")

    response = getattr(client, method)(exports_url(shop, query(**filters)))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReceiptExport.objects.exists()


# --- Queries ---------------------------------------------------------------------------------


def test_export_pages_queries_do_not_grow_with_the_exports(
    shop, payments, client_as, django_assert_max_num_queries, small_threshold
):
    client = client_as("owner")
    for _ in range(8):
        ReceiptExport.objects.create(
            merchant=shop.merchant,
            kind="payments",
            params=params_for(shop),
            requested_by=shop.owner.user,
        )
    export = ReceiptExport.objects.first()

    # Session, user, membership, the shop switcher, the exports (with who asked), savepoints.
    with django_assert_max_num_queries(10):
        assert client.get(exports_url(shop)).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(export_url(shop, "receipts:export_detail", export)).status_code == 200
    # ... and for a new export: the count (one past the threshold), the row, the event.
    with django_assert_max_num_queries(14):
        assert client.post(exports_url(shop)).status_code == 302


def test_the_exports_pages_are_under_payments_in_the_menu(client_as, shop):
    client = client_as("owner")
    pages = client.get(reverse("receipts:payment_exports", args=[shop.merchant.public_id]))
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, kind="payments", params=params_for(shop)
    )
    detail = client.get(
        reverse("receipts:export_detail", args=[shop.merchant.public_id, export.pk])
    )
    for response in (pages, detail):
        current = re.findall(
            r'<a class="nav-link" href="[^"]+" aria-current="page">([^<]+)</a>', response.text
        )
        assert current == ["Payments"]
