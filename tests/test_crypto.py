"""Secrets at rest: encrypted with the first FIELD_ENCRYPTION_KEY, readable with any of them."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet

from vpos import crypto

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_encrypt_hides_the_value_and_decrypt_returns_it(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    token = crypto.encrypt("sk_test_abcdef123456")
    assert "sk_test" not in token
    assert crypto.decrypt(token) == "sk_test_abcdef123456"


def test_empty_values_stay_empty(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    assert crypto.encrypt("") == ""
    assert crypto.decrypt("") == ""
    assert crypto.rotate("") == ""


def test_without_a_configured_key_one_is_derived_from_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    token = crypto.encrypt("whsec_abc")
    assert crypto.decrypt(token) == "whsec_abc"
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789abcdef0123456789"
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        crypto.decrypt(token)


def test_key_rotation_old_values_still_decrypt_and_rotate_moves_them_to_the_new_key(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    old_token = crypto.encrypt("sk_live_secret")

    # A new key is put in front; the old one stays so existing values still decrypt.
    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY}, {OLD_KEY}"
    assert crypto.decrypt(old_token) == "sk_live_secret"
    new_token = crypto.encrypt("sk_live_other")
    rotated = crypto.rotate(old_token)
    assert rotated != old_token

    # Once everything is rotated the old key can go: rotated and new values still decrypt.
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY
    assert crypto.decrypt(rotated) == "sk_live_secret"
    assert crypto.decrypt(new_token) == "sk_live_other"
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        crypto.decrypt(old_token)


def test_a_value_encrypted_with_an_unknown_key_is_refused_clearly(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    token = crypto.encrypt("sk_test_x")
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        crypto.decrypt(token)
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        crypto.decrypt("not-a-fernet-token")


def test_rotate_secrets_command_reencrypts_every_stored_secret(db, settings):
    """Every encrypted field of every model: after rotation the old key can go (the webhook
    secrets were forgotten once, and outbound webhooks stopped signing)."""
    from django.core.management import call_command

    from integrations.models import WebhookEndpoint
    from merchants.models import PaymentAccount
    from tests.support.factories import MerchantFactory

    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    merchant = MerchantFactory()
    rows = [
        PaymentAccount.objects.create(
            merchant=merchant,
            publishable_key="pk_test_x",
            secret_key_encrypted=crypto.encrypt("sk_test_secret"),
            webhook_secret_encrypted=crypto.encrypt("whsec_x"),
        ),
        WebhookEndpoint.objects.create(
            merchant=merchant,
            url="https://shop.example.com/hooks",
            secret_encrypted=crypto.encrypt("whsec_outbound"),
        ),
    ]
    covered = {(type(row), name) for row in rows for name in _encrypted_names(type(row))}
    every = {(model, name) for model, names in crypto.encrypted_fields() for name in names}
    assert covered == every, "a new encrypted field: give this test a row that holds it"

    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    call_command("rotate_secrets", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY  # the old key is gone: every value still decrypts

    plain = {"sk_test_secret", "whsec_x", "whsec_outbound"}
    for row in rows:
        row.refresh_from_db()
        for name in _encrypted_names(type(row)):
            assert crypto.decrypt(getattr(row, name)) in plain


def _encrypted_names(model) -> list[str]:
    return dict(crypto.encrypted_fields())[model]


def test_every_field_that_stores_a_secret_is_an_encrypted_field():
    """A secret stored in a plain TextField would be missed by rotate_secrets."""
    from django.apps import apps

    plain = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.fields
        if field.name.endswith(("_encrypted", "_secret"))
        and not isinstance(field, crypto.EncryptedTextField)
    ]
    assert plain == []


def test_a_rotated_secret_key_keeps_customers_receipt_links_working(settings):
    from django.core import signing

    settings.SECRET_KEY = "old-" + "a" * 60
    token = signing.Signer(salt="vpos.receipt-link").sign_object({"r": 1, "n": "2026-000001"})
    settings.SECRET_KEY = "new-" + "b" * 60
    with pytest.raises(signing.BadSignature):
        signing.Signer(salt="vpos.receipt-link").unsign_object(token)

    settings.SECRET_KEY_FALLBACKS = ["old-" + "a" * 60]

    assert signing.Signer(salt="vpos.receipt-link").unsign_object(token)["n"] == "2026-000001"
