"""The shop's own Stripe account: owner only, keys checked with Stripe, secrets stored encrypted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from merchants.models import PaymentAccount

SECRET = "sk_test_shopSecret0123456789abcdefXYZ"
PUBLISHABLE = "pk_test_shopPublic0123456789"
WEBHOOK_SECRET = "whsec_shopSigning0123456789abcdef"


def account_url(shop) -> str:
    return reverse("links:payment_account", args=[shop.merchant.public_id])


def keys(**overrides: str) -> dict[str, str]:
    data = {"publishable_key": PUBLISHABLE, "secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET}
    data.update(overrides)
    return data


def stored_columns() -> list[str]:
    """What the database really holds, read past the model."""
    table = PaymentAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret_key_encrypted, webhook_secret_encrypted FROM {table}")  # noqa: S608
        return [value for row in cursor.fetchall() for value in row]


@pytest.mark.parametrize(("actor", "status"), [("owner", 200), ("staff", 403), ("outsider", 404)])
def test_only_the_owner_sees_the_payment_account_page(client_as, shop, actor, status):
    assert client_as(actor).get(account_url(shop)).status_code == status


def test_anonymous_visitor_is_sent_to_login(client, shop):
    response = client.get(account_url(shop))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_staff_and_outsiders_cannot_connect_keys(client_as, shop, stripe_settings, actor, status):
    response = client_as(actor).post(account_url(shop), keys())
    assert response.status_code == status
    assert not PaymentAccount.objects.exists()


def test_owner_connects_keys_stored_encrypted_and_never_shown_again(
    client_as, shop, stripe_settings
):
    client = client_as("owner")

    response = client.post(account_url(shop), {**keys(), "moto_enabled": "on"}, follow=True)

    assert response.status_code == 200
    assert "Stripe account connected and checked." in response.text
    account = PaymentAccount.objects.get(merchant=shop.merchant)
    assert account.secret_key == SECRET
    assert account.webhook_secret == WEBHOOK_SECRET
    assert account.publishable_key == PUBLISHABLE
    assert account.moto_enabled
    assert not account.livemode
    assert account.verified_at is not None
    # The database holds ciphertext only.
    for column in stored_columns():
        assert SECRET not in column
        assert WEBHOOK_SECRET not in column
        assert "shopSecret" not in column
    # The page says which key is connected without showing it.
    page = client.get(account_url(shop)).text
    assert "Test mode: no real money moves." in page
    assert account.secret_key_hint in page
    assert SECRET not in page
    assert WEBHOOK_SECRET not in page
    assert "shopSecret0123456789abcdef" not in page


def test_payments_then_use_the_shops_own_keys(client_as, shop, stripe_settings):
    from links.providers import credentials_for

    assert credentials_for(shop.merchant).secret_key == stripe_settings.STRIPE_SECRET_KEY
    client_as("owner").post(account_url(shop), keys())
    shop.merchant.refresh_from_db()
    credentials = credentials_for(shop.merchant)
    assert (credentials.secret_key, credentials.publishable_key) == (SECRET, PUBLISHABLE)
    assert credentials.webhook_secret == WEBHOOK_SECRET


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret_key": "not-a-key"}, "A secret key starts with sk_test_, sk_live_ or rk_."),
        ({"secret_key": "pk_test_abc"}, "A secret key starts with sk_test_, sk_live_ or rk_."),
        ({"secret_key": ""}, "Enter the secret key."),
        ({"publishable_key": "sk_test_abc"}, "A publishable key starts with pk_test_ or pk_live_."),
        ({"publishable_key": ""}, "This field is required."),
        ({"webhook_secret": "secret"}, "A webhook signing secret starts with whsec_."),
        ({"publishable_key": "pk_live_abc"}, "Both keys must be test keys or both live keys."),
        ({"secret_key": "sk_live_abc"}, "Both keys must be test keys or both live keys."),
    ],
)
def test_badly_formed_or_mixed_keys_are_refused_and_nothing_is_stored(
    client_as, shop, stripe_settings, overrides, message
):
    response = client_as("owner").post(account_url(shop), keys(**overrides))

    assert response.status_code == 400
    assert message in response.text
    assert not PaymentAccount.objects.exists()
    assert SECRET not in response.text  # a refused form does not echo the secret either


def test_keys_stripe_cannot_check_are_refused_and_nothing_is_stored(
    client_as, shop, stripe_settings
):
    stripe_settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    response = client_as("owner").post(account_url(shop), keys())

    assert response.status_code == 400
    assert "Stripe could not be reached to check these keys. Nothing was saved" in response.text
    assert "127.0.0.1" not in response.text  # no internals in the message
    assert not PaymentAccount.objects.exists()


def test_keys_stripe_refuses_are_refused_with_stripes_reason(
    client_as, shop, stripe_settings, monkeypatch
):
    import stripe

    from links.providers import stripe as provider

    def stripe_says_401() -> None:
        raise stripe.AuthenticationError(
            "Invalid API Key provided: sk_test_****XYZ", http_status=401
        )

    def refuse(self) -> None:
        # localstripe accepts any sk_ key: this is what real Stripe answers a revoked key.
        self._call(stripe_says_401)

    monkeypatch.setattr(provider.StripeProvider, "verify_credentials", refuse)

    response = client_as("owner").post(account_url(shop), keys())

    assert response.status_code == 400
    assert "Stripe refused these keys: Invalid API Key provided" in response.text
    assert not PaymentAccount.objects.exists()


def test_saving_again_with_an_empty_secret_keeps_the_stored_one(client_as, shop, stripe_settings):
    client = client_as("owner")
    client.post(account_url(shop), keys())

    response = client.post(
        account_url(shop), keys(secret_key="", webhook_secret="", publishable_key="pk_test_rotated")
    )

    assert response.status_code == 302
    account = PaymentAccount.objects.get(merchant=shop.merchant)
    assert account.publishable_key == "pk_test_rotated"
    assert account.secret_key == SECRET
    assert account.webhook_secret == WEBHOOK_SECRET


def test_a_live_publishable_key_with_the_stored_test_secret_is_refused(
    client_as, shop, stripe_settings
):
    client = client_as("owner")
    client.post(account_url(shop), keys())

    response = client.post(account_url(shop), keys(secret_key="", publishable_key="pk_live_abc"))

    assert response.status_code == 400
    assert "Both keys must be test keys or both live keys." in response.text
    assert PaymentAccount.objects.get(merchant=shop.merchant).publishable_key == PUBLISHABLE


def test_owner_disconnects_the_account(client_as, shop, stripe_settings):
    client = client_as("owner")
    client.post(account_url(shop), keys())

    response = client.post(account_url(shop), {"action": "disconnect"}, follow=True)

    assert "Stripe account disconnected." in response.text
    assert not PaymentAccount.objects.filter(merchant=shop.merchant).exists()
    assert "Connect and check" in response.text


def test_staff_cannot_disconnect_the_account(client_as, shop, stripe_settings):
    client_as("owner").post(account_url(shop), keys())

    response = client_as("staff").post(account_url(shop), {"action": "disconnect"})

    assert response.status_code == 403
    assert PaymentAccount.objects.filter(merchant=shop.merchant).exists()
