"""Test settings: fast hashing, in-memory email, real migrations."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
FIELD_ENCRYPTION_KEY = ""
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared in-memory database: the concurrency tests run real threads,
    # each with its own connection, as the web server and the worker do (one file per run).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": env.str(
            "SQLITE_TEST_NAME", default=f"{tempfile.gettempdir()}/vpos-test-{os.getpid()}.sqlite3"
        )
    }
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default="/tmp/vpos-test-media")  # noqa: S108
# Unit tests run tasks in-process; tests/vpos/test_celery_worker.py runs a real worker on the broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
VPOS_WEBHOOKS_ALLOW_PRIVATE = True
# Most tests finalize payments with made-up PaymentIntent ids that no provider knows; the tests
# of receipts/recovery.py turn it on against localstripe.
PROVIDER_RECORDS_NUMBERS = False
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "vpos-local"},
}
# The back-office caches on, as in production, so every test also checks they never serve a stale
# page; on the per-process cache above, which is emptied before each test.
BACKOFFICE_CACHE = True
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
