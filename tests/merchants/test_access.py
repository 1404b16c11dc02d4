"""Every shop page with three actors: the owner, staff of the same shop, and an outsider.

Outsiders (members of another shop) get 404, so other shops' existence is not revealed; staff get
403 on owner-only pages; anonymous visitors are sent to the login page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.forms import MerchantForm
from merchants.models import Invitation, Membership, Merchant, Role
from tests.support.factories import InvitationFactory, MembershipFactory
from vpos.models import OutboxEmail


@dataclass
class Targets:
    """Objects of the shop (and of the other shop) that shop URLs point at."""

    invitation: Invitation
    member: Membership
    email: OutboxEmail
    other_invitation: Invitation
    other_member: Membership
    other_email: OutboxEmail


def _email(merchant) -> OutboxEmail:
    return OutboxEmail.objects.create(
        kind="invitation",
        merchant=merchant,
        to_email="someone@example.com",
        subject=f"Email of {merchant.name}",
        body_text="Hello",
        body_html="<p>Hello</p>",
        dedupe_key=f"test:{merchant.pk}",
        status=OutboxEmail.Status.FAILED,  # so that the owner may send it again
    )


@pytest.fixture
def targets(shop) -> Targets:
    other = shop.outsider.merchant
    return Targets(
        invitation=InvitationFactory(merchant=shop.merchant),
        member=MembershipFactory(merchant=shop.merchant, role=Role.STAFF),
        email=_email(shop.merchant),
        other_invitation=InvitationFactory(merchant=other),
        other_member=MembershipFactory(merchant=other, role=Role.STAFF),
        other_email=_email(other),
    )


# URL name -> (owner only?, the object id argument it takes, if any). The dashboard and the
# payment account page are links' pages: tests/links/test_dashboard.py, test_payment_account.py.
SHOP_PAGES = {
    "settings": (True, None),
    "team": (True, None),
    "invitation_revoke": (True, "invitation"),
    "member_role": (True, "member"),
    "member_remove": (True, "member"),
    "preferences": (False, None),
    "leave": (False, None),
    "emails": (True, None),
    "email_detail": (True, "email"),
    "email_html": (True, "email"),
    "email_resend": (True, "email"),
}
POST_ONLY = {"member_role", "email_resend"}
GET_PAGES = [name for name in SHOP_PAGES if name not in POST_ONLY]


def shop_url(name: str, shop, targets: Targets) -> str:
    _owner_only, target = SHOP_PAGES[name]
    args = [shop.merchant.public_id]
    if target is not None:
        args.append(getattr(targets, target).pk)
    return reverse(f"merchants:{name}", args=args)


@pytest.mark.parametrize("name", GET_PAGES)
@pytest.mark.parametrize("actor", ["owner", "staff", "outsider"])
def test_shop_pages_answer_each_actor(shop, targets, name, actor):
    owner_only, _target = SHOP_PAGES[name]
    expected = {
        "owner": 200,
        "staff": 403 if owner_only else 200,
        "outsider": 404,
    }[actor]

    response = shop.client_for(actor).get(shop_url(name, shop, targets))

    assert response.status_code == expected


@pytest.mark.parametrize("name", list(SHOP_PAGES))
def test_anonymous_visitors_are_sent_to_login(client, shop, targets, name):
    url = shop_url(name, shop, targets)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_post_only_actions_refuse_get(owner_client, shop, targets, name):
    response = owner_client.get(shop_url(name, shop, targets))

    assert response.status_code == 405


def test_staff_dashboard_offers_no_owner_actions(staff_client, shop):
    response = staff_client.get(reverse("links:dashboard", args=[shop.merchant.public_id]))

    assert response.status_code == 200
    assert shop.merchant.name in response.text
    assert reverse("merchants:settings", args=[shop.merchant.public_id]) not in response.text


# --- Writes: the owner's POST changes the row, anyone else's changes nothing -----------------


def _renamed_shop_form(shop, targets):
    data = {field: getattr(shop.merchant, field) for field in MerchantForm.Meta.fields}
    data["name"] = "Renamed shop"
    return data


# URL name -> (POST data, "did the write happen?")
OWNER_WRITES = {
    "settings": (
        _renamed_shop_form,
        lambda shop, targets: Merchant.objects.get(pk=shop.merchant.pk).name == "Renamed shop",
    ),
    "team": (
        lambda shop, targets: {"email": "new.person@example.com", "role": Role.STAFF},
        lambda shop, targets: Invitation.objects.filter(email="new.person@example.com").exists(),
    ),
    "invitation_revoke": (
        lambda shop, targets: {},
        lambda shop, targets: (
            Invitation.objects.get(pk=targets.invitation.pk).revoked_at is not None
        ),
    ),
    "member_role": (
        lambda shop, targets: {"role": Role.OWNER},
        lambda shop, targets: Membership.objects.get(pk=targets.member.pk).role == Role.OWNER,
    ),
    "member_remove": (
        lambda shop, targets: {},
        lambda shop, targets: not Membership.objects.filter(pk=targets.member.pk).exists(),
    ),
    "email_resend": (
        lambda shop, targets: {},
        lambda shop, targets: (
            OutboxEmail.objects.get(pk=targets.email.pk).status == OutboxEmail.Status.QUEUED
        ),
    ),
}


@pytest.mark.parametrize("name", list(OWNER_WRITES))
def test_owner_post_changes_the_shop(shop, targets, name):
    data, happened = OWNER_WRITES[name]

    response = shop.client_for("owner").post(shop_url(name, shop, targets), data(shop, targets))

    assert response.status_code == 302
    assert happened(shop, targets)


@pytest.mark.parametrize("name", list(OWNER_WRITES))
@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_others_post_changes_nothing(shop, targets, name, actor, status):
    data, happened = OWNER_WRITES[name]

    response = shop.client_for(actor).post(shop_url(name, shop, targets), data(shop, targets))

    assert response.status_code == status
    assert not happened(shop, targets)
    assert OutboxEmail.objects.count() == 2  # the two fixture emails, no invitation sent


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_members_save_their_own_preferences(shop, actor):
    membership = getattr(shop, actor)
    membership.notify_payments = False
    membership.save()

    response = shop.client_for(actor).post(
        reverse("merchants:preferences", args=[shop.merchant.public_id]), {"notify_payments": "on"}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.notify_payments is True


def test_outsider_cannot_save_preferences_in_another_shop(shop):
    shop.outsider.notify_payments = False
    shop.outsider.save()

    response = shop.client_for("outsider").post(
        reverse("merchants:preferences", args=[shop.merchant.public_id]), {"notify_payments": "on"}
    )

    assert response.status_code == 404
    shop.outsider.refresh_from_db()
    assert shop.outsider.notify_payments is False
    assert not Membership.objects.filter(user=shop.outsider.user, merchant=shop.merchant).exists()


def test_staff_can_leave_the_shop(shop):
    response = shop.client_for("staff").post(
        reverse("merchants:leave", args=[shop.merchant.public_id])
    )

    assert response.status_code == 302
    assert response.url == reverse("merchants:home")
    assert not Membership.objects.filter(pk=shop.staff.pk).exists()


def test_outsider_cannot_leave_a_shop_they_are_not_in(shop):
    response = shop.client_for("outsider").post(
        reverse("merchants:leave", args=[shop.merchant.public_id])
    )

    assert response.status_code == 404
    assert Membership.objects.filter(pk=shop.outsider.pk).exists()
    assert Membership.objects.filter(merchant=shop.merchant).count() == 2


# --- Ids of another shop under this shop's URL -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "target", "method"),
    [
        ("invitation_revoke", "other_invitation", "get"),
        ("invitation_revoke", "other_invitation", "post"),
        ("member_role", "other_member", "post"),
        ("member_remove", "other_member", "get"),
        ("member_remove", "other_member", "post"),
        ("email_detail", "other_email", "get"),
        ("email_html", "other_email", "get"),
        ("email_resend", "other_email", "post"),
    ],
)
def test_other_shops_objects_are_not_found(shop, targets, name, target, method):
    other_object = getattr(targets, target)
    url = reverse(f"merchants:{name}", args=[shop.merchant.public_id, other_object.pk])

    response = getattr(shop.client_for("owner"), method)(url, {"role": Role.OWNER})

    assert response.status_code == 404
    assert other_object.__class__.objects.filter(pk=other_object.pk).exists()
    if isinstance(other_object, Invitation):
        assert Invitation.objects.get(pk=other_object.pk).revoked_at is None
    if isinstance(other_object, Membership):
        assert Membership.objects.get(pk=other_object.pk).role == Role.STAFF
    if isinstance(other_object, OutboxEmail):
        assert OutboxEmail.objects.get(pk=other_object.pk).status == OutboxEmail.Status.FAILED


def test_the_shop_email_log_lists_only_this_shops_emails(owner_client, shop, targets):
    response = owner_client.get(reverse("merchants:emails", args=[shop.merchant.public_id]))

    assert targets.email.subject in response.text
    assert targets.other_email.subject not in response.text


def test_expired_invitations_are_not_listed_as_pending(owner_client, shop, targets):
    InvitationFactory(
        merchant=shop.merchant,
        email="late@example.com",
        expires_at=timezone.now() - timedelta(days=1),
    )

    response = owner_client.get(reverse("merchants:team", args=[shop.merchant.public_id]))

    assert targets.invitation.email in response.text
    assert "late@example.com" not in response.text


def test_the_shop_email_html_is_served_in_a_sandbox(owner_client, shop, targets):
    response = owner_client.get(shop_url("email_html", shop, targets))

    assert response.content.decode() == targets.email.body_html
    assert response["Content-Security-Policy"].startswith("sandbox;")
