"""The payments endpoints against localstripe: list, detail, refunds (idempotent), receipt PDF."""

from __future__ import annotations

import pytest

from links.models import Payment, PaymentStatus, Refund
from links.payments import payment_refresh
from tests.support.factories import PaymentFactory, PaymentLinkFactory

PAYMENTS = "/api/v1/payments"

# The refund view runs outside a request transaction (it commits before asking Stripe), as in
# production: an error there must not be taken for a rollback of a test-wide transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(tenants, stripe_settings, paid_intent) -> Payment:
    """A payment of the first shop that really succeeded in localstripe, finalized."""
    link = PaymentLinkFactory(merchant=tenants[0].merchant, amount=5000)
    payment, _pi = paid_intent(link)
    return payment_refresh(payment=payment, source="test")


def test_list_and_detail(api, paid, tenants):
    PaymentFactory(link=PaymentLinkFactory(merchant=tenants[1].merchant))
    page = api.get(PAYMENTS).json()
    assert [item["id"] for item in page["results"]] == [str(paid.public_id)]
    detail = api.get(f"{PAYMENTS}/{paid.public_id}").json()
    assert detail["status"] == "succeeded"
    assert detail["amount"] == 5000
    assert detail["link"] == paid.link_id
    assert detail["receipt_number"]
    assert detail["card_last4"] == "4242"
    assert api.get(PAYMENTS, {"status": "failed"}).json()["results"] == []
    assert len(api.get(PAYMENTS, {"link": paid.link_id}).json()["results"]) == 1
    assert api.get(PAYMENTS, {"link": "x"}).status_code == 400


def test_other_shops_payments_are_404(tenants, paid):
    for tenant in tenants[1:]:
        client = tenant.client()
        assert client.get(PAYMENTS).json()["results"] == []
        for suffix in ("", "/receipt"):
            assert client.get(f"{PAYMENTS}/{paid.public_id}{suffix}").status_code == 404
        refund = client.post_json(f"{PAYMENTS}/{paid.public_id}/refunds", {"amount": 100})
        assert refund.status_code == 404
    assert not Refund.objects.exists()
    assert tenants[0].client().get(f"{PAYMENTS}/not-a-uuid").status_code == 404


def test_refund_in_part_then_the_rest(api, paid):
    url = f"{PAYMENTS}/{paid.public_id}/refunds"
    part = api.post_json(url, {"amount": 1500, "reason": "Broken item"})
    assert part.status_code == 201, part.content
    assert part.json()["status"] == "succeeded"
    assert part.json()["amount"] == 1500
    rest = api.post_json(url, {})
    assert rest.status_code == 201
    assert rest.json()["amount"] == 3500
    detail = api.get(f"{PAYMENTS}/{paid.public_id}").json()
    assert detail["refunded_amount"] == 5000
    assert detail["refund_state"] == "refunded"
    assert len(detail["refunds"]) == 2
    assert set(Refund.objects.values_list("source", flat=True)) == {"api"}
    over = api.post_json(url, {"amount": 1})
    assert over.status_code == 400
    assert over.json()["code"] == "over_remainder"


def test_refund_idempotency(api, paid):
    url = f"{PAYMENTS}/{paid.public_id}/refunds"
    first = api.post_json(url, {"amount": 1000}, **{"Idempotency-Key": "rf-1"})
    again = api.post_json(url, {"amount": 1000}, **{"Idempotency-Key": "rf-1"})
    other = api.post_json(url, {"amount": 2000}, **{"Idempotency-Key": "rf-1"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{"amount": 0}, {"amount": -5}, {"amount": "ten"}, {"reason": "x" * 501}, []]
)
def test_bad_refund_bodies_are_400(api, paid, body):
    response = api.post_json(f"{PAYMENTS}/{paid.public_id}/refunds", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert not Refund.objects.exists()


def test_refund_of_an_unpaid_payment_is_400(api, tenants):
    payment = PaymentFactory(
        link=PaymentLinkFactory(merchant=tenants[0].merchant), status=PaymentStatus.FAILED
    )
    response = api.post_json(f"{PAYMENTS}/{payment.public_id}/refunds", {"amount": 100})
    assert response.status_code == 400
    assert response.json()["code"] == "not_succeeded"


def test_read_key_cannot_refund(paid, make_key, tenants):
    from tests.support.api import ApiClient

    _key, raw = make_key(tenants[0].merchant, scope="read")
    response = ApiClient(raw).post_json(f"{PAYMENTS}/{paid.public_id}/refunds", {"amount": 100})
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_receipt_pdf(api, paid):
    response = api.get(f"{PAYMENTS}/{paid.public_id}/receipt", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_receipt_of_an_unpaid_payment_is_404(api, tenants):
    payment = PaymentFactory(link=PaymentLinkFactory(merchant=tenants[0].merchant))
    response = api.get(f"{PAYMENTS}/{payment.public_id}/receipt", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
