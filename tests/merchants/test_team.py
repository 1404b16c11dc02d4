"""Team management: invitation form errors, roles, and the rule that a shop keeps an owner."""

import pytest
from django.urls import reverse

from merchants.models import Invitation, Membership, Role
from tests.support.factories import InvitationFactory, MembershipFactory
from vpos.models import OutboxEmail


def team_url(shop) -> str:
    return reverse("merchants:team", args=[shop.merchant.public_id])


def roles(shop) -> dict[int, str]:
    return dict(Membership.objects.filter(merchant=shop.merchant).values_list("pk", "role"))


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("already.invited@example.com", "already.invited@example.com has already been invited."),
        ("ALREADY.INVITED@example.com", "has already been invited."),
        ("not-an-email", "Enter a valid email address."),
        ("", "This field is required."),
    ],
)
def test_invitation_form_refuses_bad_addresses(client_as, shop, email, message):
    InvitationFactory(merchant=shop.merchant, email="already.invited@example.com")

    response = client_as("owner").post(team_url(shop), {"email": email, "role": Role.STAFF})

    assert response.status_code == 400
    assert message in response.text
    assert Invitation.objects.filter(merchant=shop.merchant).count() == 1
    assert not OutboxEmail.objects.exists()


def test_inviting_an_existing_member_is_refused(client_as, shop):
    email = shop.staff.user.email.upper()

    response = client_as("owner").post(team_url(shop), {"email": email, "role": Role.OWNER})

    assert response.status_code == 400
    assert f"{email} is already a member of this shop." in response.text
    assert not Invitation.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_invitation_with_unknown_role_is_refused(client_as, shop):
    response = client_as("owner").post(
        team_url(shop), {"email": "new@example.com", "role": "admin"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["role"]
    assert not Invitation.objects.exists()


def test_owner_changes_a_members_role(client_as, shop):
    response = client_as("owner").post(
        reverse("merchants:member_role", args=[shop.merchant.public_id, shop.staff.pk]),
        {"role": Role.OWNER},
        follow=True,
    )

    assert f"{shop.staff.user.email} is now Owner." in response.text
    assert roles(shop)[shop.staff.pk] == Role.OWNER


def test_unknown_role_value_is_refused(client_as, shop):
    before = roles(shop)

    response = client_as("owner").post(
        reverse("merchants:member_role", args=[shop.merchant.public_id, shop.staff.pk]),
        {"role": "superuser"},
        follow=True,
    )

    assert "Choose a valid role." in response.text
    assert roles(shop) == before


def test_the_last_owner_cannot_be_demoted(client_as, shop):
    before = roles(shop)

    response = client_as("owner").post(
        reverse("merchants:member_role", args=[shop.merchant.public_id, shop.owner.pk]),
        {"role": Role.STAFF},
        follow=True,
    )

    assert "A shop needs at least one owner. Make someone else owner first." in response.text
    assert roles(shop) == before


def test_an_owner_can_step_down_when_another_owner_remains(client_as, shop):
    MembershipFactory(merchant=shop.merchant, role=Role.OWNER)

    client_as("owner").post(
        reverse("merchants:member_role", args=[shop.merchant.public_id, shop.owner.pk]),
        {"role": Role.STAFF},
    )

    assert roles(shop)[shop.owner.pk] == Role.STAFF


def test_the_last_owner_cannot_be_removed(client_as, shop):
    before = roles(shop)

    response = client_as("owner").post(
        reverse("merchants:member_remove", args=[shop.merchant.public_id, shop.owner.pk]),
        follow=True,
    )

    assert (
        "The last owner cannot leave or be removed. Make someone else owner first." in response.text
    )
    assert roles(shop) == before


def test_the_last_owner_cannot_leave(client_as, shop):
    before = roles(shop)

    response = client_as("owner").post(
        reverse("merchants:leave", args=[shop.merchant.public_id]), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "merchants:preferences", args=[shop.merchant.public_id]
    )
    assert (
        "The last owner cannot leave or be removed. Make someone else owner first." in response.text
    )
    assert roles(shop) == before


def test_an_owner_can_leave_when_another_owner_remains(client_as, shop):
    MembershipFactory(merchant=shop.merchant, role=Role.OWNER)

    response = client_as("owner").post(
        reverse("merchants:leave", args=[shop.merchant.public_id]), follow=True
    )

    assert f"You left {shop.merchant.name}." in response.text
    assert not Membership.objects.filter(pk=shop.owner.pk).exists()


def test_removing_a_member_asks_first(client_as, shop):
    url = reverse("merchants:member_remove", args=[shop.merchant.public_id, shop.staff.pk])

    response = client_as("owner").get(url)

    assert f"Remove {shop.staff.user.email} from {shop.merchant.name}?" in response.text
    assert Membership.objects.filter(pk=shop.staff.pk).exists()


def test_revoking_twice_says_so(client_as, shop):
    invitation = InvitationFactory(merchant=shop.merchant)
    url = reverse("merchants:invitation_revoke", args=[shop.merchant.public_id, invitation.pk])
    owner = client_as("owner")
    owner.post(url)

    response = owner.post(url, follow=True)

    assert "This invitation was already accepted or revoked." in response.text


def test_team_page_lists_members_and_pending_invitations(client_as, shop):
    InvitationFactory(merchant=shop.merchant, email="pending@example.com")

    response = client_as("owner").get(team_url(shop))

    assert shop.owner.user.email in response.text
    assert shop.staff.user.email in response.text
    assert "pending@example.com" in response.text
    assert shop.outsider.user.email not in response.text
