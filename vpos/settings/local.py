"""Development settings: `make run`. Insecure defaults, readable email outbox."""

from .base import *  # noqa: F403
from .base import STRIPE_API_BASE, VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-8b1f0c3e4a9d4f7e9c2b5a6d7e8f9a0b")
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
VAR_DIR.mkdir(exist_ok=True)
VPOS_WEBHOOKS_ALLOW_PRIVATE = True
# The development outbox (/dev/outbox/) shows confirmation and reset links until they expire.
REDACT_SENT_ACCESS_EMAILS = env.bool("REDACT_SENT_ACCESS_EMAILS", default=False)

if STRIPE_API_BASE:
    # Offline test mode (localstripe, started by `make run`): any test key works there.
    STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_localstripe")
    STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_localstripe")
    STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_localstripe_dev")
    STRIPE_PLATFORM_MOTO = env.bool("STRIPE_PLATFORM_MOTO", default=True)
