"""The shop's audit log: what gets written, who may read it, its filters, and that nobody edits it.

Every action is done the way a person does it (through the pages, logging in through allauth),
then read back on the owner's audit page.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from links.models import Payment, PaymentLink
from links.payments import payment_refresh
from merchants.forms import MerchantForm
from merchants.models import Invitation, Membership, PaymentAccount, Role
from tests.support.factories import (
    PASSWORD,
    MembershipFactory,
    MerchantFactory,
    PaymentLinkFactory,
    UserFactory,
)
from tests.support.localstripe import stripe_client
from tests.support.stripe import payment_intent
from vpos.audit import Action, audit
from vpos.models import AuditEntry


def english(client: Client) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def owner(shop) -> Client:
    return english(shop.client_for("owner"))


def rows(page: str) -> list[dict[str, str]]:
    """The audit table as a reader sees it, newest first."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    if body is None:
        return []
    result = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        result.append(dict(zip(["when", "who", "action", "what"], cells, strict=True)))
    return result


def read_log(client: Client, shop, **filters: str) -> list[dict[str, str]]:
    response = client.get(reverse("merchants:audit", args=[shop.merchant.public_id]), filters)
    assert response.status_code == 200, response.status_code
    return rows(response.text)


def the_row(log: list[dict[str, str]], action: str) -> dict[str, str]:
    found = [row for row in log if row["action"] == action]
    assert len(found) == 1, (action, log)
    return found[0]


# --- Who may read it -------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "status"), [("owner", 200), ("staff", 403), ("outsider", 404)])
def test_only_the_owner_reads_the_audit_log(shop, actor, status):
    response = shop.client_for(actor).get(
        reverse("merchants:audit", args=[shop.merchant.public_id])
    )
    assert response.status_code == status


def test_anonymous_visitor_is_sent_to_login(client, shop):
    response = client.get(reverse("merchants:audit", args=[shop.merchant.public_id]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


# --- What is written -------------------------------------------------------------------------


def link_form(**overrides: str) -> dict[str, str]:
    data = {
        "amount": "19,99",
        "currency": "EUR",
        "description": "Cena per due",
        "reference": "",
        "customer_name": "",
        "customer_email": "",
        "language": "it",
        "kind": "single",
        "max_payments": "",
        "expiry": "none",
        "expires_on": "",
    }
    data.update(overrides)
    return data


def test_link_created_sent_and_deactivated(shop, owner):
    staff = english(shop.client_for("staff"))
    shop_id = shop.merchant.public_id

    assert staff.post(reverse("links:create", args=[shop_id]), link_form()).status_code == 302
    link = PaymentLink.objects.get(merchant=shop.merchant)
    sent = staff.post(
        reverse("links:detail", args=[shop_id, link.pk]),
        {"to": "cliente@example.com", "message": "", "language": "it"},
    )
    assert sent.status_code == 302
    assert owner.post(reverse("links:deactivate", args=[shop_id, link.pk])).status_code == 302

    log = read_log(owner, shop)

    assert [row["action"] for row in log] == ["Link deactivated", "Link sent", "Link created"]
    created, sent_row, deactivated = (
        the_row(log, "Link created"),
        the_row(log, "Link sent"),
        the_row(log, "Link deactivated"),
    )
    assert created["who"] == shop.staff.user.email
    assert created["what"] == "€19.99 — Cena per due"
    assert sent_row["who"] == shop.staff.user.email
    assert sent_row["what"] == "€19.99 — Cena per due → cliente@example.com"
    assert deactivated["who"] == shop.owner.user.email
    assert deactivated["what"] == "€19.99 — Cena per due"


def test_refund(shop, owner, stripe_settings, django_capture_on_commit_callbacks):
    link = PaymentLinkFactory(merchant=shop.merchant, amount=2000, description="Giacca")
    api = stripe_client(stripe_settings.STRIPE_API_BASE, stripe_settings.STRIPE_SECRET_KEY)
    intent = payment_intent(api, amount=2000)
    payment = Payment.objects.create(
        merchant=shop.merchant,
        link=link,
        attempt_key=secrets.token_urlsafe(24),
        amount=2000,
        currency="EUR",
        provider_id=intent.id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_refresh(payment=payment, source="browser")
        response = owner.post(
            reverse("links:payment_refund", args=[shop.merchant.public_id, payment.public_id]),
            {"amount": "5,00", "reason": "Taglia sbagliata", "confirm": "on"},
        )
    assert response.status_code == 302

    row = the_row(read_log(owner, shop), "Refund")

    assert row["who"] == shop.owner.user.email
    assert row["what"] == "€5.00 — Giacca"


def settings_form(merchant, **overrides: Any) -> dict[str, Any]:
    data = {name: getattr(merchant, name) for name in MerchantForm.Meta.fields}
    data.update(overrides)
    return data


def test_settings_changed_lists_the_changed_fields(shop, owner):
    url = reverse("merchants:settings", args=[shop.merchant.public_id])

    response = owner.post(
        url, settings_form(shop.merchant, name="Bottega Nuova", city="Torino", province="TO")
    )
    assert response.status_code == 302
    shop.merchant.refresh_from_db()
    owner.post(url, settings_form(shop.merchant))  # saved again, nothing changed: no entry

    row = the_row(read_log(owner, shop), "Shop settings changed")

    assert row["who"] == shop.owner.user.email
    assert row["what"] == "city, name, province"
    entry = AuditEntry.objects.get(action=Action.SETTINGS_CHANGED)
    assert entry.data == {"fields": ["city", "name", "province"]}


def test_payment_account_connected_and_disconnected(shop, owner, stripe_settings):
    url = reverse("links:payment_account", args=[shop.merchant.public_id])
    keys = {
        "publishable_key": "pk_test_shopPublic0123456789",
        "secret_key": "sk_test_shopSecret0123456789abcdefXYZ",
        "webhook_secret": "whsec_shopSigning0123456789abcdef",
    }

    assert owner.post(url, keys).status_code == 302
    hint = PaymentAccount.objects.get(merchant=shop.merchant).secret_key_hint
    assert owner.post(url, {"action": "disconnect"}).status_code == 302

    log = read_log(owner, shop)

    assert [row["action"] for row in log] == [
        "Payment account disconnected",
        "Payment account connected",
    ]
    connected = the_row(log, "Payment account connected")
    assert hint in connected["what"]
    assert keys["secret_key"] not in connected["what"]
    assert "test" in connected["what"]
    assert {row["who"] for row in log} == {shop.owner.user.email}


def test_team_changes(shop, owner, client):
    shop_id = shop.merchant.public_id
    team = reverse("merchants:team", args=[shop_id])
    assert owner.post(team, {"email": "nuova@example.com", "role": Role.STAFF}).status_code == 302
    assert owner.post(team, {"email": "ripensata@example.com", "role": "staff"}).status_code == 302
    dropped = Invitation.objects.get(email="ripensata@example.com")
    revoke = reverse("merchants:invitation_revoke", args=[shop_id, dropped.pk])
    assert owner.post(revoke).status_code == 302
    # The invited person joins.
    newcomer = UserFactory(email="nuova@example.com")
    client = english(client)
    client.force_login(newcomer)
    invitation = Invitation.objects.get(email="nuova@example.com")
    joined = client.post(reverse("merchants:invitation_accept", args=[invitation.token]))
    assert joined.status_code == 302
    # The owner promotes her and removes the previous staff member.
    member = Membership.objects.get(user=newcomer, merchant=shop.merchant)
    role_url = reverse("merchants:member_role", args=[shop_id, member.pk])
    assert owner.post(role_url, {"role": Role.OWNER}).status_code == 302
    remove_url = reverse("merchants:member_remove", args=[shop_id, shop.staff.pk])
    assert owner.post(remove_url).status_code == 302

    log = read_log(owner, shop)

    assert [row["action"] for row in log] == [
        "Member removed",
        "Role changed",
        "Member joined",
        "Invitation revoked",
        "Member invited",
        "Member invited",
    ]
    assert the_row(log, "Member removed")["what"] == shop.staff.user.email
    assert the_row(log, "Role changed")["what"] == "nuova@example.com: Staff → Owner"
    joined_row = the_row(log, "Member joined")
    assert (joined_row["who"], joined_row["what"]) == (
        "nuova@example.com",
        "nuova@example.com (Staff)",
    )
    assert the_row(log, "Invitation revoked")["what"] == "ripensata@example.com"
    invited = [row["what"] for row in log if row["action"] == "Member invited"]
    assert invited == ["ripensata@example.com (Staff)", "nuova@example.com (Staff)"]
    assert all(
        row["who"] == shop.owner.user.email for row in log if row["action"] != "Member joined"
    )


def test_login_is_written_to_each_shop_of_the_user_with_the_address(shop, owner):
    user = shop.owner.user
    second = MembershipFactory(user=user, merchant=MerchantFactory(), role=Role.STAFF)
    before = AuditEntry.objects.count()

    failed = Client().post(
        reverse("account_login"), {"login": user.email, "password": "wrong"}, REMOTE_ADDR="1.2.3.4"
    )
    assert failed.status_code == 200
    assert AuditEntry.objects.count() == before  # a failed login is not a login

    response = Client().post(
        reverse("account_login"),
        {"login": user.email, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 302
    logins = AuditEntry.objects.filter(action=Action.LOGIN)
    assert sorted(e.merchant_id for e in logins) == sorted([shop.merchant.pk, second.merchant_id])
    assert {(e.actor_id, e.ip_address) for e in logins} == {(user.pk, "203.0.113.9")}
    assert not AuditEntry.objects.filter(merchant=shop.outsider.merchant).exists()
    row = the_row(read_log(owner, shop), "Logged in")
    assert row["who"] == f"{user.email} 203.0.113.9"


# --- Filters and tenancy ---------------------------------------------------------------------


@pytest.fixture
def history(shop) -> dict[str, AuditEntry]:
    """Entries on known dates, in this shop and in another (which must never show)."""
    merchant, other = shop.merchant, shop.outsider.merchant
    owner, staff = shop.owner.user, shop.staff.user

    def entry(merchant, actor, action, summary, at: datetime) -> AuditEntry:
        created = audit(merchant_id=merchant.pk, actor=actor, action=action, summary=summary)
        AuditEntry.objects.filter(pk=created.pk).update(created_at=at)
        return created

    return {
        "january": entry(
            merchant, owner, Action.LINK_CREATED, "Gennaio", datetime(2026, 1, 10, 11, tzinfo=UTC)
        ),
        "february": entry(
            merchant, staff, Action.LINK_SENT, "Febbraio", datetime(2026, 2, 15, 11, tzinfo=UTC)
        ),
        "march": entry(
            merchant, staff, Action.LINK_CREATED, "Marzo", datetime(2026, 3, 20, 11, tzinfo=UTC)
        ),
        "late": entry(  # 23:30 UTC on 31 March is already 1 April in Rome
            merchant, owner, Action.LOGIN, "Tardi", datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
        ),
        "other shop": entry(
            other,
            shop.outsider.user,
            Action.LINK_CREATED,
            "Segreto altrui",
            datetime(2026, 2, 15, 11, tzinfo=UTC),
        ),
    }


def whats(log: list[dict[str, str]]) -> list[str]:
    return [row["what"] for row in log]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["Tardi", "Marzo", "Febbraio", "Gennaio"]),
        ({"action": "link.created"}, ["Marzo", "Gennaio"]),
        ({"action": "login"}, ["Tardi"]),
        ({"action": "team.removed"}, []),
        ({"who": "nobody@example.com"}, []),
        ({"date_from": "2026-02-01"}, ["Tardi", "Marzo", "Febbraio"]),
        ({"date_to": "2026-02-15"}, ["Febbraio", "Gennaio"]),
        ({"date_from": "2026-02-15", "date_to": "2026-03-31"}, ["Marzo", "Febbraio"]),
        ({"date_from": "2026-04-01", "date_to": "2026-04-01"}, ["Tardi"]),
        ({"action": "link.created", "date_from": "2026-03-01"}, ["Marzo"]),
    ],
)
def test_filters(shop, owner, history, filters, expected):
    assert whats(read_log(owner, shop, **filters)) == expected


def test_filter_by_who(shop, owner, history):
    staff_email = shop.staff.user.email
    assert whats(read_log(owner, shop, who=staff_email)) == ["Marzo", "Febbraio"]
    assert whats(read_log(owner, shop, who=staff_email.upper())) == ["Marzo", "Febbraio"]
    assert whats(read_log(owner, shop, who=shop.owner.user.email)) == ["Tardi", "Gennaio"]
    # The other shop's people are nobody here.
    assert whats(read_log(owner, shop, who=shop.outsider.user.email)) == []


def test_another_shops_entries_never_show(shop, owner, history):
    for filters in ({}, {"action": "link.created"}, {"date_from": "2026-02-15"}):
        page = owner.get(reverse("merchants:audit", args=[shop.merchant.public_id]), filters)
        assert "Segreto altrui" not in page.text
        assert shop.outsider.user.email not in page.text


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "2026-13-45"}, "Enter a valid date."),
        ({"date_to": "yesterday"}, "Enter a valid date."),
        ({"action": "link.deleted"}, "Select a valid choice."),
    ],
)
def test_bad_filters_answer_400_with_a_clear_message(shop, owner, history, filters, message):
    response = owner.get(reverse("merchants:audit", args=[shop.merchant.public_id]), filters)

    assert response.status_code == 400
    assert message in response.text
    assert "Segreto altrui" not in response.text


def test_the_page_lists_newest_first_and_pages_keep_the_filters(shop, owner):
    for n in range(55):
        audit(
            merchant_id=shop.merchant.pk,
            actor=shop.owner.user,
            action=Action.LOGIN,
            summary=f"#{n}",
        )
    audit(merchant_id=shop.merchant.pk, actor=None, action=Action.LINK_SENT, summary="not a login")

    first = owner.get(
        reverse("merchants:audit", args=[shop.merchant.public_id]), {"action": "login"}
    )
    log = rows(first.text)

    assert len(log) == 50
    assert log[0]["what"] == "#54"
    assert "?action=login&amp;page=2" in first.text
    second = read_log(owner, shop, action="login", page="2")
    assert whats(second) == [f"#{n}" for n in range(4, -1, -1)]


# --- Nobody edits it -------------------------------------------------------------------------


def test_the_django_admin_cannot_add_change_or_delete_entries(shop, rf):
    operator = UserFactory(is_staff=True, is_superuser=True)  # the platform's operator
    admin_client_ = Client()
    admin_client_.force_login(operator)
    entry = audit(
        merchant_id=shop.merchant.pk, actor=shop.owner.user, action=Action.LOGIN, summary="Ingresso"
    )
    model_admin = admin.site._registry[AuditEntry]
    request = rf.get("/")
    request.user = operator
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert model_admin.has_view_permission(request, entry)

    changelist = admin_client_.get(reverse("admin:vpos_auditentry_changelist"))
    assert changelist.status_code == 200
    assert "Ingresso" in changelist.text
    assert admin_client_.get(reverse("admin:vpos_auditentry_add")).status_code == 403
    delete_url = reverse("admin:vpos_auditentry_delete", args=[entry.pk])
    assert admin_client_.get(delete_url).status_code == 403
    assert admin_client_.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:vpos_auditentry_change", args=[entry.pk])
    assert admin_client_.get(change_url).status_code == 200  # read only
    assert admin_client_.post(change_url, {"summary": "Riscritto"}).status_code == 403
    bulk = admin_client_.post(
        reverse("admin:vpos_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.summary == "Ingresso"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


# --- Cost ------------------------------------------------------------------------------------


def test_query_count_is_bounded_and_does_not_grow_with_entries(shop, owner):
    url = reverse("merchants:audit", args=[shop.merchant.public_id])
    owner.get(url)  # the shop chosen, the session written

    def queries(total: int) -> int:
        missing = total - AuditEntry.objects.filter(merchant=shop.merchant).count()
        for n in range(missing):
            audit(
                merchant_id=shop.merchant.pk,
                actor=shop.staff.user if n % 2 else shop.owner.user,
                action=Action.LINK_CREATED if n % 3 else Action.LOGIN,
                summary=f"#{n}",
                ip_address="203.0.113.9",
            )
        with CaptureQueriesContext(connection) as captured:
            response = owner.get(url)
        assert response.status_code == 200
        assert len(rows(response.text)) == min(total, 50)
        return len(captured)

    few = queries(5)
    assert queries(60) == few
    assert few <= 8, few


def test_entries_outlive_the_people_who_made_them(shop, owner):
    leaving = shop.staff.user
    audit(merchant_id=shop.merchant.pk, actor=leaving, action=Action.LINK_CREATED, summary="Prima")
    leaving.delete()

    row = the_row(read_log(owner, shop), "Link created")

    assert row["who"] == leaving.email
    assert AuditEntry.objects.get(summary="Prima").actor is None
