"""The back-office cache (merchants/caching.py): fast repeat visits, never a stale or foreign page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from links import services
from links.models import Payment, PaymentStatus
from links.payments import payments_reconcile
from merchants import caching
from merchants.models import Role
from tests.support.factories import PaymentFactory, PaymentLinkFactory


def dashboard(shop) -> str:
    return reverse("links:dashboard", args=[shop.merchant.public_id])


def payments(shop) -> str:
    return reverse("links:payments", args=[shop.merchant.public_id])


def is_hit(response) -> bool:
    return response.get("X-Cache") == "hit"


def warm(client: Client, url: str):
    """Visit until the page comes from the cache: the first visit sets the CSRF cookie, the
    second is stored, the third is served."""
    for _visit in range(3):
        response = client.get(url)
        assert response.status_code == 200
        if is_hit(response):
            return response
    raise AssertionError(f"{url} never came from the cache")


@pytest.fixture
def paid(shop):
    link = PaymentLinkFactory(merchant=shop.merchant, description="Cena per due")
    return PaymentFactory(
        link=link, status=PaymentStatus.SUCCEEDED, customer_email="anna@example.com"
    )


def test_a_repeat_visit_is_served_from_the_cache_without_a_query(shop, owner_client, paid):
    first = owner_client.get(payments(shop))
    assert not is_hit(first)
    warm(owner_client, payments(shop))

    with CaptureQueriesContext(connection) as queries:
        again = owner_client.get(payments(shop))

    assert is_hit(again)
    # The request's transaction is a savepoint inside the test's; it runs no statement.
    assert [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]] == []
    assert again.content == warm(owner_client, payments(shop)).content
    assert b"anna@example.com" in again.content


def test_a_new_payment_shows_at_once(shop, owner_client, paid):
    warm(owner_client, payments(shop))
    warm(owner_client, dashboard(shop))

    PaymentFactory(
        link=paid.link, status=PaymentStatus.SUCCEEDED, customer_email="bruno@example.com"
    )

    fresh = owner_client.get(payments(shop))
    assert not is_hit(fresh)
    assert b"bruno@example.com" in fresh.content
    assert b"bruno@example.com" in owner_client.get(dashboard(shop)).content


def test_a_status_written_with_update_shows_at_once(shop, owner_client):
    """The few `QuerySet.update()` writes send no signal: they name their shop themselves. Here
    reconciliation cancels an attempt that never reached the provider."""
    abandoned = PaymentFactory(
        link=PaymentLinkFactory(merchant=shop.merchant),
        status=PaymentStatus.PENDING,
        customer_email="abandoned@example.com",
    )
    Payment.objects.filter(pk=abandoned.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    canceled_only = payments(shop) + "?status=canceled"
    assert b"abandoned@example.com" not in warm(owner_client, canceled_only).content

    payments_reconcile()

    page = owner_client.get(canceled_only)
    assert not is_hit(page)
    assert b"abandoned@example.com" in page.content


def test_another_shops_write_leaves_the_page_cached(shop, owner_client, paid):
    warm(owner_client, payments(shop))
    PaymentFactory(customer_email="other@example.com")  # a payment of another shop

    assert is_hit(owner_client.get(payments(shop)))


def test_a_removed_member_gets_404_not_the_cached_page(shop, staff_client, paid):
    warm(staff_client, payments(shop))

    shop.staff.delete()

    assert staff_client.get(payments(shop)).status_code == 404
    assert staff_client.get(dashboard(shop)).status_code == 404


def test_a_promoted_member_sees_the_owner_navigation_at_once(shop, staff_client):
    team = reverse("merchants:team", args=[shop.merchant.public_id]).encode()
    assert team not in warm(staff_client, dashboard(shop)).content

    shop.staff.role = Role.OWNER
    shop.staff.save()

    page = staff_client.get(dashboard(shop))
    assert not is_hit(page)
    assert team in page.content


def test_staff_never_gets_the_owners_copy(shop, owner_client, staff_client):
    team = reverse("merchants:team", args=[shop.merchant.public_id]).encode()
    assert team in warm(owner_client, dashboard(shop)).content

    page = staff_client.get(dashboard(shop))

    assert not is_hit(page)
    assert team not in page.content
    assert shop.staff.user.email.encode() in page.content


def test_another_shops_member_gets_404_even_with_the_page_cached(
    shop, owner_client, outsider_client
):
    warm(owner_client, payments(shop))

    assert outsider_client.get(payments(shop)).status_code == 404


def test_a_deactivated_user_is_logged_out_at_once(shop, owner_client):
    warm(owner_client, dashboard(shop))
    user = shop.owner.user
    user.is_active = False
    user.save()

    response = owner_client.get(dashboard(shop))

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_a_password_changed_elsewhere_ends_this_session(shop, owner_client):
    warm(owner_client, dashboard(shop))
    user = shop.owner.user
    user.set_password("a-new-password-2026")
    user.save()

    response = owner_client.get(dashboard(shop))

    assert response.status_code == 302


def test_shop_settings_show_at_once(shop, owner_client):
    warm(owner_client, dashboard(shop))
    shop.merchant.name = "Bottega Rinnovata"
    shop.merchant.save()

    assert b"Bottega Rinnovata" in owner_client.get(dashboard(shop)).content


def test_each_language_has_its_own_copy(shop, owner_client):
    owner_client.cookies["django_language"] = "it"
    assert 'lang="it"' in warm(owner_client, dashboard(shop)).content.decode()
    owner_client.cookies["django_language"] = "en"

    page = owner_client.get(dashboard(shop))

    assert not is_hit(page)
    assert 'lang="en"' in page.content.decode()


def test_a_page_with_a_message_to_show_is_rendered(shop, owner_client):
    """A message left by an action in another shop shows on the next page, whichever it is."""
    owner_client.cookies["django_language"] = "en"
    warm(owner_client, dashboard(shop))
    created = owner_client.post(
        reverse("merchants:onboarding"),
        {
            "name": "Seconda Bottega",
            "legal_name": "Seconda Bottega S.r.l.",
            "vat_number": "12345670017",
            "address": "Via Po 2",
            "postal_code": "10121",
            "city": "Torino",
            "country": "IT",
            "contact_email": "seconda@example.com",
            "default_language": "en",
            "default_currency": "EUR",
            "time_zone": "Europe/Rome",
            "brand_color": "#0d6efd",
        },
    )
    assert created.status_code == 302, created.context["form"].errors

    page = owner_client.get(dashboard(shop))

    assert not is_hit(page)
    assert b"Seconda Bottega is ready" in page.content
    assert b"Seconda Bottega is ready" not in owner_client.get(dashboard(shop)).content


def test_a_page_rendered_before_a_commit_is_not_served_after_it(
    shop, owner_client, paid, django_capture_on_commit_callbacks
):
    """A write bumps the version at once and again at commit: a page another request rendered
    in between, from rows that did not show the write yet, is never served."""
    with django_capture_on_commit_callbacks(execute=False) as commit:
        caching.shop_changed(shop.merchant.pk)
    warm(owner_client, payments(shop))  # rendered "before the commit", stored under the version

    for callback in commit:
        callback()

    assert not is_hit(owner_client.get(payments(shop)))


def test_a_write_after_a_page_read_in_the_same_transaction_shows_too(shop, owner_client, paid):
    """The request's own transaction sees its writes: each one reaches the next page it reads,
    not only the first."""
    warm(owner_client, payments(shop))
    PaymentFactory(link=paid.link, status=PaymentStatus.SUCCEEDED, customer_email="b@example.com")
    assert b"b@example.com" in owner_client.get(payments(shop)).content
    warm(owner_client, payments(shop))

    PaymentFactory(link=paid.link, status=PaymentStatus.SUCCEEDED, customer_email="c@example.com")

    page = owner_client.get(payments(shop))
    assert not is_hit(page)
    assert b"c@example.com" in page.content


def test_a_link_gives_its_shop_one_new_version_at_commit(
    shop, owner_client, paid, django_capture_on_commit_callbacks, monkeypatch
):
    """The link, its event and its audit entry are three writes of the shop in one transaction:
    its pages need one new version, once the transaction commits (a Redis round trip each)."""
    replaced = []
    new_version = caching._new_version
    monkeypatch.setattr(
        caching, "_new_version", lambda key: replaced.append(key) or new_version(key)
    )
    warm(owner_client, payments(shop))

    with django_capture_on_commit_callbacks(execute=True):
        services.link_create(
            merchant=shop.merchant, created_by=None, amount=1500, currency="EUR", description="Tè"
        )

    # (The users and memberships the fixtures wrote in this test's transaction are due too.)
    assert [key for key in replaced if key.startswith("bo:shop:")] == [
        f"bo:shop:{shop.merchant.pk}"
    ]
    assert not is_hit(owner_client.get(payments(shop)))


def test_a_write_after_a_rolled_back_savepoint_still_counts_at_commit(
    shop, owner_client, paid, django_capture_on_commit_callbacks
):
    """A savepoint rolled back drops what it registered for the commit: a write of the same shop
    after it still makes the pages another request rendered before the commit stale."""

    with django_capture_on_commit_callbacks(execute=False) as commit:
        with transaction.atomic():
            caching.shop_changed(shop.merchant.pk)
            transaction.set_rollback(True)
        caching.shop_changed(shop.merchant.pk)
    warm(owner_client, payments(shop))  # rendered "before the commit"

    for callback in commit:
        callback()

    assert not is_hit(owner_client.get(payments(shop)))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_nothing_for_the_next_commit(monkeypatch):
    """A transaction that rolls back changed nothing: the next one to commit in the same thread
    gives a new version to the shops it wrote, not to the rolled-back one's too."""
    replaced = []
    new_version = caching._new_version
    monkeypatch.setattr(
        caching, "_new_version", lambda key: replaced.append(key) or new_version(key)
    )
    with transaction.atomic():  # rolled back: Django drops its commit callbacks
        caching.shop_changed(1001)
        transaction.set_rollback(True)

    with transaction.atomic():
        caching.shop_changed(1002)

    assert replaced == ["bo:shop:1002"]


def test_without_a_shared_cache_nothing_is_cached(shop, owner_client, settings):
    settings.BACKOFFICE_CACHE = False
    for _visit in range(3):
        page = owner_client.get(dashboard(shop))
        assert page.status_code == 200
        assert not is_hit(page)
