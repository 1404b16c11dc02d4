"""The links endpoints: create (with Idempotency-Key), list, detail, deactivate; tenancy; limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ApiIdempotencyKey
from links.models import LinkChannel, LinkStatus, PaymentLink
from tests.support.api import LINK
from tests.support.clock import Clock, SteppingClock
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from vpos import ratelimit
from vpos.audit import Action
from vpos.models import AuditEntry

LINKS = "/api/v1/links"


def test_create_link(api, tenants):
    response = api.post_json(LINKS, LINK)
    assert response.status_code == 201, response.content
    body = response.json()
    link = PaymentLink.objects.get(pk=body["id"])
    assert link.merchant == tenants[0].merchant
    assert link.channel == LinkChannel.API
    assert (link.amount, link.currency) == (2500, "EUR")
    assert link.success_url == LINK["success_url"]
    assert link.metadata == {"order_id": "1001"}
    assert body["status"] == "active"
    assert body["url"] == link.public_url
    assert body["metadata"] == {"order_id": "1001"}
    entry = AuditEntry.objects.get(merchant=link.merchant, action=Action.LINK_CREATED)
    assert entry.actor is None
    assert tenants[0].key.prefix in entry.actor_label


def test_creating_a_link_costs_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    """With an Idempotency-Key, once the key is known to the process: the key's record, the
    link, its audit entry, the record bound to the link; and the request's savepoint here (its
    transaction, in production). No read of the key, its shop, or the record before writing it."""
    api.post_json(LINKS, LINK, **{"Idempotency-Key": "first"})
    with django_assert_max_num_queries(6):
        response = api.post_json(LINKS, LINK, **{"Idempotency-Key": "second"})
    assert response.status_code == 201


def test_a_replay_costs_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    """The key's record found by the insert that cannot add it, read, and the first link read."""
    api.post_json(LINKS, LINK, **{"Idempotency-Key": "same"})
    with django_assert_max_num_queries(5):
        response = api.post_json(LINKS, LINK, **{"Idempotency-Key": "same"})
    assert response.status_code == 200


def test_create_reusable_link_with_expiry(api):
    expires = (timezone.now() + timedelta(days=2)).isoformat()
    response = api.post_json(
        LINKS,
        {**LINK, "kind": "reusable", "max_payments": 3, "expires_at": expires, "language": "en"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["max_payments"], body["language"]) == ("reusable", 3, "en")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**LINK, "amount": 0}, "amount"),
        ({**LINK, "amount": "lots"}, "amount"),
        ({**LINK, "amount": 10}, "amount"),  # below the currency's minimum (service rule)
        ({**LINK, "amount": 10**12}, "amount"),
        ({**LINK, "currency": "XXX"}, "currency"),
        ({**LINK, "description": ""}, "description"),
        ({k: v for k, v in LINK.items() if k != "description"}, "description"),
        ({**LINK, "customer_email": "not-an-email"}, "customer_email"),
        ({**LINK, "expires_at": "yesterday"}, "expires_at"),
        ({**LINK, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({**LINK, "expires_at": "0001-01-01T00:00:00+14:00"}, "expires_at"),
        ({**LINK, "kind": "forever"}, "kind"),
        ({**LINK, "success_url": "http://shop.example.com/thanks"}, "success_url"),
        ({**LINK, "success_url": "javascript:alert(1)"}, "success_url"),
        ({**LINK, "cancel_url": "http://localhost:8000/cart"}, "cancel_url"),
        ({**LINK, "metadata": {f"k{i}": "v" for i in range(21)}}, "metadata"),
        ({**LINK, "metadata": {"k": "v" * 501}}, "metadata"),
        ({**LINK, "metadata": {"k": 1}}, "metadata"),
        ({**LINK, "metadata": ["a"]}, "metadata"),
        ({**LINK, "description": "nul\x00byte"}, "description"),
    ],
)
def test_bad_bodies_are_400_with_code_and_message(api, body, field):
    response = api.post_json(LINKS, body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] in ("invalid_request", "min_amount", "max_amount", "expiry_past")
    assert error["message"]
    assert field in error["message"] or field in error.get("errors", {})
    assert not PaymentLink.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b"null",
        b'{"amount": NaN}',
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
)
def test_malformed_json_is_400(api, raw):
    response = api.post_json(LINKS, raw)
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_json", "invalid_request")


def test_form_encoded_body_is_415(api):
    response = api.post(LINKS, data={"amount": "100"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_local_http_return_urls_when_allowed(api, settings):
    settings.VPOS_API_ALLOW_LOCAL_HTTP_URLS = True
    body = {**LINK, "success_url": "http://127.0.0.1:8000/ok", "cancel_url": "http://localhost/c"}
    assert api.post_json(LINKS, body).status_code == 201
    assert api.post_json(LINKS, {**LINK, "success_url": "http://example.com/"}).status_code == 400


# --- Idempotency --------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_original(api):
    first = api.post_json(LINKS, LINK, **{"Idempotency-Key": "order-1001"})
    again = api.post_json(LINKS, LINK, **{"Idempotency-Key": "order-1001"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert PaymentLink.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_409(api):
    api.post_json(LINKS, LINK, **{"Idempotency-Key": "order-1001"})
    response = api.post_json(LINKS, {**LINK, "amount": 9900}, **{"Idempotency-Key": "order-1001"})
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert "different request" in response.json()["message"]
    assert PaymentLink.objects.count() == 1


def test_idempotency_keys_are_per_api_key(tenants):
    first = tenants[0].client().post_json(LINKS, LINK, **{"Idempotency-Key": "k"})
    other = tenants[1].client().post_json(LINKS, LINK, **{"Idempotency-Key": "k"})
    assert first.status_code == other.status_code == 201
    assert first.json()["id"] != other.json()["id"]


def test_a_failed_request_does_not_use_up_its_idempotency_key(api):
    bad = api.post_json(LINKS, {**LINK, "amount": 10}, **{"Idempotency-Key": "retry-me"})
    assert bad.status_code == 400
    assert not ApiIdempotencyKey.objects.exists()
    assert api.post_json(LINKS, LINK, **{"Idempotency-Key": "retry-me"}).status_code == 201


def test_without_idempotency_key_each_request_creates_a_link(api):
    api.post_json(LINKS, LINK)
    api.post_json(LINKS, LINK)
    assert PaymentLink.objects.count() == 2


# --- Reading, tenancy ----------------------------------------------------------------------


def test_list_is_the_shops_own_links_newest_first_with_filters(tenants):
    mine, other = tenants[0], tenants[1]
    old = PaymentLinkFactory(merchant=mine.merchant, reference="A")
    new = PaymentLinkFactory(merchant=mine.merchant, reference="B", status=LinkStatus.PAID)
    PaymentLinkFactory(merchant=other.merchant, reference="A")
    expired = PaymentLinkFactory(merchant=mine.merchant, reference="C")
    PaymentLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    client = mine.client()
    ids = [item["id"] for item in client.get(LINKS).json()["results"]]
    assert ids == [expired.pk, new.pk, old.pk]
    assert [i["id"] for i in client.get(LINKS, {"reference": "A"}).json()["results"]] == [old.pk]
    assert [i["id"] for i in client.get(LINKS, {"status": "paid"}).json()["results"]] == [new.pk]
    assert [i["id"] for i in client.get(LINKS, {"status": "active"}).json()["results"]] == [old.pk]
    assert [i["id"] for i in client.get(LINKS, {"status": "expired"}).json()["results"]] == [
        expired.pk
    ]
    bad = client.get(LINKS, {"status": "nope"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_request"


def test_cursor_pagination_walks_every_link_once(api, tenants):
    made = {PaymentLinkFactory(merchant=tenants[0].merchant).pk for _ in range(7)}
    seen: list[int] = []
    url = f"{LINKS}?limit=3"
    while url:
        page = api.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made)
    assert api.get(LINKS, {"cursor": "garbage"}).status_code == 400


@pytest.mark.parametrize("path", [LINKS, "/api/v1/payments"])
@pytest.mark.parametrize("limit", ["0", "-1", "101", "1000", "null", "", "abc", "2.5", "\u0662"])
def test_a_limit_outside_1_to_100_is_a_400_not_a_default_page(api, path, limit):
    response = api.get(path, {"limit": limit})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "limit" in response.json()["errors"]


def test_limit_1_and_100_are_page_sizes(api, tenants):
    for _ in range(3):
        PaymentLinkFactory(merchant=tenants[0].merchant)
    assert len(api.get(LINKS, {"limit": "1"}).json()["results"]) == 1
    assert len(api.get(LINKS, {"limit": "100"}).json()["results"]) == 3


def test_empty_optional_email_and_urls_are_null_not_empty_strings(api, tenants):
    """The schema says email and URI: a client generated from it cannot read "" as either."""
    link = PaymentLinkFactory(
        merchant=tenants[0].merchant, customer_email="", success_url="", cancel_url=""
    )
    PaymentFactory(link=link, customer_email="")
    listed = api.get(LINKS).json()["results"][0]
    detail = api.get(f"{LINKS}/{link.pk}").json()
    payment = api.get("/api/v1/payments").json()["results"][0]
    for body in (listed, detail):
        assert (body["customer_email"], body["success_url"], body["cancel_url"]) == (None,) * 3
    assert payment["customer_email"] is None
    filled = api.post_json(LINKS, LINK).json()
    assert filled["customer_email"] == LINK["customer_email"]
    assert filled["success_url"] == LINK["success_url"]


def test_three_tenants_never_see_each_others_links(tenants):
    links = [PaymentLinkFactory(merchant=t.merchant) for t in tenants]
    for index, tenant in enumerate(tenants):
        client = tenant.client()
        assert [i["id"] for i in client.get(LINKS).json()["results"]] == [links[index].pk]
        for other_index, link in enumerate(links):
            detail = client.get(f"{LINKS}/{link.pk}")
            deactivate = client.post_json(f"{LINKS}/{link.pk}/deactivate")
            if other_index == index:
                assert detail.status_code == 200
            else:
                assert detail.status_code == deactivate.status_code == 404
                assert detail.json()["code"] == "not_found"
    # each shop deactivated its own link, and nobody else's
    assert set(PaymentLink.objects.values_list("status", flat=True)) == {LinkStatus.DEACTIVATED}


@pytest.mark.parametrize("path", ["abc", "99999999999999999999999", "1e3", "-1", "%00"])
def test_odd_ids_are_404_json(api, path):
    response = api.get(f"{LINKS}/{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_api_path_is_404_json(api):
    response = api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_deactivate_and_deactivate_again(api, tenants):
    link = PaymentLinkFactory(merchant=tenants[0].merchant)
    response = api.post_json(f"{LINKS}/{link.pk}/deactivate")
    assert response.status_code == 200
    assert response.json()["status"] == "deactivated"
    again = api.post_json(f"{LINKS}/{link.pk}/deactivate")
    assert again.status_code == 409
    assert again.json()["code"] == "link_not_active"


# --- Rate limit ---------------------------------------------------------------------------


MINUTE = 1_800_000_000.0  # the start of a minute's window


def test_rate_limit_per_key_is_429_with_retry_after(tenants, settings, limiter_cache, monkeypatch):
    """Counted in the cache every process shares (in Redis, as in production, or in memory)."""
    settings.VPOS_API_RATE = "3/min"
    clock = Clock(MINUTE + 20)
    monkeypatch.setattr(ratelimit, "time", clock)
    client = tenants[0].client()
    assert [client.get(LINKS).status_code for _ in range(3)] == [200] * 3
    limited = client.get(LINKS)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    # Three requests at 0:20 use up the minute until 1:20, estimated from the two windows: at
    # 1:20, this window's share of the last one (2/3 of 3 requests) and one more make three.
    assert limited["Retry-After"] == "60"
    assert tenants[1].client().get(LINKS).status_code == 200  # another key has its own budget
    clock.now = MINUTE + 79
    assert client.get(LINKS).status_code == 429
    clock.now = MINUTE + 80  # the refused requests were not counted: waiting is enough
    assert client.get(LINKS).status_code == 200


def test_a_request_at_the_turn_of_a_minute_is_counted_in_one_window(
    tenants, settings, limiter_cache, monkeypatch
):
    """The two windows are placed from one reading of the clock: read twice across the turn of
    a minute, the new window would be taken for the last one too, and the request counted twice."""
    settings.VPOS_API_RATE = "1/min"
    monkeypatch.setattr(ratelimit, "time", SteppingClock(MINUTE + 59.9, step=0.2))
    assert tenants[0].client().get(LINKS).status_code == 200


def test_rate_limit_per_key_holds_across_the_edge_of_a_minute(
    tenants, settings, limiter_cache, monkeypatch
):
    """A burst at the end of one minute and the start of the next is not let through twice."""
    settings.VPOS_API_RATE = "3/min"
    clock = Clock(MINUTE + 59)
    monkeypatch.setattr(ratelimit, "time", clock)
    client = tenants[0].client()
    assert [client.get(LINKS).status_code for _ in range(3)] == [200] * 3
    clock.now = MINUTE + 61  # a new fixed window, but the last minute still holds the three
    limited = client.get(LINKS)
    assert limited.status_code == 429
    # Allowed once the last window's share (59/60 now) is down to 2 of 3: at 1:20.
    assert limited["Retry-After"] == "19"
    clock.now = MINUTE + 80
    assert client.get(LINKS).status_code == 200
