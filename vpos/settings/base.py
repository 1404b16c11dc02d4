"""Settings shared by every environment, read from the environment (12-factor).

Environment-specific modules (`local`, `test`, `production`) import this one and override a few
values. Secrets have no default here: `local` and `test` supply development values, `production`
refuses to start without real ones.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from vpos.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "vpos",
    "merchants",
    "links",
    "receipts",
    "integrations",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "vpos.middleware.RequestIdMiddleware",
    "vpos.middleware.ServiceUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "vpos.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "vpos.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# Rotating SECRET_KEY (docs/deploy.md): the old key here keeps sessions, password-reset links
# and customers' signed receipt links working until it is dropped.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ROOT_URLCONF = "vpos.urls"

# The documents worker (vpos/documents_worker.py: PDFs, invoices' files, exports) installs only the
# apps rendering needs and the customers' routes, and so stays small: no admin, sign-in pages, API
# or Stripe SDK (docs/deploy.md, "Workers"). tests/vpos/test_documents_worker.py holds it to that.
DOCUMENTS_WORKER = env.bool("VPOS_DOCUMENTS_WORKER", default=False)
DOCUMENTS_WORKER_APPS = (
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "vpos",
    "merchants",
    "links",
    "receipts",
)
if DOCUMENTS_WORKER:
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app in DOCUMENTS_WORKER_APPS]
    ROOT_URLCONF = "vpos.urls_documents"
    MIDDLEWARE: list[str] = []  # it serves no request (and the system checks import these)
WSGI_APPLICATION = "vpos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "merchants.context_processors.shops",
            ],
        },
    },
]
FORM_RENDERER = "vpos.forms.FormRenderer"

# --- Database -------------------------------------------------------------------------------
# SQLite under var/ needs no server; PostgreSQL via DATABASE_URL in CI and production.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'vpos.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# What sits between vpos and PostgreSQL: nothing (""), or "pgbouncer" in transaction pooling mode.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise environ.ImproperlyConfigured(
        "DATABASE_POOLER must be empty or 'pgbouncer' (transaction pooling)."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A new connection per request costs more than 5x throughput: keep them open.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASE_POOLER == "pgbouncer":
        # PgBouncer in transaction pooling mode (docs/deploy.md, "PgBouncer"): consecutive
        # transactions of one connection may run on different server sessions, so nothing may
        # outlive a transaction. `.iterator()` would otherwise declare a WITH HOLD cursor that the
        # next transaction cannot find; prepared statements live in one server session (Django 5.2
        # already turns them off and binds parameters on the client: written out, so that this
        # mode does not depend on those defaults). vpos sets no other session state: no SET, no
        # session-level advisory lock, no LISTEN, no temporary table (the SET TIME ZONE Django may
        # send is one of the parameters PgBouncer tracks and replays per client).
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"prepare_threshold": None, "server_side_binding": False}
        )
else:
    # The embedded default, for one small shop: concurrent customers, the worker and the web
    # server write the same file. BEGIN IMMEDIATE takes the write lock when a transaction starts,
    # so a writer waits its turn (up to `timeout` seconds) instead of failing at once with
    # "database is locked" when a read turns into a write; WAL lets readers go on meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_TIMEOUT", default=30),
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth (django-allauth) -------------------------------------------------------------------
AUTH_USER_MODEL = "merchants.User"
AUTHENTICATION_BACKENDS = [  # Django's and allauth's, reading the user from the cache
    "merchants.auth_backends.ModelBackend",
    "merchants.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "merchants:home"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "merchants.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[vpos] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
# allauth's limits (in the default cache, Redis in production); these are its defaults, written
# out so that turning them off is a visible change. Other limits: vpos/ratelimit.py.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
# Behind N reverse proxies the client is the N-th address from the right of X-Forwarded-For.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Owners (payout keys, refunds, API keys) must set up TOTP before reaching their shop; staff may
# opt in. On by default in production settings.
OWNERS_REQUIRE_TOTP = env.bool("OWNERS_REQUIRE_TOTP", default=False)
MFA_TOTP_ISSUER = "vpos"

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "it"
# Day-first dates and 24-hour times in English too, lowercase month names in Italian.
FORMAT_MODULE_PATH = ["vpos.formats"]
LANGUAGES = [("it", _("Italian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Serve MEDIA_ROOT from Django when DEBUG is off: only where no proxy serves /media/ and uploads
# are not on S3 (one small server). vpos.views.media sends images only, everything else as download.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=False)
# Uploads (logos) and receipt PDFs: local files under MEDIA_ROOT, or S3 (any S3-compatible
# service) with STORAGE_BACKEND=s3 and the AWS_* variables, shared by every web and worker node.
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="filesystem")
# Customers' documents (receipts, refund notes, exports): never under MEDIA_ROOT (vpos/documents.py).
DOCUMENTS_ROOT = env.path("DOCUMENTS_ROOT", default=str(VAR_DIR / "documents"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DOCUMENTS_ROOT), "base_url": "/documents-have-no-url/"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if STORAGE_BACKEND == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "location": env.str("AWS_LOCATION", default=""),
            # Private bucket: logos and receipts are reached through signed, expiring URLs.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
        },
    }
    # Documents: the same private bucket (or AWS_DOCUMENTS_BUCKET_NAME) under a prefix of their
    # own; read by vpos and streamed through its views only, never linked to.
    STORAGES["documents"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **STORAGES["default"]["OPTIONS"],
            "bucket_name": env.str(
                "AWS_DOCUMENTS_BUCKET_NAME", default=STORAGES["default"]["OPTIONS"]["bucket_name"]
            ),
            "location": env.str("AWS_DOCUMENTS_LOCATION", default="private-documents"),
            "default_acl": "private",
        },
    }
elif STORAGE_BACKEND != "filesystem":
    raise environ.ImproperlyConfigured("STORAGE_BACKEND must be 'filesystem' or 's3'.")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 5_242_880

# --- Email -----------------------------------------------------------------------------------
# Every email is an outbox row sent by a Celery task (vpos.outbox); this is the transport it uses.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail:///" + str(VAR_DIR / "mail"))
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="vpos <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ----------------------------------------------------------------------------------
# Redis in CI and production; without REDIS_URL an embedded filesystem broker under var/ still
# runs a real worker process (no server needed).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
# Workers log through LOGGING below (JSON in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queues by kind of work, so that each scales and fails on its own (docs/deploy.md, "Workers"):
# a slow PDF never delays a confirmation email, a shop's slow webhook endpoint never delays either.
# `make run` starts one worker for all of them; compose.yaml one worker per group.
CELERY_QUEUE_NAMES = ("default", "email", "documents", "webhooks")
CELERY_TASK_DEFAULT_QUEUE = "default"
# A payments CSV of at most this many rows downloads at once; a larger one is written by a
# background export (the documents queue), so no request streams long enough to meet the web
# server's timeout (a million rows take about 20 s).
EXPORT_INSTANT_MAX_ROWS = env.int("EXPORT_INSTANT_MAX_ROWS", default=10_000)
CELERY_TASK_ROUTES = {
    "vpos.tasks.outbox_send": {"queue": "email"},
    "receipts.tasks.receipt_render": {"queue": "documents"},
    "receipts.tasks.refund_note_render": {"queue": "documents"},
    "receipts.tasks.receipt_export_build": {"queue": "documents"},
    "receipts.tasks.invoice_followups": {"queue": "documents"},
    "integrations.tasks.webhook_send": {"queue": "webhooks"},
    "integrations.tasks.webhooks_retry_due": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULE: dict = {
    "outbox-resend-stuck": {"task": "vpos.tasks.outbox_sweep", "schedule": 300.0},
    "payments-reconcile": {"task": "links.tasks.payments_reconcile", "schedule": 60.0},
    "links-expire": {"task": "links.tasks.links_expire", "schedule": 60.0},
    "payments-followups-sweep": {
        "task": "receipts.tasks.payments_followups_sweep",
        "schedule": 120.0,
    },
    "invoices-followups-sweep": {
        "task": "receipts.tasks.invoices_followups_sweep",
        "schedule": 120.0,
    },
    "refunds-reconcile": {"task": "links.tasks.refunds_reconcile", "schedule": 300.0},
    # Hourly, so that the owners' warning comes about a day before an authorization lapses.
    "holds-watch": {"task": "links.tasks.holds_watch", "schedule": crontab(minute=15)},
    "webhooks-retry-due": {"task": "integrations.tasks.webhooks_retry_due", "schedule": 120.0},
    "retention-purge": {
        "task": "vpos.tasks.retention_purge",
        "schedule": crontab(hour=3, minute=30),
    },
}

# --- Caches ----------------------------------------------------------------------------------
# "local" is per process, for the few things worth keeping for a second or two without asking
# Redis (the checkout page of a busy link).
# The cache may live in a Redis of its own (compose.yaml: one that evicts, unlike the broker).
REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default="") or REDIS_URL
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "vpos.cache.RedisCache", "LOCATION": REDIS_CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CACHES["local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "vpos-local",
}
# Back-office caches (merchants/caching.py): the signed-in user, their memberships and the rendered
# dashboard and lists, kept fresh by versions. They need a cache every process shares (a payment
# finalized by a Celery worker must reach the web process), so they are on only with Redis.
BACKOFFICE_CACHE = env.bool("BACKOFFICE_CACHE", default=bool(REDIS_CACHE_URL))
BACKOFFICE_PAGE_CACHE_SECONDS = env.int("BACKOFFICE_PAGE_CACHE_SECONDS", default=30)
if REDIS_CACHE_URL:
    # Sessions read from Redis, written through to the database so a Redis restart logs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Stripe ----------------------------------------------------------------------------------
# The payment provider implementation (links.providers.base.PaymentProvider), by name.
PAYMENT_PROVIDER = "links.providers.stripe.StripeProvider"
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Is STRIPE_API_BASE localstripe (offline test mode: card form, no Payment Element)? Unset (None):
# yes whenever STRIPE_API_BASE is set. False: it is a Stripe-compatible API (tests point real-Stripe
# mode at a stub on loopback). Read only by links/providers/stripe.py.
STRIPE_API_IS_LOCALSTRIPE = env.bool("STRIPE_API_IS_LOCALSTRIPE", default=None)
# Whether the platform's own Stripe account may take mail and telephone orders (MOTO): Stripe
# enables it per account on request. Shops with their own account set it in their settings.
STRIPE_PLATFORM_MOTO = env.bool("STRIPE_PLATFORM_MOTO", default=False)
# Receipt and refund-note numbers are written into the provider's metadata once issued, so that
# `manage.py recover_from_provider` knows them after a database restore (receipts/recovery.py).
PROVIDER_RECORDS_NUMBERS = env.bool("PROVIDER_RECORDS_NUMBERS", default=True)
STRIPE_JS_URL = env.str(
    "STRIPE_JS_URL",
    default=f"{STRIPE_API_BASE}/js.stripe.com/v3/"
    if STRIPE_API_BASE
    else "https://js.stripe.com/v3/",
)

# --- Integration API (integrations/api) and outbound webhooks (integrations/webhooks.py) ----
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["integrations.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.api.authentication.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integrations.api.parsers.JSONParser"],  # nesting limit, see there
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "integrations.api.views.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "vpos API",
    "DESCRIPTION": "Payment links, payments, refunds and receipts of one shop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Requests per API key; DRF's rate syntax ("600/min").
VPOS_API_RATE = env.str("VPOS_API_RATE", default="600/min")
# success_url/cancel_url may be http on localhost (always https otherwise); DEBUG allows it too.
VPOS_API_ALLOW_LOCAL_HTTP_URLS = env.bool("VPOS_API_ALLOW_LOCAL_HTTP_URLS", default=False)
# Webhook deliveries to private, loopback and link-local addresses (SSRF guard): local/test only.
VPOS_WEBHOOKS_ALLOW_PRIVATE = env.bool("VPOS_WEBHOOKS_ALLOW_PRIVATE", default=False)
VPOS_WEBHOOK_TIMEOUT = env.float("VPOS_WEBHOOK_TIMEOUT", default=10.0)

# --- Uploads ---------------------------------------------------------------------------------
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 512

# --- Security (tightened further in production) ----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"


# Content-Security-Policy (django-csp): our own files, plus Stripe.js and the frames and API it
# needs; no inline scripts or styles anywhere (the shop colour is set by JS, through CSSOM).
# vpos.middleware.ContentSecurityPolicyMiddleware adds the origins of STRIPE_JS_URL and
# STRIPE_API_BASE (localstripe in development and tests) to script-src and connect-src.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        # 'self': the sandboxed email preview (merchants/views.py _email_html) is a frame.
        "frame-src": [
            "'self'",
            "https://js.stripe.com",
            "https://*.js.stripe.com",
            "https://hooks.stripe.com",
        ],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# Public endpoints' limits per client IP, "requests/seconds" (vpos/ratelimit.py): checkout pages
# (page, 3-D Secure completion, result), unknown link tokens on any of them, card attempts and
# SetupIntents. "checkout_link" is per payment link, whoever calls: the attempts and SetupIntents
# one link may create at the provider (card testing from many addresses).
RATELIMIT_ENABLED = env.bool("RATELIMIT_ENABLED", default=True)
# Pages' counts are told to the shared cache at most this often per client and process: what one
# node knows (a client over its limit, a guesser blocked) reaches the others within this delay.
# 0: every request asks the shared cache.
RATELIMIT_SYNC_SECONDS = env.float("RATELIMIT_SYNC_SECONDS", default=1.0)
RATELIMITS = {
    "checkout": env.str("RATELIMIT_CHECKOUT", default="60/60"),
    "checkout_unknown": env.str("RATELIMIT_CHECKOUT_UNKNOWN", default="10/600"),
    "checkout_attempt": env.str("RATELIMIT_CHECKOUT_ATTEMPT", default="20/600"),
    "checkout_link": env.str("RATELIMIT_CHECKOUT_LINK", default="60/600"),
}
# Seconds a payable link's checkout page stays in the cache (links/page_cache.py). 0 turns the
# cache off: every request renders the page (bench/checkout.py measures that path this way).
CHECKOUT_PAGE_CACHE_SECONDS = env.int("CHECKOUT_PAGE_CACHE_SECONDS", default=10)

# --- Data retention (vpos/retention.py, docs/deploy.md "Data retention") ---------------------
# A daily task purges what is no longer needed. Receipts, refund notes (and, later, invoices) are
# fiscal documents: kept FISCAL_RETENTION_YEARS, never purged by it nor by erase_customer_data.
FISCAL_RETENTION_YEARS = 10
# Email bodies (subject, recipient, status and dates stay).
RETENTION_EMAIL_BODY_DAYS = env.int("RETENTION_EMAIL_BODY_DAYS", default=90)
# Emails that carry an access link or code (invitations, password resets, address confirmations,
# login codes) lose their body once sent, and after this many days whatever their status: at
# least as long as such a link stays valid (invitations: 7 days).
RETENTION_ACCESS_EMAIL_DAYS = env.int("RETENTION_ACCESS_EMAIL_DAYS", default=7)
# Off only for development (`make run`), whose outbox page is how one follows such links.
REDACT_SENT_ACCESS_EMAILS = env.bool("REDACT_SENT_ACCESS_EMAILS", default=True)
# Outbound webhook deliveries: the event body, after which the event cannot be redelivered.
RETENTION_WEBHOOK_PAYLOAD_DAYS = env.int("RETENTION_WEBHOOK_PAYLOAD_DAYS", default=30)
# API Idempotency-Keys: a retry with the same key within this window gets the first answer.
RETENTION_IDEMPOTENCY_DAYS = env.int("RETENTION_IDEMPOTENCY_DAYS", default=30)
# Exports (receipt and invoice ZIPs, payments CSVs: copies of what the shop keeps anyway).
RETENTION_EXPORT_DAYS = env.int("RETENTION_EXPORT_DAYS", default=30)
# What the daily task runs, in order: each takes `now` and returns how many rows it changed.
RETENTION_PURGES = [
    "vpos.retention.sessions_clear",
    "vpos.outbox.outbox_access_links_redact",
    "vpos.outbox.outbox_bodies_purge",
    "integrations.webhooks.webhook_payloads_purge",
    "integrations.api.idempotency.idempotency_purge",
    "receipts.services.exports_purge",
]
# What an erasure on request (erase_customer_data, links/privacy.py) asks of other apps, by the
# name its count is reported under: each takes (email, shop ids, now) and returns rows changed.
CUSTOMER_DATA_ERASERS = {"webhook_events": "integrations.webhooks.customer_data_erase"}

# --- Logging ---------------------------------------------------------------------------------
# Every record carries the request id (and shop/payment id where known): vpos/logging.py.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
