"""Invitations end to end: the owner invites, the email goes out, the invited person joins."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import formats, timezone, translation

from merchants.models import Invitation, Membership, Role
from merchants.services import invitation_create
from tests.support.factories import InvitationFactory, UserFactory
from vpos.models import OutboxEmail


def invite(client, shop, email: str, role: str = Role.STAFF):
    return client.post(
        reverse("merchants:team", args=[shop.merchant.public_id]), {"email": email, "role": role}
    )


def accept_url(invitation: Invitation) -> str:
    return reverse("merchants:invitation_accept", args=[invitation.token])


@pytest.mark.parametrize("language", ["it", "en"])
def test_invitation_email_is_queued_in_the_shops_language(
    client_as, shop, django_capture_on_commit_callbacks, language
):
    shop.merchant.default_language = language
    shop.merchant.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_as("owner"), shop, "nuovo@example.com")

    assert response.status_code == 302
    invitation = Invitation.objects.get(merchant=shop.merchant, email="nuovo@example.com")
    email = OutboxEmail.objects.get(kind="invitation")
    assert email.to_email == "nuovo@example.com"
    assert email.merchant == shop.merchant
    assert email.language == language
    assert email.reply_to == shop.owner.user.email
    assert email.status == OutboxEmail.Status.SENT
    assert [message.to for message in mail.outbox] == [["nuovo@example.com"]]
    sent = mail.outbox[0]
    html = sent.alternatives[0].content
    assert f"http://testserver{accept_url(invitation)}" in sent.body
    assert f"http://testserver{accept_url(invitation)}" in html
    with translation.override(language):
        expiry = formats.date_format(timezone.localtime(invitation.expires_at), "DATE_FORMAT")
    assert expiry in sent.body  # "14 dicembre 2026" in Italian, "Dec. 14, 2026" in English
    assert f'<html lang="{language}">' in html
    # The accept link is the invitee's alone: the shop's copy of the email no longer shows it.
    assert accept_url(invitation) not in email.body_text + email.body_html


@pytest.mark.parametrize("role", [Role.STAFF, Role.OWNER])
def test_invited_user_accepts_and_joins_with_the_invited_role(client, shop, role):
    invitation = InvitationFactory(merchant=shop.merchant, email="Anna@Example.com", role=role)
    anna = UserFactory(email="anna@example.com")
    client.force_login(anna)

    response = client.post(accept_url(invitation))

    assert response.status_code == 302
    assert response.url == reverse("links:dashboard", args=[shop.merchant.public_id])
    assert Membership.objects.get(user=anna, merchant=shop.merchant).role == role
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_the_invitation_page_explains_what_accepting_does(client, shop):
    invitation = InvitationFactory(merchant=shop.merchant, email="anna@example.com")
    client.force_login(UserFactory(email="anna@example.com"))

    response = client.get(accept_url(invitation), headers={"accept-language": "en"})

    assert response.status_code == 200
    assert (
        f"You are invited to join {shop.merchant.name} as Staff with the address anna@example.com."
        in response.text
    )
    assert not Membership.objects.filter(merchant=shop.merchant, user__email="anna@example.com")


def test_a_user_with_another_email_is_refused(client, shop):
    invitation = InvitationFactory(merchant=shop.merchant, email="anna@example.com")
    intruder = UserFactory(email="mallory@example.com")
    client.force_login(intruder)

    response = client.post(accept_url(invitation), headers={"accept-language": "en"})

    assert response.status_code == 400
    assert "This invitation was sent to anna@example.com." in response.text
    assert not Membership.objects.filter(user=intruder, merchant=shop.merchant).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.parametrize(
    "state",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(minutes=1)},
    ],
    ids=["revoked", "expired"],
)
def test_revoked_and_expired_invitations_are_refused(client, shop, state):
    invitation = InvitationFactory(merchant=shop.merchant, email="anna@example.com", **state)
    anna = UserFactory(email="anna@example.com")
    client.force_login(anna)

    page = client.get(accept_url(invitation), headers={"accept-language": "en"})
    response = client.post(accept_url(invitation), headers={"accept-language": "en"})

    for answer in (page, response):
        assert answer.status_code == 400
        assert "This invitation is no longer valid. Ask the shop for a new one." in answer.text
    assert not Membership.objects.filter(user=anna, merchant=shop.merchant).exists()


def test_accepting_twice_does_not_duplicate_the_membership(client, shop):
    invitation = InvitationFactory(merchant=shop.merchant, email="anna@example.com")
    anna = UserFactory(email="anna@example.com")
    client.force_login(anna)
    client.post(accept_url(invitation))

    again = client.post(accept_url(invitation))

    assert again.status_code == 400
    assert Membership.objects.filter(user=anna, merchant=shop.merchant).count() == 1


def test_unknown_invitation_token_is_not_found(client, shop):
    client.force_login(shop.staff.user)

    response = client.post(reverse("merchants:invitation_accept", args=["no-such-token"]))

    assert response.status_code == 404


def test_anonymous_visitor_is_asked_to_sign_up_or_log_in(client, shop):
    invitation = InvitationFactory(merchant=shop.merchant, email="anna@example.com")

    response = client.post(accept_url(invitation))

    assert response.status_code == 200
    assert f"{reverse('account_login')}?next={accept_url(invitation)}" in response.text
    assert not Membership.objects.filter(merchant=shop.merchant, user__email="anna@example.com")


def test_an_expired_invitation_does_not_block_a_new_one(client_as, shop):
    expired = InvitationFactory(
        merchant=shop.merchant,
        email="anna@example.com",
        expires_at=timezone.now() - timedelta(days=1),
    )

    response = invite(client_as("owner"), shop, "anna@example.com", Role.OWNER)

    assert response.status_code == 302
    fresh = Invitation.objects.pending().get(merchant=shop.merchant, email="anna@example.com")
    assert fresh.pk != expired.pk
    assert fresh.role == Role.OWNER
    assert OutboxEmail.objects.filter(ref=f"invitation:{fresh.pk}").count() == 1


def test_a_revoked_invitation_can_be_sent_again(client_as, shop):
    owner = client_as("owner")
    invite(owner, shop, "anna@example.com")
    first = Invitation.objects.get(email="anna@example.com")
    owner.post(reverse("merchants:invitation_revoke", args=[shop.merchant.public_id, first.pk]))

    response = invite(owner, shop, "anna@example.com")

    assert response.status_code == 302
    assert Invitation.objects.pending().filter(email="anna@example.com").count() == 1
    assert OutboxEmail.objects.filter(to_email="anna@example.com").count() == 2


def test_the_same_address_may_be_invited_by_two_shops(client_as, shop):
    InvitationFactory(merchant=shop.outsider.merchant, email="anna@example.com")

    response = invite(client_as("owner"), shop, "anna@example.com")

    assert response.status_code == 302
    assert Invitation.objects.pending().filter(email="anna@example.com").count() == 2


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_invitation_is_created_once(shop):
    def invite_in_thread(hold: threading.Event | None, outcome: list[str]) -> None:
        try:
            with translation.override("en"), transaction.atomic():
                invitation_create(
                    merchant=shop.merchant,
                    email="anna@example.com",
                    role=Role.STAFF,
                    invited_by=shop.owner.user,
                )
                outcome.append("created")
                if hold is not None:
                    hold.wait(10)
        except ValidationError as error:
            outcome.append(error.messages[0])
        finally:
            connection.close()

    release, first, second = threading.Event(), [], []
    first_click = threading.Thread(target=invite_in_thread, args=(release, first))
    second_click = threading.Thread(target=invite_in_thread, args=(None, second))
    first_click.start()
    while not first:
        time.sleep(0.01)
    second_click.start()  # sees no committed invitation, then waits on the unique index
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    first_click.join(10)
    second_click.join(10)

    assert first == ["created"]
    assert second == [
        "anna@example.com has already been invited. Revoke that invitation to send a new one."
    ]
    assert Invitation.objects.filter(merchant=shop.merchant).count() == 1
    assert OutboxEmail.objects.filter(kind="invitation").count() == 1
