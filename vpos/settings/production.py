"""Production settings. Fails loudly at start-up when a required secret is missing."""

import base64

from django.core.exceptions import ImproperlyConfigured

from vpos.logging import logging_config

from .base import *  # noqa: F403
from .base import DATABASES, MIDDLEWARE, STORAGES, env

DEBUG = False
# Values copied from .env.example unchanged: refused at start, naming the variable, instead of a
# site running on a published key (or failing at the first encrypted field).
PLACEHOLDERS = ("change-me", "generate-with")


def _not_a_placeholder(name: str, value: str) -> str:
    if any(mark in value for mark in PLACEHOLDERS) or value.endswith("..."):  # sk_live_...
        raise ImproperlyConfigured(f"{name} still holds the .env.example placeholder: set it.")
    return value


SECRET_KEY = _not_a_placeholder("SECRET_KEY", env.str("SECRET_KEY"))
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("dev-", "test-", "django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY must be a random value of at least 50 characters.")
# Without it, stored secrets (shops' Stripe keys) would be encrypted with a key derived from
# SECRET_KEY: rotating one would lose the other. Generate: see docs/deploy.md.
FIELD_ENCRYPTION_KEY = _not_a_placeholder("FIELD_ENCRYPTION_KEY", env.str("FIELD_ENCRYPTION_KEY"))
# What Fernet(key) checks (url-safe base64 of 32 bytes), without importing cryptography here: the
# documents worker never loads it (vpos/crypto.py).
for _key in FIELD_ENCRYPTION_KEY.split(","):
    try:
        if len(base64.urlsafe_b64decode(_key.strip())) != 32:
            raise ValueError("not 32 bytes")
    except ValueError as _error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (comma-separated), each made by "
            "Fernet.generate_key(): see docs/deploy.md."
        ) from _error
_not_a_placeholder(
    "The database password (DATABASE_URL; POSTGRES_PASSWORD with compose)",
    DATABASES["default"].get("PASSWORD") or "",
)
for _name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
    _not_a_placeholder(_name, env.str(_name, default=""))

OWNERS_REQUIRE_TOTP = env.bool("OWNERS_REQUIRE_TOTP", default=True)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Static files from gunicorn through WhiteNoise: hashed names (cached for a year), gzip + brotli.
# (The documents worker serves no request: it has no middleware.)
MIDDLEWARE = [*MIDDLEWARE]
if MIDDLEWARE:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
STORAGES = {
    **STORAGES,  # "default": filesystem or S3, chosen in base by STORAGE_BACKEND
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# JSON lines for the log collector; LOG_FORMAT=plain for a human at a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
VPOS_WEBHOOKS_ALLOW_PRIVATE = False  # never deliver webhooks into our own network
