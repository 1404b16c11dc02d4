"""Property-based: whatever JSON reaches link creation, the answer is never a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchants.models import Merchant
from tests.support.api import ApiClient
from tests.support.factories import MerchantFactory

pytestmark = pytest.mark.django_db

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=600),
    st.sampled_from(["EUR", "JPY", "single", "reusable", "https://shop.example.com/x", ""]),
    st.sampled_from(["2030-01-01T10:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=45), inner, max_size=25)
    ),
    max_leaves=30,
)
FIELDS = [
    "amount",
    "currency",
    "description",
    "reference",
    "customer_name",
    "customer_email",
    "language",
    "expires_at",
    "kind",
    "max_payments",
    "success_url",
    "cancel_url",
    "metadata",
]
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=len(FIELDS)),
    st.fixed_dictionaries(
        {"amount": st.integers(-10, 10**9), "currency": st.sampled_from(["EUR", "JPY", "XXX"])},
        optional=dict.fromkeys(FIELDS[2:], values),
    ),
    values,
)


@pytest.fixture
def client(db, make_key) -> ApiClient:
    merchant: Merchant = MerchantFactory()
    _key, raw = make_key(merchant)
    return ApiClient(raw)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, idempotency=st.one_of(st.none(), st.text(max_size=300)))
def test_link_creation_never_answers_5xx(client, settings_override, body, idempotency):
    headers = {}
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency.encode("utf-8", "surrogatepass").decode("latin-1")
    response = client.post(
        "/api/v1/links",
        data=json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code < 500, response.content
    assert response.status_code in (200, 201, 400, 409)
    if response.status_code >= 400:
        assert {"code", "message"} <= set(response.json())


@pytest.fixture
def settings_override(settings):
    settings.VPOS_API_RATE = "100000/min"
