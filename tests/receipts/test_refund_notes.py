"""Refund notes can be downloaded like receipts: from the payment's page, through the API, and by
the customer from the signed link in the refund email."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from links.models import Refund
from receipts.notifications import refund_send_email
from receipts.services import refund_note_issue
from tests.support.api import ApiClient
from tests.support.documents import finalize, pdf_text, stream_bytes
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db


def refunded(link, *, with_note: bool = True) -> tuple:
    payment = finalize(link, customer_email="cliente@example.com", customer_name="Carla Neri")
    refund = Refund.objects.create(
        merchant=payment.merchant,
        payment=payment,
        amount=2200,
        currency=payment.currency,
        status=Refund.Status.SUCCEEDED if with_note else Refund.Status.PENDING,
    )
    note = None
    if with_note:
        with transaction.atomic():
            note = refund_note_issue(refund=refund, at=timezone.now())
    return payment, refund, note


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_the_payment_page_links_to_the_refund_note_pdf(client_as, link, actor):
    payment, _refund, note = refunded(link)
    client = client_as(actor)

    page = client.get(
        reverse("links:payment_detail", args=[link.merchant.public_id, payment.public_id])
    )
    href = re.search(r'href="([^"]+)"[^>]*>Refund note ' + note.number, page.text).group(1)
    response = client.get(href)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert note.number in pdf_text(stream_bytes(response))


def test_another_shop_cannot_download_the_note(client_as, link):
    _payment, _refund, note = refunded(link)
    url = reverse("receipts:refund_note_pdf", args=[link.merchant.public_id, note.pk])

    assert client_as("outsider").get(url).status_code == 404


def test_the_refund_email_carries_a_signed_link_to_the_note(client_as, link):
    _payment, refund, note = refunded(link)
    refund_send_email(refund=refund, note=note)
    email = OutboxEmail.objects.get(kind="refund")

    url = re.search(r"http://testserver(/r/[^\s\"<]+/)", email.body_text).group(1)
    assert url in email.body_html
    response = client_as("anonymous").get(url)

    assert response.status_code == 200
    text = pdf_text(stream_bytes(response))
    assert note.number in text
    assert client_as("anonymous").get(url[:-3] + "xx/").status_code == 400


def test_the_api_serves_the_note_and_names_it_on_the_refund(link):
    payment, refund, note = refunded(link)
    _key, raw = api_key_create(
        merchant=link.merchant, name="Site", scope=ApiKey.Scope.READ, actor=None
    )
    api = ApiClient(raw)

    listed = api.get(f"/api/v1/payments/{payment.public_id}").json()
    response = api.get(f"/api/v1/payments/{payment.public_id}/refunds/{refund.public_id}/note")

    assert listed["refunds"][0]["note_number"] == note.number
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert note.number in pdf_text(stream_bytes(response))


def test_the_api_says_when_a_refund_has_no_note_yet(link):
    payment, refund, _note = refunded(link, with_note=False)
    _key, raw = api_key_create(
        merchant=link.merchant, name="Site", scope=ApiKey.Scope.READ, actor=None
    )

    response = ApiClient(raw).get(
        f"/api/v1/payments/{payment.public_id}/refunds/{refund.public_id}/note"
    )

    assert response.status_code == 404
    assert "no refund note yet" in response.json()["message"]
