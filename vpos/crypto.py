"""Secrets at rest (Stripe keys, webhook secrets): Fernet, with key rotation.

FIELD_ENCRYPTION_KEY holds one or more comma-separated keys; the first encrypts, all decrypt, so a
new key can be put in front and old values re-encrypted with `manage.py rotate_secrets`. Without it,
a key is derived from SECRET_KEY (development and tests).

`cryptography` is imported on the first encryption or decryption, not with the models that declare
an encrypted field: its core (Rust, with OpenSSL built in) holds about 10 MiB resident, and the
documents worker (vpos/documents_worker.py) never reads a secret.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


def _fernet() -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet  # heavy: see the module's docstring

    configured = [k.strip() for k in (settings.FIELD_ENCRYPTION_KEY or "").split(",") if k.strip()]
    if not configured:
        digest = hashlib.sha256(("vpos-field-encryption:" + settings.SECRET_KEY).encode()).digest()
        configured = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in configured])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ValueError("cannot decrypt: FIELD_ENCRYPTION_KEY does not match") from error


def rotate(token: str) -> str:
    """Re-encrypt with the first key (after a new key was put in front of FIELD_ENCRYPTION_KEY)."""
    if not token:
        return ""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise ValueError("cannot decrypt: FIELD_ENCRYPTION_KEY does not match") from error


class EncryptedTextField(models.TextField):
    """Where a secret is stored, as `encrypt` made it (the model reads it with `decrypt`).

    The type is how `rotate_secrets` finds every stored secret: a new one declared with this
    field is rotated with the others, without anyone remembering to add it."""


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with secrets at rest, and the names of its encrypted fields."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found
