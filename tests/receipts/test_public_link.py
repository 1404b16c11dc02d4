"""The customer's signed receipt link and the confirmation email that carries it."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from receipts.models import Receipt
from receipts.services import (
    DOWNLOAD_SALT,
    receipt_download_token,
    receipt_ensure_pdf,
    receipt_public_url,
)
from tests.support.documents import finalize, pdf_text, stream_bytes
from vpos.models import OutboxEmail

DAY = 24 * 60 * 60


@pytest.fixture
def receipt(link) -> Receipt:
    payment = finalize(link, customer_email="cliente@example.com", customer_name="Carla Neri")
    return payment.receipt


def public_url(token: str) -> str:
    return reverse("receipts:public_download", args=[token])


def assert_no_pdf(response) -> None:
    assert not response["Content-Type"].startswith("application/pdf")
    assert b"%PDF" not in response.content


def test_a_valid_link_downloads_the_pdf_without_logging_in(receipt, client_as):
    response = client_as("anonymous").get(public_url(receipt_download_token(receipt)))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert f"receipt-{receipt.number}.pdf" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    text = pdf_text(stream_bytes(response))
    assert receipt.number in text
    assert "Carla Neri" in text


def test_the_public_url_is_absolute_and_works(receipt, client_as):
    url = receipt_public_url(receipt)

    assert url.startswith("http://testserver/r/")
    response = client_as("anonymous").get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert receipt.number in pdf_text(stream_bytes(response))


def tampered(token: str) -> str:
    # Flip one character of the signature (the part after the last colon).
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda r: tampered(receipt_download_token(r)), id="tampered signature"),
        pytest.param(lambda r: receipt_download_token(r)[:-8], id="truncated"),
        pytest.param(lambda r: "not-a-token", id="garbage"),
        pytest.param(
            lambda r: signing.dumps({"r": r.pk, "n": r.number}, compress=True), id="other salt"
        ),
        pytest.param(
            lambda r: signing.dumps({"r": r.pk, "n": "2020-000001"}, salt=DOWNLOAD_SALT),
            id="number does not match",
        ),
        pytest.param(lambda r: signing.dumps(["r", 1], salt=DOWNLOAD_SALT), id="not a mapping"),
    ],
)
def test_a_bad_link_gets_a_clear_400_page_and_no_pdf(receipt, client_as, make_token):
    response = client_as("anonymous").get(public_url(make_token(receipt)))

    assert response.status_code == 400
    assert_no_pdf(response)
    assert "This receipt link is not valid" in response.content.decode()


def issued_days_ago(receipt: Receipt, days: int) -> None:
    Receipt.objects.filter(pk=receipt.pk).update(issued_at=timezone.now() - timedelta(days=days))


def test_a_link_older_than_180_days_has_expired(receipt, client_as):
    token = receipt_download_token(receipt)
    issued_days_ago(receipt, 181)

    response = client_as("anonymous").get(public_url(token))

    assert response.status_code == 410
    assert_no_pdf(response)
    assert "This receipt link has expired" in response.content.decode()


def test_a_link_still_works_on_day_179(receipt, client_as):
    token = receipt_download_token(receipt)
    issued_days_ago(receipt, 179)

    response = client_as("anonymous").get(public_url(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_the_link_is_the_same_whenever_it_is_made(receipt):
    """The email and the success page show one URL, made seconds or days apart."""
    first = receipt_public_url(receipt)
    with mock.patch("django.core.signing.time", mock.Mock(time=lambda: time.time() + 3 * DAY)):
        assert receipt_public_url(receipt) == first


def test_a_link_sent_before_links_were_stable_still_works_until_its_time(receipt, client_as):
    sent = signing.dumps({"r": receipt.pk, "n": receipt.number}, salt=DOWNLOAD_SALT, compress=True)

    assert client_as("anonymous").get(public_url(sent)).status_code == 200
    later = mock.Mock(time=lambda: time.time() + 181 * DAY)
    with mock.patch("django.core.signing.time", later):
        assert client_as("anonymous").get(public_url(sent)).status_code == 410


def test_confirmation_email_carries_the_signed_link_to_the_pdf(
    link, client_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = finalize(link, customer_email="cliente@example.com")
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.pdf  # rendered apart, by the documents queue's task

    stored = OutboxEmail.objects.get(kind="payment_confirmation")
    assert stored.to_email == "cliente@example.com"
    assert stored.status == OutboxEmail.Status.SENT
    assert stored.attachments == []  # a link: the confirmation never waits for the PDF
    link_in_text = re.search(r"http://testserver/r/[^\s\"<]+/", stored.body_text)
    assert link_in_text, stored.body_text
    assert link_in_text.group(0) in stored.body_html

    [sent] = [m for m in mail.outbox if m.to == ["cliente@example.com"]]
    assert link_in_text.group(0) in sent.body

    # The link in the email opens the same receipt, for anyone holding it.
    response = client_as("anonymous").get(link_in_text.group(0).removeprefix("http://testserver"))
    assert response.status_code == 200
    assert receipt.number in pdf_text(stream_bytes(response))


def test_a_stuck_documents_queue_does_not_hold_up_the_confirmation(
    link, client_as, django_capture_on_commit_callbacks
):
    """The documents worker is down (its tasks wait in the queue): the customer still gets the
    confirmation at once, and its link renders the receipt when opened."""
    with (
        mock.patch("receipts.tasks.receipt_render.delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        payment = finalize(link, customer_email="cliente@example.com")
    receipt = Receipt.objects.get(payment=payment)
    queued.assert_called_once_with(receipt.pk)
    assert not receipt.pdf

    [sent] = [m for m in mail.outbox if m.to == ["cliente@example.com"]]
    url = re.search(r"http://testserver(/r/[^\s\"<]+/)", sent.body).group(1)
    response = client_as("anonymous").get(url)
    assert response.status_code == 200
    assert receipt.number in pdf_text(stream_bytes(response))


def test_a_lost_pdf_is_rendered_again_for_the_customer(receipt, client_as):
    receipt = receipt_ensure_pdf(receipt_id=receipt.pk)
    receipt.pdf.storage.delete(receipt.pdf.name)

    response = client_as("anonymous").get(public_url(receipt_download_token(receipt)))

    assert response.status_code == 200
    assert receipt.number in pdf_text(stream_bytes(response))


def test_an_italian_customer_reads_why_the_link_does_not_work(receipt):
    client = Client(HTTP_ACCEPT_LANGUAGE="it")
    token = receipt_download_token(receipt)

    bad = client.get(public_url(tampered(token)))
    issued_days_ago(receipt, 181)
    expired = client.get(public_url(token))

    assert bad.status_code == 400
    assert "Questo link alla ricevuta non è valido" in bad.content.decode()
    assert expired.status_code == 410
    assert "Questo link alla ricevuta è scaduto" in expired.content.decode()
