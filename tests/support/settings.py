"""Production settings in tests: what they require, and real-looking secrets."""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet

REQUIRED = {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"}


def real_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(60),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
