"""Dates, times and amounts as the reader's language writes them: day first and a 24-hour clock
in English too (vpos's English is for people in Europe), lowercase month and weekday names in
Italian, a payment's timeline formatted for whoever reads it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from links.models import Payment, PaymentEvent
from tests.support.documents import finalize
from tests.support.factories import PaymentLinkFactory

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 14, 5, tzinfo=ROME)


@pytest.fixture
def paid(shop):
    link = PaymentLinkFactory(merchant=shop.merchant, amount=1234, description="Caffè")
    payment = finalize(link, at=FRIDAY_AFTERNOON, card_brand="visa", card_last4="4242")
    Payment.objects.filter(pk=payment.pk).update(created_at=FRIDAY_AFTERNOON)
    PaymentEvent.objects.filter(payment=payment).update(created_at=FRIDAY_AFTERNOON)
    return payment


def page(shop, language: str, name: str, *args) -> str:
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client.get(reverse(name, args=[shop.merchant.public_id, *args])).text


def test_english_writes_the_day_first_and_a_24_hour_clock(shop, paid):
    listing = page(shop, "en", "links:payments")
    detail = page(shop, "en", "links:payment_detail", paid.public_id)

    assert "04/12/2026 14:05" in listing
    assert "4 December 2026, 14:05" in detail
    assert "p.m." not in listing + detail
    assert "12/04/2026" not in listing


def test_italian_writes_weekday_and_month_in_lowercase(shop, paid):
    detail = page(shop, "it", "links:payment_detail", paid.public_id)

    assert "venerdì 4 dicembre 2026, 14:05" in detail
    assert "Dicembre" not in detail


def test_the_timeline_is_formatted_for_its_reader(shop, paid):
    english = page(shop, "en", "links:payment_detail", paid.public_id)
    italian = page(shop, "it", "links:payment_detail", paid.public_id)

    assert "€12.34 · Visa ···· 4242" in english
    assert "12,34\xa0€ · Visa ···· 4242" in italian
    assert "visa 4242" not in english + italian


@pytest.mark.parametrize("language", ["en", "it"])
def test_date_filters_take_the_day_first(shop, paid, language):
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    url = reverse("links:payments", args=[shop.merchant.public_id])

    same_day = client.get(url, {"date_from": "04/12/2026", "date_to": "04/12/2026"})
    day_after = client.get(url, {"date_from": "05/12/2026"})

    assert same_day.status_code == day_after.status_code == 200
    assert "Caffè" in same_day.text
    assert "Caffè" not in day_after.text
