"""The API's `payment_methods` on link creation: a link narrows its shop's methods."""

from __future__ import annotations

import pytest

from links.models import PaymentLink
from tests.support.api import LINK

pytestmark = pytest.mark.django_db


def test_the_api_narrows_a_link_too(api):
    response = api.post_json("/api/v1/links", {**LINK, "payment_methods": ["paypal", "card"]})

    assert response.status_code == 201, response.content
    assert response.json()["payment_methods"] == ["card", "paypal"]
    assert PaymentLink.objects.get().payment_methods == ["card", "paypal"]


@pytest.mark.parametrize("methods", [["bitcoin"], "card", [["card"]]])
def test_the_api_refuses_unknown_methods(api, methods):
    response = api.post_json("/api/v1/links", {**LINK, "payment_methods": methods})

    assert response.status_code == 400
    assert "payment_methods" in response.json()["errors"]
    assert not PaymentLink.objects.exists()


def test_the_api_refuses_a_method_the_shop_does_not_offer(api, tenants):
    tenants[0].merchant.payment_methods = ["card"]
    tenants[0].merchant.save()

    response = api.post_json("/api/v1/links", {**LINK, "payment_methods": ["klarna"]})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "method_not_offered"
    assert "Klarna" in body["errors"]["payment_methods"][0]
    assert not PaymentLink.objects.exists()
