"""The development outbox: every email readable in the browser, only when DEBUG is on."""

import pytest
from django.urls import reverse

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


def test_with_debug_anyone_can_read_the_outbox(client, email, settings):
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


def test_the_html_body_is_served_in_a_sandbox(client, email, settings):
    settings.DEBUG = True

    response = client.get(reverse("dev_outbox_html", args=[email.pk]))

    assert response.status_code == 200
    assert response.content.decode() == email.body_html
    policy = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    assert policy[0] == "sandbox"
    assert "default-src 'none'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_an_unknown_email_is_not_found(client, settings):
    settings.DEBUG = True

    assert client.get(reverse("dev_outbox_detail", args=[404404])).status_code == 404
