"""The development outbox: every email readable in the browser, only with DEBUG on and only for
a signed-in superuser (it shows everyone's verification links)."""

import pytest
from django.urls import reverse

from tests.support.factories import UserFactory
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def email() -> OutboxEmail:
    return OutboxEmail.objects.create(
        kind="email_confirmation_signup",
        to_email="new.user@example.com",
        subject="[vpos] Conferma il tuo indirizzo email",
        body_text="Apri http://testserver/accounts/confirm-email/abc/ per confermare.",
        body_html='<p>Conferma</p><script>alert("x")</script>',
        dedupe_key="test:dev-outbox",
    )


def dev_urls(email: OutboxEmail) -> list[str]:
    return [
        reverse("dev_outbox"),
        reverse("dev_outbox_detail", args=[email.pk]),
        reverse("dev_outbox_html", args=[email.pk]),
    ]


def test_dev_outbox_does_not_exist_without_debug(client, email, settings):
    settings.DEBUG = False

    for url in dev_urls(email):
        assert client.get(url).status_code == 404


@pytest.fixture
def superuser(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_with_debug_a_superuser_reads_the_outbox(client, email, settings, superuser):
    settings.DEBUG = True

    listing = client.get(reverse("dev_outbox"))
    detail = client.get(reverse("dev_outbox_detail", args=[email.pk]))

    assert listing.status_code == 200
    assert email.subject in listing.text
    assert reverse("dev_outbox_detail", args=[email.pk]) in listing.text
    assert detail.status_code == 200
    assert email.to_email in detail.text
    assert 'href="http://testserver/accounts/confirm-email/abc/"' in detail.text  # clickable
    assert reverse("dev_outbox_html", args=[email.pk]) in detail.text


@pytest.mark.parametrize("who", ["anonymous", "owner", "staff"])
def test_with_debug_nobody_else_reads_it_nor_sees_it_in_the_navigation(
    client, email, settings, shop, who
):
    settings.DEBUG = True
    if who != "anonymous":
        client.force_login(getattr(shop, who).user)

    for url in dev_urls(email):
        assert client.get(url).status_code == 404
    home = client.get(reverse("home"), follow=True)
    assert reverse("dev_outbox") not in home.text
    assert "new.user@example.com" not in home.text


def test_the_html_body_is_served_in_a_sandbox(client, email, settings, superuser):
    settings.DEBUG = True

    response = client.get(reverse("dev_outbox_html", args=[email.pk]))

    assert response.status_code == 200
    assert response.content.decode() == email.body_html
    policy = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    assert policy[0] == "sandbox"
    assert "default-src 'none'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_an_unknown_email_is_not_found(client, settings, superuser):
    settings.DEBUG = True

    assert client.get(reverse("dev_outbox_detail", args=[404404])).status_code == 404
