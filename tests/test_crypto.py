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


def test_rotate_secrets_command_reencrypts_with_the_new_key(db, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from merchants.models import PaymentAccount
    from tests.factories import MerchantFactory
    from vpos.crypto import encrypt

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    account = PaymentAccount.objects.create(
        merchant=MerchantFactory(),
        publishable_key="pk_test_x",
        secret_key_encrypted=encrypt("sk_test_secret"),
        webhook_secret_encrypted=encrypt("whsec_x"),
    )
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_secrets", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone: values still decrypt
    account.refresh_from_db()
    assert account.secret_key == "sk_test_secret"
    assert account.webhook_secret == "whsec_x"
