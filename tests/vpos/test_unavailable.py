"""The database down: a 503 that says nothing happened and when to retry, never a bare 500."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from tests.support.factories import PaymentLinkFactory


def down(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed")


@pytest.fixture
def browser() -> Client:
    return Client(raise_request_exception=False)


def test_the_checkout_page_answers_503_with_retry_after(db, browser):
    link = PaymentLinkFactory()
    with mock.patch("links.views.public_checkout._link_or_404", side_effect=down):
        response = browser.get(
            reverse("links:checkout", args=[link.token]), HTTP_ACCEPT_LANGUAGE="it"
        )

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "Nulla è stato addebitato o modificato" in page
    assert "127.0.0.1" not in page  # the error's details go to the log only


def test_a_shop_page_answers_503_in_english_too(shop, owner_client):
    owner_client.raise_request_exception = False
    with mock.patch("links.views.back_office.dashboard_figures", side_effect=down):
        response = owner_client.get(
            reverse("links:dashboard", args=[shop.merchant.public_id]),
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 503
    assert "Nothing was charged or changed" in response.content.decode()


def test_the_api_answers_503_as_json(db, browser):
    with mock.patch("integrations.api.authentication.api_key_authenticate", side_effect=down):
        response = browser.get("/api/v1/links", HTTP_AUTHORIZATION="Bearer vpos_x")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"


def test_other_errors_get_the_bilingual_500_page(db, browser):
    with mock.patch("links.views.public_checkout._link_or_404", side_effect=RuntimeError("bug")):
        response = browser.get(reverse("links:checkout", args=["a" * 32]))

    assert response.status_code == 500
    page = response.content.decode()
    assert "Si è verificato un errore" in page
    assert "Something went wrong" in page


def test_redis_down_the_checkout_answers_503_not_500(db, browser, settings):
    """The cache, rate limits and sessions live in Redis in production: when it cannot be reached
    the customer reads the same 503 as for the database, in the page's language."""
    link = PaymentLinkFactory()
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }

    response = browser.get(reverse("links:checkout", args=[link.token]), HTTP_ACCEPT_LANGUAGE="it")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Nulla è stato addebitato o modificato" in response.content.decode()
