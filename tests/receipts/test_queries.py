"""The receipts list runs the same few queries with 5 receipts or 50."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from receipts.models import ReceiptExport
from receipts.services import export_build
from tests.support.documents import finalize
from tests.support.factories import PaymentLinkFactory

START = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def issue(merchant, count: int, offset: int = 0) -> None:
    for i in range(offset, offset + count):
        link = PaymentLinkFactory(merchant=merchant, language="en")
        finalize(link, at=START + timedelta(hours=i), customer_name=f"Customer {i}")


def test_receipts_list_query_count_does_not_grow_with_the_receipts(
    shop, client_as, django_assert_max_num_queries
):
    client = client_as("owner")
    url = reverse("receipts:list", args=[shop.merchant.public_id])
    issue(shop.merchant, 5)
    export = ReceiptExport.objects.create(
        merchant=shop.merchant, date_from=START.date(), date_to=START.date()
    )
    export_build(export_id=export.pk)
    client.get(url)  # the first visit also stores the current shop in the session
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert len(response.context["page_obj"].object_list) == 5

    issue(shop.merchant, 45, offset=5)
    for _ in range(4):
        ReceiptExport.objects.create(
            merchant=shop.merchant, date_from=START.date(), date_to=START.date()
        )
    # Session, user, membership, the shop switcher, count, page, exports, savepoints.
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert len(response.context["page_obj"].object_list) == 25
    assert response.context["page_obj"].paginator.count == 50
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_csv_query_count_does_not_grow_with_the_receipts(shop, client_as):
    client = client_as("owner")
    url = reverse("receipts:csv", args=[shop.merchant.public_id])
    issue(shop.merchant, 5)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        rows_few = b"".join(client.get(url).streaming_content).count(b"\n")

    issue(shop.merchant, 45, offset=5)
    with CaptureQueriesContext(connection) as many:
        rows_many = b"".join(client.get(url).streaming_content).count(b"\n")

    assert (rows_few, rows_many) == (6, 51)
    assert len(many) == len(few)
