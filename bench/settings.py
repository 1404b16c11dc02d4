"""Benchmark settings: production settings plus a bare baseline view, served over plain HTTP."""

import os

os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "YmVuY2gta2V5LW5vdC1hLXNlY3JldC0zMi1ieXRlcyE=")
# The benchmark's shop owner signs in with a password only.
os.environ.setdefault("OWNERS_REQUIRE_TOTP", "false")

from vpos.settings.production import *  # noqa: F403

if not DOCUMENTS_WORKER:  # noqa: F405 - the lean worker keeps its own routes
    ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
STORAGES = {
    **STORAGES,  # noqa: F405 - default and documents, as in production
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
