"""Hostile and odd input to the API: a documented JSON error with a stable code, never a 500 or an
HTML page, in the client's language, and nothing changed."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from links.models import LinkStatus, PaymentLink, PaymentStatus, Refund
from tests.support.api import LINK, ApiClient
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from vpos.views import server_error

pytestmark = pytest.mark.django_db

LINKS = "/api/v1/links"
DEEP = "[" * 50000 + "]" * 50000
UNICODE_DIGITS = ["\u00b9", "\u2460", "\u0661\u0662", "\uff11"]  # ¹ ① ١٢ １


@pytest.fixture
def client(tenants) -> ApiClient:
    """Errors are answered, not raised into the test: what an integrator's client receives."""
    return ApiClient(tenants[0].raw, raise_request_exception=False)


@pytest.fixture
def payment(tenants):
    return PaymentFactory(
        link=PaymentLinkFactory(merchant=tenants[0].merchant), status=PaymentStatus.SUCCEEDED
    )


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


# --- Deeply nested JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        json.dumps({**LINK, "metadata": json.loads("[" * 100 + "]" * 100)}),
    ],
    ids=["50000-deep", "100-deep-inside-a-link"],
)
def test_deeply_nested_json_is_a_400_and_creates_nothing(client, body):
    response = client.post_json(LINKS, body)
    error = _error(response, 400, "invalid_json")
    assert error["message"] == "The request body nests arrays or objects too deeply."
    assert not PaymentLink.objects.exists()


@pytest.mark.django_db(transaction=True)  # the refund view runs outside the request transaction
def test_deeply_nested_refund_is_a_400_and_refunds_nothing(client, payment):
    response = client.post_json(f"/api/v1/payments/{payment.public_id}/refunds", DEEP)
    _error(response, 400, "invalid_json")
    assert not Refund.objects.exists()


def test_malformed_json_says_so_in_the_clients_language(client):
    english = _error(client.post_json(LINKS, "{not json"), 400, "invalid_json")
    assert english["message"] == "The request body is not valid JSON."
    italian = client.post_json(LINKS, "{not json", **{"Accept-Language": "it"})
    assert _error(italian, 400, "invalid_json")["message"] == (
        "Il corpo della richiesta non è un JSON valido."
    )


def test_bad_metadata_says_so_in_the_clients_language(client):
    body = {**LINK, "metadata": {"order": 1}}
    english = _error(client.post_json(LINKS, body), 400, "invalid_request")
    assert english["errors"]["metadata"] == [
        "Metadata is an object of at most 20 short text values."
    ]
    italian = client.post_json(LINKS, body, **{"Accept-Language": "it"})
    assert _error(italian, 400, "invalid_request")["errors"]["metadata"] == [
        "I metadati sono un oggetto con al massimo 20 brevi valori di testo."
    ]
    assert not PaymentLink.objects.exists()


def test_an_ordinary_nested_body_is_still_accepted(client):
    """The limit (64 levels) is far above what a link needs: metadata is one level deep."""
    response = client.post_json(LINKS, LINK)
    assert response.status_code == 201


# --- Too large a body ------------------------------------------------------------------------


def test_a_body_over_the_upload_limit_is_a_json_413(client, settings):
    body = json.dumps({**LINK, "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    error = _error(client.post_json(LINKS, body), 413, "request_too_large")
    assert error["message"] == "The request body is too large: at most 5.0\xa0MB."
    assert not PaymentLink.objects.exists()


# --- Digits of other scripts -----------------------------------------------------------------


@pytest.mark.parametrize("digits", UNICODE_DIGITS)
def test_ids_in_other_scripts_digits_are_404s(client, tenants, digits):
    link = PaymentLinkFactory(merchant=tenants[0].merchant, pk=12)
    _error(client.get(f"{LINKS}/{digits}"), 404, "not_found")
    _error(client.post_json(f"{LINKS}/{digits}/deactivate"), 404, "not_found")
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


@pytest.mark.parametrize("digits", [*UNICODE_DIGITS, "0", "-1"])
def test_payment_filter_by_link_takes_ascii_ids_only(client, digits):
    error = _error(client.get("/api/v1/payments", {"link": digits}), 400, "invalid_request")
    assert error["errors"] == {"link": ["Enter a link id."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "\u0661\u0662\u0663"),
        ("amount", "\uff11\uff12\uff13"),
        ("max_payments", "\u0661\u0662"),
    ],
)
def test_numbers_in_other_scripts_digits_are_refused(client, field, value):
    body = {**LINK, "kind": "reusable", field: value}
    error = _error(client.post_json(LINKS, body), 400, "invalid_request")
    assert error["errors"] == {field: ["A valid integer is required."]}
    assert not PaymentLink.objects.exists()
    # The same number in ASCII digits is fine, also as a string.
    assert client.post_json(LINKS, {**body, field: "123"}).status_code == 201


def test_an_expiry_in_other_scripts_digits_is_refused(client):
    arabic = "\u0662\u0660\u0663\u0660-\u0660\u0661-\u0660\u0661T00:00:00Z"  # 2030-01-01
    error = _error(client.post_json(LINKS, {**LINK, "expires_at": arabic}), 400, "invalid_request")
    assert error["errors"]["expires_at"][0].startswith("Datetime has wrong format.")
    assert not PaymentLink.objects.exists()
    ascii_digits = {**LINK, "expires_at": "2030-01-01T00:00:00Z"}
    assert client.post_json(LINKS, ascii_digits).status_code == 201


@pytest.mark.django_db(transaction=True)  # the refund view runs outside the request transaction
def test_refund_amount_in_other_scripts_digits_is_refused(client, payment):
    response = client.post_json(
        f"/api/v1/payments/{payment.public_id}/refunds", {"amount": "\u0661\u0660\u0660"}
    )
    assert _error(response, 400, "invalid_request")["errors"] == {
        "amount": ["A valid integer is required."]
    }
    assert not Refund.objects.exists()


# --- One error format, in the client's language ---------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_paths_under_api_are_json(client, settings, debug):
    settings.DEBUG = debug  # no HTML debug page under /api/ either
    for path in ["/api/v1/nope", "/api/nope", "/api/"]:
        assert _error(client.get(path), 404, "not_found")["message"] == (
            "There is no such API endpoint."
        )


def test_a_server_error_under_api_is_json_elsewhere_the_page():
    api = server_error(RequestFactory().get("/api/v1/links"))
    assert api.status_code == 500
    assert json.loads(api.content)["code"] == "server_error"
    page = server_error(RequestFactory().get("/s/x/links/"))
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_messages_are_english_by_default_without_a_prefix(tenants):
    anonymous = ApiClient()
    anonymous.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    anonymous.cookies["django_language"] = "it"  # a browser's site choice is not the API's
    response = anonymous.get(LINKS)
    assert response.json() == {
        "code": "unauthenticated",
        "message": "Authentication credentials were not provided.",
    }
    assert response["Content-Language"] == "en"
    keyed = ApiClient(tenants[0].raw)
    keyed.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    assert keyed.get(f"{LINKS}/999").json() == {"code": "not_found", "message": "Not found."}


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ("it-IT,it;q=0.9,en;q=0.8", "Non trovato."),
        ("en-GB,it;q=0.5", "Not found."),
        ("fr-FR,de;q=0.8", "Not found."),
        ("fr,it;q=0.5", "Non trovato."),
    ],
)
def test_messages_follow_accept_language(tenants, accept, message):
    response = ApiClient(tenants[0].raw).get(f"{LINKS}/999", HTTP_ACCEPT_LANGUAGE=accept)
    assert response.json() == {"code": "not_found", "message": message}


def test_field_errors_keep_their_field_in_errors(client):
    error = _error(client.post_json(LINKS, {**LINK, "amount": 0}), 400, "invalid_request")
    assert error["errors"] == {"amount": ["Ensure this value is greater than or equal to 1."]}
    assert not error["message"].startswith("detail")


# --- One-line texts --------------------------------------------------------------------------


def test_customer_name_and_reference_become_one_line(client):
    body = {**LINK, "customer_name": " Anna\r\nRossi\x07\u2028 Srl ", "reference": "A-1\n\tB"}
    created = client.post_json(LINKS, body)
    assert created.status_code == 201
    assert created.json()["customer_name"] == "Anna Rossi Srl"
    assert created.json()["reference"] == "A-1 B"
    link = PaymentLink.objects.get()
    assert (link.customer_name, link.reference) == ("Anna Rossi Srl", "A-1 B")
    # A lookup by reference reads it the same way; a NUL byte was a 500 on PostgreSQL.
    for typed in ["A-1\n\tB", "A-1\x00B"]:
        found = client.get(LINKS, {"reference": typed})
        assert found.status_code == 200
        assert [item["id"] for item in found.json()["results"]] == [link.pk]
