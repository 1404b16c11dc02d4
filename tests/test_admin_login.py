"""The Django admin signs in through allauth: two-factor authentication and the login limits apply
to operators too (the admin's own form took a password alone, and never locked)."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"


@pytest.fixture
def operator():
    return UserFactory(is_staff=True, is_superuser=True)


def test_the_admin_sends_anonymous_visitors_to_the_site_login(client):
    response = client.get(ADMIN, follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "next=" in response.redirect_chain[-1][0]


def test_the_admins_own_form_does_not_take_a_password(client, operator):
    response = client.post(
        "/admin/login/", {"username": operator.email, "password": PASSWORD, "next": ADMIN}
    )

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session
    assert client.get(ADMIN).status_code == 302


def test_an_operator_with_totp_needs_the_code_to_reach_the_admin(client, operator):
    TOTP.activate(operator, generate_totp_secret())

    response = client.post(
        f"{reverse('account_login')}?next={ADMIN}", {"login": operator.email, "password": PASSWORD}
    )

    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    # Still half signed in: the admin sends the operator on to the code, not in.
    landing = client.get(ADMIN, follow=True).redirect_chain[-1][0]
    assert landing == reverse("mfa_authenticate")


def test_after_repeated_failures_the_right_password_does_not_open_the_admin(client, operator):
    login = f"{reverse('account_login')}?next={ADMIN}"
    for _ in range(15):
        client.post(login, {"login": operator.email, "password": "wrong"})

    client.post(login, {"login": operator.email, "password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert client.get(ADMIN).status_code == 302


def test_a_signed_in_operator_reaches_the_admin_and_a_shop_user_does_not(client, operator):
    client.force_login(operator)
    assert client.get(ADMIN).status_code == 200
    client.force_login(UserFactory())
    assert client.get("/admin/login/").status_code == 403
