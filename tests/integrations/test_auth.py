"""API keys: bearer authentication, scopes, revocation, storage; the owner's keys page."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.api_keys import api_key_revoke
from integrations.models import ApiKey
from merchants.models import FiscalProfile
from tests.support.api import LINK, ApiClient
from tests.support.invoices import BUSINESS
from vpos.audit import Action
from vpos.models import AuditEntry

LINKS = "/api/v1/links"
INVOICE_CUSTOMER = {**BUSINESS, "vat_number": "IT01234560017", "sdi_code": "m5uxcr1"}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer vpos_test_nope", "Basic dXNlcjpwYXNz", "Bearer a b", "Token x"],
)
def test_missing_or_unknown_key_is_401_json(tenants, header):
    client = ApiClient()
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(LINKS, **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_refused_at_once(tenants):
    tenant = tenants[0]
    assert tenant.client().get(LINKS).status_code == 200
    api_key_revoke(api_key=tenant.key, actor=None)
    response = tenant.client().get(LINKS)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_deleted_key_is_refused_at_once(tenants):
    tenant = tenants[0]
    assert tenant.client().get(LINKS).status_code == 200
    ApiKey.objects.filter(pk=tenant.key.pk).delete()
    assert tenant.client().get(LINKS).status_code == 401


def test_without_a_shared_cache_every_request_reads_its_key(tenants, settings):
    settings.BACKOFFICE_CACHE = False  # each process its own cache: nothing is kept in memory
    tenant = tenants[0]
    assert tenant.client().get(LINKS).status_code == 200
    ApiKey.objects.filter(pk=tenant.key.pk).update(revoked_at=timezone.now())  # no version
    assert tenant.client().get(LINKS).status_code == 401


def test_a_change_to_the_shop_reaches_its_key_at_once(tenants):
    tenant = tenants[0]
    merchant = tenant.merchant
    merchant.default_language = "it"
    merchant.save()
    assert tenant.client().post_json(LINKS, LINK).json()["language"] == "it"
    merchant.default_language = "en"
    merchant.save()
    assert tenant.client().post_json(LINKS, LINK).json()["language"] == "en"


def test_a_remembered_key_reads_its_shops_related_rows_afresh(tenants):
    """The key and its shop come from memory; what hangs off the shop (here its fiscal profile)
    is read by each request."""
    tenant = tenants[0]
    body = {**LINK, "invoice": INVOICE_CUSTOMER}
    FiscalProfile.objects.create(merchant=tenant.merchant, invoicing="off")
    assert tenant.client().post_json(LINKS, body).json()["code"] == "invoicing_off"
    FiscalProfile.objects.filter(merchant=tenant.merchant).update(invoicing="request")
    assert tenant.client().post_json(LINKS, body).status_code == 201


def test_read_key_reads_but_cannot_write(tenants, make_key):
    _key, raw = make_key(tenants[0].merchant, scope=ApiKey.Scope.READ)
    client = ApiClient(raw)
    assert client.get(LINKS).status_code == 200
    response = client.post_json(LINKS, LINK)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not tenants[0].merchant.links.exists()


def test_key_is_stored_hashed_with_a_visible_prefix_and_last_use(tenants):
    tenant = tenants[0]
    assert tenant.raw.startswith("vpos_test_")
    assert len(tenant.raw) >= len("vpos_test_") + 43  # 32 random bytes, base64url
    key = ApiKey.objects.get(pk=tenant.key.pk)
    assert key.secret_hash == hashlib.sha256(tenant.raw.encode()).hexdigest()
    assert tenant.raw not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert tenant.raw.startswith(key.prefix)
    assert key.last_used_at is None
    tenant.client().get(LINKS)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_create_and_revoke_are_audited(tenants):
    tenant = tenants[0]
    api_key_revoke(api_key=tenant.key, actor=None)
    actions = set(
        AuditEntry.objects.filter(merchant=tenant.merchant).values_list("action", flat=True)
    )
    assert {Action.API_KEY_CREATED, Action.API_KEY_REVOKED} <= actions


# --- Owner pages: three actors ----------------------------------------------------------------


def test_owner_creates_a_key_and_sees_it_once(shop, client_as):
    owner = client_as("owner")
    url = reverse("integrations:developers", args=[shop.merchant.public_id])
    response = owner.post(url, {"name": "Web shop", "scope": "read"})
    assert response.status_code == 200
    raw = response.context["new_key"]
    assert raw.startswith("vpos_test_")
    assert raw in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    again = owner.get(url)
    assert raw not in again.content.decode()
    assert ApiKey.objects.get(merchant=shop.merchant).prefix in again.content.decode()
    assert ApiClient(raw).get(LINKS).status_code == 200


def test_owner_revokes_a_key(shop, client_as, make_key):
    key, raw = make_key(shop.merchant)
    assert ApiClient(raw).get(LINKS).status_code == 200  # now kept in this process's memory
    url = reverse("integrations:api_key_revoke", args=[shop.merchant.public_id, key.pk])
    assert client_as("owner").post(url).status_code == 302
    assert ApiClient(raw).get(LINKS).status_code == 401


@pytest.mark.parametrize(("actor", "expected"), [("staff", 403), ("outsider", 404)])
def test_staff_and_outsiders_cannot_manage_keys(shop, client_as, make_key, actor, expected):
    key, raw = make_key(shop.merchant)
    client = client_as(actor)
    page = reverse("integrations:developers", args=[shop.merchant.public_id])
    assert client.get(page).status_code == expected
    assert client.post(page, {"name": "x", "scope": "read_write"}).status_code == expected
    revoke = reverse("integrations:api_key_revoke", args=[shop.merchant.public_id, key.pk])
    assert client.post(revoke).status_code == expected
    assert ApiClient(raw).get(LINKS).status_code == 200


def test_an_owner_cannot_revoke_another_shops_key(shop, client_as, make_key):
    key, raw = make_key(shop.outsider.merchant)
    revoke = reverse("integrations:api_key_revoke", args=[shop.merchant.public_id, key.pk])
    assert client_as("owner").post(revoke).status_code == 404
    assert ApiClient(raw).get(LINKS).status_code == 200
