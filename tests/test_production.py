"""Production configuration: settings as the container runs them, the image and compose files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_settings import REQUIRED, real_secrets

ROOT = Path(__file__).resolve().parent.parent

SETTINGS_PROBE = """
import json
from django.conf import settings
from django.test import Client
from allauth.account import app_settings as allauth_settings
client = Client()
probe = client.get("/healthz", HTTP_HOST="pay.example.com")
page = client.get("/accounts/login/", HTTP_HOST="pay.example.com")
secure = client.get("/healthz", HTTP_HOST="pay.example.com", secure=True)
print(json.dumps({
    "middleware": settings.MIDDLEWARE,
    "storages": settings.STORAGES,
    "handler_formatter": settings.LOGGING["handlers"]["console"]["formatter"],
    "rate_limits": allauth_settings.RATE_LIMITS,
    "ratelimit_enabled": settings.RATELIMIT_ENABLED,
    "probe": probe.status_code,
    "page": page.status_code,
    "csp": secure.get("Content-Security-Policy", ""),
    "hsts": secure.get("Strict-Transport-Security", ""),
    "xfo": secure.get("X-Frame-Options", ""),
    "debug": settings.DEBUG,
}))
"""


def _production(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE", "STORAGE_BACKEND", "LOG_FORMAT"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "vpos.settings.production",
            "ALLOWED_HOSTS": "pay.example.com",
            **real_secrets(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def production() -> dict:
    result = _production(SETTINGS_PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_serves_hashed_compressed_static_files(production):
    assert production["storages"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    middleware = production["middleware"]
    assert middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") == (
        middleware.index("django.middleware.security.SecurityMiddleware") + 1
    )
    assert production["storages"]["default"]["BACKEND"] == (
        "django.core.files.storage.FileSystemStorage"
    )


def test_production_logs_json_lines(production):
    assert production["handler_formatter"] == "json"


def test_production_rate_limits_are_on(production):
    limits = production["rate_limits"]
    for action in ("login", "login_failed", "signup", "reset_password"):
        assert limits[action], action
    assert production["ratelimit_enabled"] is True


def test_production_security_headers(production):
    assert production["debug"] is False
    # Probes over plain HTTP are not redirected to HTTPS; pages are.
    assert production["probe"] == 200
    assert production["page"] == 301
    assert "frame-ancestors 'none'" in production["csp"]
    assert "max-age=31536000" in production["hsts"]
    assert production["xfo"] == "DENY"


def test_s3_storage_is_chosen_by_environment():
    result = _production(
        "import json; from django.conf import settings; print(json.dumps(settings.STORAGES))",
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME="vpos-media",
        AWS_S3_ENDPOINT_URL="https://s3.example.com",
    )
    assert result.returncode == 0, result.stderr
    default = json.loads(result.stdout.strip().splitlines()[-1])["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "vpos-media"
    assert default["OPTIONS"]["endpoint_url"] == "https://s3.example.com"
    assert default["OPTIONS"]["querystring_auth"] is True


def test_s3_storage_needs_a_bucket():
    result = _production(
        "from django.conf import settings; settings.STORAGES", STORAGE_BACKEND="s3"
    )
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_collectstatic_builds_the_manifest(tmp_path):
    """What the Dockerfile runs: every file a stylesheet refers to must exist. Without WhiteNoise's
    compression (a minute and a half of brotli), which adds nothing to that check."""
    (tmp_path / "manifest_only.py").write_text(
        "from vpos.settings.production import *  # noqa: F403\n"
        "STORAGES = {**STORAGES, 'staticfiles': {'BACKEND': "
        "'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}\n"
    )
    static_root = tmp_path / "static"
    clean = {k: v for k, v in os.environ.items() if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "manifest_only",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
            "STATIC_ROOT": str(static_root),
            **real_secrets(),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["js/checkout.js"]
    assert hashed != "js/checkout.js"
    assert (static_root / hashed).exists()


# --- The image and the compose file ---------------------------------------------------------


def test_dockerfile_builds_a_non_root_gunicorn_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nFROM python:3.11-slim\n" in dockerfile
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert "\nUSER vpos\n" in dockerfile
    assert 'CMD ["gunicorn", "--config", "vpos/gunicorn.conf.py", "vpos.wsgi"]' in dockerfile


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", "var", ".git"):
        assert entry in ignored


def test_compose_runs_web_worker_and_one_beat():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "vpos", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "vpos", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    # Uploads and receipts are shared by the web server and the worker.
    assert "media:/app/media" in services["web"]["volumes"]
    assert "media:/app/media" in services["worker"]["volumes"]
    assert "media" in compose["volumes"]
    environment = services["worker"]["environment"]
    assert environment["DJANGO_SETTINGS_MODULE"] == "vpos.settings.production"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_gunicorn_config_defaults_and_overrides(monkeypatch):
    import multiprocessing

    path = ROOT / "vpos" / "gunicorn.conf.py"

    def load() -> dict:
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
        return namespace

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    config = load()
    assert config["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert config["timeout"] == 30
    assert "%({x-request-id}o)s" in config["access_log_format"]
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "60")
    monkeypatch.setenv("LOG_FORMAT", "plain")
    config = load()
    assert (config["workers"], config["timeout"]) == (3, 60)
    assert "%({x-request-id}o)s" in config["access_log_format"]


def test_production_requires_owners_to_use_two_factor_authentication():
    probe = "from django.conf import settings; print(settings.OWNERS_REQUIRE_TOTP)"
    on = _production(probe)
    off = _production(probe, OWNERS_REQUIRE_TOTP="false")
    assert on.returncode == off.returncode == 0, on.stderr + off.stderr
    assert on.stdout.strip().splitlines()[-1] == "True"
    assert off.stdout.strip().splitlines()[-1] == "False"
