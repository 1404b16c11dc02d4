"""Accounts (django-allauth): sign-up with email verification, login, password reset, language,
rate limits and two-factor authentication. Account emails go through the outbox like all others.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from django.urls import reverse

from merchants.models import User
from tests.support.factories import PASSWORD, UserFactory
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"


def sign_up(client, email: str = "new.owner@example.com"):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def link_in(body: str, path_prefix: str) -> str:
    """The site-relative path of the first link in the email body that starts with `path_prefix`."""
    match = re.search(rf"http://testserver({re.escape(path_prefix)}\S+)", body)
    assert match, body
    return match.group(1)


def test_sign_up_creates_an_unverified_user_and_queues_the_confirmation_email(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email="new.owner@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    email = OutboxEmail.objects.get(to_email="new.owner@example.com")
    assert email.kind == "email_confirmation_signup"
    assert email.subject.startswith("[vpos] ")
    assert email.status == OutboxEmail.Status.SENT
    assert len(mail.outbox) == 1
    assert link_in(mail.outbox[0].body, "/accounts/confirm-email/")
    # The stored copy loses the link once sent: nobody but the recipient can follow it.
    assert "/accounts/confirm-email/" not in email.body_text + email.body_html
    assert email.purged_at is not None


def test_following_the_confirmation_link_verifies_the_address_and_logs_in(client):
    sign_up(client)
    confirm_path = link_in(OutboxEmail.objects.get().body_text, "/accounts/confirm-email/")

    page = client.get(confirm_path)
    response = client.post(confirm_path, follow=True)

    assert page.status_code == 200
    assert EmailAddress.objects.get(email="new.owner@example.com").verified
    assert response.redirect_chain[-1][0] == reverse("merchants:onboarding")
    assert response.context["user"].email == "new.owner@example.com"


def test_login_before_verification_does_not_reach_the_shops(client):
    sign_up(client)
    client.logout()

    response = client.post(
        reverse("account_login"), {"login": "new.owner@example.com", "password": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    home = client.get(reverse("merchants:home"))
    assert home.status_code == 302
    assert home.url.startswith(reverse("account_login"))


def test_password_reset_sends_the_link_through_the_outbox(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": user.email})

    assert response.status_code == 302
    email = OutboxEmail.objects.get(to_email=user.email)
    assert email.kind == "password_reset_key"
    assert [message.to for message in mail.outbox] == [[user.email]]
    reset_path = link_in(mail.outbox[0].body, "/accounts/password/reset/key/")
    assert "/password/reset/key/" not in email.body_text + email.body_html

    form = client.get(reset_path, follow=True)
    done = client.post(
        form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_sends_no_reset_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert not any("/password/reset/key/" in message.body for message in mail.outbox)


# --- Language ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "italian", "english"),
    [("account_login", "Accedi", "Sign In"), ("account_signup", "Registrazione", "Sign Up")],
)
def test_account_pages_are_italian_by_default_and_english_on_request(
    client, name, italian, english
):
    url = reverse(name)

    default = client.get(url)
    by_header = client.get(url, headers={"accept-language": "en-GB,en;q=0.9"})

    assert '<html lang="it">' in default.text
    assert italian in default.text
    assert '<html lang="en">' in by_header.text
    assert english in by_header.text
    assert italian not in by_header.text


def test_the_language_switcher_remembers_english(client):
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("account_login")}
    )

    assert response.status_code == 302
    assert client.cookies["django_language"].value == "en"
    page = client.get(reverse("account_login"))
    assert '<html lang="en">' in page.text
    assert "Sign In" in page.text


def test_the_language_cookie_wins_over_the_browser(client):
    client.cookies["django_language"] = "it"

    page = client.get(reverse("account_login"), headers={"accept-language": "en"})

    assert "Accedi" in page.text


# --- Rate limits -------------------------------------------------------------------------------


def test_repeated_failed_logins_lock_the_account_for_a_while(client):
    # allauth 65: "login_failed" allows 5 failures per address in 5 minutes (and 10 a minute per IP).
    user = UserFactory()
    login = reverse("account_login")
    english = {"accept-language": "en"}
    for _ in range(5):
        failed = client.post(login, {"login": user.email, "password": "wrong"}, headers=english)
        assert "The email address and/or password you specified are not correct." in failed.text

    response = client.post(login, {"login": user.email, "password": PASSWORD}, headers=english)

    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.text
    assert "_auth_user_id" not in client.session


def test_failed_logins_of_one_address_do_not_lock_another(client):
    victim, other = UserFactory(), UserFactory()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": victim.email, "password": "wrong"})

    response = client.post(reverse("account_login"), {"login": other.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


# --- Two-factor authentication -----------------------------------------------------------------


def test_totp_activation_asks_for_the_password_again_then_shows_a_secret(client):
    user = UserFactory()
    client.force_login(user)
    activate = reverse("mfa_activate_totp")

    first = client.get(activate)
    assert first.status_code == 302
    assert first.url.startswith(reverse("account_reauthenticate"))
    confirmed = client.post(first.url, {"password": PASSWORD})
    assert confirmed.url == activate
    response = client.get(activate, headers={"accept-language": "en"})

    assert response.status_code == 200
    assert "Activate Authenticator App" in response.text
    secret = response.context["form"].secret
    assert secret
    assert secret in response.text


def test_with_totp_active_a_password_alone_does_not_log_in(client):
    user = UserFactory()
    client.force_login(user)
    activate = reverse("mfa_activate_totp")
    client.post(client.get(activate).url, {"password": PASSWORD})
    secret = client.get(activate).context["form"].secret
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    client.post(activate, {"code": code})
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    client.logout()

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


def test_totp_activation_needs_a_login(client):
    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
